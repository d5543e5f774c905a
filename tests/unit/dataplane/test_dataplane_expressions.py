"""Expression parser and evaluator: precedence, NULL logic, functions, errors."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_polaris.testing.dataplane.errors import EvalError, SqlError
from airflow_provider_polaris.testing.dataplane.evaluator import Evaluator, validate
from airflow_provider_polaris.testing.dataplane.parser import parse_expression
from airflow_provider_polaris.testing.dataplane.timeutil import (
    Timestamp,
    floor_time,
    format_iso,
    parse_interval,
    parse_period,
    parse_timestamp,
)

ROW = {"a": 7, "b": 2, "s": "Hello", "x": None, "f": 1.5, "ts": "2024-03-05T10:42:13.5Z"}


def ev(text: str, row: dict[str, Any] | None = None) -> Any:
    node = parse_expression(text)
    validate(node, allow_aggregates=False)
    return Evaluator(now_ms=lambda: 0).row(node, ROW if row is None else row)


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
def test_operators_and_precedence(text: str, expected: Any) -> None:
    assert ev(text) == expected


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
        ('COALESCE("x", "s")', "Hello"),
        ('NVL("x", 3)', 3),
        ("NULLIF(1, 1)", None),
        ("CASE WHEN \"x\" IS NULL THEN 'none' ELSE 'some' END", "none"),
        ("CASE \"b\" WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", "two"),
        ("CASE WHEN 1 = 0 THEN 'no' END", None),
    ],
)
def test_null_semantics_and_case(text: str, expected: Any) -> None:
    assert ev(text) == expected


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
        ("CAST('abc' AS BIGINT)", None),
        ("ROUND(2.5)", 3.0),
        ("JSON_VALUE(PARSE_JSON('{\"a\":{\"b\":3}}'), '$.a.b')", 3),
        ("REPLACE('a-b-c', '-', '+')", "a+b+c"),
    ],
)
def test_scalar_functions(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_time_functions() -> None:
    parsed = ev('TIME_PARSE("ts")')
    assert isinstance(parsed, Timestamp)
    assert format_iso(parsed) == "2024-03-05T10:42:13.500Z"
    assert format_iso(ev("TIME_FLOOR(TIME_PARSE(\"ts\"), 'PT1H')")) == "2024-03-05T10:00:00.000Z"
    assert format_iso(ev("TIME_FLOOR(TIME_PARSE(\"ts\"), 'PT5M')")) == "2024-03-05T10:40:00.000Z"
    assert format_iso(ev("TIME_FLOOR(TIME_PARSE(\"ts\"), 'P1D')")) == "2024-03-05T00:00:00.000Z"
    assert format_iso(ev("TIME_FLOOR(TIME_PARSE(\"ts\"), 'P1M')")) == "2024-03-01T00:00:00.000Z"
    assert format_iso(ev("TIME_FLOOR(TIME_PARSE(\"ts\"), 'P1W')")) == "2024-03-04T00:00:00.000Z"
    assert format_iso(ev('FLOOR(TIME_PARSE("ts") TO HOUR)')) == "2024-03-05T10:00:00.000Z"
    assert ev("TIMESTAMP_TO_MILLIS(MILLIS_TO_TIMESTAMP(1000))") == 1000
    assert ev("TIME_FORMAT(MILLIS_TO_TIMESTAMP(0))") == "1970-01-01T00:00:00.000Z"
    assert ev("TIME_FORMAT(MILLIS_TO_TIMESTAMP(0), 'yyyy-MM-dd HH:mm')") == "1970-01-01 00:00"
    assert ev("TIME_PARSE('05/03/2024 10:00', 'dd/MM/yyyy HH:mm')") == parse_timestamp(
        "2024-03-05T10:00:00Z"
    )
    assert ev("TIME_PARSE('not a time')") is None
    assert ev("TIME_IN_INTERVAL(TIME_PARSE(\"ts\"), '2024-03-05/2024-03-06')") is True
    assert ev("TIME_IN_INTERVAL(TIME_PARSE(\"ts\"), '2024-03-06/P1D')") is False
    assert ev("TIME_EXTRACT(TIME_PARSE(\"ts\"), 'HOUR')") == 10
    assert ev("TIMESTAMP '2024-01-01 00:00:00' < TIME_PARSE(\"ts\")") is True
    assert ev("TIME_PARSE(\"ts\") > '2024-03-05 10:00:00'") is True  # string coerced to time


def test_time_helpers() -> None:
    assert parse_timestamp("2024-01-01T01:00:00+01:00") == parse_timestamp("2024-01-01")
    assert parse_interval("2024-01-01/PT1H") == (
        parse_timestamp("2024-01-01"),
        parse_timestamp("2024-01-01T01:00"),
    )
    assert parse_interval("-1000-01-01T00:00:00.000Z/5000-01-01T00:00:00.000Z")[0] < 0
    assert floor_time(parse_timestamp("2024-05-17"), parse_period("P3M")) == parse_timestamp(
        "2024-04-01"
    )
    with pytest.raises(ValueError):
        parse_period("1H")


@pytest.mark.parametrize(
    "text",
    ["1 +", "'open", '"a" = = 1', "CASE WHEN 1 THEN 2", "FOO(1)", "UPPER(1, 2)", "1 2"],
)
def test_syntax_and_validation_errors(text: str) -> None:
    with pytest.raises(SqlError):
        validate(parse_expression(text), allow_aggregates=False)


def test_aggregates_rejected_outside_groups() -> None:
    with pytest.raises(SqlError, match="not allowed"):
        validate(parse_expression('SUM("a")'), allow_aggregates=False)


def test_runtime_errors() -> None:
    with pytest.raises(EvalError):
        ev("TIME_FLOOR(MILLIS_TO_TIMESTAMP(0), 'hourly')")
    with pytest.raises(EvalError):
        ev("TIME_PARSE('2024-01-01', NULL, 'Europe/Paris')")


def test_aggregate_group_evaluation() -> None:
    rows = [{"n": 1, "c": "a", "__time": 1}, {"n": 5, "c": "b", "__time": 3}, {"n": None}]
    evaluator = Evaluator()
    assert evaluator.group(parse_expression("COUNT(*)"), rows) == 3
    assert evaluator.group(parse_expression('COUNT("n")'), rows) == 2
    assert evaluator.group(parse_expression('SUM("n") * 2'), rows) == 12
    assert evaluator.group(parse_expression('MIN("n")'), rows) == 1
    assert evaluator.group(parse_expression('AVG("n")'), rows) == 3.0
    assert evaluator.group(parse_expression('COUNT(DISTINCT "c")'), rows + rows) == 2
    assert evaluator.group(parse_expression('LATEST("c")'), rows) == "b"
    assert evaluator.group(parse_expression('EARLIEST("c")'), rows) == "a"
    assert evaluator.group(parse_expression('SUM("n")'), []) is None
