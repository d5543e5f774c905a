"""Pieces shared by job specs: enums, input schema fields, mappings and the job target."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from airflow_provider_polaris.models._base import PolarisModel
from airflow_provider_polaris.models._checks import Interval, NonBlank, TableName

DataType = Literal[
    "string",
    "long",
    "double",
    "float",
    "bigint",
    "timestamp",
    "json",
    "complex<json>",
    "ipAddress",
    "ipPrefix",
    "geo",
    "HLLSketch",
    "thetaSketch",
    "quantilesDoublesSketch",
    "longStringPair",
    "doubleArray",
    "floatArray",
    "longArray",
    "stringArray",
    "ingest_timeseries",
    "varchar",
    "variance",
]
"""``inputSchema[].dataType`` values (§3)."""

PartitionedBy = Literal[
    "second",
    "minute",
    "five_minute",
    "ten_minute",
    "fifteen_minute",
    "thirty_minute",
    "hour",
    "six_hour",
    "eight_hour",
    "day",
    "month",
    "quarter",
    "year",
    "all",
]
"""Job ``partitionedBy`` values (§3); ``week`` is not one of them."""


class InputField(PolarisModel):
    """One ``source.inputSchema`` entry: an input field's name and data type."""

    spec_noun = "an inputSchema field"
    name: NonBlank
    data_type: DataType


class ColumnMapping(PolarisModel):
    """One ``mappings`` entry: a table column and the Druid SQL expression that fills it."""

    spec_noun = "a mapping"
    column_name: NonBlank
    expression: NonBlank
    is_aggregation: bool | None = None


class JobTarget(PolarisModel):
    """A job's ``target``: ``{"type": "table", "tableName": ..., "intervals"?: [...]}``."""

    spec_noun = "a job target"
    type: Literal["table"] = "table"
    table_name: TableName
    intervals: list[Interval] | None = None

    @model_validator(mode="after")
    def _always_send_type(self) -> JobTarget:
        # Polaris expects target.type even though "table" is the only value; users may omit it.
        self._mark_set("type")
        return self

    @property
    def has_intervals(self) -> bool:
        """True when intervals are given and non-empty (responses echo ``intervals: []``)."""
        return bool(self.intervals)
