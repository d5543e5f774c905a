"""Window functions, LEFT JOIN and JSON_VALUE typing: each answer is computed here in Python."""

from __future__ import annotations

from itertools import accumulate

import pytest

from airflow_provider_polaris.testing.dataplane import DataPlane

from .conftest import load_rows

ROWS = [
    {"t": "2024-06-01T00:00:00Z", "city": "Paris", "n": 4, "attrs": {"k": 1, "x": 1.5, "s": "a"}},
    {"t": "2024-06-01T01:00:00Z", "city": "Oslo", "n": 2, "attrs": {"k": 2, "x": 2.25, "s": "b"}},
    {"t": "2024-06-01T02:00:00Z", "city": "Paris", "n": 4, "attrs": {"k": "7", "s": 3}},
    {"t": "2024-06-01T03:00:00Z", "city": "Rome", "n": 9, "attrs": {"x": "no"}},
    {"t": "2024-06-01T04:00:00Z", "city": "Paris", "n": 1, "attrs": {}},
    {"t": "2024-06-01T05:00:00Z", "city": "Oslo", "n": 5, "attrs": {"k": 10}},
]
CAPITALS = [{"t": "2024-01-01T00:00:00Z", "city": "Paris", "country": "FR"}]


@pytest.fixture
def db(dp: DataPlane) -> DataPlane:
    load_rows(dp, "w", ROWS, {"city": "string", "n": "long", "attrs": "json"})
    load_rows(dp, "caps", CAPITALS, {"city": "string", "country": "string"})
    return dp


def q(db: DataPlane, sql: str) -> list[list]:
    return db.query(sql, None).rows


def _rank(values: list[int], value: int, *, dense: bool = False) -> int:
    ordered = sorted(values, reverse=True)
    if dense:
        return sorted(set(values), reverse=True).index(value) + 1
    return ordered.index(value) + 1


def test_rank_and_dense_rank(db: DataPlane) -> None:
    rows = q(
        db,
        "SELECT city, n, RANK() OVER (PARTITION BY city ORDER BY n DESC), "
        "DENSE_RANK() OVER (ORDER BY n DESC) FROM w ORDER BY __time",
    )
    every = [r["n"] for r in ROWS]
    expected = []
    for r in ROWS:
        group = [o["n"] for o in ROWS if o["city"] == r["city"]]
        expected.append([r["city"], r["n"], _rank(group, r["n"]), _rank(every, r["n"], dense=True)])
    assert rows == expected


def test_lag_and_lead(db: DataPlane) -> None:
    rows = q(
        db,
        "SELECT n, LAG(n) OVER (ORDER BY __time), LEAD(n, 2) OVER (ORDER BY __time), "
        "LAG(n, 1, -1) OVER (PARTITION BY city ORDER BY __time) FROM w ORDER BY __time",
    )
    ns = [r["n"] for r in ROWS]
    expected = []
    for i, r in enumerate(ROWS):
        same = [o["n"] for o in ROWS[:i] if o["city"] == r["city"]]
        expected.append(
            [
                r["n"],
                ns[i - 1] if i >= 1 else None,
                ns[i + 2] if i + 2 < len(ns) else None,
                same[-1] if same else -1,
            ]
        )
    assert rows == expected


def test_aggregates_over_windows(db: DataPlane) -> None:
    rows = q(
        db,
        "SELECT city, SUM(n) OVER (PARTITION BY city), COUNT(*) OVER (), "
        "SUM(n) OVER (ORDER BY __time ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), "
        "MAX(n) OVER (PARTITION BY city) FROM w ORDER BY __time",
    )
    running = list(accumulate(r["n"] for r in ROWS))
    expected = []
    for i, r in enumerate(ROWS):
        group = [o["n"] for o in ROWS if o["city"] == r["city"]]
        expected.append([r["city"], sum(group), len(ROWS), running[i], max(group)])
    assert rows == expected


def test_left_join_keeps_unmatched_rows_with_nulls(db: DataPlane) -> None:
    rows = q(
        db,
        "SELECT w.city, c.country FROM w LEFT JOIN caps c ON w.city = c.city ORDER BY w.__time",
    )
    countries = {c["city"]: c["country"] for c in CAPITALS}
    assert rows == [[r["city"], countries.get(r["city"])] for r in ROWS]
    inner = q(db, "SELECT COUNT(*) FROM w JOIN caps c ON w.city = c.city")
    assert inner == [[sum(1 for r in ROWS if r["city"] in countries)]]


def _as_long(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _as_double(value: object) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None


def test_json_value_returning_types(db: DataPlane) -> None:
    result = db.query(
        "SELECT JSON_VALUE(attrs, '$.k' RETURNING BIGINT) AS k, "
        "JSON_VALUE(attrs, '$.x' RETURNING DOUBLE) AS x, JSON_VALUE(attrs, '$.s') AS s, "
        "JSON_VALUE(attrs, '$.s' RETURNING VARCHAR) AS sv FROM w ORDER BY __time",
        None,
    )
    assert result.sql_types == ["BIGINT", "DOUBLE", "VARCHAR", "VARCHAR"]
    expected = []
    for r in ROWS:
        a = r["attrs"]
        k = _as_long(a["k"]) if "k" in a else None
        x = _as_double(a["x"]) if "x" in a else None
        s = str(a["s"]) if "s" in a else None
        expected.append([k, x, s, s])
    assert result.rows == expected


def test_json_value_in_filters_and_aggregates(db: DataPlane) -> None:
    rows = q(
        db,
        "SELECT SUM(JSON_VALUE(attrs, '$.k' RETURNING BIGINT)) FROM w "
        "WHERE JSON_VALUE(attrs, '$.k' RETURNING BIGINT) > 1",
    )
    ks = [_as_long(r["attrs"]["k"]) for r in ROWS if "k" in r["attrs"]]
    assert rows == [[sum(k for k in ks if k is not None and k > 1)]]


def test_replace_ceil_current_date_interval_and_like(db: DataPlane) -> None:
    from datetime import datetime, timedelta, timezone

    from .conftest import NOW

    rows = q(
        db,
        "SELECT REPLACE(city, 'a', '4'), CEIL(__time TO DAY), city LIKE 'P%', "
        "TIME_IN_INTERVAL(__time, '2024-06-01T01:00:00Z/PT2H') FROM w ORDER BY __time",
    )
    expected = []
    for r in ROWS:
        t = datetime.fromisoformat(r["t"].replace("Z", "+00:00"))
        day = t.replace(hour=0, minute=0, second=0)
        ceil = day if day == t else day + timedelta(days=1)
        inside = (
            datetime(2024, 6, 1, 1, tzinfo=timezone.utc)
            <= t
            < datetime(2024, 6, 1, 3, tzinfo=timezone.utc)
        )
        expected.append(
            [
                r["city"].replace("a", "4"),
                ceil.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                r["city"].startswith("P"),
                inside,
            ]
        )
    assert rows == expected
    today = datetime.fromtimestamp(NOW, timezone.utc).strftime("%Y-%m-%dT00:00:00.000Z")
    result = db.query("SELECT CURRENT_DATE, COUNT(*) FROM w WHERE city = 'Nowhere'", None)
    assert result.rows == [[today, 0]] and result.sql_types == ["DATE", "BIGINT"]


def test_strings_sort_by_code_point_and_like_is_case_sensitive(db: DataPlane) -> None:
    words = ["b", "B", "a", "é", "Z", "ab"]
    union = " UNION ALL ".join(f"SELECT '{w}' AS s" for w in words)
    assert q(db, f"SELECT s FROM ({union}) ORDER BY s") == [[w] for w in sorted(words)]
    assert q(db, f"SELECT COUNT(*) FROM ({union}) WHERE s LIKE 'a%'") == [
        [sum(1 for w in words if w.startswith("a"))]
    ]
