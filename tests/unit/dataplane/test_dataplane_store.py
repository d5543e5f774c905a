"""The DuckDB-backed row store: types, widening, time order, replace and delete."""

from __future__ import annotations

import math
from typing import Any

from airflow_provider_polaris.testing.dataplane import DataPlane
from airflow_provider_polaris.testing.dataplane.store import TableStore, quote


def insert_rows(store: TableStore, name: str, rows: list[dict[str, Any]], **keep: Any) -> None:
    """Write Python rows (``__time`` in epoch ms) through ``insert_select``, one row a time."""
    for row in rows:
        items = [f"epoch_ms(?) AS {quote(c)}" if c == "__time" else f"? AS {quote(c)}" for c in row]
        store.insert_select(name, "SELECT " + ", ".join(items), list(row.values()), **keep)


def _described(store: TableStore, name: str) -> dict[str, str]:
    rows = store.con.execute(f'DESCRIBE "{name}"').fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def test_rows_live_in_duckdb_with_a_timestamp_time_column() -> None:
    store = TableStore()
    insert_rows(store, "t", [{"__time": 1_704_067_200_000, "city": "Paris", "n": 1, "x": 0.5}])
    assert _described(store, "t") == {
        "__time": "TIMESTAMP",
        "city": "VARCHAR",
        "n": "BIGINT",
        "x": "DOUBLE",
    }
    found = store.con.execute("SELECT strftime(\"__time\", '%Y-%m-%d %H') FROM t").fetchall()
    assert found == [("2024-01-01 00",)]


def test_writes_keep_time_order() -> None:
    store = TableStore()
    insert_rows(store, "t", [{"__time": 30, "i": 1}, {"__time": 10, "i": 2}])
    assert store.count("t") == 2
    insert_rows(store, "t", [{"__time": 20, "i": 3}, {"__time": 10, "i": 4}])
    assert [(r["__time"], r["i"]) for r in store.rows("t")] == [(10, 2), (10, 4), (20, 3), (30, 1)]
    insert_rows(store, "t", [{"__time": 5, "i": 5}])  # earlier than the table's last time
    assert [r["i"] for r in store.rows("t")] == [5, 2, 4, 3, 1]


def test_columns_widen_like_druid_string_columns() -> None:
    store = TableStore()
    insert_rows(store, "t", [{"__time": 1, "a": 1, "b": True, "j": {"k": [1]}, "f": math.nan}])
    insert_rows(store, "t", [{"__time": 2, "a": 2.5, "j": {"k": None}}])
    rows = store.rows("t")
    assert [r["a"] for r in rows] == [1.0, 2.5]
    assert [r["b"] for r in rows] == [1, None]  # booleans are stored as longs
    assert [r["j"] for r in rows] == [{"k": [1]}, {"k": None}]
    assert rows[0]["f"] is None  # NaN is stored as NULL
    insert_rows(store, "t", [{"__time": 3, "a": "x"}])
    assert [r["a"] for r in store.rows("t")] == ["1.0", "2.5", "x"]
    assert store.kind("t", "a") == "VARCHAR" and store.kind("t", "j") == "JSON"


def test_replace_inside_intervals_and_delete() -> None:
    store = TableStore()
    insert_rows(store, "t", [{"__time": t, "v": t} for t in (0, 10, 20, 30)])
    insert_rows(store, "t", [{"__time": 15, "v": -1}], keep="outside", intervals=[(10, 25)])
    assert [r["v"] for r in store.rows("t")] == [0, -1, 30]
    assert store.delete("t", [(0, 1), (30, 31)]) == 2
    assert [r["v"] for r in store.rows("t")] == [-1]
    insert_rows(store, "t", [{"__time": 99, "v": 7}], keep="none")
    assert [(r["__time"], r["v"]) for r in store.rows("t")] == [(99, 7)]
    store.drop("t")
    assert not store.exists("t") and store.rows("t") == ()


def test_queries_read_the_stored_table_without_a_copy() -> None:
    dp = DataPlane(clock=lambda: 1_800_000_000.0)
    dp.ensure_table("t", ["n"])
    store = dp._store  # the plane's own store: the query must see its DuckDB table
    insert_rows(store, "t", [{"__time": 0, "n": 2}, {"__time": 1, "n": 3}])
    assert dp.query('SELECT SUM("n") AS s FROM "t"').rows == [[5]]
    # A change made in DuckDB itself shows in the next query: nothing was copied.
    store.con.execute('UPDATE "t" SET "n" = 40 WHERE "n" = 3')
    assert dp.query('SELECT SUM("n") AS s FROM "t"').rows == [[42]]


def test_insert_select_stores_sql_rows_like_python_rows() -> None:
    store = TableStore()
    insert_rows(store, "t", [{"__time": 2000, "a": "x", "n": 1}])
    inserted = store.insert_select(
        "t",
        "SELECT epoch_ms(1000) AS __time, 'y' AS a, 2.5 AS n, true AS b, [1, 2] AS l, "
        "TIMESTAMP '2024-01-01' AS ts, NULL AS z",
    )
    assert inserted == 1
    assert store.rows("t")[0] == {
        "__time": 1000,
        "a": "y",
        "n": 2.5,
        "b": 1,
        "l": [1, 2],
        "ts": 1_704_067_200_000,
        "z": None,
    }
    assert [r["__time"] for r in store.rows("t")] == [1000, 2000]  # kept in time order
    store.insert_select(
        "t", "SELECT epoch_ms(5000) AS __time, 7 AS n", keep="outside", intervals=[(0, 1500)]
    )
    assert [(r["__time"], r["n"]) for r in store.rows("t")] == [(2000, 1.0), (5000, 7.0)]
    assert store.count("t") == 2


def test_a_sketch_column_keeps_its_struct_and_widens_to_text_members() -> None:
    """Stored sketches stay sketches (queries merge them); a later sketch of other-typed values
    widens the members to text instead of turning the column into a plain string."""
    store = TableStore()
    day = "TIMESTAMP '2024-01-01'"
    store.insert_select("t", f"SELECT {day} AS __time, ds_hll(['a', 'b']) AS users")
    assert store.kind("t", "users") == "STRUCT(druid_hll_sketch VARCHAR[])"
    store.insert_select("t", f"SELECT {day} AS __time, ds_hll([2, 1]) AS users")
    assert store.kind("t", "users") == "STRUCT(druid_hll_sketch VARCHAR[])"
    assert store.sketch_columns(["t", "missing"]) == {"users": "druid_hll_sketch"}
    assert [row["users"] for row in store.rows("t")] == [
        {"druid_hll_sketch": ["a", "b"]},
        {"druid_hll_sketch": ["1", "2"]},
    ]
