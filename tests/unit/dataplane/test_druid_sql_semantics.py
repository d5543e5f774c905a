"""Druid's answers where DuckDB's differ, found by an audit of the emulator against Druid's source
(CastOperatorConversion, the first/last aggregators, JsonValueExprMacro, CsvWriter). Each
expected value is written out here from Druid's rules, not computed by the engine."""

from __future__ import annotations

import struct
from datetime import datetime, timezone

import pytest

from airflow_provider_polaris.testing._sql import java_double, render_result
from airflow_provider_polaris.testing.dataplane import DataPlane
from airflow_provider_polaris.testing.dataplane.errors import SqlError

from .conftest import load_rows

ROWS = [
    {"t": "2024-01-01T00:00:00Z", "k": "p", "v": 1, "d": 1.5, "s": "1.5", "j": {"a": {"b": 2.5}}},
    {"t": "2024-01-01T01:00:00Z", "k": "p", "v": None, "d": -2.7, "s": "-2.7", "j": {"a": 7}},
    {"t": "2024-01-01T02:00:00Z", "k": None, "v": 6, "d": 2.7, "s": "x", "j": {"a": "2.7"}},
    {"t": "2024-01-01T03:00:00Z", "k": "q", "v": 4, "d": None, "s": None, "j": {"a": [1, 2]}},
]
TYPES = {"k": "string", "v": "long", "d": "double", "s": "string", "j": "json"}


@pytest.fixture
def db(dp: DataPlane) -> DataPlane:
    load_rows(dp, "t", ROWS, TYPES)
    return dp


def q(db: DataPlane, sql: str) -> list[list]:
    return db.query(sql, None).rows


def _ms(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    return int(moment.timestamp() * 1000)


def test_a_time_cast_to_a_number_is_its_epoch_milliseconds(db: DataPlane) -> None:
    rows = q(db, "SELECT CAST(__time AS BIGINT), CAST(__time AS DOUBLE) FROM t ORDER BY __time")
    assert rows == [[_ms(r["t"]), float(_ms(r["t"]))] for r in ROWS]


def test_a_cast_to_a_long_truncates_toward_zero(db: DataPlane) -> None:
    rows = q(db, "SELECT CAST(d AS BIGINT), CAST(s AS BIGINT), CAST(d AS INTEGER) FROM t")
    whole = [None if r["d"] is None else int(r["d"]) for r in ROWS]  # Python's int() truncates
    text = [1, -2, None, None]  # "1.5", "-2.7", "x" (not a number), NULL
    assert rows == [[w, t, w] for w, t in zip(whole, text, strict=True)]
    assert q(db, "SELECT CAST(2.7 AS BIGINT), CAST(-2.7 AS BIGINT), CAST('7' AS BIGINT)") == [
        [2, -2, 7]
    ]


def test_json_value_returning_a_long_truncates_and_an_object_is_null(db: DataPlane) -> None:
    rows = q(
        db,
        "SELECT JSON_VALUE(j, '$.a.b' RETURNING BIGINT), JSON_VALUE(j, '$.a' RETURNING BIGINT), "
        "JSON_VALUE(j, '$.a') FROM t ORDER BY __time",
    )
    assert rows == [[2, None, None], [None, 7, "7"], [None, 2, "2.7"], [None, None, "[1,2]"]]


def test_latest_and_earliest_keep_a_null_of_that_row(db: DataPlane) -> None:
    by_time = sorted(ROWS, key=lambda r: r["t"])
    assert q(db, "SELECT LATEST(k), EARLIEST(v), LATEST(v) FROM t") == [
        [by_time[-1]["k"], by_time[0]["v"], by_time[-1]["v"]]
    ]
    latest_p = [r for r in by_time if r["k"] == "p"][-1]["v"]  # None: the later "p" row
    assert q(db, "SELECT k, LATEST(v), LATEST_BY(v, __time) FROM t WHERE k = 'p' GROUP BY k") == [
        ["p", latest_p, latest_p]
    ]


def test_select_distinct_is_sorted_like_a_group_by(db: DataPlane) -> None:
    keys = sorted({r["k"] for r in ROWS}, key=lambda k: (k is not None, k or ""))  # NULL first
    for _ in range(3):  # an unordered DISTINCT can come back in any order
        assert q(db, "SELECT DISTINCT k FROM t") == [[k] for k in keys]


def test_a_float_prints_with_the_digits_of_a_float(db: DataPlane) -> None:
    (row,) = q(db, "SELECT CAST(0.1 AS FLOAT), CAST(1.0 / 3 AS FLOAT)")
    third = struct.unpack("f", struct.pack("f", 1 / 3))[0]
    assert row == [0.1, float(f"{third:.8g}")] and row[1] != third


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (1e20, "1.0E20"),
        (1.5e-7, "1.5E-7"),
        (0.0009, "9.0E-4"),
        (12345678.0, "1.2345678E7"),
        (-1234567.5, "-1234567.5"),
        (26.0, "26.0"),
        (0.001, "0.001"),
        (float("inf"), "Infinity"),
    ],
)
def test_java_double_prints_as_java_does(value: float, printed: str) -> None:
    assert java_double(value) == printed


def test_csv_prints_values_as_druid_does() -> None:
    body, _ = render_result(
        ["b", "d", "j", "n"],
        ["BOOLEAN", "DOUBLE", "OTHER", "BIGINT"],
        [[True, 1e20, {"a": [1, "x"]}, None], [False, 2.5, [1, 2], 3]],
        fmt="csv",
        header=False,
        types_header=False,
        sql_types_header=False,
    )
    assert body.decode() == 'true,1.0E20,"{""a"":[1,""x""]}",\nfalse,2.5,"[1,2]",3\n\n'


LA = "America/Los_Angeles"  # DST began 2024-03-10 02:00 local: 01:59:59 -08:00 → 03:00 -07:00


@pytest.mark.parametrize(
    ("expression", "printed"),
    [
        # A day-time interval is milliseconds: 24 h after 12:00 -08:00 is 13:00 -07:00.
        ("TIMESTAMP '2024-03-09 12:00:00' + INTERVAL '1' DAY", "2024-03-10T13:00:00.000-07:00"),
        ("TIMESTAMP '2024-03-10 13:00:00' - INTERVAL '1' DAY", "2024-03-09T12:00:00.000-08:00"),
        ("TIMESTAMP '2024-03-10 01:30:00' + INTERVAL '1' HOUR", "2024-03-10T03:30:00.000-07:00"),
        ("TIMESTAMPADD(HOUR, 1, TIMESTAMP '2024-03-10 01:30:00')", "2024-03-10T03:30:00.000-07:00"),
        # Months stay on the zone's calendar: the same wall-clock time a month later.
        ("TIMESTAMP '2024-02-10 12:00:00' + INTERVAL '1' MONTH", "2024-03-10T12:00:00.000-07:00"),
        (
            "TIMESTAMPADD(MONTH, 1, TIMESTAMP '2024-02-10 12:00:00')",
            "2024-03-10T12:00:00.000-07:00",
        ),
    ],
)
def test_day_time_arithmetic_in_a_zone_counts_milliseconds(
    dp: DataPlane, expression: str, printed: str
) -> None:
    assert dp.query(f"SELECT {expression}", None, LA).rows == [[printed]]


def test_timestampdiff_below_a_month_counts_elapsed_time_in_a_zone(dp: DataPlane) -> None:
    day, four, next_day = "'2024-03-10'", "'2024-03-10 04:00:00'", "'2024-03-11'"
    month_before = "'2024-02-10'"
    sql = (
        f"SELECT TIMESTAMPDIFF(HOUR, TIMESTAMP {day}, TIMESTAMP {four}),"
        f" TIMESTAMPDIFF(DAY, TIMESTAMP {day}, TIMESTAMP {next_day}),"
        f" TIMESTAMPDIFF(MONTH, TIMESTAMP {month_before}, TIMESTAMP {day})"
    )
    # 00:00 -08:00 to 04:00 -07:00 is 3 hours; that local day is 23 hours long, so 0 days.
    assert dp.query(sql, None, LA).rows == [[3, 0, 1]]
    assert dp.query(sql, None, None).rows == [[4, 1, 1]]  # in UTC, no DST


def test_parameters_convert_as_druid_does(db: DataPlane) -> None:
    params = [
        {"type": "BIGINT", "value": 2.7},  # Number.longValue(): 2
        {"type": "BIGINT", "value": "-2.7"},
        {"type": "BIGINT", "value": 2**53 + 1},
        {"type": "TIMESTAMP", "value": "2024-01-01T05:00:00+02:00"},  # the instant: 03:00Z
    ]
    assert db.query("SELECT ?, ?, ?, ?", params).rows == [
        [2, -2, 2**53 + 1, "2024-01-01T03:00:00.000Z"]
    ]


def test_timestamp_to_millis_takes_only_a_time(db: DataPlane) -> None:
    assert q(db, "SELECT TIMESTAMP_TO_MILLIS(__time) FROM t ORDER BY __time LIMIT 1") == [
        [_ms(ROWS[0]["t"])]
    ]
    with pytest.raises(SqlError):  # Druid: cannot apply TIMESTAMP_TO_MILLIS to BIGINT
        q(db, "SELECT TIMESTAMP_TO_MILLIS(v) FROM t")


def test_a_date_parameter_is_a_date_and_a_parameter_needs_a_type(db: DataPlane) -> None:
    result = db.query("SELECT ?", [{"type": "DATE", "value": "2024-01-02"}])
    assert (result.sql_types, result.rows) == (["DATE"], [["2024-01-02T00:00:00.000Z"]])
    with pytest.raises(SqlError, match="no 'type'"):
        db.query("SELECT ?", [{"value": 2}])
