"""The input fields a job's expressions name, and whether its source has them (pure functions).

A mapping ``expression`` or a ``filterExpression`` is Druid SQL whose input fields are written as
double-quoted identifiers (``"city"``, ``SUM("amount")``). A misspelled one (``"cty"``) is only
found by Polaris once the job runs, after ``createTableIfNotExists`` may already have made the
table. Here we read the identifiers without parsing the SQL: a small scanner that skips string
literals (``'it''s "quoted"'`` names no field), reads ``""`` inside an identifier as one quote,
and skips comments. ``__time`` is always available and never checked.

What a source provides:

- its ``inputSchema`` names, plus the columns its format adds: Kafka's key, timestamp and header
  columns and Kinesis' partition key and timestamp columns (named in ``formatSettings`` or, when
  left out, Polaris' defaults ``kafka.key``, ``kafka.timestamp``, ``kafka.header.*``,
  ``kinesis.partitionKey``, ``kinesis.timestamp``), and ``flattenSpec`` fields;
- for a table source, the table's ``schema`` and ``queryableSchema`` column names.

SQL ingestion statements are not parsed here; a streaming job that discovers its schema
(``useSchemaDiscovery`` without ``inputSchema``) is not checked.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TIME_COLUMN = "__time"
# Polaris' defaults for the extra columns of Kafka and Kinesis records (KafkaFormatSettings and
# KinesisFormatSettings in Imply's API models).
_FORMAT_COLUMN_DEFAULTS: dict[str, dict[str, str]] = {
    "kafka": {"keyColumnName": "kafka.key", "timestampColumnName": "kafka.timestamp"},
    "kinesis": {
        "partitionKeyColumnName": "kinesis.partitionKey",
        "timestampColumnName": "kinesis.timestamp",
    },
}
_KAFKA_HEADER_PREFIX = "kafka.header."
# How many declared names an error lists before "...".
_SHOWN_NAMES = 12


def quoted_identifiers(expression: str) -> list[str]:
    """The double-quoted identifiers of a Druid SQL expression, in order, without repeats.

    Skips ``'...'`` string literals (``''`` is a quote inside one), ``--`` line comments and
    ``/* */`` comments; ``""`` inside an identifier is one ``"``. An unterminated identifier
    counts as written up to the end (Polaris will reject the expression anyway).
    """
    return list(dict.fromkeys(part for kind, part in sql_parts(expression) if kind == "identifier"))


def sql_parts(text: str) -> Iterator[tuple[str, str]]:
    """Druid SQL text outside its comments, in order: ``("identifier", name)`` for a
    double-quoted identifier (``""`` read as one ``"``), ``("string", raw)`` for a ``'...'``
    literal and ``("code", char)`` for every other character. The one scanner of SQL text in
    the provider (expression references here, ``?`` placeholders in the SQL hook)."""
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "'":
            end, _ = _skip_quoted(text, i, "'")
            yield "string", text[i:end]
            i = end
        elif char == '"':
            end, closed = _skip_quoted(text, i, '"')
            yield "identifier", text[i + 1 : end - 1 if closed else end].replace('""', '"')
            i = end
        elif text.startswith("--", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = n if close < 0 else close + 2
        else:
            yield "code", char
            i += 1


def _skip_quoted(text: str, start: int, quote: str) -> tuple[int, bool]:
    """``(index just past the quoted run opened at start, whether it was closed)``; a doubled
    quote stays inside the run."""
    i = start + 1
    while i < len(text):
        if text[i] == quote:
            if text.startswith(quote * 2, i):
                i += 2
                continue
            return i + 1, True
        i += 1
    return len(text), False


def expression_references(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field path, identifier)`` for every field named by ``mappings[].expression`` and
    ``filterExpression`` of a job request (``__time`` left out)."""
    refs: list[tuple[str, str]] = []
    mappings = body.get("mappings")
    if isinstance(mappings, Sequence) and not isinstance(mappings, str):
        for index, mapping in enumerate(mappings):
            expression = mapping.get("expression") if isinstance(mapping, Mapping) else None
            if isinstance(expression, str):
                path = f"mappings[{index}].expression"
                refs.extend((path, name) for name in quoted_identifiers(expression))
    condition = body.get("filterExpression")
    if isinstance(condition, str):
        refs.extend(("filterExpression", name) for name in quoted_identifiers(condition))
    return [(path, name) for path, name in refs if name != TIME_COLUMN]


@dataclass(frozen=True)
class SourceFields:
    """The fields a job's expressions may name: exact names and name prefixes.

    ``described`` says where they come from in error messages (``inputSchema declares`` or
    ``source table "events" has columns``).
    """

    names: tuple[str, ...]
    described: str
    prefixes: tuple[str, ...] = field(default=())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self.names or any(name.startswith(p) for p in self.prefixes)
        )


def input_schema_fields(source: Mapping[str, Any]) -> SourceFields | None:
    """The fields of a source with an ``inputSchema`` (``None`` when it has none)."""
    schema = source.get("inputSchema")
    if not isinstance(schema, Sequence) or isinstance(schema, str) or not schema:
        return None
    names = [f["name"] for f in schema if isinstance(f, Mapping) and isinstance(f.get("name"), str)]
    extra, prefixes = _format_columns(source.get("formatSettings"))
    return SourceFields(tuple(names + extra), "inputSchema declares", tuple(prefixes))


def _format_columns(settings: Any) -> tuple[list[str], list[str]]:
    """Column names and name prefixes that ``formatSettings`` adds to the input fields."""
    if not isinstance(settings, Mapping):
        return [], []
    names: list[str] = []
    prefixes: list[str] = []
    defaults = _FORMAT_COLUMN_DEFAULTS.get(str(settings.get("format")), {})
    for key, default in defaults.items():
        value = settings.get(key)
        names.append(value if isinstance(value, str) and value else default)
    if settings.get("format") == "kafka":
        prefix = settings.get("headerLabelPrefix")
        prefixes.append(prefix if isinstance(prefix, str) and prefix else _KAFKA_HEADER_PREFIX)
    flatten = settings.get("flattenSpec")
    if isinstance(flatten, Mapping) and isinstance(flatten.get("fields"), Sequence):
        names += [
            f["name"]
            for f in flatten["fields"]
            if isinstance(f, Mapping) and isinstance(f.get("name"), str)
        ]
    inner_names, inner_prefixes = _format_columns(settings.get("valueFormat"))
    return names + inner_names, prefixes + inner_prefixes


def table_fields(table: Mapping[str, Any]) -> SourceFields:
    """The columns of a table document (``GET /tables/{name}``): ``schema`` and
    ``queryableSchema`` names, and ``__time``."""
    names: dict[str, None] = {TIME_COLUMN: None}
    for key in ("schema", "queryableSchema"):
        columns = table.get(key)
        if isinstance(columns, Sequence) and not isinstance(columns, str):
            for column in columns:
                if isinstance(column, Mapping) and isinstance(column.get("name"), str):
                    names.setdefault(column["name"], None)
    described = f"source table {_quote(str(table.get('name', '')))} has columns"
    return SourceFields(tuple(names), described)


def unknown_reference(body: Mapping[str, Any], fields: SourceFields) -> str | None:
    """The error for the first field an expression names that ``fields`` lacks, else ``None``.

    E.g. ``mappings[2].expression: "cty" is not a field of the source (inputSchema declares:
    city, country); did you mean "city"?``
    """
    for path, name in expression_references(body):
        if name not in fields:
            return describe_unknown(path, name, fields)
    return None


def describe_unknown(path: str, name: str, fields: SourceFields) -> str:
    """One-line error naming the field path, the unknown identifier and the closest field."""
    shown = [n for n in fields.names if n != TIME_COLUMN] or list(fields.names)
    listed = ", ".join(shown[:_SHOWN_NAMES]) + (", ..." if len(shown) > _SHOWN_NAMES else "")
    listed += "".join(f", {p}*" for p in fields.prefixes)
    close = difflib.get_close_matches(name, list(fields.names), n=1, cutoff=0.6)
    fix = (
        f"did you mean {_quote(close[0])}?"
        if close
        else "check the spelling, or declare the field in source.inputSchema"
        if fields.described.startswith("inputSchema")
        else "check the spelling against the source table's columns"
    )
    where = f"{fields.described}: {listed}"
    return f"{path}: {_quote(name)} is not a field of the source ({where}); {fix}"


def _quote(name: str) -> str:
    """A name as Druid SQL writes an identifier: in double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'
