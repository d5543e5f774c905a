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
from typing import Any, get_args

from airflow_provider_polaris.models.common import PartitionedBy

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


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 instant (text or ``datetime``) as an aware datetime, naive meaning UTC;
    ``None`` when it is not one."""
    if isinstance(value, str) and value.strip():
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def interval_ends(value: Any) -> tuple[datetime, datetime] | None:
    """``(start, end)`` of an ISO 8601 ``start/end`` interval of instants, else ``None``."""
    if not isinstance(value, str) or "/" not in value:
        return None
    start, end = (parse_instant(part) for part in value.split("/", 1))
    return (start, end) if start is not None and end is not None else None


def span(intervals: list[str]) -> str:
    """``earliest start/latest end`` of ISO 8601 ``start/end`` intervals."""
    if len(intervals) == 1:
        return intervals[0]
    bounds = []
    for interval in intervals:
        ends = interval_ends(interval)
        if ends is None:
            raise IntervalError(
                f"cannot read interval {interval!r}; pass source_interval explicitly"
            )
        bounds.append(ends)
    return format_interval(min(b[0] for b in bounds), max(b[1] for b in bounds))


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


def _timetable_fields(timetable: Any) -> tuple[str, Any] | None:
    """``(cron expression, timezone)`` of a cron trigger timetable on 2.11 or 3.x."""
    if type(timetable).__name__ != "CronTriggerTimetable":
        return None
    expression = getattr(timetable, "expression", None) or getattr(timetable, "_expression", None)
    tz = getattr(timetable, "timezone", None) or getattr(timetable, "_timezone", None)
    if not isinstance(expression, str) or tz is None:
        return None
    return expression, tz


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
    expression, tz = fields
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


# -- replace intervals and the target's partitioning ---------------------------------------------
# Job ``partitionedBy`` values finest to coarsest (polaris-api.md §3; no ``week``; ``all`` never
# aligns a replace interval, so it is never chosen).
GRANULARITIES: tuple[str, ...] = tuple(g for g in get_args(PartitionedBy) if g != "all")
# What Polaris gives a table that ``createTableIfNotExists`` creates without ``partitionedBy``
# (polaris-api.md §6, and the emulator's auto-created tables).
DEFAULT_TABLE_PARTITIONING = "day"
_MINUTE_STEPS = {
    "minute": 1,
    "five_minute": 5,
    "ten_minute": 10,
    "fifteen_minute": 15,
    "thirty_minute": 30,
}
_HOUR_STEPS = {"hour": 1, "six_hour": 6, "eight_hour": 8}


def is_aligned(moment: datetime, granularity: str) -> bool:
    """Whether ``moment`` (UTC) starts a time chunk of ``granularity``."""
    if granularity == "all" or moment.microsecond:
        return False
    if granularity == "second":
        return True
    if moment.second:
        return False
    if granularity in _MINUTE_STEPS:
        return moment.minute % _MINUTE_STEPS[granularity] == 0
    if moment.minute:
        return False
    if granularity in _HOUR_STEPS:
        return moment.hour % _HOUR_STEPS[granularity] == 0
    if moment.hour:
        return False
    if granularity == "day":
        return True
    if granularity == "week":  # only existing tables still have it
        return moment.weekday() == 0
    if moment.day != 1:
        return False
    if granularity == "month":
        return True
    if granularity == "quarter":
        return moment.month in (1, 4, 7, 10)
    return granularity == "year" and moment.month == 1


def interval_bounds(interval: str) -> tuple[datetime, datetime] | None:
    """UTC ``(start, end)`` of an ISO 8601 ``start/end`` interval; ``None`` when a side is a
    duration or out of ``datetime``'s range (those are left for Polaris to judge)."""
    from airflow_provider_polaris.models._checks import instant_seconds

    parts = interval.split("/")
    if len(parts) != 2:
        return None
    bounds = []
    for part in parts:
        seconds = instant_seconds(part.strip())
        if seconds is None:
            return None
        whole = int(seconds // 1)
        try:
            moment = datetime.fromtimestamp(whole, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
        # Sub-second bounds align with no granularity: keep the fraction visible to is_aligned.
        bounds.append(moment.replace(microsecond=1) if seconds != whole else moment)
    return bounds[0], bounds[1]


def aligns(intervals: Sequence[tuple[datetime, datetime]], granularity: str) -> bool:
    """Every interval starts and ends on a ``granularity`` boundary."""
    return all(is_aligned(s, granularity) and is_aligned(e, granularity) for s, e in intervals)


def coarsest_aligned(intervals: Sequence[tuple[datetime, datetime]]) -> str | None:
    """The coarsest job ``partitionedBy`` that aligns every interval (``None``: not even
    ``second`` does)."""
    fitting = [g for g in GRANULARITIES if aligns(intervals, g)]
    return fitting[-1] if fitting else None


class TableCheckError(ValueError):
    """A job request names a missing table or a field its source lacks (message verbatim)."""


class TableReader:
    """``GET /tables/{name}`` at most once per name for one request (``None``: 404)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._tables: dict[str, Mapping[str, Any] | None] = {}

    def get(self, name: str) -> Mapping[str, Any] | None:
        from airflow_provider_polaris.client import PolarisNotFoundError

        if name not in self._tables:
            try:
                self._tables[name] = self._client.tables.get(name)
            except PolarisNotFoundError:
                self._tables[name] = None
        return self._tables[name]


def check_against_tables(
    client: Any, body: dict[str, Any], *, log: Any, pin_partitioning: bool
) -> dict[str, Any]:
    """The read-only checks of a job request against Polaris' tables, before the create.

    1. Every field an expression names exists in the source (``inputSchema``, or the source
       table's columns: one ``GET /tables/{source}``).
    2. In replace mode, the intervals align with ``partitionedBy`` (when given), else with the
       target table's partitioning (``GET /tables/{target}``; Polaris' default ``day`` for a
       table the job creates). When they don't, ``partitionedBy`` is set to the coarsest
       granularity that aligns them all, and the choice is logged. ``pin_partitioning`` (for
       bodies the operator built) always sends ``partitionedBy``, so every try of a task sends
       the same request even once its first try created the table.

    Raises ``TableCheckError`` (missing table, unknown field) or ``IntervalError``.
    """
    tables = TableReader(client)
    check_references(body, tables)
    intervals = body.get("target", {}).get("intervals") if body.get("type") == "batch" else None
    if body.get("ingestionMode") == "replace" and intervals:
        body = fit_partitioning(body, list(intervals), tables, log=log, pin=pin_partitioning)
    return body


def check_references(body: Mapping[str, Any], tables: TableReader) -> None:
    """Fail on the first field an expression names that the job's source does not have."""
    from airflow_provider_polaris.models._references import (
        expression_references,
        input_schema_fields,
        table_fields,
        unknown_reference,
    )

    source = body.get("source")
    if not isinstance(source, Mapping) or body.get("useSchemaDiscovery"):
        return  # a SQL job (not parsed), or fields discovered from the data
    fields = input_schema_fields(source)
    if fields is None and source.get("type") == "table" and expression_references(body):
        name = str(source.get("tableName"))
        table = tables.get(name)
        if table is None:
            raise TableCheckError(
                f'source.tableName: source table "{name}" does not exist (Polaris answered 404); '
                "check the name, or create and load the table before this job runs"
            )
        fields = table_fields({"name": name, **table})
    if fields is not None:
        problem = unknown_reference(body, fields)
        if problem:
            raise TableCheckError(problem)


def fit_partitioning(
    body: dict[str, Any], intervals: list[str], tables: TableReader, *, log: Any, pin: bool
) -> dict[str, Any]:
    """Check (explicit ``partitionedBy``) or choose the partitioning of a replace request."""
    bounds = [interval_bounds(str(i)) for i in intervals]
    readable = [b for b in bounds if b is not None]
    target = body.get("target", {})
    name = str(target.get("tableName"))
    explicit = body.get("partitionedBy")
    table = None
    if not (explicit and body.get("createTableIfNotExists")):
        table = tables.get(name)
        if table is None and not body.get("createTableIfNotExists"):
            raise TableCheckError(
                f'target.tableName: table "{name}" does not exist and this job does not create '
                "it; set create_table_if_not_exists=True (createTableIfNotExists: true in a job "
                "spec), or create the table first (PolarisCreateTableOperator)"
            )
    if len(readable) != len(bounds):
        return body  # a start/duration interval: Polaris judges it
    if explicit:
        _require_alignment(intervals, bounds, str(explicit), f'partitionedBy "{explicit}"')
        return body
    current = str((table or {}).get("partitioningGranularity") or DEFAULT_TABLE_PARTITIONING)
    if aligns(readable, current):
        if pin and current in GRANULARITIES:
            return {**body, "partitionedBy": current}
        return body
    chosen = coarsest_aligned(readable)
    if chosen is None:
        what = f'the "{current}" partitioning of table "{name}"'
        _require_alignment(intervals, bounds, current, what)
        raise AssertionError("unreachable: some interval is misaligned")
    whose = "partitioning of table" if table is not None else "default partitioning for new table"
    first = next(i for i, b in zip(intervals, readable, strict=True) if not aligns([b], current))
    log.info(
        "Replace interval %s is not aligned with the %s %s %r; sending partitionedBy=%r, the "
        "coarsest granularity that aligns every interval (set partitioned_by to choose another)",
        first,
        current,
        whose,
        name,
        chosen,
    )
    return {**body, "partitionedBy": chosen}


def _require_alignment(
    intervals: list[str],
    bounds: list[tuple[datetime, datetime] | None],
    granularity: str,
    what: str,
) -> None:
    """Raise ``IntervalError`` for the first interval that ``granularity`` does not align."""
    for index, (interval, bound) in enumerate(zip(intervals, bounds, strict=True)):
        if bound is None or aligns([bound], granularity):
            continue
        fitting = coarsest_aligned([b for b in bounds if b is not None])
        fix = (
            f'use partitioned_by="{fitting}" (partitionedBy in a job spec), the coarsest '
            "granularity that aligns every interval, or intervals on "
            f"{granularity} boundaries"
            if fitting
            else "replace intervals must start and end on whole seconds at least"
        )
        raise IntervalError(
            f"target.intervals[{index}]: interval {interval} is not aligned with {what} "
            f"(Polaris rejects a replace interval that does not start and end "
            f"on {granularity} boundaries); {fix}"
        )
