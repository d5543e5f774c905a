"""Druid expressions through the data plane's public API: precedence, NULL logic, functions,
errors. Each expression is evaluated over one ingested row (``SELECT <expr> FROM "r"``), and a
few also as batch-job mappings, the way ingestion evaluates them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_polaris.testing.dataplane import DataPlane, SqlError
from airflow_provider_polaris.testing.dataplane.timeutil import (
    parse_interval,
    parse_period,
    parse_timestamp,
)

from .conftest import batch_job, ndjson_schema, run

ROW = {"a": 7, "b": 2, "s": "Hello", "x": None, "f": 1.5, "ts": "2024-03-05T10:42:13.5Z"}
SCHEMA = ndjson_schema(
    ("a", "long"), ("b", "long"), ("s", "string"), ("x", "long"), ("f", "double"), ("ts", "string")
)
COLUMNS = [{"columnName": name, "expression": f'"{name}"'} for name in ROW]
TIME = {"columnName": "__time", "expression": 'TIME_PARSE("ts")'}


def inline(rows: list[dict[str, Any]], schema: list[dict[str, str]]) -> dict[str, Any]:
    data = "".join(json.dumps(row) + "\n" for row in rows)
    return {"type": "inline", "data": data, "inputSchema": schema, "formatSettings": {}}


@pytest.fixture
def plane(dp: DataPlane) -> DataPlane:
    """A data plane holding ROW in table "r"."""
    result = run(dp, batch_job(inline([ROW], SCHEMA), "r", [TIME, *COLUMNS]), {})
    assert result.error_code is None, result.error_message
    return dp


def ev(dp: DataPlane, text: str) -> Any:
    return dp.query(f'SELECT {text} AS "v" FROM "r"', None).rows[0][0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("-2 * 3", -6),
        ('"a" / "b"', 3),  # long / long truncates, like Druid
        ('-"a" / "b"', -3),  # ... toward zero
        ('"a" % "b"', 1),
        ('"a" / 2.0', 3.5),
        ('"a" / 0', None),
        ("1 = 1 AND 2 > 1 OR 1 = 0", True),
        ("NOT 1 = 1 OR 2 = 2", True),
        ("'a' || 'b' || 1", "ab1"),
        ('"a" BETWEEN 1 AND 7', True),
        ('"a" NOT IN (1, 2)', True),
        ("'x' IN ('y', NULL)", None),
        ("'x' IN ('x', NULL)", True),
        ("\"s\" LIKE 'He%'", True),
        ("\"s\" LIKE 'h_llo'", False),
        ("\"s\" NOT LIKE '%z%'", True),
        ("'it''s'", "it's"),
    ],
)
def test_operators_and_precedence(plane: DataPlane, text: str, expected: Any) -> None:
    assert ev(plane, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"x" + 1', None),
        ('"x" = NULL', None),
        ('"x" IS NULL', True),
        ('"a" IS NOT NULL', True),
        ("NULL AND FALSE", False),
        ("NULL AND TRUE", None),
        ("NULL OR TRUE", True),
        ("NOT NULL", None),
        ("\"x\" || 'a'", None),
        ('COALESCE(CAST("x" AS VARCHAR), "s")', "Hello"),  # Druid refuses BIGINT with VARCHAR
        ('NVL("x", 3)', 3),
        ("NULLIF(1, 1)", None),
        ("CASE WHEN \"x\" IS NULL THEN 'none' ELSE 'some' END", "none"),
        ("CASE \"b\" WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", "two"),
        ("CASE WHEN 1 = 0 THEN 'no' END", None),
    ],
)
def test_null_semantics_and_case(plane: DataPlane, text: str, expected: Any) -> None:
    assert ev(plane, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('UPPER("s")', "HELLO"),
        ('LOWER("s")', "hello"),
        ("CONCAT('a', 1, 'b')", "a1b"),
        ("CONCAT('a', NULL)", None),
        ('SUBSTRING("s", 2, 3)', "ell"),
        ('LENGTH("s")', 5),
        ("TRIM('  x  ')", "x"),
        ("ABS(-4)", 4),
        ("CAST('42' AS BIGINT)", 42),
        ("CAST('4.5' AS DOUBLE)", 4.5),
        ("CAST(7 AS VARCHAR)", "7"),
        pytest.param(
            "CAST('abc' AS BIGINT)",
            None,
        ),
        ("ROUND(2.5)", 3.0),
        # Druid: without RETURNING (and no context to infer from) JSON_VALUE is a VARCHAR
        ("JSON_VALUE(PARSE_JSON('{\"a\":{\"b\":3}}'), '$.a.b')", "3"),
        ("REPLACE('a-b-c', '-', '+')", "a+b+c"),
    ],
)
def test_scalar_functions(plane: DataPlane, text: str, expected: Any) -> None:
    assert ev(plane, text) == expected


def test_time_functions(plane: DataPlane) -> None:
    assert ev(plane, 'TIME_PARSE("ts")') == "2024-03-05T10:42:13.500Z"
    floor = "TIME_FLOOR(TIME_PARSE(\"ts\"), '{}')"
    assert ev(plane, floor.format("PT1H")) == "2024-03-05T10:00:00.000Z"
    assert ev(plane, floor.format("PT5M")) == "2024-03-05T10:40:00.000Z"
    assert ev(plane, floor.format("P1D")) == "2024-03-05T00:00:00.000Z"
    assert ev(plane, floor.format("P1M")) == "2024-03-01T00:00:00.000Z"
    assert ev(plane, floor.format("P1W")) == "2024-03-04T00:00:00.000Z"
    assert ev(plane, 'FLOOR(TIME_PARSE("ts") TO HOUR)') == "2024-03-05T10:00:00.000Z"
    assert ev(plane, "TIMESTAMP_TO_MILLIS(MILLIS_TO_TIMESTAMP(1000))") == 1000
    assert ev(plane, "TIME_FORMAT(MILLIS_TO_TIMESTAMP(0))") == "1970-01-01T00:00:00.000Z"
    pattern = "TIME_FORMAT(MILLIS_TO_TIMESTAMP(0), 'yyyy-MM-dd HH:mm')"
    assert ev(plane, pattern) == "1970-01-01 00:00"
    parsed = "TIME_PARSE('05/03/2024 10:00', 'dd/MM/yyyy HH:mm')"
    assert ev(plane, parsed) == "2024-03-05T10:00:00.000Z"
    assert ev(plane, "TIME_PARSE('not a time')") is None
    assert ev(plane, "TIME_IN_INTERVAL(TIME_PARSE(\"ts\"), '2024-03-05/2024-03-06')") is True
    assert ev(plane, "TIME_IN_INTERVAL(TIME_PARSE(\"ts\"), '2024-03-06/P1D')") is False
    assert ev(plane, "TIME_EXTRACT(TIME_PARSE(\"ts\"), 'HOUR')") == 10
    assert ev(plane, "TIMESTAMP '2024-01-01 00:00:00' < TIME_PARSE(\"ts\")") is True
    assert ev(plane, "TIME_PARSE(\"ts\") > '2024-03-05 10:00:00'") is True  # string as a time


def test_expressions_as_batch_mappings(dp: DataPlane) -> None:
    """Ingestion evaluates the same expressions; booleans and times are stored as longs."""
    mappings = [
        TIME,
        {"columnName": "div", "expression": '"a" / "b"'},
        {"columnName": "up", "expression": 'UPPER("s")'},
        {"columnName": "hour", "expression": "TIME_FLOOR(TIME_PARSE(\"ts\"), 'PT1H')"},
        {"columnName": "like", "expression": "\"s\" LIKE 'He%'"},
        {"columnName": "none", "expression": '"x" + 1'},
    ]
    assert run(dp, batch_job(inline([ROW], SCHEMA), "m", mappings), {}).error_code is None
    assert dp.table_rows("m") == [
        {
            "__time": parse_timestamp("2024-03-05T10:42:13.5Z"),
            "div": 3,
            "up": "HELLO",
            "hour": parse_timestamp("2024-03-05T10:00:00Z"),
            "like": 1,
            "none": None,
        }
    ]


def test_time_helpers(dp: DataPlane) -> None:
    assert parse_timestamp("2024-01-01T01:00:00+01:00") == parse_timestamp("2024-01-01")
    assert parse_timestamp("2024-01-01 10:00-0530") == parse_timestamp("2024-01-01T15:30Z")
    assert parse_timestamp("2024-01-01T00:00-00:30") == parse_timestamp("2024-01-01T00:30")
    assert parse_interval("2024-01-01/PT1H") == (
        parse_timestamp("2024-01-01"),
        parse_timestamp("2024-01-01T01:00"),
    )
    assert parse_interval("-1000-01-01T00:00:00.000Z/5000-01-01T00:00:00.000Z")[0] < 0
    floored = dp.query("SELECT TIME_FLOOR(TIMESTAMP '2024-05-17', 'P3M')").rows[0][0]
    assert parse_timestamp(floored) == parse_timestamp("2024-04-01")
    with pytest.raises(ValueError):
        parse_period("1H")


BAD = ["1 +", "'open", '"a" = = 1', "CASE WHEN 1 THEN 2", "FOO(1)", "UPPER(1, 2)", "1 2"]


@pytest.mark.parametrize("text", BAD)
def test_syntax_and_validation_errors(plane: DataPlane, text: str) -> None:
    job = batch_job(inline([ROW], SCHEMA), "e", [TIME, {"columnName": "e", "expression": text}])
    assert plane.validate_job(job) is not None
    result = run(plane, job, {})
    assert result.error_code == "query_not_supported"


@pytest.mark.parametrize("text", BAD)
def test_syntax_errors_in_queries(plane: DataPlane, text: str) -> None:
    with pytest.raises(SqlError):
        ev(plane, text)


def test_aggregates_rejected_outside_groups(plane: DataPlane) -> None:
    with pytest.raises(SqlError, match="not allowed"):
        plane.query('SELECT 1 FROM "r" WHERE SUM("a") > 1', None)


def test_runtime_errors(plane: DataPlane) -> None:
    with pytest.raises(SqlError):
        ev(plane, "TIME_FLOOR(MILLIS_TO_TIMESTAMP(0), 'hourly')")
    # Druid reads a time without an offset in the given zone (the old engine refused zones).
    paris = "TIME_PARSE('2024-01-01', NULL, 'Europe/Paris')"
    assert ev(plane, paris) == "2023-12-31T23:00:00.000Z"


def test_aggregate_group_evaluation(dp: DataPlane) -> None:
    rows = [
        {"n": 1, "c": "a", "t": 1},
        {"n": 5, "c": "b", "t": 3},
        {"n": None, "c": None, "t": 2},
    ]
    schema = ndjson_schema(("n", "long"), ("c", "string"), ("t", "long"))
    mappings = [
        {"columnName": "__time", "expression": 'MILLIS_TO_TIMESTAMP("t")'},
        {"columnName": "n", "expression": '"n"'},
        {"columnName": "c", "expression": '"c"'},
    ]
    assert run(dp, batch_job(inline(rows, schema), "g", mappings), {}).error_code is None

    def agg(text: str, where: str = "TRUE") -> Any:
        return dp.query(f'SELECT {text} FROM "g" WHERE {where}', None).rows[0][0]

    assert agg("COUNT(*)") == 3
    assert agg('COUNT("n")') == 2
    assert agg('SUM("n") * 2') == 12
    assert agg('MIN("n")') == 1
    assert agg('AVG("n")') == 3.0
    assert agg('COUNT(DISTINCT "c")') == 2
    assert agg('LATEST("c")') == "b"
    assert agg('EARLIEST("c")') == "a"
    assert agg('SUM("n")', "FALSE") is None
