"""Table specs (``POST /tables`` and ``PUT /tables/{name}`` bodies, §6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, model_validator

from airflow_provider_polaris.models._base import LazyAdapter, PolarisModel, validate_spec
from airflow_provider_polaris.models._checks import Duration, Interval, NonBlank, TableName
from airflow_provider_polaris.models._strict import AllowUnknownFields
from airflow_provider_polaris.models.common import DataType, PartitionedBy
from airflow_provider_polaris.models.errors import SpecIssue

TablePartitioning = Literal[PartitionedBy, "week"]
"""``partitioningGranularity`` values; ``week`` only survives on existing tables."""

TimeResolution = Literal[
    "millisecond",
    "second",
    "minute",
    "fifteen_minute",
    "thirty_minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
    "all",
]
"""Aggregate tables' ``timeResolution`` (rollup granularity) values."""


# Read-only fields of a GET table (§6): a response can be parsed and sent back in a PUT.
_TABLE_RESPONSE_FIELDS = frozenset(
    {
        "id",
        "availability",
        "createdByUser",
        "modifiedByUser",
        "createdOnTimestamp",
        "modifiedOnTimestamp",
        "queryableSchema",
        "segmentCount",
        "segmentTotalBytes",
        "segmentCompactedBytes",
        "precachedDataSizeBytes",
        "totalDataSizeBytes",
        "totalRows",
    }
)


class TableColumn(PolarisModel):
    """A schema column; aggregate tables also say ``type``: ``dimension`` or ``measure``."""

    spec_noun = "a table schema column"
    name: NonBlank
    data_type: DataType
    type: Literal["dimension", "measure"] | None = None


class QueryGranularity(PolarisModel):
    """``{"type": "simple", "granularity": "hour"}`` or ``{"type": "period", "period": "PT1H",
    "timeZone"?, "origin"?}``."""

    spec_noun = "queryGranularity"
    type: Literal["simple", "period"]
    granularity: TimeResolution | None = None
    period: Duration | None = None
    time_zone: str | None = None
    origin: str | None = None

    @model_validator(mode="after")
    def _needs_its_field(self) -> QueryGranularity:
        if self.type == "simple" and self.granularity is None:
            raise SpecIssue(("granularity", 'add "granularity", e.g. "hour"'))
        if self.type == "period" and self.period is None:
            raise SpecIssue(("period", 'add "period", an ISO-8601 duration such as "PT1H"'))
        return self


class RetentionRule(PolarisModel):
    """A storage-policy rule: ``{"type": "period", "period": "P90D"}`` or
    ``{"type": "intervals", "intervals": [...]}``."""

    spec_noun = "a storagePolicy rule"
    type: Literal["period", "intervals"]
    period: Duration | None = None
    intervals: list[Interval] | None = None


class StoragePolicy(PolarisModel):
    """What Polaris keeps (``retain``) and precaches (``cached``)."""

    spec_noun = "storagePolicy"
    retain: RetentionRule | None = None
    cached: RetentionRule | None = None


class TableSpec(PolarisModel):
    """A Polaris table: ``detail`` or ``aggregate``, with optional schema and settings."""

    spec_noun = "a table"
    echoed_fields = _TABLE_RESPONSE_FIELDS
    name: TableName
    type: Literal["detail", "aggregate"]
    version: NonNegativeInt | None = None
    schema_mode: Literal["strict", "flexible"] | None = None
    partitioning_granularity: TablePartitioning | None = None
    clustering_columns: list[str] | None = None
    description: str | None = Field(default=None, max_length=1000)
    storage_policy: StoragePolicy | None = None
    table_schema: list[TableColumn] | None = Field(default=None, alias="schema")
    time_resolution: TimeResolution | None = None
    query_granularity: QueryGranularity | None = None

    @model_validator(mode="after")
    def _check_table(self) -> TableSpec:
        issues: list[tuple[str, str]] = []
        # "week" is deprecated: allowed when updating an existing table (version given), not
        # when creating one.
        if self.partitioning_granularity == "week" and self.version is None:
            issues.append(
                (
                    "partitioningGranularity",
                    '"week" is deprecated and can\'t be used for new tables; use "day" or "month"',
                )
            )
        issues.extend(self._column_issues())
        if self.type == "aggregate":
            issues.extend(self._aggregate_issues())
        else:
            issues.extend(self._detail_issues())
        if issues:
            raise SpecIssue(*issues)
        return self

    def _column_issues(self) -> list[tuple[str, str]]:
        issues: list[tuple[str, str]] = []
        seen: set[str] = set()
        for i, column in enumerate(self.table_schema or ()):
            if column.name in seen:
                issues.append(
                    (f"schema[{i}].name", f"column {column.name!r} is listed twice; keep one")
                )
            seen.add(column.name)
        return issues

    def _detail_issues(self) -> list[tuple[str, str]]:
        # §6: rollup settings and dimension/measure column types exist for aggregate tables only.
        fix = 'remove it, or make the table "type": "aggregate"'
        issues = [
            (alias, f"only aggregate tables have {alias}; {fix}")
            for name, alias in (
                ("time_resolution", "timeResolution"),
                ("query_granularity", "queryGranularity"),
            )
            if getattr(self, name) is not None
        ]
        issues += [
            (
                f"schema[{i}].type",
                f"detail table columns have no dimension/measure type; {fix}",
            )
            for i, column in enumerate(self.table_schema or ())
            if column.type is not None
        ]
        return issues

    def _aggregate_issues(self) -> list[tuple[str, str]]:
        issues: list[tuple[str, str]] = []
        measures = set()
        for i, column in enumerate(self.table_schema or ()):
            if column.type is None and column.name != "__time":
                issues.append(
                    (
                        f"schema[{i}].type",
                        'aggregate table columns need "type": "dimension" or "measure"',
                    )
                )
            elif column.type == "measure":
                measures.add(column.name)
        for i, name in enumerate(self.clustering_columns or ()):
            if name in measures:
                issues.append(
                    (
                        f"clusteringColumns[{i}]",
                        f"{name!r} is a measure; aggregate tables cluster by dimensions only",
                    )
                )
        return issues


_TABLE_ADAPTER: LazyAdapter[TableSpec] = LazyAdapter(TableSpec)


def parse_table_spec(
    data: Mapping[str, Any] | TableSpec, *, allow_unknown_fields: AllowUnknownFields = False
) -> TableSpec:
    """Validate a table spec given as a dict (snake_case or camelCase keys) or a model.

    Unknown fields are errors unless ``allow_unknown_fields`` is ``True`` or lists their dotted
    paths (``["storagePolicy.someNewField"]``); those are sent as given, with a warning each.
    """
    if isinstance(data, TableSpec):
        return data
    return validate_spec(_TABLE_ADAPTER, data, "table", allow_unknown_fields=allow_unknown_fields)
