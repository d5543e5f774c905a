"""Value checks shared by the spec models: ISO-8601 intervals and durations, names, base64, SQL.

Each check raises ``ValueError`` with a message that says what is wrong and how to fix it, and
returns the value unchanged (specs are sent verbatim).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_INSTANT = re.compile(
    r"(?P<sign>[+-])?(?P<y>\d{4,6})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?)?)?"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?"
)
_DURATION = re.compile(
    r"P(?:(?P<Y>\d+)Y)?(?:(?P<Mo>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<H>\d+)H)?(?:(?P<Mi>\d+)M)?(?:(?P<S>\d+(?:[.,]\d+)?)S)?)?"
)
# Rough lengths are enough: durations are only compared with zero or added to a start instant
# to order an interval, never used to compute segment boundaries.
_UNIT_SECONDS = {
    "Y": 365.2425 * 86400,
    "Mo": 30.436875 * 86400,
    "W": 7 * 86400,
    "D": 86400,
    "H": 3600,
    "Mi": 60,
    "S": 1,
}
_INTERVAL_EXAMPLE = '"2022-06-01/2022-06-09" or "2022-06-01T00:00:00Z/PT1H"'


def _days_from_civil(year: int, month: int, day: int) -> int:
    # Proleptic Gregorian day number; works for years outside datetime's 1..9999 because
    # Polaris echoes intervals such as "-1000-01-01T00:00:00.000Z/5000-01-01T00:00:00.000Z".
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in_month(year: int, month: int) -> int:
    # monthrange() takes years 1-9999 only: a common year's count, plus February's leap day.
    return calendar.monthrange(1, month)[1] + (month == 2 and calendar.isleap(year))


def instant_seconds(text: str) -> float | None:
    """Seconds since the epoch for an ISO-8601 date or date-time, or None if it isn't one."""
    match = _INSTANT.fullmatch(text)
    if not match:
        return None
    g = match.groupdict()
    year = int(g["y"]) * (-1 if g["sign"] == "-" else 1)
    month, day = int(g["mo"]), int(g["d"])
    hour, minute, second = int(g["h"] or 0), int(g["mi"] or 0), int(g["s"] or 0)
    if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    offset = 0
    tz = g["tz"]
    if tz and tz != "Z":
        digits = tz[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + int(digits[2:] or 0) * 60
        offset *= -1 if tz[0] == "-" else 1
    fraction = float(f"0.{g['f']}") if g["f"] else 0.0
    clock = hour * 3600 + minute * 60 + second + fraction
    return _days_from_civil(year, month, day) * 86400 + clock - offset


def duration_seconds(text: str) -> float | None:
    """Approximate length of an ISO-8601 duration (``P1D``, ``PT1H30M``), or None if invalid."""
    match = _DURATION.fullmatch(text)
    if not match or text in ("P", "PT"):
        return None
    parts = {k: v for k, v in match.groupdict().items() if v is not None}
    if not parts:
        return None
    return sum(float(v.replace(",", ".")) * _UNIT_SECONDS[k] for k, v in parts.items())


def check_duration(value: str) -> str:
    """An ISO-8601 duration such as ``P30D`` or ``PT1H``."""
    if duration_seconds(value) is None:
        raise ValueError(
            f'{value!r} is not an ISO-8601 duration; write e.g. "P30D" (30 days), '
            '"PT1H" (1 hour) or "P1Y2M"'
        )
    return value


def check_interval(value: str) -> str:
    """An ISO-8601 interval ``start/end`` (or ``start/duration``, ``duration/end``), start < end."""
    parts = value.split("/")
    if len(parts) != 2 or not all(parts):
        raise ValueError(
            f"{value!r} is not an ISO-8601 interval; write start/end, e.g. {_INTERVAL_EXAMPLE}"
        )
    start_text, end_text = parts
    start, end = instant_seconds(start_text), instant_seconds(end_text)
    if start is None and end is None:
        raise ValueError(
            f"{value!r}: neither side is an ISO-8601 date or date-time; write start/end, "
            f"e.g. {_INTERVAL_EXAMPLE}"
        )
    for text, at in ((start_text, start), (end_text, end)):
        if at is None:
            length = duration_seconds(text)
            if length is None:
                raise ValueError(
                    f"{text!r} in interval {value!r} is not a valid ISO-8601 date, date-time "
                    "or duration (dates look like 2022-06-01 or 2022-06-01T00:00:00Z)"
                )
            if length <= 0:
                raise ValueError(f"interval {value!r} is empty; use a duration longer than zero")
            return value
    assert start is not None and end is not None
    if start >= end:
        raise ValueError(
            f"interval {value!r} is empty or reversed: the start must be before the end "
            f'(e.g. "{end_text}/{start_text}" if the sides are swapped)'
        )
    return value


_CONNECTION_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def check_connection_name(value: str) -> str:
    """Connection names: 1-64 ASCII letters, digits, '.', '_' or '-'."""
    if not _CONNECTION_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid connection name; use 1-64 characters from "
            "A-Z, a-z, 0-9, '.', '_' and '-' (no spaces)"
        )
    return value


def _is_emoji(char: str) -> bool:
    code = ord(char)
    return 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or code == 0xFE0F


def check_table_name(value: str) -> str:
    """Table names (§6): 1-255 characters, no leading/trailing spaces, no leading '.', no '/',
    no control characters, emoji or surrogates."""
    if not value:
        raise ValueError("table name must not be empty")
    if len(value) > 255:
        raise ValueError(f"table name is {len(value)} characters long; use at most 255")
    if value != value.strip():
        raise ValueError(f"table name {value!r} starts or ends with a space; remove the spaces")
    if value.startswith("."):
        raise ValueError(f"table name {value!r} starts with '.'; remove the leading dot")
    if "/" in value:
        raise ValueError(f"table name {value!r} contains '/'; use another character")
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs") or _is_emoji(char):
            kind = "a control character" if category == "Cc" else "an emoji or surrogate"
            raise ValueError(f"table name {value!r} contains {kind} (U+{ord(char):04X}); remove it")
    return value


def check_base64(value: str) -> str:
    """Standard base64 with padding, on one line (what ``base64 -w0`` prints)."""
    if not value:
        raise ValueError("must not be empty; give the base64-encoded descriptor set")
    if any(c.isspace() for c in value):
        raise ValueError(
            "contains spaces or line breaks; encode the descriptor set on one line "
            "(base64 -w0 file.desc)"
        )
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "is not valid base64; encode the compiled descriptor set from "
            "protoc --include_imports --descriptor_set_out=file.desc with base64 -w0 file.desc"
        ) from None
    return value


def check_not_blank(value: str) -> str:
    """A string that is not empty or only whitespace."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value


_SQL_COMMENT = re.compile(r"\s+|--[^\n]*(?:\n|$)|/\*.*?\*/", re.DOTALL)
_SQL_TARGET = re.compile(r'(INSERT|REPLACE)\s+INTO\s+("(?:[^"]|"")+"|[\w.$]+)', re.IGNORECASE)


def strip_sql_preamble(query: str) -> str:
    """The query without leading whitespace and comments."""
    pos = 0
    while match := _SQL_COMMENT.match(query, pos):
        if match.end() == pos:
            break
        pos = match.end()
    return query[pos:]


def sql_statement_target(query: str) -> tuple[str, str | None]:
    """The first keyword of a SQL statement (upper-cased) and the table it writes, if any."""
    body = strip_sql_preamble(query)
    keyword = body.split(None, 1)[0].upper() if body.strip() else ""
    match = _SQL_TARGET.match(body)
    table = None
    if match:
        table = match.group(2)
        if table.startswith('"'):
            table = table[1:-1].replace('""', '"')
    return keyword, table


Interval = Annotated[str, AfterValidator(check_interval)]
"""An ISO-8601 interval string, validated, sent as written."""
Duration = Annotated[str, AfterValidator(check_duration)]
"""An ISO-8601 duration string, validated, sent as written."""
TableName = Annotated[str, AfterValidator(check_table_name)]
"""A Polaris table name."""
ConnectionName = Annotated[str, AfterValidator(check_connection_name)]
"""A Polaris connection name."""
NonBlank = Annotated[str, AfterValidator(check_not_blank)]
"""A non-empty string."""
Base64 = Annotated[str, AfterValidator(check_base64)]
"""A base64 string (standard alphabet, one line)."""
