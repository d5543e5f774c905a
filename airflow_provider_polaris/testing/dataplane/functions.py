"""Scalar SQL functions. Each takes already-evaluated arguments; NULL in → NULL out unless noted."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_polaris.testing.dataplane.errors import EvalError
from airflow_provider_polaris.testing.dataplane.timeutil import (
    UNIT_PERIODS,
    Timestamp,
    add_period,
    floor_time,
    parse_interval,
    parse_period,
    time_format,
    time_parse,
    to_datetime,
)
from airflow_provider_polaris.testing.dataplane.values import (
    is_number,
    to_number,
    to_string,
    to_timestamp,
)


@dataclass(frozen=True)
class Function:
    """A scalar function: arity bounds and whether any NULL argument makes the result NULL."""

    impl: Callable[..., Any]
    min_args: int
    max_args: int
    null_in_null_out: bool = True


def _require_utc(zone: Any) -> None:
    if zone is not None and str(zone).upper() not in ("UTC", "ETC/UTC", "Z", "+00:00"):
        raise EvalError(f"time zone {zone!r} is not supported by the emulator (UTC only)")


def _ts(value: Any) -> Timestamp:
    stamp = to_timestamp(value)
    if stamp is None:
        raise EvalError(f"expected a timestamp, got {value!r}")
    return stamp


def _period(text: Any) -> Any:
    try:
        return parse_period(str(text))
    except ValueError as exc:
        raise EvalError(str(exc)) from None


def _time_parse(text: Any, pattern: Any = None, zone: Any = None) -> Timestamp | None:
    _require_utc(zone)
    return time_parse(str(text), None if pattern is None else str(pattern))


def _time_format(value: Any, pattern: Any = None, zone: Any = None) -> str:
    _require_utc(zone)
    return time_format(_ts(value), None if pattern is None else str(pattern))


def _time_floor(value: Any, period: Any, origin: Any = None, zone: Any = None) -> Timestamp:
    _require_utc(zone)
    if origin is not None:
        raise EvalError("TIME_FLOOR with an origin is not supported by the emulator")
    return floor_time(_ts(value), _period(period))


def _time_ceil(value: Any, period: Any, origin: Any = None, zone: Any = None) -> Timestamp:
    floor = _time_floor(value, period, origin, zone)
    return floor if floor == _ts(value) else add_period(floor, _period(period))


def _time_shift(value: Any, period: Any, step: Any, zone: Any = None) -> Timestamp:
    _require_utc(zone)
    return add_period(_ts(value), _period(period), int(to_number(step) or 0))


_EXTRACT: dict[str, Callable[[Any], int]] = {
    "MILLISECOND": lambda d: d.second * 1000 + d.microsecond // 1000,
    "SECOND": lambda d: d.second,
    "MINUTE": lambda d: d.minute,
    "HOUR": lambda d: d.hour,
    "DAY": lambda d: d.day,
    "DOW": lambda d: d.isoweekday(),
    "ISODOW": lambda d: d.isoweekday(),
    "DOY": lambda d: d.timetuple().tm_yday,
    "WEEK": lambda d: d.isocalendar()[1],
    "MONTH": lambda d: d.month,
    "QUARTER": lambda d: (d.month - 1) // 3 + 1,
    "YEAR": lambda d: d.year,
    "ISOYEAR": lambda d: d.isocalendar()[0],
}


def _time_extract(value: Any, unit: Any = "MILLISECOND", zone: Any = None) -> int:
    _require_utc(zone)
    stamp = _ts(value)
    name = str(unit).upper()
    if name == "EPOCH":
        return stamp // 1000
    if name not in _EXTRACT:
        raise EvalError(f"unknown TIME_EXTRACT unit {unit!r}")
    return _EXTRACT[name](to_datetime(stamp))


def _time_in_interval(value: Any, interval: Any) -> bool:
    try:
        start, end = parse_interval(str(interval))
    except ValueError as exc:
        raise EvalError(str(exc)) from None
    return start <= _ts(value) < end


def _date_trunc(unit: Any, value: Any) -> Timestamp:
    name = str(unit).upper()
    if name not in UNIT_PERIODS:
        raise EvalError(f"unknown DATE_TRUNC unit {unit!r}")
    return floor_time(_ts(value), parse_period(UNIT_PERIODS[name]))


def _floor(value: Any, period: Any = None) -> Any:
    if period is not None:  # FLOOR(t TO unit)
        return floor_time(_ts(value), _period(period))
    number = to_number(value)
    return None if number is None else (number if isinstance(number, int) else math.floor(number))


def _ceil(value: Any, period: Any = None) -> Any:
    if period is not None:
        return _time_ceil(value, period)
    number = to_number(value)
    return None if number is None else (number if isinstance(number, int) else math.ceil(number))


def _num(value: Any) -> int | float:
    number = to_number(value)
    if number is None:
        raise EvalError(f"expected a number, got {value!r}")
    return number


def _round(value: Any, digits: Any = 0) -> Any:
    number = _num(value)
    places = int(_num(digits))
    if isinstance(number, int) and places >= 0:
        return number
    # SQL rounds half away from zero, Python's round() rounds half to even.
    factor = 10**places
    rounded = math.floor(abs(number) * factor + 0.5) / factor
    return math.copysign(rounded, number) if isinstance(number, float) else int(rounded)


def _substring(text: Any, start: Any, length: Any = None) -> str:
    s = to_string(text) or ""
    begin = max(int(_num(start)) - 1, 0)  # SQL positions are 1-based
    if length is None:
        return s[begin:]
    return s[begin : begin + max(int(_num(length)), 0)]


def _trim(text: Any, chars: Any = " ") -> str:
    return (to_string(text) or "").strip(str(chars))


def _json_value(value: Any, path: Any, *_returning: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    for key in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", str(path).removeprefix("$")):
        name, index = key
        if name and isinstance(value, dict):
            value = value.get(name)
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return None
    return None if isinstance(value, (dict, list)) else value


def _parse_json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise EvalError(f"PARSE_JSON: {exc}") from None


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _nullif(left: Any, right: Any) -> Any:
    return None if left is not None and left == right else left


def _concat(*values: Any) -> str | None:
    # Druid in SQL-compatible mode: any NULL argument makes CONCAT NULL.
    if any(v is None for v in values):
        return None
    return "".join(to_string(v) or "" for v in values)


def _regexp_extract(text: Any, pattern: Any, index: Any = 0) -> str | None:
    match = re.search(str(pattern), to_string(text) or "")
    return None if match is None else match.group(int(_num(index)))


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def impl(*values: Any) -> Any:
        present = [v for v in values if v is not None]
        if not present:
            return None
        if all(is_number(v) for v in present):
            return pick(present)
        return pick(to_string(v) for v in present)

    return impl


def _safe_div(a: Any, b: Any) -> Any:
    divisor = _num(b)
    return None if divisor == 0 else _num(a) / divisor


FUNCTIONS: dict[str, Function] = {
    "TIME_PARSE": Function(_time_parse, 1, 3),
    "TIME_FORMAT": Function(_time_format, 1, 3),
    "TIME_FLOOR": Function(_time_floor, 2, 4, null_in_null_out=False),
    "TIME_CEIL": Function(_time_ceil, 2, 4, null_in_null_out=False),
    "TIME_SHIFT": Function(_time_shift, 3, 4),
    "TIME_EXTRACT": Function(_time_extract, 1, 3),
    "TIME_IN_INTERVAL": Function(_time_in_interval, 2, 2),
    "MILLIS_TO_TIMESTAMP": Function(lambda v: Timestamp(int(_num(v))), 1, 1),
    "TIMESTAMP_TO_MILLIS": Function(lambda v: int(_ts(v)), 1, 1),
    "DATE_TRUNC": Function(_date_trunc, 2, 2),
    "FLOOR": Function(_floor, 1, 2),
    "CEIL": Function(_ceil, 1, 2),
    "UPPER": Function(lambda s: (to_string(s) or "").upper(), 1, 1),
    "LOWER": Function(lambda s: (to_string(s) or "").lower(), 1, 1),
    "CONCAT": Function(_concat, 1, 255, null_in_null_out=False),
    "TEXTCAT": Function(_concat, 2, 2, null_in_null_out=False),
    "SUBSTRING": Function(_substring, 2, 3),
    "SUBSTR": Function(_substring, 2, 3),
    "LEFT": Function(lambda s, k: (to_string(s) or "")[: max(int(_num(k)), 0)], 2, 2),
    "RIGHT": Function(
        lambda s, k: (to_string(s) or "")[len(to_string(s) or "") - max(int(_num(k)), 0) :], 2, 2
    ),
    "LENGTH": Function(lambda s: len(to_string(s) or ""), 1, 1),
    "CHAR_LENGTH": Function(lambda s: len(to_string(s) or ""), 1, 1),
    "CHARACTER_LENGTH": Function(lambda s: len(to_string(s) or ""), 1, 1),
    "TRIM": Function(_trim, 1, 2),
    "BTRIM": Function(_trim, 1, 2),
    "LTRIM": Function(lambda s, c=" ": (to_string(s) or "").lstrip(str(c)), 1, 2),
    "RTRIM": Function(lambda s, c=" ": (to_string(s) or "").rstrip(str(c)), 1, 2),
    "REPLACE": Function(lambda s, a, b: (to_string(s) or "").replace(str(a), str(b)), 3, 3),
    "REVERSE": Function(lambda s: (to_string(s) or "")[::-1], 1, 1),
    "STRPOS": Function(lambda s, sub: (to_string(s) or "").find(str(sub)) + 1, 2, 2),
    "CONTAINS_STRING": Function(lambda s, sub: str(sub) in (to_string(s) or ""), 2, 2),
    "ICONTAINS_STRING": Function(
        lambda s, sub: str(sub).lower() in (to_string(s) or "").lower(), 2, 2
    ),
    "REGEXP_LIKE": Function(lambda s, p: re.search(str(p), to_string(s) or "") is not None, 2, 2),
    "REGEXP_EXTRACT": Function(_regexp_extract, 2, 3),
    "ABS": Function(lambda v: abs(_num(v)), 1, 1),
    "ROUND": Function(_round, 1, 2),
    "POWER": Function(lambda a, b: float(_num(a)) ** _num(b), 2, 2),
    "SQRT": Function(lambda v: math.sqrt(_num(v)) if _num(v) >= 0 else None, 1, 1),
    "EXP": Function(lambda v: math.exp(_num(v)), 1, 1),
    "LN": Function(lambda v: math.log(_num(v)) if _num(v) > 0 else None, 1, 1),
    "LOG10": Function(lambda v: math.log10(_num(v)) if _num(v) > 0 else None, 1, 1),
    "MOD": Function(lambda a, b: None if _num(b) == 0 else math.fmod(_num(a), _num(b)), 2, 2),
    "SAFE_DIVIDE": Function(_safe_div, 2, 2),
    "GREATEST": Function(_extreme(max), 1, 255, null_in_null_out=False),
    "LEAST": Function(_extreme(min), 1, 255, null_in_null_out=False),
    "COALESCE": Function(_coalesce, 1, 255, null_in_null_out=False),
    "NVL": Function(_coalesce, 2, 2, null_in_null_out=False),
    "IFNULL": Function(_coalesce, 2, 2, null_in_null_out=False),
    "NULLIF": Function(_nullif, 2, 2, null_in_null_out=False),
    "PARSE_JSON": Function(_parse_json, 1, 1),
    "TRY_PARSE_JSON": Function(lambda s: _try(_parse_json, s), 1, 1),
    "TO_JSON_STRING": Function(lambda v: json.dumps(v, separators=(",", ":")), 1, 1),
    "JSON_VALUE": Function(_json_value, 2, 4),
}


def _try(func: Callable[[Any], Any], value: Any) -> Any:
    try:
        return func(value)
    except EvalError:
        return None


def function_caller(name: str) -> Callable[[Sequence[Any]], Any]:
    """A function applying scalar function ``name`` to evaluated arguments (NULL handling and
    error wrapping included), looked up once instead of on every call."""
    caller = _CALLERS.get(name)
    if caller is None:
        caller = _CALLERS[name] = _make_caller(name, FUNCTIONS[name])
    return caller


def _make_caller(name: str, function: Function) -> Callable[[Sequence[Any]], Any]:
    impl, required = function.impl, function.min_args
    strict = function.null_in_null_out
    # TIME_FLOOR/CEIL take NULL origin/zone arguments but still give NULL for a NULL time.
    null_time = name in ("TIME_FLOOR", "TIME_CEIL")

    def call(args: Sequence[Any]) -> Any:
        if strict:
            for value in args[:required]:
                if value is None:
                    return None
        elif null_time and args[0] is None:
            return None
        try:
            return impl(*args)
        except (TypeError, ValueError, OverflowError, re.error) as exc:
            raise EvalError(f"{name}: {exc}") from None

    return call


def unary_caller(name: str) -> Callable[[Any], Any] | None:
    """For a function that may be called with one argument: a caller taking that argument
    directly (the per-event path of ``UPPER("x")``, ``TIME_PARSE("ts")``); else None."""
    function = FUNCTIONS[name]
    if function.min_args > 1:
        return None
    impl, strict = function.impl, function.null_in_null_out and function.min_args == 1

    def call(value: Any) -> Any:
        if strict and value is None:
            return None
        try:
            return impl(value)
        except (TypeError, ValueError, OverflowError, re.error) as exc:
            raise EvalError(f"{name}: {exc}") from None

    return call


_CALLERS: dict[str, Callable[[Sequence[Any]], Any]] = {}


def call_function(name: str, args: list[Any]) -> Any:
    """Apply a scalar function to evaluated arguments."""
    return function_caller(name)(args)
