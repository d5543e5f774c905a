"""The shared value checks: ISO-8601 intervals and durations, base64, SQL statements."""

from __future__ import annotations

import pytest

from airflow_provider_polaris.models._checks import (
    check_base64,
    check_duration,
    check_interval,
    sql_statement_target,
)


@pytest.mark.parametrize(
    "interval",
    [
        "2022-06-01/2022-06-09",
        "2022-06-01T00:00:00Z/2022-06-01T01:00:00Z",
        "2022-06-01T00:00:00.000Z/2022-06-02T00:00:00.000Z",
        "2022-06-01T03:00:00+02:00/2022-06-01T02:00:00Z",
        "2022-06-01T00:00/2022-06-01T00:01",
        "2022-06-01T00:00:00Z/PT1H",
        "P1D/2022-06-02",
        "-1000-01-01T00:00:00.000Z/5000-01-01T00:00:00.000Z",
        "2024-02-29/2024-03-01",
    ],
)
def test_valid_intervals(interval: str) -> None:
    assert check_interval(interval) == interval


@pytest.mark.parametrize(
    ("interval", "words"),
    [
        ("2022-06-01", "not an ISO-8601 interval"),
        ("2022-06-01/", "not an ISO-8601 interval"),
        ("a/b/c", "not an ISO-8601 interval"),
        ("2022-06-09/2022-06-01", "start must be before the end"),
        ("2022-06-01T02:00:00+02:00/2022-06-01T00:00:00Z", "start must be before the end"),
        ("2023-02-29/2023-03-01", "not a valid ISO-8601 date"),
        ("2022-06-01/tomorrow", "not a valid ISO-8601 date"),
        ("P1D/PT1H", "neither side"),
        ("2022-06-01/PT0S", "empty"),
    ],
)
def test_invalid_intervals(interval: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        check_interval(interval)


@pytest.mark.parametrize("duration", ["P30D", "P2000D", "PT1H", "P1Y2M3W4DT5H6M7.5S", "PT0.5S"])
def test_valid_durations(duration: str) -> None:
    assert check_duration(duration) == duration


@pytest.mark.parametrize("duration", ["30D", "P", "PT", "P1H", "pt1h", "P1DT", ""])
def test_invalid_durations(duration: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601 duration"):
        check_duration(duration)


def test_base64() -> None:
    assert check_base64("CgtldmVudC5wcm90bw==") == "CgtldmVudC5wcm90bw=="
    for bad, words in [("", "empty"), ("Cgtl\nZG==", "line breaks"), ("abc", "not valid base64")]:
        with pytest.raises(ValueError, match=words):
            check_base64(bad)


@pytest.mark.parametrize(
    ("query", "keyword", "table"),
    [
        ('INSERT INTO "Koalas Rollup" SELECT 1', "INSERT", "Koalas Rollup"),
        ('-- c\n/* multi\nline */ replace into "a""b" OVERWRITE ALL SELECT 1', "REPLACE", 'a"b'),
        ("insert\ninto  events SELECT 1", "INSERT", "events"),
        ("SELECT 1", "SELECT", None),
        ("  ", "", None),
    ],
)
def test_sql_statement_target(query: str, keyword: str, table: str | None) -> None:
    assert sql_statement_target(query) == (keyword, table)
