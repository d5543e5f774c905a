"""Operators shared by the tree walker and the closure compiler: arithmetic and LIKE."""

from __future__ import annotations

import math
import re
from typing import Any

from airflow_provider_polaris.testing.dataplane.errors import EvalError
from airflow_provider_polaris.testing.dataplane.timeutil import Timestamp
from airflow_provider_polaris.testing.dataplane.values import to_number, to_timestamp


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
