"""Ingestion statements: a batch job rendered as the SQL Polaris shows, and the parts of an
``INSERT``/``REPLACE ... PARTITIONED BY`` statement (target, write mode, overwrite ranges,
SELECT).

A batch job's mappings become the text Polaris itself shows in the job's ``query`` (``INSERT
INTO "t" SELECT <expr> AS "col", ... FROM ... WHERE ... GROUP BY 1, 2 PARTITIONED BY DAY``) and
that very text is what runs, so batch and SQL jobs share one engine. sqlglot does not read
Druid's INSERT/REPLACE, so :func:`split_statement` scans its tokens and hands the SELECT on.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from airflow_provider_polaris.testing.dataplane.druid_sql import (
    DruidDialect,
    output_name,
    parse_expression,
)
from airflow_provider_polaris.testing.dataplane.errors import ExpressionError, SqlError
from airflow_provider_polaris.testing.dataplane.store import quote, sql_string
from airflow_provider_polaris.testing.dataplane.timeutil import (
    GRANULARITY_PERIODS,
    MAX_MS,
    MIN_MS,
    parse_interval,
    to_datetime,
)

Node = Any  # sqlglot nodes are typed loosely
DEFAULT_TABLE_INTERVAL = "-1000-01-01T00:00:00.000Z/5000-01-01T00:00:00.000Z"
_KEYWORD_GRANULARITIES = {"second", "minute", "hour", "day", "week", "month", "year"}
# Druid aggregations sqlglot reads as plain calls (its own AggFunc nodes are recognized too).
_DRUID_AGGREGATES = frozenset(
    {
        "LATEST",
        "EARLIEST",
        "LATEST_BY",
        "EARLIEST_BY",
        "APPROX_COUNT_DISTINCT_DS_HLL",
        "APPROX_COUNT_DISTINCT_DS_THETA",
        "APPROX_QUANTILE_DS",
        "DS_HLL",
        "DS_THETA",
        "DS_QUANTILES_SKETCH",
    }
)
_BY_PERIOD = {period: name for name, period in GRANULARITY_PERIODS.items()}


@dataclass
class Statement:
    """An ingestion statement taken apart; ``select`` has its ``?`` parameters bound."""

    text: str  # the statement as the job shows it
    target: str
    mode: str  # "append" | "replace" | "replace_all"
    select: str
    partitioned_by: str  # DAY, HOUR, ALL, or a period such as PT1H
    overwrite: str | None = None  # the OVERWRITE WHERE condition (parameters bound)
    intervals: list[tuple[int, int]] = field(default_factory=list)


def timestamp_literal(ms: int) -> str:
    """``TIMESTAMP 'yyyy-MM-dd HH:mm:ss.SSS'`` as Druid SQL writes it."""
    return _literal(to_datetime(max(min(ms, MAX_MS), MIN_MS)))


def is_aggregate_table(table: Mapping[str, Any] | None) -> bool:
    """True for a rollup (``aggregate``) table payload."""
    return bool(table) and str((table or {}).get("type", "")).lower() == "aggregate"


def has_aggregate(node: Node) -> bool:
    """True when the expression aggregates rows (outside a window function)."""
    for inner in node.walk():
        if isinstance(inner, exp.Window):
            continue
        if isinstance(inner, exp.AggFunc) and not isinstance(inner.parent, exp.Window):
            return True
        if isinstance(inner, exp.Anonymous) and str(inner.this).upper() in _DRUID_AGGREGATES:
            return True
    return False


# --- batch jobs -----------------------------------------------------------------------------


def render_batch(spec: Mapping[str, Any], table: Mapping[str, Any] | None) -> Statement:
    """The SQL Polaris shows for a ``type: batch`` job, taken apart like a SQL job's."""
    source = dict(spec.get("source") or {})
    target = str((spec.get("target") or {}).get("tableName") or "")
    if not target:
        raise ExpressionError("target.tableName is required")
    mode, intervals = _batch_mode(spec)
    from_table = source.get("type") == "table"
    mappings = _mappings(spec, from_table=from_table, aggregate_table=is_aggregate_table(table))
    aggregated = [_is_aggregation(m, node) for m, node in mappings]
    select = ", ".join(f"{m['expression']} AS {quote(m['columnName'])}" for m, _ in mappings)
    conditions = []
    if from_table:
        frm = quote(str(source.get("tableName") or ""))
        interval = str(source.get("interval") or DEFAULT_TABLE_INTERVAL)
        conditions.append(f'TIME_IN_INTERVAL("__time", {sql_string(interval)})')
    else:
        frm = f"TABLE(POLARIS_SOURCE({sql_string(json.dumps(source, separators=(',', ':')))}))"
    if spec.get("filterExpression"):
        conditions.append(str(spec["filterExpression"]))
    text = f"{_head(target, mode, intervals)} SELECT {select} FROM {frm}"
    if conditions:
        text += " WHERE " + " AND ".join(f"({c})" for c in conditions)
    if any(aggregated) or is_aggregate_table(table):
        keys = [str(i + 1) for i, agg in enumerate(aggregated) if not agg]
        if keys:
            text += " GROUP BY " + ", ".join(keys)
    text += f" PARTITIONED BY {_partitioning(spec, table)}"
    clustering = spec.get("clusteringColumns") or []
    if clustering:
        text += " CLUSTERED BY " + ", ".join(quote(str(c)) for c in clustering)
    statement = split_statement(text)
    statement.intervals = intervals  # exact, not re-read from the rendered literals
    return statement


def _batch_mode(spec: Mapping[str, Any]) -> tuple[str, list[tuple[int, int]]]:
    if str(spec.get("ingestionMode") or "append").lower() != "replace":
        return "append", []
    texts = (spec.get("target") or {}).get("intervals") or []
    if spec.get("replaceAll") or not texts:
        return "replace_all", []
    try:
        return "replace", [parse_interval(str(t)) for t in texts]
    except ValueError as exc:
        raise ExpressionError(f"target.intervals: {exc}") from None


def _head(target: str, mode: str, intervals: Sequence[tuple[int, int]]) -> str:
    if mode == "append":
        return f"INSERT INTO {quote(target)}"
    if mode == "replace_all":
        return f"REPLACE INTO {quote(target)} OVERWRITE ALL"
    ranges = " OR ".join(
        f'("__time" >= {timestamp_literal(start)} AND "__time" < {timestamp_literal(end)})'
        for start, end in intervals
    )
    return f"REPLACE INTO {quote(target)} OVERWRITE WHERE {ranges}"


def _mappings(
    spec: Mapping[str, Any], *, from_table: bool, aggregate_table: bool
) -> list[tuple[dict[str, Any], Node]]:
    out: list[tuple[dict[str, Any], Node]] = []
    for index, raw in enumerate(spec.get("mappings") or []):
        if not isinstance(raw, Mapping) or not raw.get("columnName") or not raw.get("expression"):
            raise ExpressionError(f"mappings[{index}] needs columnName and expression")
        try:
            node = parse_expression(str(raw["expression"]))
        except SqlError as exc:
            raise ExpressionError(f"mappings[{index}] ({raw['columnName']}): {exc}") from None
        out.append((dict(raw), node))
    names = {m["columnName"] for m, _ in out}
    if from_table and "__time" not in names:
        # Table-to-table without a __time mapping keeps the source time (Polaris docs).
        out.insert(0, ({"columnName": "__time", "expression": '"__time"'}, exp.column("__time")))
    if aggregate_table and "__count" not in names:
        count = {"columnName": "__count", "expression": "COUNT(*)", "isAggregation": True}
        out.append((count, exp.Count(this=exp.Star())))
    return out


def _is_aggregation(mapping: Mapping[str, Any], node: Node) -> bool:
    flag = mapping.get("isAggregation")
    return bool(flag) if flag is not None else has_aggregate(node)


def _partitioning(spec: Mapping[str, Any], table: Mapping[str, Any] | None) -> str:
    name = str(spec.get("partitionedBy") or (table or {}).get("partitioningGranularity") or "day")
    name = name.lower()
    if name == "all":
        return "ALL TIME"
    if name in _KEYWORD_GRANULARITIES:
        return name.upper()
    return sql_string(GRANULARITY_PERIODS.get(name, name))


# --- taking a statement apart ---------------------------------------------------------------


def split_statement(text: str, params: Sequence[Any] = ()) -> Statement:
    """Target, mode, OVERWRITE condition, SELECT and granularity of an ingestion statement;
    ``?`` parameters are bound as literals (in text order)."""
    bound, tokens = _bind(text, params)
    words = [t.text.upper() for t in tokens] + ["", ""]  # "" past the end
    depth = [0, *itertools.accumulate(_nesting(t) for t in tokens)]  # before each token

    def expect(at: int, word: str) -> int:
        if words[at] != word:
            raise ExpressionError(f"Incorrect syntax: expected {word}")
        return at + 1

    def until(start: int, stop: Callable[[Token], bool]) -> int:
        """The first depth-0 token after ``start`` that ``stop`` accepts (or the end)."""
        found = (i for i in range(start + 1, len(tokens)) if not depth[i] and stop(tokens[i]))
        return next(found, len(tokens))

    def span(start: int, end: int) -> str:  # the text of tokens[start:end], trailing comments cut
        return bound[tokens[start].start : tokens[end - 1].end + 1].strip() if end > start else ""

    if not tokens or tokens[0].token_type not in (TokenType.INSERT, TokenType.REPLACE):
        raise ExpressionError("An ingestion query must be INSERT INTO or REPLACE INTO")
    at = expect(1, "INTO")
    while words[at + 1] == ".":
        at += 2  # druid."t"
    if at >= len(tokens) or tokens[at].token_type not in (TokenType.IDENTIFIER, TokenType.VAR):
        raise ExpressionError("Incorrect syntax: expected the target table name")
    target, at = tokens[at].text, at + 1
    mode, overwrite = "append", None
    if tokens[0].token_type == TokenType.REPLACE:
        at = expect(at, "OVERWRITE")
        if words[at] == "ALL":
            mode, at = "replace_all", at + 1
        else:
            start = expect(at, "WHERE")
            at = until(start, lambda t: t.token_type in (TokenType.SELECT, TokenType.WITH))
            mode, overwrite = "replace", span(start, at)
    end = until(at, lambda t: t.token_type == TokenType.PARTITION_BY)
    select = span(at, end)
    if not select or words[end] != "PARTITIONED BY":
        raise ExpressionError("Incorrect syntax: expected SELECT ... PARTITIONED BY <granularity>")
    clustered = until(end + 1, lambda t: t.text.upper() == "CLUSTERED")
    granularity = _granularity(span(end + 1, clustered))
    if clustered < len(tokens):
        expect(clustered + 1, "BY")
    return Statement(text, target, mode, select, granularity, overwrite)


def _nesting(token: Token) -> int:
    return (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)


def _bind(text: str, params: Sequence[Any]) -> tuple[str, list[Token]]:
    """The statement with its ``?`` replaced by ``params`` as literals, and its tokens."""
    try:
        tokens = DruidDialect().tokenize(text)
        holes = [t for t in tokens if t.token_type == TokenType.PLACEHOLDER]
        if not holes:
            return text, tokens
        if len(holes) > len(params):
            raise SqlError(f"The statement has no value for parameter {len(params) + 1}")
        pieces: list[str] = []
        end = 0
        for hole, value in zip(holes, params, strict=False):
            pieces += [text[end : hole.start], _literal(value)]
            end = hole.end + 1
        bound = "".join(pieces) + text[end:]
        return bound, DruidDialect().tokenize(bound)
    except TokenError as exc:
        raise ExpressionError(f"Incorrect syntax: {exc}") from None


def _literal(value: Any) -> str:
    """A bound parameter as Druid SQL text."""
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}.{value.microsecond // 1000:03d}'"
    if isinstance(value, date):
        return f"DATE '{value:%Y-%m-%d}'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return sql_string(str(value))


def _granularity(text: str) -> str:
    """``DAY``, ``ALL``, or a period (``'PT1H'``, ``TIME_FLOOR(__time, 'PT1H')``,
    ``FLOOR(__time TO HOUR)``) from a PARTITIONED BY clause."""
    words = text.upper().split()
    if words[:1] == ["ALL"]:
        return "ALL"
    if len(words) == 1 and words[0].isidentifier():
        return words[0]
    try:
        node = sqlglot.parse_one(text, read=DruidDialect)
    except (ParseError, TokenError):
        node = None
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    if isinstance(node, (exp.Floor, exp.Ceil)) and node.args.get("to") is not None:
        return node.args["to"].name.upper()
    strings = [] if node is None else [s for s in node.find_all(exp.Literal) if s.is_string]
    if isinstance(node, exp.Func) and strings:
        return str(strings[0].this)
    raise ExpressionError("PARTITIONED BY must be a granularity such as DAY or 'PT1H'")


def granularity_name(partitioned_by: str) -> str:
    """A PARTITIONED BY value as a Polaris granularity name (``day``, ``hour``, ``all`` ...)."""
    lowered = partitioned_by.lower()
    if lowered in GRANULARITY_PERIODS or lowered == "all":
        return lowered
    return _BY_PERIOD.get(partitioned_by.upper(), partitioned_by)


# --- OVERWRITE WHERE ------------------------------------------------------------------------


def overwrite_ranges(condition: str, to_ms: Callable[[Node], int]) -> list[tuple[int, int]]:
    """The time ranges an ``OVERWRITE WHERE`` condition selects (``__time`` compared with
    constants, joined by AND/OR; BETWEEN; TIME_IN_INTERVAL); anything else is rejected, as
    Druid does. ``to_ms`` evaluates a constant Druid expression to epoch milliseconds."""
    return _ranges(parse_expression(condition), to_ms)


def _is_time(node: Node) -> bool:
    return isinstance(node, exp.Column) and node.name == "__time" and not node.table


def _ranges(node: Node, to_ms: Callable[[Node], int]) -> list[tuple[int, int]]:
    if isinstance(node, exp.Paren):
        return _ranges(node.this, to_ms)
    if isinstance(node, (exp.And, exp.Or)):
        left, right = _ranges(node.this, to_ms), _ranges(node.expression, to_ms)
        if isinstance(node, exp.Or):
            return sorted(left + right)
        pairs = [(max(a[0], b[0]), min(a[1], b[1])) for a in left for b in right]
        return [p for p in pairs if p[0] < p[1]]
    if isinstance(node, exp.GTE | exp.GT | exp.LT | exp.LTE | exp.EQ) and _is_time(node.this):
        bound = _constant(node.expression, to_ms)
        return [
            {
                exp.GTE: (bound, MAX_MS + 1),
                exp.GT: (bound + 1, MAX_MS + 1),
                exp.LT: (MIN_MS, bound),
                exp.LTE: (MIN_MS, bound + 1),
                exp.EQ: (bound, bound + 1),
            }[type(node)]
        ]
    if isinstance(node, exp.Between) and _is_time(node.this):
        low, high = node.args["low"], node.args["high"]
        return [(_constant(low, to_ms), _constant(high, to_ms) + 1)]
    if (
        isinstance(node, exp.Anonymous)
        and str(node.this).upper() == "TIME_IN_INTERVAL"
        and len(node.expressions) == 2
        and _is_time(node.expressions[0])
        and isinstance(node.expressions[1], exp.Literal)
    ):
        try:
            return [parse_interval(str(node.expressions[1].this))]
        except ValueError as exc:
            raise ExpressionError(f"OVERWRITE WHERE: {exc}") from None
    raise ExpressionError("OVERWRITE WHERE clause may only compare __time with TIMESTAMP literals")


def _constant(node: Node, to_ms: Callable[[Node], int]) -> int:
    if node.find(exp.Column) is not None:
        raise ExpressionError("OVERWRITE WHERE bounds must be constants")
    return to_ms(node)


# --- rollup into aggregate tables -----------------------------------------------------------


def rollup(table: Mapping[str, Any] | None, info: dict[str, Any]) -> Callable[[Node], Node]:
    """A hook for the parsed SELECT: records in ``info`` which items aggregate
    (``aggregates``) and whether it groups (``grouped``); for an aggregate target also adds
    ``__count`` to a grouped SELECT and buckets ``__time`` to the table's ``timeResolution``
    (Druid's rollup query granularity)."""

    def prepare(tree: Node) -> Node:
        if not isinstance(tree, exp.Select):
            info.update(aggregates=[], grouped=False)
            return tree
        items = list(tree.expressions)
        aggregates = [has_aggregate(item) for item in items]
        grouped = bool(tree.args.get("group")) or any(aggregates)
        info.update(aggregates=aggregates, grouped=grouped)
        if not is_aggregate_table(table):
            return tree
        names = [output_name(item, i) for i, item in enumerate(items)]
        if grouped and "__count" not in names:
            items.append(exp.alias_(exp.Count(this=exp.Star()), "__count", quoted=True))
            aggregates.append(True)
        period = GRANULARITY_PERIODS.get(str((table or {}).get("timeResolution") or "").lower())
        if period and "__time" in names:
            index = names.index("__time")
            old = items[index].this if isinstance(items[index], exp.Alias) else items[index]
            period_literal = exp.Literal.string(period)
            new = exp.Anonymous(this="TIME_FLOOR", expressions=[old.copy(), period_literal])
            items[index] = exp.alias_(new, "__time", quoted=True)
            group = tree.args.get("group")
            if group is not None:
                keys = [new.copy() if key == old else key for key in group.expressions]
                group.set("expressions", keys)
        tree.set("expressions", items)
        return tree

    return prepare
