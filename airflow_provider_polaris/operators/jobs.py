"""Operators that run Polaris ingestion jobs: any spec, batch files, table-to-table, SQL; cancel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_polaris.exceptions import (
    PolarisJobCanceledError,
    PolarisJobFailedError,
    PolarisJobTimeoutError,
)
from airflow_provider_polaris.operators._control import PolarisJobControlOperatorBase
from airflow_provider_polaris.operators._job_base import PolarisJobOperatorBase
from airflow_provider_polaris.outcomes import BATCH_TERMINAL, JobState

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context
    from airflow_provider_polaris.models import JobSpec

__all__ = [
    "PolarisBatchIngestionOperator",
    "PolarisCancelJobOperator",
    "PolarisCreateJobOperator",
    "PolarisJobCanceledError",
    "PolarisJobFailedError",
    "PolarisJobTimeoutError",
    "PolarisSqlIngestionOperator",
    "PolarisTableToTableOperator",
]


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


class PolarisCreateJobOperator(PolarisJobOperatorBase):
    """Submit any Polaris job spec (batch, sql, streaming, delete_data, ...) and wait for it.

    ``job_spec`` is a dict (templated recursively), a path to a ``.json`` file rendered as a
    template, JSON text, or a ``JobSpec`` model (``parse_job_spec(...)``, validated again). Only
    ``job_spec`` itself may name a ``.json`` file: nested strings such as
    ``s3://bucket/events.json`` render as plain templates. The spec is validated before any
    request; a bad spec fails the task without retries, naming the offending field path.

    A batch-like job is waited on until it ends; a **streaming** job never completes, so the wait
    ends once it is ``running`` or ``idle`` (as ``PolarisStreamingJobOperator``, without its
    ``if_running`` check).

    Returns the final job document (JSON-safe); pushes ``job_id`` and ``job_url`` to XCom before
    waiting. See :class:`PolarisJobOperatorBase` for the waiting arguments.
    """

    template_fields: Sequence[str] = ("job_spec", "polaris_conn_id")
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers = {"job_spec": "json"}

    def __init__(self, *, job_spec: Mapping[str, Any] | str | JobSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_spec = job_spec

    def build_job_spec(self, context: Context) -> Mapping[str, Any] | str | JobSpec:
        return self.job_spec


class _TableLoadOperator(PolarisJobOperatorBase):
    """What batch ingestion and table-to-table share: the target table, how rows land in it,
    and the one builder of their ``batch`` job body (parameters: see the two operators)."""

    # Always send partitionedBy in replace mode (the table's, or one that aligns the intervals),
    # so a retry sends the same request after its first try created the table (docs/jobs.md).
    pin_partitioning: ClassVar[bool] = True

    def __init__(
        self,
        *,
        target_table: str,
        mappings: Sequence[Mapping[str, Any]] | None = None,
        intervals: Any = None,
        create_table_if_not_exists: bool = False,
        filter_expression: str | None = None,
        partitioned_by: str | None = None,
        cluster_by: Sequence[str] | None = None,
        extra_spec: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.target_table = target_table
        self.mappings = mappings
        self.intervals = intervals
        self.create_table_if_not_exists = create_table_if_not_exists
        self.filter_expression = filter_expression
        self.partitioned_by = partitioned_by
        self.cluster_by = cluster_by
        self.extra_spec = extra_spec

    def batch_body(self, context: Context, mode: str, source: Any) -> dict[str, Any]:
        """The ``batch`` job body; in ``replace`` mode the target intervals are ``intervals``,
        else the run's interval. ``extra_spec`` is applied last, as given."""
        from airflow_provider_polaris.operators._intervals import (
            format_interval,
            normalize_intervals,
            run_interval,
        )

        target: dict[str, Any] = {"type": "table", "tableName": self.target_table}
        if mode == "replace":
            target["intervals"] = (
                normalize_intervals(self.intervals)
                if self.intervals is not None
                else [format_interval(*run_interval(context))]
            )
        body = _drop_none(
            {
                "type": "batch",
                "ingestionMode": mode,
                "source": source,
                "target": target,
                "mappings": list(self.mappings) if self.mappings is not None else None,
                "createTableIfNotExists": self.create_table_if_not_exists or None,
                "filterExpression": self.filter_expression,
                "partitionedBy": self.partitioned_by,
                "clusteringColumns": list(self.cluster_by) if self.cluster_by else None,
            }
        )
        body.update(self.extra_spec or {})
        return body


class PolarisBatchIngestionOperator(_TableLoadOperator):
    """Load files (uploaded, S3, Azure, inline or any ``source``) into a table with a batch job.

    :param target_table: table to load into.
    :param files: names of files uploaded to Polaris (shortcut for an ``uploaded`` source).
    :param source: a full source dict instead of ``files`` (``s3``, ``azure``, ``inline``...).
    :param input_schema: ``[{"name": ..., "dataType": ...}]`` for ``files``.
    :param format_settings: e.g. ``{"format": "nd-json"}`` for ``files``.
    :param mappings: ``[{"columnName": ..., "expression": ...}]``; always map ``__time``.
    :param ingestion_mode: ``append`` (default) or ``replace``.
    :param intervals: what ``replace`` overwrites; default: the run's interval (docs/jobs.md).
    :param create_table_if_not_exists: create ``target_table`` on the first run.
    :param filter_expression: SQL boolean over the input fields.
    :param partitioned_by: target segment granularity (``hour``, ``day``, ...).
    :param cluster_by: clustering columns.
    :param extra_spec: more top-level spec fields (templated), sent as given over the built ones.
    """

    template_fields: Sequence[str] = (
        "target_table",
        "files",
        "source",
        "input_schema",
        "format_settings",
        "mappings",
        "intervals",
        "filter_expression",
        "extra_spec",
        "polaris_conn_id",
    )
    template_fields_renderers = {"source": "json", "mappings": "json", "extra_spec": "json"}

    def __init__(
        self,
        *,
        files: Sequence[str] | None = None,
        source: Mapping[str, Any] | None = None,
        input_schema: Sequence[Mapping[str, Any]] | None = None,
        format_settings: Mapping[str, Any] | None = None,
        ingestion_mode: str = "append",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.files = files
        self.source = source
        self.input_schema = input_schema
        self.format_settings = format_settings
        self.ingestion_mode = ingestion_mode

    def build_job_spec(self, context: Context) -> Mapping[str, Any]:
        source: Any = self.source
        if source is None and self.files is not None:
            schema, settings = self.input_schema, self.format_settings
            source = _drop_none(
                {
                    "type": "uploaded",
                    "fileList": list(self.files),
                    "inputSchema": list(schema) if schema is not None else None,
                    "formatSettings": dict(settings) if settings else None,
                }
            )
        return self.batch_body(context, self.ingestion_mode, source)


class PolarisTableToTableOperator(_TableLoadOperator):
    """Roll a Polaris table up into another table for this run's period (the flagship pattern).

    With the defaults (``mode="replace"``), each run overwrites exactly its period of
    ``target_table`` with the mapped rows of the same period of ``source_table``: reruns and
    backfills are idempotent, and a retry reattaches to the earlier try's job.

    :param source_table: table to read.
    :param target_table: table to write.
    :param mappings: column mappings (aggregations allowed: ``COUNT(*)``, ``SUM("x")``...).
    :param mode: ``replace`` (default: overwrite ``intervals``) or ``append``.
    :param intervals: the target intervals to replace; default: the run's data interval (with the
        empty-interval rule of docs/jobs.md).
    :param source_interval: the source rows to read; default: the same period (with explicit
        ``intervals``, the span from their earliest start to their latest end). ``"all"`` reads
        the whole source table.
    :param create_table_if_not_exists: create ``target_table`` on the first run.
    :param filter_expression: SQL boolean over source columns.
    :param partitioned_by: target segment granularity (``hour``, ``day``, ...).
    :param cluster_by: clustering columns.
    :param extra_spec: more top-level spec fields (templated), sent as given over the built ones.
    """

    template_fields: Sequence[str] = (
        "source_table",
        "target_table",
        "mappings",
        "intervals",
        "source_interval",
        "filter_expression",
        "extra_spec",
        "polaris_conn_id",
    )
    template_fields_renderers = {"mappings": "json", "extra_spec": "json"}

    def __init__(
        self,
        *,
        source_table: str,
        mappings: Sequence[Mapping[str, Any]],
        mode: str = "replace",
        source_interval: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(mappings=mappings, **kwargs)
        if mode not in ("replace", "append"):
            raise ValueError(f"mode must be 'replace' or 'append', not {mode!r}")
        self.source_table = source_table
        self.mode = mode
        self.source_interval = source_interval

    def build_job_spec(self, context: Context) -> Mapping[str, Any]:
        from airflow_provider_polaris.operators._intervals import normalize_intervals, span

        if self.source_interval == "all":
            source_interval = None
        elif self.source_interval is not None:
            (source_interval,) = normalize_intervals(self.source_interval)
        elif self.intervals is not None:
            # Explicit intervals: read the span they cover, never the run's data interval.
            source_interval = span(normalize_intervals(self.intervals))
        else:
            source_interval = self._run_source_interval(context)
        source = {"type": "table", "tableName": self.source_table, "interval": source_interval}
        return self.batch_body(context, self.mode, _drop_none(source))

    def _run_source_interval(self, context: Context) -> str:
        """The source rows of this run's period; in append mode, a run without one (e.g.
        ``schedule=None``) fails naming ``source_interval`` rather than the replace rule."""
        from airflow_provider_polaris.operators._intervals import (
            IntervalError,
            format_interval,
            run_interval,
        )

        try:
            return format_interval(*run_interval(context))
        except IntervalError as exc:
            if self.mode == "replace":
                raise
            start, end = context.get("data_interval_start"), context.get("data_interval_end")
            shown = f"{start}/{end}" if start is not None or end is not None else "none"
            raise IntervalError(
                f"source_interval: this run's data interval ({shown}) is empty, so the source "
                "rows to append are unknown; pass source_interval='start/end' (ISO 8601), "
                "source_interval='all' to append the whole source table on every run, or give "
                "the DAG a schedule whose data interval is the period to append"
            ) from exc


class PolarisSqlIngestionOperator(PolarisJobOperatorBase):
    """Run a SQL ingestion (``INSERT``/``REPLACE INTO ... SELECT``) as a Polaris job.

    :param sql: the statement, or a path to a ``.sql`` file (rendered as a template).
    :param parameters: ``[{"type": "VARCHAR", "value": "x"}]`` for ``?`` placeholders
        (templated; a value ending in ``.sql`` stays a value, it is not read as a file).
    :param context: SQL query context (templated; kept in the ``query_context`` attribute).
    """

    template_fields: Sequence[str] = ("sql", "parameters", "query_context", "polaris_conn_id")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql", "query_context": "json"}

    def __init__(
        self,
        *,
        sql: str,
        parameters: Sequence[Mapping[str, Any]] | None = None,
        context: Mapping[str, Any] | None = None,
        create_table_if_not_exists: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.parameters = parameters
        self.query_context = context
        self.create_table_if_not_exists = create_table_if_not_exists

    def build_job_spec(self, context: Context) -> Mapping[str, Any]:
        return _drop_none(
            {
                "type": "sql",
                "query": self.sql,
                "parameters": list(self.parameters) if self.parameters else None,
                "context": dict(self.query_context) if self.query_context else None,
                "createTableIfNotExists": self.create_table_if_not_exists or None,
            }
        )


class PolarisCancelJobOperator(PolarisJobControlOperatorBase):
    """Cancel a Polaris job and wait until it is ``canceled``.

    A job that already ended (``completed``, ``failed``, ``canceled``), or that ends on its own
    before the cancel takes effect, is not an error: there is nothing left to stop, so the task
    succeeds and logs what the job did. Returns the final job document; pushes ``job_id`` and
    ``job_url``. ``wait_for_completion=False`` returns right after the cancel request;
    ``deferrable``, ``poll_interval`` and ``timeout`` work as for the other job operators (a
    timeout fails the task; the job is left as it is).

    :param job_id: the job to cancel (templated), e.g.
        ``"{{ ti.xcom_pull('load', key='job_id') }}"``.
    """

    verb = "cancels"
    wait_target_statuses: ClassVar[frozenset[str] | None] = BATCH_TERMINAL

    def control(self, context: Context, client: Any) -> Mapping[str, Any]:
        from airflow_provider_polaris.client.errors import (
            PolarisBadRequestError,
            PolarisConflictError,
        )

        job_id = str(self.job_id)
        job: Mapping[str, Any] = client.jobs.get(job_id)
        state = JobState(job)
        if state.is_terminal:
            self.log.info(
                "Polaris job %s already ended (%s); nothing to cancel", job_id, state.describe()
            )
            return job
        try:
            client.jobs.cancel(job_id)
        except (PolarisBadRequestError, PolarisConflictError):
            # Polaris refuses to cancel a job that ended between our read and the request.
            job = client.jobs.get(job_id)
            state = JobState(job)
            if not state.is_terminal:
                raise
            self.log.info(
                "Polaris job %s ended on its own before the cancel (%s); nothing to cancel",
                job_id,
                state.describe(),
            )
            return job
        self.log.info("Requested cancellation of Polaris job %s", job_id)
        return client.jobs.get(job_id)
