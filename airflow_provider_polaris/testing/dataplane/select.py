"""Run a parsed SELECT over rows: WHERE, GROUP BY/aggregates, HAVING, DISTINCT, ORDER BY, LIMIT.

Used by both queries and ingestion (batch mappings are turned into a SELECT), so rollups and
queries share one implementation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.errors import ExpressionError
from airflow_provider_polaris.testing.dataplane.evaluator import Evaluator, is_true, validate
from airflow_provider_polaris.testing.dataplane.values import hashable, sort_key

Row = Mapping[str, Any]


@dataclass
class Projection:
    """The result of a SELECT: column names, value rows, and how many input rows WHERE dropped."""

    columns: list[str]
    rows: list[list[Any]]
    items: list[n.SelectItem]
    filtered: int = 0
    grouped: bool = False
    input_rows: int = field(default=0)


def column_name(item: n.SelectItem, index: int) -> str:
    """A select item's output name: its alias, its column, else Calcite's ``EXPR$<index>``."""
    if item.alias is not None:
        return item.alias
    if isinstance(item.expr, n.Column):
        return item.expr.name
    return f"EXPR${index}"


def run_select(
    select: n.Select,
    rows: Sequence[Row],
    evaluator: Evaluator,
    *,
    known_columns: Sequence[str] | None = None,
) -> Projection:
    """Execute ``select`` over ``rows``.

    ``known_columns`` (table columns, ``__time`` first) expands ``SELECT *`` and lets unknown
    column references fail like Druid; None skips the check (ingestion input fields).
    """
    items = _expand_star(select.items, known_columns)
    group_by = _resolve_group_by(select.group_by, items, known_columns)
    _validate(select, items, group_by, known_columns)
    grouped = group_by is not None or any(
        n.contains_aggregate(node) for node in [*(i.expr for i in items), select.having] if node
    )
    if grouped:
        _check_grouped(items, group_by or ())

    where = select.where
    kept = [row for row in rows if where is None or is_true(evaluator.row(where, row))]
    filtered = len(rows) - len(kept)

    contexts: list[Sequence[Row]]
    if grouped:
        contexts = _groups(kept, group_by, evaluator)
        outputs = [[evaluator.group(item.expr, ctx) for item in items] for ctx in contexts]
        if select.having is not None:
            pairs = [
                (out, ctx)
                for out, ctx in zip(outputs, contexts, strict=True)
                if is_true(evaluator.group(select.having, ctx))
            ]
            outputs, contexts = [p[0] for p in pairs], [p[1] for p in pairs]
    else:
        contexts = [[row] for row in kept]
        outputs = [[evaluator.row(item.expr, row) for item in items] for row in kept]

    if select.distinct:
        seen: dict[tuple[Any, ...], int] = {}
        for index, out in enumerate(outputs):
            seen.setdefault(tuple(hashable(v) for v in out), index)
        outputs = [outputs[i] for i in seen.values()]
        contexts = [contexts[i] for i in seen.values()]

    columns = [column_name(item, i) for i, item in enumerate(items)]
    if select.order_by:
        outputs = _order(select.order_by, items, columns, outputs, contexts, evaluator, grouped)
    end = None if select.limit is None else select.offset + select.limit
    outputs = outputs[select.offset : end]
    return Projection(columns, outputs, items, filtered, grouped, len(rows))


def _expand_star(
    items: Iterable[n.SelectItem], known_columns: Sequence[str] | None
) -> list[n.SelectItem]:
    out: list[n.SelectItem] = []
    for item in items:
        if isinstance(item.expr, n.Star):
            if known_columns is None:
                raise ExpressionError("SELECT * needs a FROM clause")
            out.extend(n.SelectItem(n.Column(name), None) for name in known_columns)
        else:
            out.append(item)
    return out


def _resolve_group_by(
    group_by: tuple[n.Node, ...] | None,
    items: list[n.SelectItem],
    known_columns: Sequence[str] | None,
) -> tuple[n.Node, ...] | None:
    """Turn ordinals (``GROUP BY 1, 2``) and select aliases into the expressions they name."""
    if group_by is None:
        return None
    aliases = {item.alias: item.expr for item in items if item.alias is not None}
    resolved: list[n.Node] = []
    for node in group_by:
        if isinstance(node, n.Literal) and isinstance(node.value, int):
            if not (1 <= node.value <= len(items)):
                raise ExpressionError(f"Ordinal out of range: GROUP BY {node.value}")
            node = items[node.value - 1].expr
        elif (
            isinstance(node, n.Column)
            and node.name in aliases
            and (known_columns is None or node.name not in known_columns)
        ):
            node = aliases[node.name]
        if n.contains_aggregate(node):
            raise ExpressionError("Aggregate functions are not allowed in GROUP BY")
        resolved.append(node)
    return tuple(resolved)


def _validate(
    select: n.Select,
    items: list[n.SelectItem],
    group_by: tuple[n.Node, ...] | None,
    known_columns: Sequence[str] | None,
) -> None:
    for item in items:
        validate(item.expr, allow_aggregates=True)
    if select.where is not None:
        validate(select.where, allow_aggregates=False, where="WHERE")
    for node in group_by or ():
        validate(node, allow_aggregates=False, where="GROUP BY")
    if select.having is not None:
        validate(select.having, allow_aggregates=True)
    if known_columns is None:
        return
    known = set(known_columns)
    aliases = {item.alias for item in items if item.alias}
    strict = [item.expr for item in items] + list(group_by or ())
    if select.where is not None:
        strict.append(select.where)
    loose = [o.expr for o in select.order_by] + ([select.having] if select.having else [])
    for node in strict:
        _check_columns(node, known, set())
    for node in loose:
        _check_columns(node, known, aliases)


def _check_columns(node: n.Node, known: set[str], aliases: set[str]) -> None:
    for name in sorted(n.column_names(node)):
        if name not in known and name not in aliases:
            raise ExpressionError(f"Column '{name}' not found in any table")


def _check_grouped(items: list[n.SelectItem], group_by: tuple[n.Node, ...]) -> None:
    """Every column outside an aggregate must be (part of) a grouping expression."""

    def check(node: n.Node) -> None:
        if node in group_by or (isinstance(node, n.Call) and node.is_aggregate):
            return
        if isinstance(node, n.Column):
            raise ExpressionError(f"Expression '{node.name}' is not being grouped")
        for child in n.children(node):
            check(child)

    for item in items:
        check(item.expr)


def _groups(
    rows: list[Row], group_by: tuple[n.Node, ...] | None, evaluator: Evaluator
) -> list[Sequence[Row]]:
    if not group_by:
        return [rows]  # aggregates without GROUP BY: exactly one group, even over zero rows
    groups: dict[tuple[Any, ...], list[Row]] = {}
    keys: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in rows:
        values = tuple(evaluator.row(node, row) for node in group_by)
        key = tuple(hashable(v) for v in values)
        groups.setdefault(key, []).append(row)
        keys.setdefault(key, values)
    # Druid's groupBy returns groups ordered by their dimension values; do the same.
    ordered = sorted(groups, key=lambda k: tuple(sort_key(v) for v in keys[k]))
    return [groups[key] for key in ordered]


def _order(
    order_by: tuple[n.OrderItem, ...],
    items: list[n.SelectItem],
    columns: list[str],
    outputs: list[list[Any]],
    contexts: list[Sequence[Row]],
    evaluator: Evaluator,
    grouped: bool,
) -> list[list[Any]]:
    pairs = list(zip(outputs, contexts, strict=True))
    # Sort by the last key first: Python's sort is stable, so earlier keys win.
    for order in reversed(order_by):
        index = _output_index(order.expr, items, columns)

        def key(
            pair: tuple[list[Any], Sequence[Row]],
            index: int | None = index,
            expr: n.Node = order.expr,
        ) -> Any:
            out, ctx = pair
            if index is not None:
                return sort_key(out[index])
            return sort_key(evaluator.group(expr, ctx) if grouped else evaluator.row(expr, ctx[0]))

        pairs.sort(key=key, reverse=order.descending)
    return [out for out, _ in pairs]


def _output_index(expr: n.Node, items: list[n.SelectItem], columns: list[str]) -> int | None:
    if isinstance(expr, n.Literal) and isinstance(expr.value, int):
        if not (1 <= expr.value <= len(items)):
            raise ExpressionError(f"Ordinal out of range: ORDER BY {expr.value}")
        return expr.value - 1
    if isinstance(expr, n.Column) and expr.name in columns:
        return columns.index(expr.name)
    for index, item in enumerate(items):
        if item.expr == expr:
            return index
    return None


def with_items(select: n.Select, items: Iterable[n.SelectItem]) -> n.Select:
    """A copy of a SELECT with different select items."""
    return replace(select, items=tuple(items))
