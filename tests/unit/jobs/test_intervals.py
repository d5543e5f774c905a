"""The replace-interval rule: data interval, unambiguous cron inference, or a clear failure."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_polaris.operators._intervals import (
    IntervalError,
    format_interval,
    normalize_intervals,
    run_interval,
)

try:
    from airflow.sdk import CronTriggerTimetable
except ImportError:  # Airflow 2.11
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

UTC = timezone.utc
TEN = datetime(2024, 1, 1, 10, tzinfo=UTC)


def ctx(start: Any, end: Any, timetable: Any = None) -> dict[str, Any]:
    return {
        "data_interval_start": start,
        "data_interval_end": end,
        "logical_date": end,
        "dag": SimpleNamespace(timetable=timetable),
    }


def test_format() -> None:
    assert (
        format_interval(TEN, TEN + timedelta(hours=1))
        == "2024-01-01T10:00:00Z/2024-01-01T11:00:00Z"
    )
    with pytest.raises(IntervalError):
        format_interval(TEN, TEN)


def test_normalize() -> None:
    assert normalize_intervals("a/b") == ["a/b"]
    assert normalize_intervals((TEN, TEN + timedelta(days=1))) == [
        "2024-01-01T10:00:00Z/2024-01-02T10:00:00Z"
    ]
    assert normalize_intervals(["a/b", "c/d"]) == ["a/b", "c/d"]


def test_non_empty_data_interval_is_used() -> None:
    assert run_interval(ctx(TEN - timedelta(hours=1), TEN)) == (TEN - timedelta(hours=1), TEN)


@pytest.mark.parametrize(
    ("cron", "fire", "expected_start"),
    [
        ("@hourly", TEN, TEN - timedelta(hours=1)),
        ("*/15 * * * *", TEN, TEN - timedelta(minutes=15)),
        ("@daily", datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)),
        ("0 0,12 * * *", TEN + timedelta(hours=2), TEN - timedelta(hours=10)),
        (
            "30 */6 * * *",
            datetime(2024, 1, 1, 0, 30, tzinfo=UTC),
            datetime(2023, 12, 31, 18, 30, tzinfo=UTC),
        ),
    ],
)
def test_empty_interval_regular_cron_is_inferred(
    cron: str, fire: datetime, expected_start: datetime
) -> None:
    start, end = run_interval(ctx(fire, fire, CronTriggerTimetable(cron, timezone="UTC")))
    assert (start, end) == (expected_start, fire)


WEEKDAYS_9AM = [datetime(2024, 1, day, 9, tzinfo=UTC) for day in range(8, 13)]  # Mon..Fri


@pytest.mark.parametrize(
    ("cron", "fire"),
    [
        # Every weekday, not only Monday (whose gap since Friday differs): a rule that held
        # midweek would break a DAG tested on a Wednesday the next Monday.
        *[("0 9 * * 1-5", day) for day in WEEKDAYS_9AM],
        ("@weekly", datetime(2024, 1, 7, tzinfo=UTC)),
        ("@monthly", datetime(2024, 3, 1, tzinfo=UTC)),  # months differ in length
        ("@monthly", datetime(2024, 8, 1, tzinfo=UTC)),  # ... even when two neighbours agree
        ("0 0 */2 * *", datetime(2024, 1, 3, tzinfo=UTC)),  # day-of-month steps skip at month end
        ("0 0,6 * * *", datetime(2024, 1, 1, 6, tzinfo=UTC)),  # 6 h then 18 h
        ("@hourly", TEN + timedelta(minutes=7)),  # a manual run off the schedule
        ("@hourly", TEN + timedelta(seconds=37)),  # ... even within the fire minute
        ("*/15 * * * *", TEN + timedelta(minutes=15, seconds=59)),
        ("@hourly", TEN + timedelta(microseconds=1)),
    ],
)
def test_ambiguous_periods_fail_naming_the_fix(cron: str, fire: datetime) -> None:
    with pytest.raises(IntervalError) as err:
        run_interval(ctx(fire, fire, CronTriggerTimetable(cron, timezone="UTC")))
    text = str(err.value)
    assert (
        "interval=timedelta(hours=1)" in text
        and "CronDataIntervalTimetable" in text
        and "intervals=" in text
    )


def test_no_timetable_and_no_interval_fails() -> None:
    with pytest.raises(IntervalError):
        run_interval(ctx(None, None))
