"""Structural validation and normalisation of create-job bodies (polaris-api.md §3).

Checks that need other resources (does the table or connection exist?) live in the state module;
everything here only looks at the body.

Polaris (Druid SQL) accepts ``--`` line comments and ``/* */`` block comments anywhere a space
may stand, including before ``INSERT`` and between ``INSERT`` and ``INTO``. The SQL job check
looks for the statement's leading keywords with a regular expression, so it first turns every
comment into a space; string literals and quoted identifiers are kept as they are, so a ``--``
inside ``'a--b'`` or ``"x/*y"`` is not a comment.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from ._errors import bad
from ._rules import (
    BATCH_SOURCES,
    DELETION_JOB_TYPES,
    FORMATS,
    INPUT_DATA_TYPES,
    JOB_TYPES,
    MAX_INT,
    PARTITIONED_BY,
    check_bool,
    check_enum,
    check_named,
    check_str_list,
    check_table_name,
    parse_interval,
)

_SQL_PIECES = re.compile(
    r"""
    (?P<string>'(?:[^']|'')*'?)
  | (?P<quoted>"(?:[^"]|"")*"?)
  | (?P<line>--[^\n]*)
  | (?P<block>/\*.*?(?:\*/|\Z))
    """,
    re.VERBOSE | re.DOTALL,
)
_SQL_TARGET = re.compile(
    r'^\s*(?:INSERT|REPLACE)\s+INTO\s+(?:"((?:[^"]|"")+)"|([A-Za-z_][\w$]*))', re.IGNORECASE
)
_SQL_PARTITIONED = re.compile(r"\bPARTITIONED\s+BY\b", re.IGNORECASE)
_AGGREGATE_CALL = re.compile(
    r"^\s*(COUNT|SUM|MIN|MAX|AVG|APPROX_COUNT_DISTINCT\w*|DS_\w+|LATEST\w*|EARLIEST\w*)\s*\(",
    re.IGNORECASE,
)
_DIMENSION_SELECTORS = ("uris", "prefixes", "objects", "pattern")


def is_aggregation(mapping: dict[str, Any]) -> bool:
    """Whether a mapping is a measure: explicit ``isAggregation`` or an aggregate call."""
    flag = mapping.get("isAggregation")
    if isinstance(flag, bool):
        return flag
    return bool(_AGGREGATE_CALL.match(mapping.get("expression", "")))


def check_measures(spec: Mapping[str, Any], table: Mapping[str, Any] | None) -> None:
    """400 when a mapping into a measure column of an aggregate table doesn't aggregate:
    Polaris needs ``SUM("n")``, ``COUNT(*)`` ... there, not a plain value."""
    if table is None or table.get("type") != "aggregate":
        return
    measures = {c.get("name") for c in table.get("schema") or [] if c.get("type") == "measure"}
    for i, mapping in enumerate(spec.get("mappings") or []):
        column = mapping.get("columnName")
        if column in measures and not is_aggregation(mapping):
            raise bad(
                f"Column {column} of aggregate table {table.get('name')} is a measure: its "
                f"mapping needs an aggregation, e.g. SUM({mapping.get('expression')}), not "
                f"{mapping.get('expression')!r}",
                f"mappings[{i}].expression",
            )


def without_comments(query: str) -> str:
    """``query`` with each SQL comment replaced by one space (an unclosed block comment runs to
    the end of the text, as Druid's parser reads it)."""

    def keep_or_blank(match: re.Match[str]) -> str:
        return " " if match.lastgroup in ("line", "block") else match.group()

    return _SQL_PIECES.sub(keep_or_blank, query)


def _object(body: dict[str, Any], key: str, target: str) -> dict[str, Any]:
    value = body.get(key)
    if not isinstance(value, dict):
        raise bad(f"{target} is required and must be an object", target)
    return value


def _check_target(body: dict[str, Any]) -> dict[str, Any]:
    target = _object(body, "target", "target")
    target["type"] = check_enum(target.get("type", "table"), frozenset({"table"}), "target.type")
    check_table_name(target.get("tableName"), "target.tableName")
    if "intervals" in target and target["intervals"] is not None:
        check_str_list(target["intervals"], "target.intervals", allow_empty=True)
        for i, interval in enumerate(target["intervals"]):
            parse_interval(interval, f"target.intervals[{i}]")
    return target


def _check_input_schema(source: dict[str, Any], *, required: bool) -> None:
    schema = source.get("inputSchema")
    if schema is None:
        if required:
            raise bad("source.inputSchema is required", "source.inputSchema")
        return
    if not isinstance(schema, list):
        raise bad("source.inputSchema must be a list", "source.inputSchema")
    for i, field in enumerate(schema):
        where = f"source.inputSchema[{i}]"
        check_named(field, where, "Each input schema field needs a name")
        check_enum(field.get("dataType"), INPUT_DATA_TYPES, f"{where}.dataType")


def _check_format(source: dict[str, Any]) -> None:
    settings = _object(source, "formatSettings", "source.formatSettings")
    fmt = check_enum(settings.get("format"), FORMATS, "source.formatSettings.format")
    if fmt in ("avro_stream", "protobuf") and not isinstance(
        settings.get("parseSchemaProvider"), dict
    ):
        raise bad(f"{fmt} needs parseSchemaProvider", "source.formatSettings.parseSchemaProvider")
    if fmt in ("kafka", "kinesis") and not isinstance(settings.get("valueFormat"), dict):
        raise bad(f"{fmt} needs valueFormat", "source.formatSettings.valueFormat")
    if fmt == "nd-json":
        settings.setdefault("flattenSpec", {})


def _check_mappings(body: dict[str, Any]) -> None:
    mappings = body.get("mappings")
    if mappings is None:
        body["mappings"] = []
        return
    if not isinstance(mappings, list):
        raise bad("mappings must be a list", "mappings")
    for i, mapping in enumerate(mappings):
        where = f"mappings[{i}]"
        if not isinstance(mapping, dict):
            raise bad("Each mapping must be an object", where)
        if not isinstance(mapping.get("columnName"), str) or not mapping["columnName"]:
            raise bad("Each mapping needs a columnName", f"{where}.columnName")
        if not isinstance(mapping.get("expression"), str) or not mapping["expression"].strip():
            raise bad("Each mapping needs an expression", f"{where}.expression")
        if "isAggregation" in mapping and not isinstance(
            mapping["isAggregation"], (bool, type(None))
        ):
            raise bad("isAggregation must be a boolean", f"{where}.isAggregation")


def _check_common(body: dict[str, Any]) -> None:
    _check_mappings(body)
    if body.get("filterExpression") is not None and not isinstance(body["filterExpression"], str):
        raise bad("filterExpression must be a string", "filterExpression")
    body.setdefault("filterExpression", None)
    limit = body.get("maxParseExceptions", MAX_INT)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise bad("maxParseExceptions must be a non-negative integer", "maxParseExceptions")
    body["maxParseExceptions"] = limit
    if body.get("partitionedBy") is not None:
        check_enum(body["partitionedBy"], PARTITIONED_BY, "partitionedBy")
    if body.get("clusteringColumns") is not None:
        check_str_list(body["clusteringColumns"], "clusteringColumns", allow_empty=True)
    body["createTableIfNotExists"] = check_bool(body, "createTableIfNotExists")


def _check_batch(body: dict[str, Any]) -> None:
    source = _object(body, "source", "source")
    kind = check_enum(source.get("type"), BATCH_SOURCES, "source.type")
    if kind == "uploaded":
        check_str_list(source.get("fileList"), "source.fileList")
    elif kind == "table":
        check_table_name(source.get("tableName"), "source.tableName")
        if source.get("interval") is not None:
            parse_interval(source["interval"], "source.interval")
    elif kind in ("s3", "azure"):
        if not isinstance(source.get("connectionName"), str):
            raise bad("source.connectionName is required", "source.connectionName")
        chosen = [key for key in _DIMENSION_SELECTORS if source.get(key) is not None]
        if len(chosen) != 1:
            raise bad("Give exactly one of uris, prefixes, objects or pattern", "source")
    elif kind == "inline" and not isinstance(source.get("data"), str):
        raise bad("source.data is required for inline sources", "source.data")
    if kind != "table":
        _check_input_schema(source, required=True)
        _check_format(source)
    body["ingestionMode"] = check_enum(
        body.get("ingestionMode", "append"), frozenset({"append", "replace"}), "ingestionMode"
    )
    replace_all = check_bool(body, "replaceAll")
    intervals = body["target"].get("intervals") or []
    if body["ingestionMode"] == "append":
        if intervals:
            raise bad(
                "target.intervals is only allowed with ingestionMode replace", "target.intervals"
            )
        if replace_all:
            raise bad("replaceAll requires ingestionMode replace", "replaceAll")
    elif replace_all and intervals:
        raise bad("Don't combine replaceAll with target.intervals", "target.intervals")
    elif not replace_all and not intervals:
        raise bad("ingestionMode replace needs target.intervals or replaceAll", "target.intervals")
    if "context" in body and not isinstance(body["context"], dict):
        raise bad("context must be an object", "context")


def _check_streaming(body: dict[str, Any]) -> None:
    source = _object(body, "source", "source")
    check_enum(source.get("type"), frozenset({"connection"}), "source.type")
    if not isinstance(source.get("connectionName"), str):
        raise bad("source.connectionName is required", "source.connectionName")
    discovery = check_bool(body, "useSchemaDiscovery")
    _check_input_schema(source, required=not discovery)
    _check_format(source)
    if body["target"].get("intervals"):
        raise bad("target.intervals is not allowed for streaming jobs", "target.intervals")
    body["readFromPoint"] = check_enum(
        body.get("readFromPoint", "latest"), frozenset({"earliest", "latest"}), "readFromPoint"
    )
    body["replaceRunning"] = check_bool(body, "replaceRunning")
    body["useSchemaDiscovery"] = discovery
    body.setdefault("lateMessageRejectionPeriod", "P30D")
    body.setdefault("earlyMessageRejectionPeriod", "P2000D")


def _check_sql(body: dict[str, Any]) -> str:
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise bad("query is required", "query")
    text = without_comments(query)
    target = _SQL_TARGET.match(text)
    if target is None:
        raise bad("SQL ingestion needs an INSERT INTO or REPLACE INTO statement", "query")
    if not _SQL_PARTITIONED.search(text):
        raise bad("INSERT and REPLACE statements need a PARTITIONED BY clause", "query")
    quoted, plain = target.groups()
    table = plain if quoted is None else quoted.replace('""', '"')
    if body.get("parameters") is not None and not isinstance(body["parameters"], list):
        raise bad("parameters must be a list", "parameters")
    if body.get("context") is not None and not isinstance(body["context"], dict):
        raise bad("context must be an object", "context")
    body["createTableIfNotExists"] = check_bool(body, "createTableIfNotExists")
    return check_table_name(table, "query")


def _check_deletion(body: dict[str, Any]) -> None:
    kind = body["type"]
    intervals = body["target"].get("intervals") or []
    body["softDelete"] = check_bool(body, "softDelete")
    if kind == "delete_data":
        delete_all = check_bool(body, "deleteAll")
        body["deleteAll"] = delete_all
        if delete_all and intervals:
            raise bad("Don't combine deleteAll with target.intervals", "target.intervals")
        if not delete_all and not intervals:
            raise bad("delete_data needs target.intervals or deleteAll", "target.intervals")
    elif intervals:
        raise bad(f"target.intervals is not allowed for {kind} jobs", "target.intervals")
    if kind == "restore_data":
        parse_interval(body.get("interval"), "interval")
    if body.get("versions") is not None:
        check_str_list(body["versions"], "versions", allow_empty=True)


def validate_job(raw: Any) -> tuple[dict[str, Any], str]:
    """Return the normalised spec and its target table name; raise 400 on any structural error."""
    if not isinstance(raw, dict):
        raise bad("The request body must be a JSON object")
    body = copy.deepcopy(raw)
    kind = check_enum(body.get("type"), JOB_TYPES, "type")
    body.pop("desiredExecutionStatus", None)  # ignored on create
    if kind == "sql":
        sql_table = _check_sql(body)
        body["target"] = {"type": "table", "tableName": sql_table}
        return body, sql_table
    _check_target(body)
    table: str = body["target"]["tableName"]
    if kind in DELETION_JOB_TYPES:
        _check_deletion(body)
        return body, table
    _check_common(body)
    if kind == "batch":
        _check_batch(body)
    else:
        _check_streaming(body)
    return body, table
