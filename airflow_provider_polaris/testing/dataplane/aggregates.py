"""Aggregate functions over a group of rows.

Approximate sketches (APPROX_COUNT_DISTINCT*) are computed exactly: a test double should be
predictable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.errors import EvalError, ExpressionError
from airflow_provider_polaris.testing.dataplane.values import (
    hashable,
    is_number,
    sort_key,
    to_number,
)

Row = Mapping[str, Any]
ArgEvaluator = Callable[[n.Node, Row], Any]

_ARITY = {
    "COUNT": (1, 1),
    "SUM": (1, 1),
    "MIN": (1, 1),
    "MAX": (1, 1),
    "AVG": (1, 1),
    "ANY_VALUE": (1, 2),
    "LATEST": (1, 2),
    "EARLIEST": (1, 2),
    "LATEST_BY": (2, 3),
    "EARLIEST_BY": (2, 3),
    "APPROX_COUNT_DISTINCT": (1, 1),
    "APPROX_COUNT_DISTINCT_DS_HLL": (1, 3),
    "APPROX_COUNT_DISTINCT_DS_THETA": (1, 2),
}


def check_aggregate(call: n.Call) -> None:
    """Validate an aggregate call's shape when a statement is planned."""
    low, high = _ARITY[call.name]
    if not (low <= len(call.args) <= high):
        raise ExpressionError(f"Invalid number of arguments to function '{call.name}'")
    if any(isinstance(arg, n.Star) for arg in call.args) and call.name != "COUNT":
        raise ExpressionError(f"'*' is only allowed in COUNT(*), not in {call.name}")
    for arg in call.args:
        if n.contains_aggregate(arg):
            raise ExpressionError(f"Aggregate calls can't be nested (in {call.name})")


def aggregate(call: n.Call, rows: Sequence[Row], evaluate: ArgEvaluator) -> Any:
    """Compute one aggregate call over the rows of a group."""
    name = call.name
    if name == "COUNT" and isinstance(call.args[0], n.Star):
        return len(rows)
    values = [evaluate(call.args[0], row) for row in rows]
    if name in ("LATEST", "EARLIEST", "LATEST_BY", "EARLIEST_BY"):
        times = (
            [evaluate(call.args[1], row) for row in rows]
            if name.endswith("_BY")
            else [row.get("__time") for row in rows]
        )
        return _by_time(values, times, latest=name.startswith("LATEST"))
    present = [v for v in values if v is not None]
    if call.distinct or name.startswith("APPROX_COUNT_DISTINCT"):
        present = list({hashable(v): v for v in present}.values())
    if name == "COUNT" or name.startswith("APPROX_COUNT_DISTINCT"):
        return len(present)
    if name == "ANY_VALUE":
        return present[0] if present else None
    if name in ("MIN", "MAX"):
        if not present:
            return None
        pick = min if name == "MIN" else max
        return pick(present, key=sort_key)
    numbers: list[int | float] = [v for v in map(to_number, present) if v is not None]
    if not numbers:
        return None
    if name == "SUM":
        total = sum(numbers)
        return total if all(isinstance(v, int) for v in numbers) else float(total)
    if name == "AVG":
        return sum(numbers) / len(numbers)
    raise EvalError(f"unknown aggregate {name}")  # pragma: no cover - guarded by check_aggregate


def _by_time(values: list[Any], times: list[Any], *, latest: bool) -> Any:
    best: tuple[Any, Any] | None = None
    for value, time in zip(values, times, strict=True):
        if value is None or not is_number(time):
            continue
        if best is None or (time > best[0] if latest else time < best[0]):
            best = (time, value)
    return None if best is None else best[1]
