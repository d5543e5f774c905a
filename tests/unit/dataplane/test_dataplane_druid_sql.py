"""Druid SQL on DuckDB (issue 12): each construct's answer is computed here in plain Python."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_polaris.testing.dataplane import DataPlane, SqlError

from .conftest import NOW, load_rows

UTC = timezone.utc
EVENTS = [
    {"t": "2024-05-31T11:00:00Z", "city": "Paris", "n": 3, "user": "u1"},
    {"t": "2024-05-31T13:30:00Z", "city": "Paris", "n": 4, "user": "u2"},
    {"t": "2024-06-01T08:15:00Z", "city": "Oslo", "n": 7, "user": "u1"},
    {"t": "2024-06-01T09:45:00Z", "city": "Rome", "n": -5, "user": None},
    {"t": "2024-06-01T11:59:00Z", "city": "Paris", "n": 10, "user": "u3"},
]


def _time(row: dict) -> datetime:
    return datetime.fromisoformat(row["t"].replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


@pytest.fixture
def db(dp: DataPlane) -> DataPlane:
    load_rows(dp, "ev", EVENTS, {"city": "string", "n": "long", "user": "string"})
    return dp


def q(db: DataPlane, sql: str) -> list[list]:
    return db.query(sql, None).rows


def test_interval_arithmetic_and_current_timestamp(db: DataPlane) -> None:
    now = datetime.fromtimestamp(NOW, UTC)
    expected = sum(1 for e in EVENTS if _time(e) >= now - timedelta(days=1))
    sql = "SELECT COUNT(*) FROM ev WHERE __time >= CURRENT_TIMESTAMP - INTERVAL '1' DAY"
    assert q(db, sql) == [[expected]]
    result = db.query(
        "SELECT CURRENT_TIMESTAMP AS now, CURRENT_TIMESTAMP + INTERVAL '2' HOUR", None
    )
    assert result.rows == [[_iso(now), _iso(now + timedelta(hours=2))]]
    assert result.sql_types == ["TIMESTAMP", "TIMESTAMP"]


def test_count_filter_and_count_distinct(db: DataPlane) -> None:
    paris = sum(1 for e in EVENTS if e["city"] == "Paris")
    users = len({e["user"] for e in EVENTS if e["user"] is not None})
    sql = (
        "SELECT COUNT(*) FILTER (WHERE city = 'Paris') AS p, COUNT(DISTINCT \"user\") AS u, "
        "APPROX_COUNT_DISTINCT(city) AS a, APPROX_COUNT_DISTINCT_DS_HLL(city) AS h, "
        'APPROX_COUNT_DISTINCT_DS_THETA("user") AS th FROM ev'
    )
    cities = len({e["city"] for e in EVENTS})
    assert q(db, sql) == [[paris, users, cities, cities, users]]


def test_subquery_with_join_union_window(db: DataPlane) -> None:
    totals = Counter()
    for e in EVENTS:
        totals[e["city"]] += e["n"]
    best = max(totals, key=lambda c: totals[c])
    sub = q(
        db,
        "SELECT city, s FROM (SELECT city, SUM(n) AS s FROM ev GROUP BY city) "
        "ORDER BY s DESC LIMIT 1",
    )
    assert sub == [[best, totals[best]]]
    with_ = q(
        db,
        "WITH c AS (SELECT city, SUM(n) AS s FROM ev GROUP BY 1) "
        "SELECT COUNT(*) FROM c WHERE s > 0",
    )
    assert with_ == [[sum(1 for v in totals.values() if v > 0)]]
    joined = q(
        db,
        "SELECT e.city, e.n, c.s FROM ev e JOIN (SELECT city, SUM(n) AS s FROM ev GROUP BY city) c "
        "ON e.city = c.city ORDER BY e.__time",
    )
    assert joined == [[e["city"], e["n"], totals[e["city"]]] for e in EVENTS]
    union = q(db, "SELECT city FROM ev WHERE n > 5 UNION ALL SELECT city FROM ev WHERE n < 0")
    assert sorted(r[0] for r in union) == sorted(
        [e["city"] for e in EVENTS if e["n"] > 5] + [e["city"] for e in EVENTS if e["n"] < 0]
    )
    ranked = q(
        db,
        "SELECT city, n, ROW_NUMBER() OVER (PARTITION BY city ORDER BY n DESC) AS rn FROM ev "
        "ORDER BY city, rn",
    )
    expected = []
    for city in sorted(totals):
        ns = sorted((e["n"] for e in EVENTS if e["city"] == city), reverse=True)
        expected += [[city, value, i + 1] for i, value in enumerate(ns)]
    assert ranked == expected


def test_time_functions(db: DataPlane) -> None:
    first, last = _time(EVENTS[0]), _time(EVENTS[-1])
    sql = (
        "SELECT TIMESTAMPDIFF(HOUR, MIN(__time), MAX(__time)), "
        "TIMESTAMPADD(DAY, 2, MIN(__time)), TIME_SHIFT(MIN(__time), 'PT1H', -3) FROM ev"
    )
    hours = int((last - first).total_seconds() // 3600)
    assert q(db, sql) == [
        [hours, _iso(first + timedelta(days=2)), _iso(first - timedelta(hours=3))]
    ]
    floors = q(
        db,
        "SELECT TIME_FLOOR(__time, 'PT1H'), FLOOR(__time TO DAY), TIME_EXTRACT(__time, 'HOUR'), "
        "EXTRACT(DOW FROM __time), TIME_CEIL(__time, 'P1D') FROM ev ORDER BY __time",
    )
    expected = []
    for e in EVENTS:
        t = _time(e)
        day = t.replace(hour=0, minute=0, second=0)
        expected.append(
            [
                _iso(t.replace(minute=0)),
                _iso(day),
                t.hour,
                t.isoweekday(),
                _iso(day + timedelta(days=1)),
            ]
        )
    assert floors == expected


def test_grouped_time_buckets_print_like_druid(db: DataPlane) -> None:
    result = db.query("SELECT FLOOR(__time TO DAY) AS d, COUNT(*) AS c FROM ev GROUP BY 1", None)
    days = Counter(_iso(_time(e).replace(hour=0, minute=0)) for e in EVENTS)
    assert result.rows == [[d, c] for d, c in sorted(days.items())]
    assert result.sql_types == ["TIMESTAMP", "BIGINT"]


def test_conditional_and_string_functions(db: DataPlane) -> None:
    rows = q(
        db,
        "SELECT CASE WHEN n > 5 THEN 'big' ELSE 'small' END, NULLIF(city, 'Oslo'), "
        "COALESCE(\"user\", 'anon'), REGEXP_EXTRACT(city, '([aeiou])', 1), "
        "REGEXP_LIKE(city, '^R'), STRPOS(city, 'r'), LPAD(city, 7, '*'), RPAD(city, 3) "
        "FROM ev ORDER BY __time",
    )
    expected = []
    for e in EVENTS:
        c = e["city"]
        vowel = re.search("([aeiou])", c)
        expected.append(
            [
                "big" if e["n"] > 5 else "small",
                None if c == "Oslo" else c,
                e["user"] or "anon",
                vowel.group(1) if vowel else None,
                c.startswith("R"),
                c.find("r") + 1,
                c.rjust(7, "*")[:7],
                c.ljust(3)[:3],
            ]
        )
    assert rows == expected
    assert q(db, "SELECT REGEXP_EXTRACT('xyz', '[0-9]+')") == [[None]]


def test_earliest_latest_any_value(db: DataPlane) -> None:
    by_city: dict[str, list[dict]] = {}
    for e in EVENTS:
        by_city.setdefault(e["city"], []).append(e)
    rows = q(
        db,
        "SELECT city, EARLIEST(n), LATEST(n), LATEST_BY(city, __time), EARLIEST_BY(n, n), "
        "ANY_VALUE(city) FROM ev GROUP BY city",
    )
    expected = []
    for city in sorted(by_city):
        group = sorted(by_city[city], key=_time)
        expected.append(
            [city, group[0]["n"], group[-1]["n"], city, min(e["n"] for e in group), city]
        )
    assert rows == expected


def test_integer_division_and_nulls(db: DataPlane) -> None:
    assert q(db, "SELECT 7 / 2, -7 / 2, 7 / 0, 7.0 / 2, -7 % 2") == [[3, -3, None, 3.5, -1]]
    assert q(db, "SELECT SUM(n) / COUNT(*) FROM ev") == [
        [int(sum(e["n"] for e in EVENTS) / len(EVENTS))]
    ]
    nulls = q(db, 'SELECT "user" FROM ev ORDER BY "user" LIMIT 2')
    assert nulls[0] == [None]  # NULL sorts first ascending, as in Druid


def test_sql_types_header(db: DataPlane) -> None:
    result = db.query(
        "SELECT __time, city, n, n * 1.5 AS d, n > 3 AS b, COUNT(*) OVER () AS w FROM ev LIMIT 1",
        None,
    )
    assert result.sql_types == ["TIMESTAMP", "VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "BIGINT"]
    assert result.rows == [[_iso(_time(EVENTS[0])), "Paris", 3, 4.5, False, len(EVENTS)]]


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        (
            "SELECT THETA_SKETCH_INTERSECT(DS_THETA(city), DS_THETA(city)) FROM ev",
            "THETA_SKETCH_INTERSECT",
        ),
        ("SELECT TIME_FLOOR(__time, 'PT1H', TIMESTAMP '2024-01-01 00:30:00') FROM ev", "origin"),
        ("SELECT FOO(city) FROM ev", "FOO"),
    ],
)
def test_unsupported_names_the_construct(db: DataPlane, sql: str, named: str) -> None:
    with pytest.raises(SqlError, match=named) as caught:
        db.query(sql, None)
    assert caught.value.category == "UNSUPPORTED"


def test_query_sees_rows_written_after_the_previous_query(db: DataPlane) -> None:
    before = q(db, "SELECT COUNT(*) FROM ev")[0][0]
    db.drop_table("ev")
    db.ensure_table("ev", ["city"])
    assert q(db, "SELECT COUNT(*) FROM ev") == [[0]]
    assert before == len(EVENTS)
