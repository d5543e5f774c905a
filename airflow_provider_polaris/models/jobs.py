"""Job specs (``POST /jobs`` bodies): batch, streaming, SQL and the data-management jobs.

``parse_job_spec`` picks the model from ``type``. The model validators catch, before any request,
the mistakes Polaris would answer with a 400 or a failed job (no ``__time`` mapping, intervals in
append mode, a streaming job reading files, ...), naming the field path and the fix.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from airflow_provider_polaris.models._base import LazyAdapter, PolarisModel, TaggedBy, validate_spec
from airflow_provider_polaris.models._checks import Duration, Interval, sql_statement_target
from airflow_provider_polaris.models._strict import (
    NON_FINITE_MESSAGE,
    AllowUnknownFields,
    non_finite_paths,
)
from airflow_provider_polaris.models.common import ColumnMapping, JobTarget, PartitionedBy
from airflow_provider_polaris.models.errors import PolarisSpecError, SpecIssue
from airflow_provider_polaris.models.formats import delimited_formats
from airflow_provider_polaris.models.sources import BatchSource, ConnectionSource

_MAP_TIME = (
    'no mapping for "__time"; add {"columnName": "__time", "expression": '
    '"TIME_PARSE(\\"timestamp\\")"} (use your input\'s time field and a matching '
    "time function such as TIME_PARSE or MILLIS_TO_TIMESTAMP)"
)


# Read-only fields of a GET job (§3 JobResponse): a response can be parsed and resubmitted.
JOB_RESPONSE_FIELDS = frozenset(
    {
        "id",
        "query",
        "spec",
        "desiredExecutionStatus",
        "executionStatus",
        "health",
        "createdBy",
        "lastModifiedBy",
        "createdTimestamp",
        "lastUpdatedTimestamp",
        "startedTimestamp",
        "completedTimestamp",
    }
)


class JobSpec(PolarisModel):
    """Base of every job spec; ``parse_job_spec`` returns one of its subclasses."""

    echoed_fields = JOB_RESPONSE_FIELDS
    type: str

    @property
    def job_type(self) -> str:
        """The job's ``type`` (``batch``, ``streaming``, ``sql``, ...)."""
        return self.type

    @property
    def target_table(self) -> str | None:
        """The name of the table the job writes or manages, when the spec names one."""
        return None


class _TargetedJob(JobSpec):
    target: JobTarget

    @property
    def target_table(self) -> str | None:
        """The name of the table in ``target.tableName``."""
        return self.target.table_name


class _IngestionJob(_TargetedJob):
    create_table_if_not_exists: bool | None = None
    mappings: list[ColumnMapping] | None = None
    filter_expression: str | None = None
    max_parse_exceptions: int | None = Field(default=None, ge=0)
    clustering_columns: list[str] | None = None
    partitioned_by: PartitionedBy | None = None
    context: dict[str, Any] | None = None

    @field_validator("partitioned_by", mode="before")
    @classmethod
    def _no_week(cls, value: Any) -> Any:
        if value == "week":
            raise SpecIssue(
                ("", '"week" is not a partitioning granularity for jobs; use "day" or "month"')
            )
        return value

    def _time_mapping_issues(self) -> list[tuple[str, str]]:
        mapped = any(m.column_name == "__time" for m in self.mappings or ())
        return [] if mapped else [("mappings", _MAP_TIME)]


class BatchJobSpec(_IngestionJob):
    """A batch ingestion job: uploaded files, a table, S3/Azure objects or inline data."""

    spec_noun = "a batch job"
    type: Literal["batch"]
    source: BatchSource
    ingestion_mode: Literal["append", "replace"] | None = None
    replace_all: bool | None = None

    @model_validator(mode="after")
    def _check_batch(self) -> BatchJobSpec:
        intervals, replace_all = self.target.has_intervals, bool(self.replace_all)
        replace = self.ingestion_mode == "replace"
        rules = (
            (
                replace and intervals and replace_all,
                "replaceAll",
                "replaceAll can't be combined with target.intervals; remove target.intervals to "
                "replace the whole table, or remove replaceAll to replace only those intervals",
            ),
            (
                replace and not intervals and not replace_all,
                "target.intervals",
                'ingestionMode "replace" needs target.intervals (e.g. ["2022-06-01/2022-06-09"]) '
                'or "replaceAll": true',
            ),
            (
                not replace and intervals,
                "target.intervals",
                'intervals are only used with "ingestionMode": "replace"; set ingestionMode to '
                "replace, or remove target.intervals to append",
            ),
            (
                not replace and replace_all,
                "replaceAll",
                'replaceAll needs "ingestionMode": "replace"; set it, or remove replaceAll',
            ),
        )
        issues = [(path, message) for broken, path, message in rules if broken]
        # Table-to-table jobs may leave __time out: Polaris then keeps the source's __time.
        if self.source.type != "table":
            issues.extend(self._time_mapping_issues())
        if issues:
            raise SpecIssue(*issues)
        return self


class StreamingJobSpec(_IngestionJob):
    """A streaming job reading a Polaris connection (Kafka, Confluent, Kinesis, push)."""

    spec_noun = "a streaming job"
    type: Literal["streaming"]
    source: ConnectionSource
    read_from_point: Literal["earliest", "latest"] | None = None
    use_schema_discovery: bool | None = None
    dimension_exclusions: list[str] | None = None
    replace_running: bool | None = None
    late_message_rejection_period: Duration | None = None
    early_message_rejection_period: Duration | None = None
    enable_upserts: bool | None = None
    upsert_key_columns: list[str] | None = None
    upsert_version_column: str | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _source_is_connection(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            source_type = value.get("type")
        elif isinstance(value, PolarisModel):
            source_type = getattr(value, "type", None)
        else:
            return value
        if source_type != "connection":
            raise SpecIssue(
                (
                    "type",
                    "streaming jobs read from a Polaris connection; use "
                    '{"type": "connection", "connectionName": ...}'
                    + (f" (got {source_type!r})" if source_type is not None else ""),
                )
            )
        return value

    @model_validator(mode="after")
    def _check_streaming(self) -> StreamingJobSpec:
        issues: list[tuple[str, str]] = []
        if self.target.has_intervals:
            issues.append(
                ("target.intervals", "streaming jobs don't take intervals; remove target.intervals")
            )
        if self.source.input_schema is None and not self.use_schema_discovery:
            issues.append(
                (
                    "source.inputSchema",
                    'list the input fields ([{"name": ..., "dataType": ...}]) or set '
                    '"useSchemaDiscovery": true (flexible tables only)',
                )
            )
        for rel, fmt in delimited_formats(self.source.format_settings):
            base = f"source.formatSettings{'.' + rel if rel else ''}"
            if not fmt.columns:
                issues.append(
                    (
                        f"{base}.columns",
                        "streaming CSV/TSV has no header row to read names from; "
                        'add "columns": ["field1", "field2", ...]',
                    )
                )
            if fmt.skip_header_rows is not None:
                issues.append(
                    (
                        f"{base}.skipHeaderRows",
                        "streaming CSV/TSV can't skip header rows; remove skipHeaderRows",
                    )
                )
        # Even with useSchemaDiscovery, __time is the one column that must be mapped.
        issues.extend(self._time_mapping_issues())
        if issues:
            raise SpecIssue(*issues)
        return self


class SqlParameter(PolarisModel):
    """A SQL query parameter: ``{"type": "VARCHAR", "value": "x"}``."""

    spec_noun = "a SQL parameter"
    type: str
    value: Any = None


class SqlJobSpec(JobSpec):
    """A SQL ingestion job: an ``INSERT`` or ``REPLACE`` statement."""

    spec_noun = "a sql job"
    # A GET of a SQL job also shows the target table Polaris read from the statement.
    echoed_fields = JOB_RESPONSE_FIELDS | {"target"}
    type: Literal["sql"]
    query: str
    parameters: list[SqlParameter] | None = None
    context: dict[str, Any] | None = None
    create_table_if_not_exists: bool | None = None

    @field_validator("query")
    @classmethod
    def _insert_or_replace(cls, value: str) -> str:
        keyword, _ = sql_statement_target(value)
        if not keyword:
            raise ValueError("must not be empty; give an INSERT INTO or REPLACE INTO statement")
        if keyword not in ("INSERT", "REPLACE"):
            raise ValueError(
                f"SQL jobs run INSERT INTO or REPLACE INTO statements, not {keyword}; "
                "use the query API for SELECT queries"
            )
        return value

    @property
    def target_table(self) -> str | None:
        """The table after ``INSERT INTO`` / ``REPLACE INTO``, when it can be read."""
        return sql_statement_target(self.query)[1]


class DeleteDataJobSpec(_TargetedJob):
    """Delete a table's data in ``target.intervals``, or all of it with ``deleteAll``."""

    spec_noun = "a delete_data job"
    type: Literal["delete_data"]
    delete_all: bool | None = None
    soft_delete: bool | None = None
    versions: list[str] | None = None

    @model_validator(mode="after")
    def _intervals_or_all(self) -> DeleteDataJobSpec:
        intervals = self.target.has_intervals
        if intervals and self.delete_all:
            raise SpecIssue(
                (
                    "deleteAll",
                    "deleteAll can't be combined with target.intervals; remove one of them",
                )
            )
        if not intervals and not self.delete_all:
            raise SpecIssue(
                (
                    "target.intervals",
                    'say what to delete: target.intervals (e.g. ["2022-06-01/2022-06-09"]) '
                    'or "deleteAll": true',
                )
            )
        return self


def _no_target_intervals(job: _TargetedJob, fix: str) -> None:
    if job.target.has_intervals:
        raise SpecIssue(("target.intervals", f"{job.type} jobs don't take intervals; {fix}"))


class DropTableJobSpec(_TargetedJob):
    """Drop a table (``softDelete`` keeps the data for 30 days)."""

    spec_noun = "a drop_table job"
    type: Literal["drop_table"]
    soft_delete: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> DropTableJobSpec:
        _no_target_intervals(self, "remove target.intervals (use delete_data to delete a range)")
        return self


class RestoreDataJobSpec(_TargetedJob):
    """Restore soft-deleted data of a table in ``interval``."""

    spec_noun = "a restore_data job"
    type: Literal["restore_data"]
    interval: Interval | None = None
    versions: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> RestoreDataJobSpec:
        _no_target_intervals(self, 'put the range in "interval" instead')
        return self


AnyJobSpec = Annotated[
    BatchJobSpec
    | StreamingJobSpec
    | SqlJobSpec
    | DeleteDataJobSpec
    | DropTableJobSpec
    | RestoreDataJobSpec,
    TaggedBy("type", "job type"),
]
"""Any job spec, chosen by its ``type``."""

_JOB_ADAPTER: LazyAdapter[JobSpec] = LazyAdapter(AnyJobSpec)


def parse_job_spec(
    data: Mapping[str, Any] | JobSpec, *, allow_unknown_fields: AllowUnknownFields = False
) -> JobSpec:
    """Validate a job spec given as a dict (snake_case or camelCase keys) or a model.

    A model is validated again from its wire form: one built with ``model_construct()`` or
    changed after construction skipped the checks. Raises ``PolarisSpecError`` naming each bad
    field's wire path and the fix; an unknown field is an error unless ``allow_unknown_fields``
    is ``True`` or lists its dotted path (``["source.someNewField"]``): such fields are sent as
    given, with a warning per field.
    """
    if isinstance(data, JobSpec):
        _reject_non_finite(data)
        try:
            with warnings.catch_warnings():
                # A malformed model warns while serializing; the validation below says what's wrong.
                warnings.simplefilter("ignore")
                data = data.to_api()
        except Exception as exc:  # a model_construct() with values pydantic cannot serialize
            raise PolarisSpecError(
                [("", f"cannot read the {type(data).__name__} model ({type(exc).__name__})")],
                "job",
            ) from None
    return validate_spec(_JOB_ADAPTER, data, "job", allow_unknown_fields=allow_unknown_fields)


def _reject_non_finite(model: PolarisModel) -> None:
    # The wire form turns NaN into null, so look at the model's Python values first.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            values = model.model_dump(by_alias=True, exclude_unset=True)
        except Exception:  # an unreadable model is reported by the caller
            return
    bad = non_finite_paths(values)
    if bad:
        raise PolarisSpecError([(path, NON_FINITE_MESSAGE) for path in bad], "job")
