"""SQL value semantics: conversions, comparison, casts, SQL type names.

Values are plain Python: None (NULL), bool, int (BIGINT), float (DOUBLE), str (VARCHAR),
:class:`Timestamp` (TIMESTAMP, an int of epoch millis) and dict/list (COMPLEX<json>).
"""

from __future__ import annotations

import json
import math
from typing import Any

from airflow_provider_polaris.testing.dataplane.errors import EvalError
from airflow_provider_polaris.testing.dataplane.timeutil import (
    Timestamp,
    floor_time,
    parse_period,
    parse_timestamp,
    to_datetime,
)


def is_number(value: Any) -> bool:
    """True for int/float values that aren't booleans."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def to_number(value: Any) -> int | float | None:
    """Numeric view of a value; strings are parsed, unparseable strings become NULL (as Druid)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Timestamp):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
            return number if math.isfinite(number) else None
    return None


def to_string(value: Any) -> str | None:
    """VARCHAR view of a value (TIMESTAMP as ``yyyy-MM-dd HH:mm:ss`` like Druid's CAST)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Timestamp):
        moment = to_datetime(value)
        text = moment.strftime("%Y-%m-%d %H:%M:%S")
        millis = moment.microsecond // 1000
        return f"{text}.{millis:03d}" if millis else text
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def to_timestamp(value: Any) -> Timestamp | None:
    """TIMESTAMP view: numbers are epoch millis, strings ISO-8601; unparseable → NULL."""
    if value is None or isinstance(value, Timestamp):
        return value
    if is_number(value):
        return Timestamp(int(value))
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError:
            number = to_number(value)
            return Timestamp(int(number)) if number is not None else None
    return None


def truth(value: Any) -> bool | None:
    """Three-valued boolean view: None stays unknown; numbers are true when non-zero."""
    if value is None or isinstance(value, bool):
        return value
    if is_number(value):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def compare(left: Any, right: Any) -> int | None:
    """SQL comparison: -1/0/1, or None when either side is NULL.

    Mixed types are coerced like Druid's planner would: a string against a TIMESTAMP is parsed
    as a time, a string against a number as a number; anything else compares as strings.
    """
    if left is None or right is None:
        return None
    if isinstance(left, Timestamp) != isinstance(right, Timestamp):
        if isinstance(left, str):
            left = to_timestamp(left)
        if isinstance(right, str):
            right = to_timestamp(right)
        if left is None or right is None:
            return None
    if (is_number(left) or isinstance(left, bool)) and (
        is_number(right) or isinstance(right, bool)
    ):
        a, b = to_number(left), to_number(right)
    elif is_number(left) or is_number(right):
        a, b = to_number(left), to_number(right)
        if a is None or b is None:
            a, b = to_string(left), to_string(right)  # type: ignore[assignment]
    elif isinstance(left, str) and isinstance(right, str):
        a, b = left, right  # type: ignore[assignment]
    else:
        a, b = to_string(left), to_string(right)  # type: ignore[assignment]
    assert a is not None and b is not None
    return (a > b) - (a < b)  # type: ignore[operator]


def sort_key(value: Any) -> tuple[int, Any]:
    """A total order for ORDER BY and MIN/MAX: NULLs first, numbers, then strings, then others."""
    if value is None:
        return (0, 0)
    if is_number(value) or isinstance(value, bool):
        return (1, to_number(value))
    if isinstance(value, str):
        return (2, value)
    return (3, to_string(value))


def hashable(value: Any) -> Any:
    """A hashable stand-in for grouping and DISTINCT (JSON objects by their text)."""
    if isinstance(value, (dict, list)):
        return ("json", json.dumps(value, sort_keys=True))
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 1.0 and 1 group together, as SQL equality says
    return value


INTEGER_TYPES = frozenset({"BIGINT", "INTEGER", "INT", "SMALLINT", "TINYINT", "LONG"})
FLOAT_TYPES = frozenset({"DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC"})
STRING_TYPES = frozenset({"VARCHAR", "CHAR", "STRING", "CHARACTER"})


def cast(value: Any, type_name: str) -> Any:
    """``CAST(value AS type_name)``; values that don't convert become NULL."""
    if value is None:
        return None
    if type_name in INTEGER_TYPES:
        number = to_number(value)
        return None if number is None else int(number)
    if type_name in FLOAT_TYPES:
        number = to_number(value)
        return None if number is None else float(number)
    if type_name in STRING_TYPES:
        return to_string(value)
    if type_name == "TIMESTAMP":
        return to_timestamp(value)
    if type_name == "DATE":
        stamp = to_timestamp(value)
        return None if stamp is None else floor_time(stamp, parse_period("P1D"))
    if type_name == "BOOLEAN":
        return truth(value)
    raise EvalError(f"CAST to {type_name} is not supported by the emulator")
