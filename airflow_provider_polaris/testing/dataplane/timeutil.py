"""Time values for the data plane: timestamps as epoch milliseconds, ISO periods and intervals.

Druid keeps ``__time`` as a long count of milliseconds since the epoch (UTC) and only shows it as
a TIMESTAMP at the SQL layer. We do the same: :class:`Timestamp` is an ``int`` subclass, so
comparisons and sorting are plain integer operations while the type still tells the query layer
to print it as ISO-8601.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from airflow_provider_polaris.testing.dataplane.errors import EvalError

MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z: below this datetime can't represent times
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


class Timestamp(int):
    """A point in time as epoch milliseconds (UTC); prints as Druid's ISO format."""

    def __repr__(self) -> str:
        text = to_datetime(self).isoformat(timespec="milliseconds")
        return f"Timestamp({text.replace('+00:00', 'Z')})"


_ISO_RE = re.compile(
    r"^\s*(?P<y>[+-]?\d{4,6})(?:-(?P<mo>\d{1,2})(?:-(?P<d>\d{1,2})"
    r"(?:[T ](?P<h>\d{1,2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?)?)?)?"
    r"\s*(?:Z|z|UTC|(?P<zh>[+-]\d{2})(?::?(?P<zm>\d{2}))?)?\s*$"
)


@lru_cache(maxsize=4096)
def parse_timestamp(text: str) -> Timestamp:
    """Parse an ISO-8601 date/time (``T`` or space separator, optional zone; default UTC).

    Raises ValueError for anything else. Cached: pushed events often repeat a time string.
    """
    match = _ISO_RE.match(text)
    if match is None:
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}")
    y, mo, d, h, mi, s, f, zh, zm = match.groups()
    year = int(y)
    # Polaris writes "all time" as -1000-01-01/5000-01-01; clamp what datetime can't hold.
    if year < 1:
        return Timestamp(MIN_MS)
    if year > 9999:
        return Timestamp(MAX_MS)
    hour, minute, second = int(h or 0), int(mi or 0), int(s or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"time out of range: {text!r}")
    # date() validates the calendar day; whole-day arithmetic avoids datetime/timegm per event.
    days = date(year, int(mo or 1), int(d or 1)).toordinal() - _EPOCH_ORDINAL
    seconds = days * 86_400 + hour * 3600 + minute * 60 + second
    if zh:  # an offset: its minutes take its sign too
        seconds -= int(zh) * 3600 + int(zh[0] + (zm or "0")) * 60
    return Timestamp(seconds * 1000 + int((f or "0").ljust(3, "0")[:3]))


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def to_datetime(ms: int) -> datetime:
    """The UTC datetime of epoch milliseconds."""
    if not (MIN_MS <= ms <= MAX_MS):
        raise EvalError(f"timestamp out of range: {ms}")
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)


# --- periods -------------------------------------------------------------------------------------

_PERIOD_RE = re.compile(
    r"^P(?!T?$)(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d{1,3})?)S)?)?$"
)


@dataclass(frozen=True)
class Period:
    """An ISO-8601 period split into calendar months and fixed milliseconds."""

    months: int
    millis: int
    weeks_only: bool = False


def parse_period(text: str) -> Period:
    """Parse ``PT1H``, ``P1D``, ``PT5M``, ``P1W``, ``P3M``, ``P1Y``, ``P1DT12H`` ...

    Raises ValueError on anything else.
    """
    match = _PERIOD_RE.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not an ISO-8601 period: {text!r}")
    g = {k: v or "0" for k, v in match.groupdict().items()}
    months = int(g["y"]) * 12 + int(g["mo"])
    days = int(g["w"]) * 7 + int(g["d"])
    millis = (
        days * 86_400_000
        + int(g["h"]) * 3_600_000
        + int(g["mi"]) * 60_000
        + round(float(g["s"]) * 1000)
    )
    weeks = match.group("w") is not None and months == 0 and millis == int(g["w"]) * 604_800_000
    return Period(months=months, millis=millis, weeks_only=weeks)


def add_period(ms: int, period: Period, steps: int = 1) -> Timestamp:
    """Shift a time by ``steps`` periods; months move on the calendar (day clamped to month end)."""
    if period.months:
        moment = to_datetime(ms)
        total = moment.year * 12 + (moment.month - 1) + period.months * steps
        year, month = divmod(total, 12)
        if not (1 <= year <= 9999):
            raise EvalError("timestamp out of range after TIME_SHIFT")
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        shifted = moment.replace(year=year, month=month + 1, day=day)
        ms += (shifted - moment) // timedelta(milliseconds=1)
    return Timestamp(ms + period.millis * steps)


GRANULARITY_PERIODS = {
    "second": "PT1S",
    "minute": "PT1M",
    "five_minute": "PT5M",
    "ten_minute": "PT10M",
    "fifteen_minute": "PT15M",
    "thirty_minute": "PT30M",
    "hour": "PT1H",
    "six_hour": "PT6H",
    "eight_hour": "PT8H",
    "day": "P1D",
    "week": "P1W",
    "month": "P1M",
    "quarter": "P3M",
    "year": "P1Y",
}


# --- intervals -----------------------------------------------------------------------------------

ALL_TIME = (MIN_MS, MAX_MS + 1)


def parse_interval(text: str) -> tuple[int, int]:
    """Parse ``start/end``, ``start/PERIOD`` or ``PERIOD/end`` into ``[start, end)`` millis.

    Raises ValueError on anything else.
    """
    if not isinstance(text, str) or text.count("/") != 1:
        raise ValueError(f"not an ISO-8601 interval: {text!r}")
    left, right = (part.strip() for part in text.split("/"))
    if left.upper().startswith("P"):
        end = parse_timestamp(right)
        return add_period(end, parse_period(left), -1), end
    start = parse_timestamp(left)
    if right.upper().startswith("P"):
        return start, add_period(start, parse_period(right))
    end = parse_timestamp(right)
    if end < start:
        raise ValueError(f"interval ends before it starts: {text!r}")
    return start, end


# --- Joda-style formats (TIME_PARSE / TIME_FORMAT) ------------------------------------------------

_JODA_TOKENS = {
    **dict.fromkeys(("yyyy", "YYYY"), "%Y"),
    "yy": "%y",
    "MMMM": "%B",
    "MMM": "%b",
    **dict.fromkeys(("MM", "M"), "%m"),
    **dict.fromkeys(("dd", "d"), "%d"),
    **dict.fromkeys(("HH", "H"), "%H"),
    **dict.fromkeys(("hh", "h"), "%I"),
    **dict.fromkeys(("mm", "m"), "%M"),
    **dict.fromkeys(("ss", "s"), "%S"),
    "a": "%p",
    "EEEE": "%A",
    "EEE": "%a",
    **dict.fromkeys(("Z", "ZZ"), "%z"),
    "z": "%Z",
    **dict.fromkeys(("D", "DDD"), "%j"),
}
_JODA_RE = re.compile(r"'[^']*'|y+|Y+|M+|d+|H+|h+|m+|s+|S+|a|E+|Z+|z+|D+|.", re.DOTALL)


def joda_to_strftime(pattern: str) -> str:
    """Translate the common subset of Joda-Time patterns into DuckDB strftime/strptime
    directives (fractions of a second, S/SS/SSS, are DuckDB's milliseconds: %g)."""
    out: list[str] = []
    for token in _JODA_RE.findall(pattern):
        if token.startswith("'"):
            out.append(token[1:-1].replace("%", "%%") or "'")
        elif token[0] == "S":
            out.append("%g")
        elif token in _JODA_TOKENS:
            out.append(_JODA_TOKENS[token])
        elif token[0] in "yYMdHhmsEZzD":
            raise EvalError(f"unsupported time format element {token!r} in {pattern!r}")
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out)
