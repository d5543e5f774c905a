"""Job ``source`` objects: uploaded files, tables, S3/Azure objects, inline data, connections."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from airflow_provider_polaris.models._base import PolarisModel, TaggedBy
from airflow_provider_polaris.models._checks import ConnectionName, Interval, TableName
from airflow_provider_polaris.models.common import InputField
from airflow_provider_polaris.models.errors import SpecIssue
from airflow_provider_polaris.models.formats import FormatSettings


class UploadedSource(PolarisModel):
    """Files uploaded to the project: ``{"type": "uploaded", "fileList": [...], ...}``."""

    spec_noun = "an uploaded source"
    type: Literal["uploaded"]
    file_list: list[str] = Field(min_length=1)
    input_schema: list[InputField] = Field(min_length=1)
    format_settings: FormatSettings


class TableSource(PolarisModel):
    """Another Polaris table (table-to-table): ``{"type": "table", "tableName", "interval"?}``."""

    spec_noun = "a table source"
    type: Literal["table"]
    table_name: TableName
    interval: Interval | None = None


class _ObjectStoreSource(PolarisModel):
    connection_name: ConnectionName
    uris: list[str] | None = Field(default=None, min_length=1)
    prefixes: list[str] | None = Field(default=None, min_length=1)
    objects: list[str] | None = Field(default=None, min_length=1)
    pattern: str | None = None
    input_schema: list[InputField] = Field(min_length=1)
    format_settings: FormatSettings

    @model_validator(mode="after")
    def _exactly_one_selector(self) -> _ObjectStoreSource:
        given = [
            name
            for name in ("uris", "prefixes", "objects", "pattern")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            raise SpecIssue(
                (
                    "",
                    "give exactly one of uris, prefixes, objects or pattern to select the "
                    f"files to read ({found})",
                )
            )
        return self


class S3Source(_ObjectStoreSource):
    """Objects in S3 through an ``s3`` connection; exactly one of uris/prefixes/objects/pattern."""

    spec_noun = "an s3 source"
    type: Literal["s3"]


class AzureSource(_ObjectStoreSource):
    """Blobs in Azure storage through an ``azure`` connection; same selectors as S3."""

    spec_noun = "an azure source"
    type: Literal["azure"]


class InlineSource(PolarisModel):
    """Data given in the request: ``{"type": "inline", "data": "<raw text>", ...}``."""

    spec_noun = "an inline source"
    type: Literal["inline"]
    data: str
    input_schema: list[InputField] = Field(min_length=1)
    format_settings: FormatSettings


class ConnectionSource(PolarisModel):
    """A streaming connection: ``{"type": "connection", "connectionName", "formatSettings",
    "inputSchema"?}`` (``inputSchema`` may be left out with ``useSchemaDiscovery``)."""

    spec_noun = "a connection source"
    type: Literal["connection"]
    connection_name: ConnectionName
    input_schema: list[InputField] | None = None
    format_settings: FormatSettings


BatchSource = Annotated[
    UploadedSource | TableSource | S3Source | AzureSource | InlineSource,
    TaggedBy("type", "batch source type"),
]
"""Any source a batch job can read, chosen by its ``type``."""
