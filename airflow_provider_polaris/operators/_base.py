"""The base every operator of the provider shares: a Polaris connection and its hook."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from airflow_provider_polaris._compat import AirflowFailException, BaseOperator
from airflow_provider_polaris._task import ClosesPolarisClient

# What the create operators (tables, connections) do when the name already exists.
IfExists = Literal["ignore", "update", "fail"]


class PolarisOperator(ClosesPolarisClient, BaseOperator):
    """An operator that talks to Polaris through one Airflow connection (its client is closed
    after each task entry point, see ``ClosesPolarisClient``).

    :param polaris_conn_id: Airflow connection to Polaris.
    """

    ui_color = "#c9e7f5"

    def __init__(self, *, polaris_conn_id: str = "polaris_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.polaris_conn_id = polaris_conn_id


class PolarisCreateOperator(PolarisOperator):
    """An operator that creates a named Polaris resource (a table, a connection).

    :param if_exists: what to do when the name exists: ``ignore``, ``update`` or ``fail``.
    :param allow_unknown_fields: unknown spec fields to send anyway (``True``: all of them).
    """

    def __init__(
        self,
        *,
        if_exists: IfExists = "ignore",
        allow_unknown_fields: bool | Sequence[str] = False,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_polaris.models._strict import check_allow_unknown_fields

        super().__init__(**kwargs)
        if if_exists not in ("ignore", "update", "fail"):
            raise ValueError("if_exists must be 'ignore', 'update' or 'fail'")
        self.if_exists = if_exists
        self.allow_unknown_fields = check_allow_unknown_fields(allow_unknown_fields)

    #: What the operator creates, as its messages name it.
    resource = "resource"

    def refuse_existing(self, name: str) -> None:
        """Fail the task for an existing ``name`` under ``if_exists='fail'``."""
        if self.if_exists == "fail":
            raise AirflowFailException(
                f"Polaris {self.resource} {name!r} already exists (if_exists='fail')"
            ) from None

    def log_existing(self, name: str, differences: list[str]) -> None:
        """Under ``if_exists='ignore'``: log whether the existing ``name`` differs from the spec."""
        if not differences:
            self.log.info("Polaris %s %r already exists and matches the spec", self.resource, name)
            return
        self.log.warning(
            "Polaris %s %r already exists and differs from the spec "
            "(if_exists='ignore' keeps it; if_exists='update' applies the spec):\n  %s",
            self.resource,
            name,
            "\n  ".join(differences),
        )
