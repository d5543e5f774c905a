"""Druid's DataSketches functions, computed exactly: every expected answer is plain Python here.

The quantile definition is DataSketches' INCLUSIVE ``getQuantile(rank)`` (Druid's default): the
smallest value whose normalized rank (the fraction of values ``<=`` it) is ``>= rank``.
"""

from __future__ import annotations

import base64
import json

import pytest

from airflow_provider_polaris.testing.dataplane import DataPlane, SqlError

from .conftest import batch_job, load_rows, run

# Two groups with duplicates and NULLs, so distinct counts and ranks differ from row counts.
ROWS = [
    {"t": "2024-06-01T00:00:00Z", "g": "a", "user": "u1", "v": 5},
    {"t": "2024-06-01T00:01:00Z", "g": "a", "user": "u2", "v": 1},
    {"t": "2024-06-01T00:02:00Z", "g": "a", "user": "u1", "v": 3},
    {"t": "2024-06-01T00:03:00Z", "g": "a", "user": None, "v": 3},
    {"t": "2024-06-01T00:04:00Z", "g": "b", "user": "u3", "v": 10},
    {"t": "2024-06-01T00:05:00Z", "g": "b", "user": "u3", "v": None},
    {"t": "2024-06-01T00:06:00Z", "g": "b", "user": "u4", "v": 7},
    {"t": "2024-06-01T00:07:00Z", "g": "a", "user": "u5", "v": 8},
    {"t": "2024-06-01T00:08:00Z", "g": "a", "user": "u2", "v": 2},
    {"t": "2024-06-01T00:09:00Z", "g": "a", "user": "u6", "v": 9},
]


def _quantile(values: list[float], rank: float) -> float | None:
    """DataSketches INCLUSIVE getQuantile over all values (what an exact sketch answers)."""
    ordered = sorted(values)
    for index, value in enumerate(ordered, start=1):
        if index / len(ordered) >= rank:
            return float(value)
    return None


def _distinct(key: str, rows: list[dict]) -> int:
    return len({r[key] for r in rows if r[key] is not None})


def _values(rows: list[dict]) -> list[float]:
    return [float(r["v"]) for r in rows if r["v"] is not None]


@pytest.fixture
def db(dp: DataPlane) -> DataPlane:
    load_rows(dp, "s", ROWS, {"g": "string", "user": "string", "v": "long"})
    return dp


def test_distinct_count_sketches_are_exact(db: DataPlane) -> None:
    result = db.query(
        'SELECT HLL_SKETCH_ESTIMATE(DS_HLL("user")), '
        'HLL_SKETCH_ESTIMATE(DS_HLL("user", 12), TRUE), '
        'THETA_SKETCH_ESTIMATE(DS_THETA("user")), APPROX_COUNT_DISTINCT_DS_HLL("user"), '
        'APPROX_COUNT_DISTINCT_DS_THETA("user") FROM s',
        None,
    )
    users = _distinct("user", ROWS)
    assert result.rows == [[float(users), float(users), float(users), users, users]]
    assert result.sql_types == ["DOUBLE", "DOUBLE", "DOUBLE", "BIGINT", "BIGINT"]


def test_sketches_per_group_and_from_a_subquery(db: DataPlane) -> None:
    rows = db.query(
        'SELECT g, THETA_SKETCH_ESTIMATE(sk) FROM (SELECT g, DS_THETA("user") AS sk FROM s '
        "GROUP BY g) ORDER BY g",
        None,
    ).rows
    groups = sorted({r["g"] for r in ROWS})
    assert rows == [[g, float(_distinct("user", [r for r in ROWS if r["g"] == g]))] for g in groups]


@pytest.mark.parametrize("rank", [0.0, 0.1, 0.25, 0.3, 0.5, 0.75, 0.9, 1.0])
def test_quantiles_follow_the_inclusive_rank_rule(db: DataPlane, rank: float) -> None:
    values = _values(ROWS)
    result = db.query(
        f"SELECT APPROX_QUANTILE_DS(v, {rank}), DS_GET_QUANTILE(DS_QUANTILES_SKETCH(v), {rank}), "
        f"APPROX_QUANTILE_DS(v, {rank}, 256) FROM s",
        None,
    )
    expected = _quantile(values, rank)
    assert result.rows == [[expected, expected, expected]]
    assert result.sql_types == ["DOUBLE", "DOUBLE", "DOUBLE"]


def test_get_quantiles_is_an_array_typed_other(db: DataPlane) -> None:
    result = db.query(
        "SELECT DS_GET_QUANTILES(DS_QUANTILES_SKETCH(v, 64), 0.2, 0.5, 1) FROM s", None
    )
    values = _values(ROWS)
    assert result.rows == [[[_quantile(values, r) for r in (0.2, 0.5, 1.0)]]]
    assert result.sql_types == ["OTHER"]


def test_grouped_quantiles(db: DataPlane) -> None:
    rows = db.query("SELECT g, APPROX_QUANTILE_DS(v, 0.5) FROM s GROUP BY g", None).rows
    groups = sorted({r["g"] for r in ROWS})
    assert rows == [[g, _quantile(_values([r for r in ROWS if r["g"] == g]), 0.5)] for g in groups]


def test_a_sketch_column_prints_as_base64_with_its_complex_type(db: DataPlane) -> None:
    result = db.query(
        'SELECT DS_HLL("user") AS h, DS_THETA(g) AS t, DS_QUANTILES_SKETCH(v) AS q FROM s', None
    )
    assert result.sql_types == [
        "COMPLEX<HLLSketch>",
        "COMPLEX<thetaSketch>",
        "COMPLEX<quantilesDoublesSketch>",
    ]
    decoded = [json.loads(base64.b64decode(value)) for value in result.rows[0]]
    assert decoded == [
        sorted({r["user"] for r in ROWS if r["user"] is not None}),
        sorted({r["g"] for r in ROWS}),
        sorted(_values(ROWS)),
    ]


def test_empty_input_estimates_zero_and_quantile_null(db: DataPlane) -> None:
    rows = db.query(
        'SELECT HLL_SKETCH_ESTIMATE(DS_HLL("user")), APPROX_QUANTILE_DS(v, 0.5) FROM s '
        "WHERE g = 'none'",
        None,
    ).rows
    assert rows == [[0.0, None]]


@pytest.mark.parametrize(
    ("sql", "named", "category"),
    [
        (
            'SELECT HLL_SKETCH_ESTIMATE(DS_HLL(sk)) FROM (SELECT DS_HLL("user") AS sk FROM s)',
            "merging",
            "UNSUPPORTED",
        ),
        (
            "SELECT APPROX_COUNT_DISTINCT_DS_HLL(sk) FROM "
            '(SELECT g, DS_HLL("user") AS sk FROM s GROUP BY g)',
            "merging",
            "UNSUPPORTED",
        ),
        ('SELECT HLL_SKETCH_ESTIMATE("user") FROM s', "must be a sketch", "INVALID_INPUT"),
        ("SELECT HLL_SKETCH_UNION(DS_HLL(g), DS_HLL(g)) FROM s", "HLL_SKETCH_UNION", "UNSUPPORTED"),
        ("SELECT DS_GET_QUANTILE(DS_QUANTILES_SKETCH(v), v) FROM s", "literal", "INVALID_INPUT"),
        ("SELECT DS_GET_QUANTILE(DS_QUANTILES_SKETCH(v), 1.5) FROM s", "between 0 and 1", None),
    ],
)
def test_what_is_refused_is_named(
    db: DataPlane, sql: str, named: str, category: str | None
) -> None:
    with pytest.raises(SqlError, match=named) as caught:
        db.query(sql, None)
    if category is not None:
        assert caught.value.category == category


def test_ranks_that_land_on_a_value_are_not_rounded_up(db: DataPlane) -> None:
    """0.3 x 10 is 3.0000000000000004 in doubles: the rank rule still picks the 3rd value."""
    values = [*_values(ROWS), 4.0]  # ten values
    rows = db.query(
        "SELECT APPROX_QUANTILE_DS(v, 0.3), APPROX_QUANTILE_DS(v, 0.7) "
        "FROM (SELECT v FROM s UNION ALL SELECT 4)",
        None,
    ).rows
    assert len(values) == 10 and rows == [[sorted(values)[2], sorted(values)[6]]]
    assert rows == [[_quantile(values, 0.3), _quantile(values, 0.7)]]


def _rollup_job(source: dict, target: str, period: str) -> dict:
    """A batch job rolling ``source`` up by ``period`` into sketches of user and v."""
    return batch_job(
        source,
        target,
        [
            {"columnName": "__time", "expression": f"TIME_FLOOR(\"__time\", '{period}')"},
            {"columnName": "g", "expression": '"g"'},
            {"columnName": "users", "expression": 'DS_HLL("user")'},
            {"columnName": "thetas", "expression": 'DS_THETA("user")'},
            {"columnName": "vs", "expression": 'DS_QUANTILES_SKETCH("v")'},
        ],
    )


def _sketch_table(name: str) -> dict:
    types = {"g": "string", "users": "HLLSketch", "thetas": "thetaSketch"}
    types["vs"] = "quantilesDoublesSketch"
    schema = [{"name": "__time", "dataType": "timestamp"}]
    schema += [{"name": column, "dataType": kind} for column, kind in types.items()]
    return {"name": name, "type": "aggregate", "partitioningGranularity": "day", "schema": schema}


@pytest.fixture
def rolled(db: DataPlane) -> DataPlane:
    """``s`` rolled up per minute into stored sketches (one sketch per row and group)."""
    job = _rollup_job({"type": "table", "tableName": "s"}, "r", "PT1M")
    assert run(db, job, {}, table=_sketch_table("r")).error_code is None
    return db


def test_stored_sketches_merge_like_druid(rolled: DataPlane) -> None:
    """A rollup check over stored sketch columns: Druid merges the rows' sketches."""
    rows = rolled.query(
        "SELECT g, APPROX_COUNT_DISTINCT_DS_HLL(users), HLL_SKETCH_ESTIMATE(DS_HLL(users)), "
        "APPROX_COUNT_DISTINCT_DS_THETA(thetas), COUNT(DISTINCT users), "
        "APPROX_COUNT_DISTINCT(thetas), APPROX_QUANTILE_DS(vs, 0.5), "
        "DS_GET_QUANTILE(DS_QUANTILES_SKETCH(vs), 0.9) FROM r GROUP BY g ORDER BY g",
        None,
    ).rows
    expected = []
    for g in ("a", "b"):
        group = [r for r in ROWS if r["g"] == g]
        n = _distinct("user", group)
        values = _values(group)
        expected.append([g, n, float(n), n, n, n, _quantile(values, 0.5), _quantile(values, 0.9)])
    assert rows == expected


def test_a_stored_sketch_is_re_rolled_up_by_a_table_to_table_job(rolled: DataPlane) -> None:
    job = _rollup_job({"type": "table", "tableName": "r"}, "daily", "P1D")
    job["mappings"] = [
        {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'P1D')"},
        {"columnName": "users", "expression": 'DS_HLL("users")'},
    ]
    assert run(rolled, job, {}, table=_sketch_table("daily")).error_code is None
    rows = rolled.query("SELECT HLL_SKETCH_ESTIMATE(users) FROM daily", None).rows
    assert rows == [[float(_distinct("user", ROWS))]]  # one day: one row


def test_a_sketch_from_a_subquery_is_still_refused_not_miscounted(rolled: DataPlane) -> None:
    with pytest.raises(SqlError, match="merging"):
        rolled.query("SELECT APPROX_COUNT_DISTINCT_DS_HLL(u) FROM (SELECT users AS u FROM r)", None)
