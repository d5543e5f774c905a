"""``source.formatSettings`` (discriminated on ``format``) and Avro/Protobuf schema providers."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, NonNegativeInt, model_validator

from airflow_provider_polaris.models._base import PolarisModel, TaggedBy
from airflow_provider_polaris.models._checks import Base64, ConnectionName
from airflow_provider_polaris.models.errors import SpecIssue


class InlineAvroSchemaProvider(PolarisModel):
    """``{"type": "inline-avro", "schema": {<Avro record>}}``."""

    spec_noun = "an inline-avro parseSchemaProvider"
    type: Literal["inline-avro"]
    avro_schema: dict[str, Any] = Field(alias="schema")


class InlineProtobufSchemaProvider(PolarisModel):
    """``{"type": "inline-protobuf", "descriptor": "<base64 descriptor set>",
    "protoMessageType"?: ...}``."""

    spec_noun = "an inline-protobuf parseSchemaProvider"
    type: Literal["inline-protobuf"]
    descriptor: Base64
    proto_message_type: str | None = None


class ConnectionSchemaProvider(PolarisModel):
    """``{"type": "connection", "connectionName": "<confluent_schema_registry connection>"}``."""

    spec_noun = "a connection parseSchemaProvider"
    type: Literal["connection"]
    connection_name: ConnectionName


ParseSchemaProvider = Annotated[
    InlineAvroSchemaProvider | InlineProtobufSchemaProvider | ConnectionSchemaProvider,
    TaggedBy("type", "parseSchemaProvider type"),
]


class NdJsonFormat(PolarisModel):
    """Newline-delimited JSON; ``flattenSpec`` is echoed by Polaris (``{}``)."""

    spec_noun = "nd-json formatSettings"
    format: Literal["nd-json"]
    flatten_spec: dict[str, Any] | None = None


class _DelimitedFormat(PolarisModel):
    columns: list[str] | None = None
    skip_header_rows: NonNegativeInt | None = None
    delimiter: str | None = None
    list_delimiter: str | None = None


class CsvFormat(_DelimitedFormat):
    """CSV; streaming jobs need ``columns`` and must not set ``skipHeaderRows``."""

    spec_noun = "csv formatSettings"
    format: Literal["csv"]


class TsvFormat(_DelimitedFormat):
    """TSV (same options as CSV)."""

    spec_noun = "tsv formatSettings"
    format: Literal["tsv"]


class ParquetFormat(PolarisModel):
    """Parquet (batch)."""

    spec_noun = "parquet formatSettings"
    format: Literal["parquet"]
    binary_as_string: bool | None = None
    flatten_spec: dict[str, Any] | None = None


class OrcFormat(PolarisModel):
    """ORC (batch)."""

    spec_noun = "orc formatSettings"
    format: Literal["orc"]
    binary_as_string: bool | None = None
    flatten_spec: dict[str, Any] | None = None


class AvroOcfFormat(PolarisModel):
    """Avro object container files (batch); ``schema`` overrides the schema in the file."""

    spec_noun = "avro_ocf formatSettings"
    format: Literal["avro_ocf"]
    avro_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    binary_as_string: bool | None = None
    extract_unions_by_type: bool | None = None
    flatten_spec: dict[str, Any] | None = None


class _SchemaProviderFormat(PolarisModel):
    # The inline provider that fits the format, suggested when parseSchemaProvider is missing.
    _inline_example: ClassVar[str] = ""
    parse_schema_provider: ParseSchemaProvider | None = None
    flatten_spec: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _needs_schema_provider(self) -> _SchemaProviderFormat:
        if self.parse_schema_provider is None:
            fmt = getattr(self, "format", "this format")
            raise SpecIssue(
                (
                    "parseSchemaProvider",
                    f"{fmt} needs a parseSchemaProvider — add {self._inline_example} or "
                    '{"type": "connection", "connectionName": ...} (a schema registry connection)',
                )
            )
        return self


class AvroStreamFormat(_SchemaProviderFormat):
    """Avro records in a stream; needs ``parseSchemaProvider``."""

    spec_noun = "avro_stream formatSettings"
    format: Literal["avro_stream"]
    binary_as_string: bool | None = None
    extract_unions_by_type: bool | None = None
    _inline_example: ClassVar[str] = '{"type": "inline-avro", "schema": {...}}'


class ProtobufFormat(_SchemaProviderFormat):
    """Protobuf records; needs ``parseSchemaProvider``."""

    spec_noun = "protobuf formatSettings"
    format: Literal["protobuf"]
    _inline_example: ClassVar[str] = (
        '{"type": "inline-protobuf", "descriptor": "<base64 descriptor set>"}'
    )


class KafkaFormat(PolarisModel):
    """Kafka records: ``valueFormat`` plus optional key, timestamp and header columns."""

    spec_noun = "kafka formatSettings"
    format: Literal["kafka"]
    value_format: FormatSettings
    key_format: FormatSettings | None = None
    key_column_name: str | None = None
    timestamp_column_name: str | None = None
    header_format: Any = None
    header_label_prefix: str | None = None


class KinesisFormat(PolarisModel):
    """Kinesis records: ``valueFormat`` plus optional partition key and timestamp columns."""

    spec_noun = "kinesis formatSettings"
    format: Literal["kinesis"]
    value_format: FormatSettings
    partition_key_column_name: str | None = None
    timestamp_column_name: str | None = None


FormatSettings = Annotated[
    NdJsonFormat
    | CsvFormat
    | TsvFormat
    | ParquetFormat
    | OrcFormat
    | AvroOcfFormat
    | AvroStreamFormat
    | ProtobufFormat
    | KafkaFormat
    | KinesisFormat,
    TaggedBy("format", "format"),
]
"""Any ``formatSettings`` object, chosen by its ``format``."""

# KafkaFormat and KinesisFormat refer to FormatSettings above; with ``defer_build`` pydantic
# resolves the reference from this module on first use, so no ``model_rebuild()`` at import.


def delimited_formats(settings: Any) -> list[tuple[str, _DelimitedFormat]]:
    """The CSV/TSV settings in ``settings`` (itself or its Kafka/Kinesis ``valueFormat``),
    with their paths relative to ``formatSettings``."""
    if isinstance(settings, _DelimitedFormat):
        return [("", settings)]
    if isinstance(settings, (KafkaFormat, KinesisFormat)):
        return [
            (f"valueFormat{'.' + p if p else ''}", s)
            for p, s in delimited_formats(settings.value_format)
        ]
    return []
