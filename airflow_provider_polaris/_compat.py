"""The one module that knows which Airflow line is running (2.11 or 3.x).

Every other module imports Airflow names from here, so a move in Airflow's public API is fixed in
one place. On 3.x the names come from the Task SDK (``airflow.sdk``): importing the old 2.x paths
there emits ``DeprecatedImportWarning``, which users see in every task log. mypy checks the 3.x
branch (the ``TYPE_CHECKING`` side); the 2.11 branch carries ``type: ignore`` where they differ.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from airflow import __version__ as _airflow_version_string

# Triggers are not part of the Task SDK on 3.x; the core path is the same on both lines.
from airflow.triggers.base import BaseTrigger, TriggerEvent
from packaging.version import Version

AIRFLOW_VERSION: Version = Version(Version(_airflow_version_string).base_version)
"""The running Airflow version without pre/dev/local suffixes (``3.3.2``, ``2.11.2``)."""

AIRFLOW_V_3_0_PLUS: bool = AIRFLOW_VERSION.release >= (3, 0)
AIRFLOW_V_3_1_PLUS: bool = AIRFLOW_VERSION.release >= (3, 1)
AIRFLOW_V_3_3_PLUS: bool = AIRFLOW_VERSION.release >= (3, 3)

if TYPE_CHECKING or AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import (
        Asset,
        AssetAlias,
        BaseHook,
        BaseOperator,
        BaseOperatorLink,
        BaseSensorOperator,
        Connection,
        Context,
        conf,
        get_current_context,
    )
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
    from airflow.sdk.execution_time.xcom import XCom
    from airflow.sdk.log import mask_secret as _mask_secret
else:  # Airflow 2.11
    from airflow.configuration import conf  # type: ignore[no-redef]
    from airflow.datasets import (  # type: ignore[assignment,no-redef]
        Dataset as Asset,
    )
    from airflow.datasets import (
        DatasetAlias as AssetAlias,
    )
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    from airflow.models import (  # type: ignore[no-redef]
        BaseOperator,
        BaseOperatorLink,
        XCom,
    )
    from airflow.models.connection import Connection  # type: ignore[assignment]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef]
    from airflow.utils.context import Context  # type: ignore[no-redef]
    from airflow.utils.log.secrets_masker import (  # type: ignore[no-redef]
        mask_secret as _mask_secret,
    )

    def get_current_context() -> Context:  # type: ignore[misc]
        """The running task's context (2.11: imported on first use, because
        ``airflow.operators.python`` costs ~10 ms of every DAG file's parse)."""
        from airflow.operators.python import get_current_context as current

        return current()


# ``airflow.sdk.ResumableJobMixin`` (Airflow 3.3, AIP-103 durable task state): an operator mixin
# whose ``execute_resumable(context)`` persists the external job id in ``task_state_store`` and
# reattaches on retry. ``None`` where Airflow does not ship it: check ``HAS_RESUMABLE_JOB_MIXIN``.
# mypy sees the real class so that ``class X(ResumableJobMixin, BaseOperator)`` type-checks.
if TYPE_CHECKING:
    from airflow.sdk import ResumableJobMixin
else:
    try:
        from airflow.sdk import ResumableJobMixin
    except ImportError:  # Airflow < 3.3
        ResumableJobMixin = None
HAS_RESUMABLE_JOB_MIXIN: bool = ResumableJobMixin is not None


# On 3.x the sync ``mask_secret`` also tells the supervisor over a blocking socket. Inside the
# triggerer's event loop that would block the loop (and can raise ``DeadlockImminentError``, a
# BaseException, while another coroutine's ``asend`` is in flight), so async code must use the
# async variant where the Task SDK has one.
def _sdk_amask_secret() -> Callable[[str], Awaitable[None]] | None:
    """The Task SDK's async masker, or None where this Airflow has none.

    A function rather than a ``try: import`` at module level so that mypy sees one definition
    of the name on every line (on 2.x the import cannot be resolved).
    """
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow 2.x, early 3.x
        return None
    return amask_secret


_amask_secret = _sdk_amask_secret()


def mask_secret(value: str | None) -> None:
    """Register ``value`` with Airflow's secrets masker so it is redacted from every log line.

    Empty values are ignored: masking ``""`` would be meaningless and Airflow skips short values.
    """
    if value:
        _mask_secret(value)


async def amask_secret(value: str | None) -> None:
    """Async-safe :func:`mask_secret`: never blocks the event loop (use it in triggers)."""
    if not value:
        return
    if _amask_secret is not None:
        await _amask_secret(value)
    else:
        # 2.x and early 3.x masker only touches an in-process set: cheap and non-blocking.
        _mask_secret(value)


async def aget_connection(conn_id: str) -> Connection:
    """Look up an Airflow connection without blocking the running event loop.

    Task SDK >= 1.1 (Airflow 3.1+) has a native ``BaseHook.aget_connection``; on 2.11 and 3.0 the
    blocking lookup runs in a worker thread, because triggers share one loop in the triggerer.
    """
    native: Callable[[str], Any] | None = getattr(BaseHook, "aget_connection", None)
    if native is not None:
        return await native(conn_id)
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)


__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "HAS_RESUMABLE_JOB_MIXIN",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "Asset",
    "AssetAlias",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Connection",
    "Context",
    "ResumableJobMixin",
    "TaskDeferred",
    "TriggerEvent",
    "XCom",
    "aget_connection",
    "amask_secret",
    "conf",
    "get_current_context",
    "mask_secret",
]


def object_storage_path(url: str) -> Any:
    """Airflow's ``ObjectStoragePath`` for an fsspec URL (``file://``, ``s3://``, ``gs://``...).

    Imported on first use: the object-storage layer pulls in fsspec, which DAG parsing and most
    tasks never need.
    """
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk import ObjectStoragePath
    else:  # Airflow 2.x
        from airflow.io.path import ObjectStoragePath  # type: ignore[no-redef]
    return ObjectStoragePath(url)


def asset_alias_registered(name: str) -> bool:
    """Whether Airflow can record an event through the ``AssetAlias`` ``name``.

    Airflow 3 resolves aliases when it records the event. Airflow 2.11 needs the alias row the
    DAG processor writes when it syncs the DAG, and fails the task if it is missing (a DAG run
    with ``dag.test()`` that was never synced): there the caller skips the event and says why.
    """
    if AIRFLOW_V_3_0_PLUS:
        return True
    from airflow.models.dataset import DatasetAliasModel  # type: ignore[import-not-found]
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(DatasetAliasModel.id).where(DatasetAliasModel.name == name).limit(1)
        return session.scalar(query) is not None
