"""The SQL query subset: projection, WHERE on __time, GROUP BY, HAVING, ORDER BY, LIMIT, errors."""

from __future__ import annotations

import json

import pytest

from airflow_provider_polaris.testing.dataplane import DataPlane, SqlError

from .conftest import load_rows

ROWS = "\n".join(
    [
        '{"t":"2024-01-01T10:00:00Z","city":"Paris","n":3,"f":1.5}',
        '{"t":"2024-01-01T10:30:00Z","city":"Paris","n":4,"f":2.5}',
        '{"t":"2024-01-01T11:00:00Z","city":"Oslo","n":1,"f":null}',
        '{"t":"2024-01-02T00:00:00Z","city":"Rome","n":10,"f":0.5}',
    ]
)


@pytest.fixture
def db(dp: DataPlane) -> DataPlane:
    rows = [json.loads(line) for line in ROWS.splitlines()]
    load_rows(dp, "t1", rows, {"city": "string", "n": "long", "f": "double"})
    return dp


def test_select_star_and_types(db: DataPlane) -> None:
    result = db.query('SELECT * FROM "t1" LIMIT 1', None)
    assert result.columns == ["__time", "city", "n", "f"]
    assert result.sql_types == ["TIMESTAMP", "VARCHAR", "BIGINT", "DOUBLE"]
    assert result.rows == [["2024-01-01T10:00:00.000Z", "Paris", 3, 1.5]]
    assert result.objects()[0]["city"] == "Paris"


def test_select_without_from(db: DataPlane) -> None:
    result = db.query("SELECT 1, 'a' AS s, TIMESTAMP '2024-01-01 00:00:00' AS ts", None)
    assert result.columns == ["EXPR$0", "s", "ts"]
    assert result.rows == [[1, "a", "2024-01-01T00:00:00.000Z"]]


def test_group_by_ordinals_with_order_and_limit(db: DataPlane) -> None:
    result = db.query(
        'SELECT "city", COUNT(*) AS "c", SUM("n") AS "s", AVG("n") AS "a", MIN("f"), MAX("f") '
        'FROM "t1" GROUP BY 1 ORDER BY "s" DESC LIMIT 2',
        None,
    )
    assert result.columns == ["city", "c", "s", "a", "EXPR$4", "EXPR$5"]
    assert result.rows == [["Rome", 1, 10, 10.0, 0.5, 0.5], ["Paris", 2, 7, 3.5, 1.5, 2.5]]


def test_group_by_time_bucket_expression(db: DataPlane) -> None:
    result = db.query(
        "SELECT TIME_FLOOR(__time, 'P1D') AS \"day\", COUNT(DISTINCT city) AS cities "
        "FROM t1 GROUP BY TIME_FLOOR(__time, 'P1D') ORDER BY 1",
        None,
    )
    assert result.sql_types == ["TIMESTAMP", "BIGINT"]
    assert result.rows == [["2024-01-01T00:00:00.000Z", 2], ["2024-01-02T00:00:00.000Z", 1]]


def test_where_on_time_with_timestamp_literals(db: DataPlane) -> None:
    result = db.query(
        'SELECT COUNT(*) AS n, SUM(n) AS total FROM "t1" '
        "WHERE __time >= TIMESTAMP '2024-01-01 10:00:00' "
        "AND __time < TIMESTAMP '2024-01-01 11:00:00'",
        None,
    )
    assert result.rows == [[2, 7]]


def test_aggregate_over_no_rows_returns_one_row(db: DataPlane) -> None:
    result = db.query("SELECT COUNT(*), SUM(n) FROM t1 WHERE city = 'Nowhere'", None)
    assert result.rows == [[0, None]]
    assert result.sql_types == ["BIGINT", "BIGINT"]  # SUM of a BIGINT column, as Druid types it
    grouped = db.query("SELECT city, COUNT(*) FROM t1 WHERE city = 'Nowhere' GROUP BY city", None)
    assert grouped.rows == []


def test_parameters(db: DataPlane) -> None:
    result = db.query(
        "SELECT city FROM t1 WHERE n > ? AND __time < ? ORDER BY city",
        [{"type": "BIGINT", "value": 2}, {"type": "TIMESTAMP", "value": "2024-01-02 00:00:00"}],
    )
    assert result.rows == [["Paris"], ["Paris"]]
    assert db.query("SELECT ?", [{"type": "VARCHAR", "value": True}]).rows == [["true"]]
    with pytest.raises(SqlError, match="parameter"):
        db.query("SELECT city FROM t1 WHERE n > ?", None)
    with pytest.raises(SqlError):
        db.query("SELECT ?", [{"type": "BIGINT", "value": "abc"}])


def test_having_distinct_offset(db: DataPlane) -> None:
    having = db.query("SELECT city, SUM(n) FROM t1 GROUP BY city HAVING SUM(n) > 5", None)
    assert having.rows == [["Paris", 7], ["Rome", 10]]
    distinct = db.query("SELECT DISTINCT city FROM t1 ORDER BY city LIMIT 2 OFFSET 1", None)
    assert distinct.rows == [["Paris"], ["Rome"]]


def test_expressions_in_projection(db: DataPlane) -> None:
    result = db.query(
        "SELECT UPPER(city) || '!' AS c, n * 2 AS d, "
        "CASE WHEN f IS NULL THEN 'none' ELSE 'some' END "
        "FROM t1 WHERE city IN ('Oslo', 'Rome') ORDER BY d",
        None,
    )
    assert result.rows == [["OSLO!", 2, "none"], ["ROME!", 20, "some"]]


def test_empty_known_table_is_queryable(dp: DataPlane) -> None:
    dp.ensure_table("empty", ["city"])
    assert dp.query('SELECT COUNT(*) FROM "empty"', None).rows == [[0]]
    assert dp.query('SELECT city FROM "empty"', None).rows == []


@pytest.mark.parametrize(
    ("sql", "message", "category"),
    [
        ('SELECT * FROM "missing"', "Object 'missing' not found", "INVALID_INPUT"),
        ("SELECT nope FROM t1", "Column 'nope' not found", "INVALID_INPUT"),
        ("SELECT city, COUNT(*) FROM t1", "not being grouped", "INVALID_INPUT"),
        ("SELECT city FROM t1 WHERE SUM(n) > 1", "not allowed", "INVALID_INPUT"),
        ("SELEC 1", "unexpected token", "INVALID_INPUT"),
        ("SELECT city FROM t1 JOIN t2 ON 1 = 1", "Object 't2' not found", "INVALID_INPUT"),
        (
            "SELECT HLL_SKETCH_UNION(DS_HLL(city)) FROM t1",
            "Function 'HLL_SKETCH_UNION' is not supported",
            "UNSUPPORTED",
        ),
        ("SELECT * FROM TABLE(POLARIS_SOURCE('{}'))", "ingestion jobs", "UNSUPPORTED"),
        ('INSERT INTO "x" SELECT 1 PARTITIONED BY DAY', "ingestion jobs", "UNSUPPORTED"),
        ("SELECT 1 GROUP BY 3", "Ordinal out of range", "INVALID_INPUT"),
    ],
)
def test_errors(db: DataPlane, sql: str, message: str, category: str) -> None:
    with pytest.raises(SqlError, match=message) as caught:
        db.query(sql, None)
    assert caught.value.category == category
    body = caught.value.to_response()
    assert body["category"] == category and body["errorMessage"]


def test_runtime_failure(db: DataPlane) -> None:
    with pytest.raises(SqlError) as caught:
        db.query("SELECT TIME_FLOOR(__time, 'bogus') FROM t1", None)
    assert caught.value.category == "RUNTIME_FAILURE"
