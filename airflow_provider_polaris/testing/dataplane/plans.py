"""Turn ingestion jobs into one executable form: an ``INSERT``/``REPLACE`` statement.

A batch job's mappings are rendered as the SQL Polaris itself shows in the job's ``query``
(``INSERT INTO "t" SELECT <expr> AS "col", ... FROM ... WHERE ... GROUP BY 1, 2 PARTITIONED BY
DAY``) and that very text is parsed and run, so what the job response shows is what ran. SQL
jobs are parsed directly. Both then get the same aggregate-table treatment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.errors import EvalError, ExpressionError
from airflow_provider_polaris.testing.dataplane.evaluator import Evaluator
from airflow_provider_polaris.testing.dataplane.parameters import bind_parameters
from airflow_provider_polaris.testing.dataplane.parser import parse_expression, parse_statement
from airflow_provider_polaris.testing.dataplane.select import column_name
from airflow_provider_polaris.testing.dataplane.timeutil import (
    GRANULARITY_PERIODS,
    MAX_MS,
    MIN_MS,
    parse_interval,
    to_datetime,
)
from airflow_provider_polaris.testing.dataplane.values import to_timestamp

DEFAULT_TABLE_INTERVAL = "-1000-01-01T00:00:00.000Z/5000-01-01T00:00:00.000Z"
_KEYWORD_GRANULARITIES = {"second", "minute", "hour", "day", "week", "month", "year"}


@dataclass
class Plan:
    """An ingestion ready to run: statement, source spec, write mode and target intervals."""

    statement: n.Insert
    query_text: str
    source: dict[str, Any]
    mode: str  # "append" | "replace" | "replace_all"
    intervals: list[tuple[int, int]] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    @property
    def target(self) -> str:
        """The target table name."""
        return self.statement.table


def quote(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def timestamp_literal(ms: int) -> str:
    """``TIMESTAMP 'yyyy-MM-dd HH:mm:ss.SSS'`` as Druid SQL writes it."""
    moment = to_datetime(max(min(ms, MAX_MS), MIN_MS))
    return f"TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d}'"


def _is_aggregate_table(table: Mapping[str, Any] | None) -> bool:
    return bool(table) and str(table.get("type", "")).lower() == "aggregate"  # type: ignore[union-attr]


def plan_batch(spec: Mapping[str, Any], table: Mapping[str, Any] | None) -> Plan:
    """Plan a ``type: batch`` job (uploaded, inline, table-to-table, s3/azure sources)."""
    source = dict(spec.get("source") or {})
    target = str((spec.get("target") or {}).get("tableName") or "")
    if not target:
        raise ExpressionError("target.tableName is required")
    mode, intervals = _batch_mode(spec)
    from_table = source.get("type") == "table"
    mappings = _mappings(spec, from_table=from_table, aggregate_table=_is_aggregate_table(table))

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
    if any(aggregated) or _is_aggregate_table(table):
        keys = [str(i + 1) for i, agg in enumerate(aggregated) if not agg]
        if keys:
            text += " GROUP BY " + ", ".join(keys)
    text += f" PARTITIONED BY {_partitioning(spec, table)}"
    clustering = spec.get("clusteringColumns") or []
    if clustering:
        text += " CLUSTERED BY " + ", ".join(quote(str(c)) for c in clustering)
    statement = _parse_insert(text)
    return Plan(_finish(statement, table), text, source, mode, intervals)


def plan_sql(spec: Mapping[str, Any], table: Mapping[str, Any] | None) -> Plan:
    """Plan a ``type: sql`` job: ``INSERT``/``REPLACE ... SELECT ... PARTITIONED BY ...``."""
    text = str(spec.get("query") or "")
    params = bind_parameters(spec.get("parameters"))
    statement = _parse_insert(text)
    source_node = statement.select.source
    if isinstance(source_node, n.ExternalSource):
        source: dict[str, Any] = dict(source_node.spec)
    elif isinstance(source_node, n.TableSource):
        source = {"type": "table", "tableName": source_node.name}
    else:
        raise ExpressionError("SQL ingestion needs a FROM clause")
    intervals: list[tuple[int, int]] = []
    if not statement.replace:
        mode = "append"
    elif statement.overwrite == "all":
        mode = "replace_all"
    else:
        assert statement.overwrite is not None and not isinstance(statement.overwrite, str)
        mode = "replace"
        intervals = overwrite_intervals(statement.overwrite, Evaluator(params))
    return Plan(_finish(statement, table), text, source, mode, intervals, params)


def _parse_insert(text: str) -> n.Insert:
    statement = parse_statement(text)
    if not isinstance(statement, n.Insert):
        raise ExpressionError("An ingestion query must be INSERT INTO or REPLACE INTO")
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
) -> list[tuple[dict[str, Any], n.Node]]:
    out: list[tuple[dict[str, Any], n.Node]] = []
    for index, raw in enumerate(spec.get("mappings") or []):
        if not isinstance(raw, Mapping) or not raw.get("columnName") or not raw.get("expression"):
            raise ExpressionError(f"mappings[{index}] needs columnName and expression")
        try:
            node = parse_expression(str(raw["expression"]))
        except ExpressionError as exc:
            raise ExpressionError(f"mappings[{index}] ({raw['columnName']}): {exc}") from None
        out.append((dict(raw), node))
    names = {m["columnName"] for m, _ in out}
    if from_table and "__time" not in names:
        # Table-to-table without a __time mapping keeps the source time (Polaris docs).
        out.insert(0, ({"columnName": "__time", "expression": '"__time"'}, n.Column("__time")))
    if aggregate_table and "__count" not in names:
        count = {"columnName": "__count", "expression": "COUNT(*)", "isAggregation": True}
        out.append((count, n.Call("COUNT", (n.Star(),))))
    return out


def _is_aggregation(mapping: Mapping[str, Any], node: n.Node) -> bool:
    flag = mapping.get("isAggregation")
    return bool(flag) if flag is not None else n.contains_aggregate(node)


def _partitioning(spec: Mapping[str, Any], table: Mapping[str, Any] | None) -> str:
    name = str(spec.get("partitionedBy") or (table or {}).get("partitioningGranularity") or "day")
    name = name.lower()
    if name == "all":
        return "ALL TIME"
    if name in _KEYWORD_GRANULARITIES:
        return name.upper()
    return sql_string(GRANULARITY_PERIODS.get(name, name))


def _finish(statement: n.Insert, table: Mapping[str, Any] | None) -> n.Insert:
    """Aggregate targets: add ``__count`` to grouped SQL and bucket ``__time`` to the table's
    ``timeResolution`` (Druid's rollup query granularity)."""
    if not _is_aggregate_table(table):
        return statement
    assert table is not None
    select = statement.select
    items = list(select.items)
    names = [column_name(item, i) for i, item in enumerate(items)]
    grouped = select.group_by is not None or any(n.contains_aggregate(i.expr) for i in items)
    if grouped and "__count" not in names:
        items.append(n.SelectItem(n.Call("COUNT", (n.Star(),)), "__count"))
    period = GRANULARITY_PERIODS.get(str(table.get("timeResolution") or "").lower())
    group_by = select.group_by
    if period and "__time" in names:
        index = names.index("__time")
        old = items[index].expr
        new = n.Call("TIME_FLOOR", (old, n.Literal(period)))
        items[index] = n.SelectItem(new, "__time")
        if group_by is not None:
            group_by = tuple(new if node == old else node for node in group_by)
    return replace(statement, select=replace(select, items=tuple(items), group_by=group_by))


def overwrite_intervals(node: n.Node, evaluator: Evaluator) -> list[tuple[int, int]]:
    """The time ranges an ``OVERWRITE WHERE`` clause selects (``__time`` comparisons joined by
    AND/OR, BETWEEN, or TIME_IN_INTERVAL); anything else is rejected, as Druid does."""
    if isinstance(node, n.Binary) and node.op in ("AND", "OR"):
        left = overwrite_intervals(node.left, evaluator)
        right = overwrite_intervals(node.right, evaluator)
        if node.op == "OR":
            return sorted(left + right)
        pairs = [(max(a[0], b[0]), min(a[1], b[1])) for a in left for b in right]
        return [p for p in pairs if p[0] < p[1]]
    if (
        isinstance(node, n.Binary)
        and isinstance(node.left, n.Column)
        and node.left.name == "__time"
    ):
        bound = _constant_time(node.right, evaluator)
        ranges = {
            ">=": (bound, MAX_MS + 1),
            ">": (bound + 1, MAX_MS + 1),
            "<": (MIN_MS, bound),
            "<=": (MIN_MS, bound + 1),
            "=": (bound, bound + 1),
        }
        if node.op in ranges:
            return [ranges[node.op]]
    if isinstance(node, n.Between) and not node.negated and node.operand == n.Column("__time"):
        low = _constant_time(node.low, evaluator)
        return [(low, _constant_time(node.high, evaluator) + 1)]
    if (
        isinstance(node, n.Call)
        and node.name == "TIME_IN_INTERVAL"
        and len(node.args) == 2
        and node.args[0] == n.Column("__time")
    ):
        try:
            return [parse_interval(str(evaluator.row(node.args[1], {})))]
        except (ValueError, EvalError) as exc:
            raise ExpressionError(f"OVERWRITE WHERE: {exc}") from None
    raise ExpressionError("OVERWRITE WHERE clause may only compare __time with TIMESTAMP literals")


def _constant_time(node: n.Node, evaluator: Evaluator) -> int:
    if n.column_names(node):
        raise ExpressionError("OVERWRITE WHERE bounds must be constants")
    stamp = to_timestamp(evaluator.row(node, {}))
    if stamp is None:
        raise ExpressionError("OVERWRITE WHERE bound is not a timestamp")
    return int(stamp)
