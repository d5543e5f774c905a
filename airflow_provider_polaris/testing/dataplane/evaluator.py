"""Evaluate expression trees against a row (or a group of rows, for aggregates)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.aggregates import aggregate, check_aggregate
from airflow_provider_polaris.testing.dataplane.errors import EvalError, ExpressionError
from airflow_provider_polaris.testing.dataplane.functions import FUNCTIONS, call_function
from airflow_provider_polaris.testing.dataplane.timeutil import Timestamp
from airflow_provider_polaris.testing.dataplane.values import (
    cast,
    compare,
    to_number,
    to_string,
    to_timestamp,
    truth,
)

Row = Mapping[str, Any]
_EMPTY: Row = {}


def validate(node: n.Node, *, allow_aggregates: bool, where: str = "expression") -> None:
    """Check function names, arities and aggregate placement before any row is evaluated."""
    if isinstance(node, n.Call):
        if node.is_aggregate:
            if not allow_aggregates:
                raise ExpressionError(f"Aggregate functions are not allowed in {where}")
            check_aggregate(node)
            return
        function = FUNCTIONS.get(node.name)
        if function is None and node.name not in ("CURRENT_TIMESTAMP", "CURRENT_DATE"):
            raise ExpressionError(f"No match found for function signature {node.name}")
        if function is not None and not (function.min_args <= len(node.args) <= function.max_args):
            raise ExpressionError(f"Invalid number of arguments to function '{node.name}'")
    if isinstance(node, n.Star):
        raise ExpressionError("'*' is only allowed in COUNT(*) and SELECT *")
    for child in n.children(node):
        validate(child, allow_aggregates=allow_aggregates, where=where)


class Evaluator:
    """Evaluates trees with SQL three-valued logic.

    ``params`` binds ``?`` placeholders; ``now_ms`` answers CURRENT_TIMESTAMP.
    """

    def __init__(self, params: Sequence[Any] = (), now_ms: Callable[[], int] | None = None) -> None:
        self.params = list(params)
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))

    def row(self, node: n.Node, row: Row) -> Any:
        """Evaluate a non-aggregate expression on one row."""
        return self._eval(node, row, None)

    def group(self, node: n.Node, rows: Sequence[Row]) -> Any:
        """Evaluate an expression over a group: aggregates see every row, the rest the first."""
        return self._eval(node, rows[0] if rows else _EMPTY, rows)

    def _eval(self, node: n.Node, row: Row, group: Sequence[Row] | None) -> Any:
        if isinstance(node, n.Literal):
            return node.value
        if isinstance(node, n.Column):
            return row.get(node.name)
        if isinstance(node, n.Param):
            if node.index >= len(self.params):
                raise ExpressionError(f"No value bound for parameter {node.index + 1}")
            return self.params[node.index]
        if isinstance(node, n.Binary):
            return self._binary(node, row, group)
        if isinstance(node, n.Unary):
            value = self._eval(node.operand, row, group)
            if node.op == "NOT":
                flag = truth(value)
                return None if flag is None else not flag
            number = to_number(value)
            return None if number is None else -number
        if isinstance(node, n.Call):
            return self._call(node, row, group)
        if isinstance(node, n.IsNull):
            value = self._eval(node.operand, row, group)
            matched = value is None if node.value is None else truth(value) is node.value
            return matched != node.negated
        if isinstance(node, n.InList):
            return self._in(node, row, group)
        if isinstance(node, n.Like):
            return self._like(node, row, group)
        if isinstance(node, n.Between):
            value = self._eval(node.operand, row, group)
            low = compare(value, self._eval(node.low, row, group))
            high = compare(value, self._eval(node.high, row, group))
            if low is None or high is None:
                return None
            return (low >= 0 and high <= 0) != node.negated
        if isinstance(node, n.Case):
            return self._case(node, row, group)
        if isinstance(node, n.Cast):
            return cast(self._eval(node.operand, row, group), node.type_name)
        raise ExpressionError(f"'{type(node).__name__}' is not allowed here")

    def _call(self, node: n.Call, row: Row, group: Sequence[Row] | None) -> Any:
        if node.is_aggregate:
            if group is None:
                raise ExpressionError(f"Aggregate {node.name} is not allowed here")
            return aggregate(node, group, lambda arg, r: self._eval(arg, r, None))
        if node.name == "CURRENT_TIMESTAMP":
            return Timestamp(self.now_ms())
        if node.name == "CURRENT_DATE":
            return cast(Timestamp(self.now_ms()), "DATE")
        args = [self._eval(arg, row, group) for arg in node.args]
        return call_function(node.name, args)

    def _binary(self, node: n.Binary, row: Row, group: Sequence[Row] | None) -> Any:
        op = node.op
        if op in ("AND", "OR"):
            left = truth(self._eval(node.left, row, group))
            # Short-circuit exactly where SQL's three-valued logic allows it.
            if op == "AND" and left is False:
                return False
            if op == "OR" and left is True:
                return True
            right = truth(self._eval(node.right, row, group))
            if op == "AND":
                return False if right is False else (None if None in (left, right) else True)
            return True if right is True else (None if None in (left, right) else False)
        left = self._eval(node.left, row, group)
        right = self._eval(node.right, row, group)
        if op == "||":
            if left is None or right is None:
                return None
            return (to_string(left) or "") + (to_string(right) or "")
        if op in ("=", "<>", "<", "<=", ">", ">="):
            order = compare(left, right)
            if order is None:
                return None
            return {
                "=": order == 0,
                "<>": order != 0,
                "<": order < 0,
                "<=": order <= 0,
                ">": order > 0,
                ">=": order >= 0,
            }[op]
        return arithmetic(op, left, right)

    def _in(self, node: n.InList, row: Row, group: Sequence[Row] | None) -> Any:
        value = self._eval(node.operand, row, group)
        if value is None:
            return None
        saw_null = False
        for item in node.items:
            order = compare(value, self._eval(item, row, group))
            if order == 0:
                return not node.negated
            saw_null = saw_null or order is None
        return None if saw_null else node.negated

    def _like(self, node: n.Like, row: Row, group: Sequence[Row] | None) -> Any:
        value = self._eval(node.operand, row, group)
        pattern = self._eval(node.pattern, row, group)
        escape = None if node.escape is None else self._eval(node.escape, row, group)
        if value is None or pattern is None:
            return None
        matched = like_regex(str(pattern), escape).fullmatch(to_string(value) or "") is not None
        return matched != node.negated

    def _case(self, node: n.Case, row: Row, group: Sequence[Row] | None) -> Any:
        subject = None if node.subject is None else self._eval(node.subject, row, group)
        for when, then in node.whens:
            value = self._eval(when, row, group)
            hit = compare(subject, value) == 0 if node.subject is not None else truth(value)
            if hit:
                return self._eval(then, row, group)
        return None if node.default is None else self._eval(node.default, row, group)


def arithmetic(op: str, left: Any, right: Any) -> Any:
    """``+ - * / %`` with Druid's rules: long op long stays long (division truncates toward
    zero, like Java); any double makes a double. Division by zero gives NULL (documented
    emulator choice; Druid's result depends on its null-handling mode)."""
    if isinstance(left, Timestamp) and isinstance(right, str):
        right = to_timestamp(right)
    a, b = to_number(left), to_number(right)
    if a is None or b is None:
        return None
    both_int = isinstance(a, int) and isinstance(b, int)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return None
    if op == "/":
        if both_int:
            quotient = abs(a) // abs(b)
            return quotient if (a >= 0) == (b >= 0) else -quotient
        return a / b
    if op == "%":
        if both_int:
            remainder = abs(a) % abs(b)
            return remainder if a >= 0 else -remainder
        return math.fmod(a, b)
    raise EvalError(f"unknown operator {op}")  # pragma: no cover - the parser emits no others


_LIKE_CACHE: dict[tuple[str, str | None], re.Pattern[str]] = {}


def like_regex(pattern: str, escape: Any = None) -> re.Pattern[str]:
    """Compile a SQL LIKE pattern (``%`` any run, ``_`` any character) to a regex."""
    key = (pattern, None if escape is None else str(escape))
    compiled = _LIKE_CACHE.get(key)
    if compiled is None:
        out: list[str] = []
        chars = iter(pattern)
        for char in chars:
            if key[1] and char == key[1]:
                out.append(re.escape(next(chars, "")))
            elif char == "%":
                out.append(".*")
            elif char == "_":
                out.append(".")
            else:
                out.append(re.escape(char))
        compiled = re.compile("".join(out), re.DOTALL)
        if len(_LIKE_CACHE) < 1024:
            _LIKE_CACHE[key] = compiled
    return compiled


def is_true(value: Any) -> bool:
    """WHERE/HAVING/filter semantics: only TRUE passes (NULL and FALSE don't)."""
    return truth(value) is True
