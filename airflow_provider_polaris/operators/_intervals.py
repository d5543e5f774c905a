"""The period a replace job overwrites: explicit intervals, or the run's data interval.

Airflow 3 runs cron presets with ``CronTriggerTimetable`` whose data interval is zero-length
(``@hourly`` at 10:00 -> 10:00-10:00). A replace over an empty interval would overwrite nothing
(or fail), so we never submit one. When the data interval is empty we infer the period only when
the schedule is provably regular: the DAG runs a cron trigger timetable whose day-of-month, month
and day-of-week fields are all ``*``, its fire times are evenly spaced over a whole day, this
run's time is one of them, and no DST change alters the period's real length. Then the period is
``[previous fire time, this fire time)`` -- what ``CronTriggerTimetable(..., interval=<period>)``
would have given. Anything else (``0 9 * * 1-5``, ``@weekly``, ``@monthly``, a manual run off the
schedule) fails before any request, naming the fix, whatever the day it runs on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

INTERVAL_FIX = (
    "Give the DAG a schedule whose data interval is the period to replace, e.g. "
    "CronTriggerTimetable('@hourly', timezone='UTC', interval=timedelta(hours=1)) or "
    "CronDataIntervalTimetable('@hourly', timezone='UTC'), or pass intervals=[...] "
    "(ISO 8601 'start/end') explicitly."
)


class IntervalError(ValueError):
    """No unambiguous replace interval for this run."""


def format_instant(value: datetime) -> str:
    """``2024-01-01T10:00:00Z`` (UTC; fractional seconds kept only when present)."""
    if value.tzinfo is None:
        raise IntervalError(
            f"naive datetime {value!r} in an interval; use timezone-aware datetimes"
        )
    utc = value.astimezone(timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond // 1000:03d}"
    return text + "Z"


def format_interval(start: datetime, end: datetime) -> str:
    if end <= start:
        raise IntervalError(f"empty interval {format_instant(start)}/{format_instant(end)}")
    return f"{format_instant(start)}/{format_instant(end)}"


def normalize_intervals(value: Any) -> list[str]:
    """Accept ``"a/b"``, ``(start, end)`` pairs of datetimes, or a list of either."""
    if isinstance(value, str):
        return [value]
    if (
        isinstance(value, Sequence)
        and len(value) == 2
        and all(isinstance(v, datetime) for v in value)
    ):
        return [format_interval(value[0], value[1])]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        out: list[str] = []
        for item in value:
            out.extend(normalize_intervals(item))
        return out
    raise IntervalError(f"cannot read an interval from {value!r}")


def _timetable_fields(timetable: Any) -> tuple[str, Any, Any] | None:
    """``(cron expression, interval, timezone)`` of a cron trigger timetable on 2.11 or 3.x."""
    if type(timetable).__name__ != "CronTriggerTimetable":
        return None
    expression = getattr(timetable, "expression", None) or getattr(timetable, "_expression", None)
    interval = getattr(timetable, "interval", None)
    if interval is None:
        interval = getattr(timetable, "_interval", None)
    tz = getattr(timetable, "timezone", None) or getattr(timetable, "_timezone", None)
    if not isinstance(expression, str) or tz is None:
        return None
    return expression, interval, tz


_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def _fires_every_day_alike(expression: str) -> bool:
    """Only minute and hour fields restrict the schedule (day of month, month, day of week are
    ``*``): then every day has the same fire times, and one day's gaps are all the gaps.
    ``expression`` has its preset (``@hourly``...) already expanded."""
    fields = expression.split()
    return len(fields) == 5 and all(f in ("*", "?") for f in fields[2:5])


def _daily_period(expression: str, day: datetime) -> timedelta | None:
    """The one gap between consecutive fire times over a whole (wall-clock) day, if constant."""
    from croniter import croniter

    it = croniter(expression, day - timedelta(microseconds=1))
    fires = [it.get_next(datetime)]
    while fires[-1] < day + timedelta(days=1):
        fires.append(it.get_next(datetime))
    gaps = {later - earlier for earlier, later in pairwise(fires)}
    return gaps.pop() if len(gaps) == 1 else None


def infer_cron_period(timetable: Any, fire_time: datetime) -> tuple[datetime, datetime] | None:
    """``(previous fire, fire_time)`` when ``fire_time`` fires a provably regular cron trigger.

    Regular means: only the minute and hour fields restrict the schedule, the fire times are
    evenly spaced over a whole day (so over every day), and the previous period has the same
    length in real (UTC) time as the ones around it (no DST change inside). Weekday, monthly and
    other calendar schedules are never inferred: a rule that held midweek would break on Monday.
    """
    fields = _timetable_fields(timetable)
    if fields is None or fire_time.tzinfo is None:
        return None
    expression, _interval, tz = fields
    expression = _PRESETS.get(expression.strip().lower(), expression)
    if not _fires_every_day_alike(expression):
        return None
    import pendulum
    from croniter import croniter

    zone = pendulum.timezone(tz) if isinstance(tz, str) else tz
    local = pendulum.instance(fire_time).in_timezone(zone).naive()
    # croniter.match compares to the minute: a manual run at 10:00:37 is not a fire time, and
    # taking it for one would replace 09:00:37-10:00:37, off the table's partitions.
    if local.second or local.microsecond or not croniter.match(expression, local):
        return None
    midnight = datetime.combine(local.date(), datetime.min.time())
    period = _daily_period(expression, midnight)
    if period is None or period <= timedelta(0):
        return None
    prev1, prev2, nxt = local - period, local - 2 * period, local + period
    # Evenly spaced on the wall clock is not enough: across a DST change "@daily" lasts 23 or
    # 25 hours. The actual (UTC) length must be the same between every adjacent pair.
    utc = [
        pendulum.instance(datetime.combine(t.date(), t.time()), tz=zone).in_timezone("UTC")
        for t in (prev2, prev1, local, nxt)
    ]
    lengths = {(later - earlier).total_seconds() for earlier, later in pairwise(utc)}
    if len(lengths) != 1:
        raise IntervalError(
            f"The schedule {expression!r} in {zone} does not fire at evenly spaced instants around "
            f"{format_instant(utc[2])} (daylight saving time changes the period's length), so "
            f"the period to replace is ambiguous. {INTERVAL_FIX}"
        )
    return utc[1], utc[2]


def run_interval(context: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The run's period: its data interval, or the inferred cron period when that is empty."""
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is not None and end is not None and end > start:
        return start, end
    fire_time = end or context.get("logical_date")
    dag = context.get("dag")
    if fire_time is not None and dag is not None:
        inferred = infer_cron_period(getattr(dag, "timetable", None), fire_time)
        if inferred is not None:
            return inferred
    shown = f"{start}/{end}" if start is not None or end is not None else "none"
    raise IntervalError(
        f"This run's data interval ({shown}) is empty and the period to replace cannot be inferred "
        f"unambiguously from the schedule. {INTERVAL_FIX}"
    )
