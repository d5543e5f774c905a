"""The exceptions the provider raises on purpose (its public error types, in one place).

Operators, sensors, triggers and the hook import them from here; the older import paths
(``operators.jobs``, ``operators._job_base``, ``hooks.config``, ``hooks.connection``) re-export
them.
"""

from __future__ import annotations

from airflow_provider_polaris._compat import AirflowException, AirflowFailException

__all__ = [
    "PolarisConnectionConfigError",
    "PolarisJobCanceledError",
    "PolarisJobFailedError",
    "PolarisJobTimeoutError",
]


class PolarisJobFailedError(AirflowException):
    """The Polaris job failed (or could not be followed); a retry may help."""


class PolarisJobCanceledError(AirflowFailException):
    """The Polaris job was canceled by a user: the task fails without retrying."""


class PolarisJobTimeoutError(AirflowException):
    """The job did not finish within the operator's ``timeout``; it was asked to cancel."""


class PolarisConnectionConfigError(AirflowException, ValueError):
    """An ``imply_polaris`` connection is incomplete or malformed (raised before any request).

    The message names the connection id, the field and how to fix it; it never contains a secret.
    """

    def __init__(self, conn_id: str | None, field: str, problem: str) -> None:
        self.conn_id = conn_id
        self.field = field
        super().__init__(f"Polaris connection {conn_id!r}, field {field!r}: {problem}")
