"""The core of the emulated project: the lock, the clock, the records and the rules that span
resources (what a job may reference, a table's availability, a job creating its table, and the
data-plane callbacks of the job lifecycle).

Each resource's requests live in ``resources/`` as a mixin over ``StateCore``; ``_state.py``
assembles them into ``EmulatorState``. Every public method takes the lock: the HTTP server runs
in its own thread while tests call the control methods from theirs. Methods raise ``ApiError``
for anything Polaris would refuse.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from . import _datadir
from ._clock import EmulatorClock, iso
from ._errors import bad, not_found
from ._jobspec import check_measures
from ._lifecycle import Job, Lifecycle, merge_job_durations
from ._rules import STREAMING_CONNECTION_TYPES, check_batch_replace, check_sql_replace
from ._traffic import DEFAULT_EVENTS_BUDGET, EventsBudget, Faults, RequestLog

if TYPE_CHECKING:
    from .dataplane import IngestionResult
    from .dataplane.events import EventCounts

DEFAULT_PROJECT_ID = "6b4a7d2e-3f1c-4e8a-9b5d-0c2f7a1e9d34"
DEFAULT_API_KEY = "pok_emulator0000000000000000000000000000000000"
DEFAULT_ORG = "emulator"


def _failed_early(code: str, message: str) -> IngestionResult:
    """The result of a job failed before the data plane is asked (missing file, no __time);
    completed all the same by a script, it found no rows."""
    from .dataplane import IngestionResult

    return IngestionResult(
        error_code=code,
        error_message=message,
        warning_code="no_rows_found",
        warning_message="No rows were found in the source",
    )


class StateCore:
    """The lock, the clock, the records of one emulated project and the rules between them."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        project_id: str = DEFAULT_PROJECT_ID,
        org: str = DEFAULT_ORG,
        time_scale: float = 1.0,
        clock: Callable[[], float] | None = None,
        manual_clock: bool = False,
        events_budget: int = DEFAULT_EVENTS_BUDGET,
        job_durations: Mapping[str, float] | None = None,
        data_dir: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.project_id = project_id
        self.org = org
        self.prefix = f"/v1/projects/{project_id}"
        durations = merge_job_durations(job_durations)
        self._defaults = (time_scale, clock, manual_clock, events_budget, durations)
        self.job_durations = dict(durations)
        self.lock = threading.RLock()
        self.faults = Faults()
        self.requests = RequestLog()
        self.time_scale = time_scale
        self.clock = EmulatorClock(clock, manual=manual_clock)
        self.budget = EventsBudget(self.clock, events_budget)
        self.data_dir = data_dir
        from .dataplane import DataPlane  # duckdb loads with the first state, not with the CLI

        # Through a lambda: reset() and configure() replace self.clock.
        self.dataplane = DataPlane(
            clock=lambda: self.clock.now(),
            rows_file=_datadir.rows_file(data_dir) if data_dir else None,
        )
        self.lifecycle = Lifecycle(
            time_scale=lambda: self.time_scale,
            durations=lambda: self.job_durations,
            on_start=self._start_ingestion,
            on_commit=self._commit,
            on_finished=self._finished,
            on_events=self._ingest_events,
        )
        self._clear()
        if data_dir:
            _datadir.restore(self, data_dir)

    def save(self) -> None:
        """Write tables, files and connections to the data directory (see ``_datadir``)."""
        if self.data_dir:
            _datadir.save(self, self.data_dir)

    def _clear(self) -> None:
        """Empty every record (each resource mixin extends this with its own)."""
        self.jobs: dict[str, Job] = {}
        # Streaming jobs by the connection they read (a job's spec never changes), in creation
        # order: a push finds its readers without scanning every job.
        self._readers: dict[str, list[Job]] = {}
        self.tables: dict[str, dict[str, Any]] = {}
        self.connections: dict[str, dict[str, Any]] = {}
        self.files: dict[str, tuple[bytes, dict[str, Any]]] = {}

    # --- time and settings --------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything and return to the constructor's settings."""
        with self.lock:
            time_scale, clock, manual, budget, durations = self._defaults
            self.time_scale = time_scale
            self.job_durations = dict(durations)
            self.clock = EmulatorClock(clock, manual=manual)
            self.budget = EventsBudget(self.clock, budget)
            self.faults.clear()
            self.requests.clear()
            self.dataplane.reset()
            self._clear()

    def configure(
        self,
        *,
        time_scale: float | None = None,
        manual_clock: bool | None = None,
        job_durations: Mapping[str, float] | None = None,
    ) -> None:
        """Change the time scale, the clock mode (manual or not) and/or some job durations
        (merged into the current ones) until the next reset. Jobs already created keep the
        times they were given (when they leave pending, when they finish)."""
        if time_scale is not None and time_scale <= 0:
            raise ValueError("time_scale must be positive")
        with self.lock:
            if job_durations is not None:
                self.job_durations = merge_job_durations(job_durations, self.job_durations)
            if time_scale is not None:
                self.time_scale = time_scale
            if manual_clock is not None and manual_clock != self.clock.manual:
                source = self._defaults[1]
                self.clock = EmulatorClock(source, manual=manual_clock)
                self.budget = EventsBudget(self.clock, self.budget.per_minute)

    def advance(self, seconds: float) -> None:
        """Move the emulator clock forward."""
        with self.lock:
            self.clock.advance(seconds)

    def _advance_all(self) -> None:
        """Replay due transitions of every job, so reads of tables and SQL see finished writes."""
        now = self.clock.now()
        for job in self.jobs.values():
            if not job.terminal:
                self.lifecycle.advance(job, now)

    def _settled(self, job: Job, now: float) -> bool:
        self.lifecycle.advance(job, now)
        return job.terminal

    def _used_bytes(self) -> int:
        return sum(len(content) for content, _ in self.files.values())

    # --- tables as every resource sees them ---------------------------------------------------

    def _availability(self, name: str) -> str:
        now = self.clock.now()
        for job in self.jobs.values():
            if job.type == "drop_table" and job.table == name and not self._settled(job, now):
                return "deleting"
        return "available"

    def _render_table(self, table: dict[str, Any], *, summary: bool = False) -> dict[str, Any]:
        out = dict(table)
        stats = self.dataplane.table_stats(table["name"])
        out["availability"] = self._availability(table["name"])
        out["totalRows"] = stats.rows
        out["totalDataSizeBytes"] = stats.size_bytes
        out["precachedDataSizeBytes"] = stats.size_bytes
        out["segmentCount"] = stats.segments
        if summary:
            out.pop("schema", None)
            return out
        out["segmentTotalBytes"] = stats.size_bytes
        out["segmentCompactedBytes"] = stats.size_bytes
        schema = {c["name"]: c["dataType"] for c in table["schema"] if c["name"] != "__time"}
        declared = {"__time": "timestamp", **schema}
        discovered = sorted(set(stats.columns) - set(declared))
        out["queryableSchema"] = [
            {"name": name, "dataType": data_type, "isDiscovered": False}
            for name, data_type in declared.items()
        ] + [
            {"name": name, "dataType": stats.types.get(name, "string"), "isDiscovered": True}
            for name in discovered
        ]
        return out

    def _store_table(
        self,
        table: dict[str, Any],
        principal: dict[str, str],
        now: float,
        current: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a new table, or the next version of ``current``."""
        for key in ("availability", "queryableSchema", "totalRows", "segmentCount"):
            table.pop(key, None)
        first = current or {"id": str(uuid.uuid4()), "version": -1, "createdByUser": principal}
        table.update(
            id=first["id"],
            version=first["version"] + 1,
            createdByUser=first["createdByUser"],
            modifiedByUser=principal,
            createdOnTimestamp=first.get("createdOnTimestamp", iso(now)),
            modifiedOnTimestamp=iso(now),
        )
        self.tables[table["name"]] = table
        # Polaris answers a query on an existing empty table with zero rows, not "not found".
        self.dataplane.ensure_table(table["name"], [c["name"] for c in table["schema"]])
        return table

    # --- what a new job may reference ---------------------------------------------------------

    def _check_job_references(
        self, spec: dict[str, Any], table: dict[str, Any] | None, name: str, now: float
    ) -> None:
        self._check_job_source(spec)
        check_batch_replace(spec, table)
        check_measures(spec, table)
        check_sql_replace(spec, self.dataplane.sql_overwrite)
        if spec["type"] == "streaming":
            active = [
                j
                for j in self.jobs.values()
                if j.streaming and j.table == name and not self._settled(j, now)
            ]
            if active and not spec.get("replaceRunning"):
                raise bad(
                    f"Table {name} already has a streaming job ({active[0].id}); "
                    "set replaceRunning to replace it",
                    "target.tableName",
                )
            for old in active:
                self.lifecycle.cancel_now(old, now)
        if spec["type"] in ("drop_table", "delete_data"):
            for other in self.jobs.values():
                reads_it = (other.spec.get("source") or {}).get("tableName") == name
                if other.table != name and reads_it:  # noqa: SIM102 - the poll below is costlier
                    if self.lifecycle.observe(other, now, count=False) in ("pending", "running"):
                        raise bad(
                            f"Table {name} is the source of running job {other.id}",
                            "target.tableName",
                        )

    def _check_job_source(self, spec: dict[str, Any]) -> None:
        """The source table or connection exists, and the connection can feed this job."""
        source = spec.get("source") or {}
        if source.get("type") == "table":
            source_name = source["tableName"]
            if source_name not in self.tables:
                raise not_found(f"Source table {source_name} does not exist", "source.tableName")
        if source.get("type") in ("s3", "azure", "connection"):
            conn = self.connections.get(source["connectionName"])
            if conn is None:
                raise not_found(
                    f"Connection {source['connectionName']} does not exist", "source.connectionName"
                )
            allowed = (
                STREAMING_CONNECTION_TYPES if spec["type"] == "streaming" else {source["type"]}
            )
            if conn["type"] not in allowed:
                raise bad(
                    f"Connection {conn['name']} of type {conn['type']} can't feed this job",
                    "source.connectionName",
                )

    # --- data-plane callbacks of the job lifecycle --------------------------------------------

    def _read_file(self, name: str) -> bytes | None:
        entry = self.files.get(name)
        return None if entry is None else entry[0]

    def _start_ingestion(self, job: Job) -> None:
        spec = job.spec
        source = spec.get("source") or {}
        if source.get("type") == "uploaded":
            missing = [name for name in source.get("fileList", []) if name not in self.files]
            if missing:
                job.result = _failed_early(
                    "cannot_parse_source", f"File(s) not found: {', '.join(missing)}"
                )
                return
        mapped = {m.get("columnName") for m in spec.get("mappings") or []}
        if job.type == "batch" and source.get("type") != "table" and "__time" not in mapped:
            job.result = _failed_early(
                "null_timestamp", "No mapping for __time: every row has a null timestamp"
            )
            return
        try:
            table = self.tables.get(job.table)
            job.result = self.dataplane.prepare_ingestion(
                spec,
                read_file=self._read_file,
                table=None if table is None else self._render_table(table),
            )
        except Exception as exc:
            job.result = _failed_early("internal_error", f"Ingestion could not start: {exc}")
            return
        job.query = job.result.query or job.query

    def _commit(self, job: Job) -> None:
        job.result.commit()
        if job.type == "drop_table":
            self.tables.pop(job.table, None)

    def _finished(self, job: Job) -> None:
        result = job.result
        if result is None or job.streaming:
            return
        if job.status != "completed":
            result.discard()  # a failed or canceled job's computed rows are dropped unwritten
        job.totals = {
            "numBytesProcessed": int(result.bytes_processed),
            "numRowsPersisted": int(result.rows_persisted) if job.status == "completed" else 0,
            "numRowsProcessed": int(result.rows_processed),
            "numRowsProcessedWithWarning": int(result.rows_with_warning),
            "numRowsSkippedByError": int(result.rows_skipped_by_error),
            "numRowsSkippedByFilter": int(result.rows_skipped_by_filter),
        }

    def _ingest_events(self, job: Job, lines: list[bytes]) -> None:
        totals = job.totals
        totals["numBytesProcessed"] += sum(map(len, lines))
        try:
            # The stored payload (type, schema, timeResolution), not a rendered copy. A job's
            # spec never changes and a table payload changes only with a new id or version,
            # so that is the key of the data plane's compiled plan.
            table = self.tables.get(job.table)
            key = None if table is None else (job.id, table["id"], table["version"])
            result = self.dataplane.ingest_events(
                job.spec,
                lines,
                table=table,
                plan_key=key,
                on_batch=partial(self._events_mapped, job),
            )
        except Exception as exc:
            totals["numRowsSkippedByError"] += len(lines)
            self.lifecycle.stream_parse_errors(job, [str(exc)])
            return
        # Lines that don't parse count at once; the rest when the batch is mapped.
        if result.parsed.errors:
            totals["numRowsSkippedByError"] += result.parsed.errors
            self.lifecycle.stream_parse_errors(job, result.parsed.messages)

    def _events_mapped(self, job: Job, counts: EventCounts) -> None:
        """A batch of the job's staged events was mapped (before anything read the table or
        the job's counts): add its counts to the job's totals."""
        totals = job.totals
        totals["numRowsProcessed"] += counts.processed
        totals["numRowsSkippedByError"] += counts.errors
        totals["numRowsSkippedByFilter"] += counts.filtered
        if counts.errors:
            self.lifecycle.stream_parse_errors(job, counts.messages)
