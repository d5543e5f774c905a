"""The seam to the data plane (rows, ingestion, SQL), with a stand-in while it is absent.

The control plane (this package) decides *when* things happen; the data plane decides *what* the
rows are. If ``airflow_provider_polaris.testing.dataplane`` cannot be imported the stand-in keeps
the server usable: jobs run and complete with zero rows, and SQL queries answer 400.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _NoRows:
    rows_processed: int = 0
    rows_persisted: int = 0
    rows_with_warning: int = 0
    rows_skipped_by_error: int = 0
    rows_skipped_by_filter: int = 0
    bytes_processed: int = 0
    error_code: str | None = None
    error_message: str | None = None
    query: str | None = None

    def commit(self) -> None:
        """Nothing to write."""


@dataclass
class _EventsCounted:
    processed: int = 0
    errors: int = 0
    filtered: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def parsed(self) -> _EventsCounted:
        """The counts known at push time (none here)."""
        return self


@dataclass
class _NoStats:
    rows: int = 0
    size_bytes: int = 0
    segments: int = 0
    columns: tuple[str, ...] = ("__time",)


class StandInSqlError(Exception):
    """Raised by the stand-in for every query."""

    def __init__(self, message: str, category: str = "UNSUPPORTED") -> None:
        super().__init__(message)
        self.message = message
        self.category = category


class StandInDataPlane:
    """Used only when the real data plane is not importable."""

    def reset(self) -> None:
        """Nothing stored."""

    def flush(self) -> None:
        """Nothing to write."""

    def prepare_ingestion(
        self,
        job_spec: dict[str, Any],
        *,
        read_file: Callable[[str], bytes | None],
        table: dict[str, Any] | None,
    ) -> _NoRows:
        """A result without rows."""
        return _NoRows()

    def ingest_events(
        self,
        job_spec: dict[str, Any],
        lines: list[bytes],
        *,
        table: Any = None,
        plan_key: Any = None,
        on_batch: Callable[[_EventsCounted], None] | None = None,
    ) -> _EventsCounted:
        """Count the events as processed (through ``on_batch``); store nothing."""
        if on_batch is not None:
            on_batch(_EventsCounted(processed=len(lines)))
        return _EventsCounted()

    def settle_events(self) -> None:
        """Nothing staged."""

    def sql_overwrite(self, job_spec: Any) -> None:
        """No SQL planner here: SQL REPLACE ranges are not checked."""
        return None

    def ensure_table(self, name: str, columns: Any = ()) -> None:
        """No tables to create."""

    def table_stats(self, name: str) -> _NoStats:
        """An empty table."""
        return _NoStats()

    def output_columns(self, job_spec: Any, source_table: Any = None) -> list[Any]:
        """Nothing inferred: the caller falls back to its own defaults."""
        return []

    def has_table_data(self, name: str) -> bool:
        """Never any rows."""
        return False

    def query(
        self, sql: str, parameters: list[dict[str, Any]] | None, time_zone: str | None = None
    ) -> Any:
        """No SQL engine here."""
        raise StandInSqlError("SQL is not available: the emulator's data plane is not installed")

    def table_rows(self, name: str) -> list[dict[str, Any]]:
        """No rows."""
        return []

    def drop_table(self, name: str) -> None:
        """Nothing to drop."""


def load_dataplane(clock: Callable[[], float] | None = None, rows_file: str | None = None) -> Any:
    """A fresh data plane: the real one when importable, else the stand-in. ``clock`` (epoch
    seconds) decides late/early event rejection and CURRENT_TIMESTAMP; ``rows_file`` keeps
    the rows in a DuckDB file instead of memory."""
    try:
        from airflow_provider_polaris.testing.dataplane import DataPlane
    except ImportError as exc:
        if exc.name and not exc.name.startswith("airflow_provider_polaris.testing.dataplane"):
            raise
        return StandInDataPlane()
    except Exception:  # a half-written data plane must not take the server down
        return StandInDataPlane()
    return DataPlane(clock=clock, rows_file=rows_file)
