"""The emulator's data plane on DuckDB: batch ingestion, a GROUP BY, memory per stored row.

Runs in process on :class:`DataPlane` (the code behind ``POST /jobs`` and ``POST /query/sql``,
without HTTP), with ``--rows`` NDJSON rows (default 1,000,000; 50 cities):

- ingest: a batch job over the uploaded file (parse, inputSchema types, mappings, commit,
  load into DuckDB) against a plain ``json.loads`` loop over the same lines, same run;
  target (issue 12) at most 2x;
- GROUP BY: ``SELECT city, COUNT(*), SUM(n) ... GROUP BY city``, first query after the write
  and warm, against the old hand-written engine's 4.1 s at 1M rows (docs/emulator-data.md);
  target at least 50x faster;
- memory: DuckDB's own memory for the stored table, per million rows.

    python benchmarks/emulator_data_bench.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import gc
import json
import time

from airflow_provider_polaris.testing.dataplane import DataPlane

OLD_GROUP_BY_SECONDS_AT_1M = 4.1  # the hand-written engine, docs/emulator-data.md
SCHEMA = [
    {"name": "ts", "dataType": "long"},
    {"name": "city", "dataType": "string"},
    {"name": "n", "dataType": "long"},
]
MAPPINGS = [
    {"columnName": "__time", "expression": 'MILLIS_TO_TIMESTAMP("ts")'},
    {"columnName": "city", "expression": '"city"'},
    {"columnName": "n", "expression": '"n"'},
]
GROUP_BY = 'SELECT "city", COUNT(*) AS "rows", SUM("n") AS "total" FROM "t" GROUP BY "city"'


def _data(rows: int) -> bytes:
    cities = [f"city{i}" for i in range(50)]
    lines = (
        json.dumps({"ts": 1_704_067_200_000 + i * 1000, "city": cities[i % 50], "n": i % 97})
        for i in range(rows)
    )
    return ("\n".join(lines) + "\n").encode()


def _timed(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> int:
    """Print the three rows; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    data = _data(args.rows)
    gc.collect()
    baseline = _timed(lambda: [json.loads(line) for line in data.splitlines()])
    plane = DataPlane(clock=lambda: 1_800_000_000.0)
    job = {
        "type": "batch",
        "source": {
            "type": "uploaded",
            "fileList": ["data.json"],
            "inputSchema": SCHEMA,
            "formatSettings": {"format": "nd-json"},
        },
        "target": {"type": "table", "tableName": "t"},
        "mappings": MAPPINGS,
    }

    def ingest() -> None:
        result = plane.prepare_ingestion(job, read_file={"data.json": data}.get, table=None)
        assert result.error_code is None, result.error_message
        result.commit()
        plane.table_stats("t")  # loads the committed rows into DuckDB

    ingest_s = _timed(ingest)
    first = _timed(lambda: plane.query(GROUP_BY))
    warm = min(_timed(lambda: plane.query(GROUP_BY)) for _ in range(5))
    memory = plane._store.con.execute(
        "SELECT sum(memory_usage_bytes) FROM duckdb_memory()"
    ).fetchone()
    per_million = (memory[0] if memory else 0) * 1_000_000 / max(args.rows, 1) / 2**20
    old = OLD_GROUP_BY_SECONDS_AT_1M * args.rows / 1_000_000
    ratio = ingest_s / baseline
    speedup = old / warm
    print(f"rows: {args.rows:,}")
    print(
        f"ingest NDJSON (batch job, in process): {ingest_s:.2f} s; json.loads loop {baseline:.2f} s"
        f" -> {ratio:.1f}x  (target <= 2x: {'ok' if ratio <= 2 else 'MISS'})"
    )
    print(
        f"GROUP BY: first after write {first * 1000:.0f} ms, warm {warm * 1000:.1f} ms; old engine "
        f"{old:.1f} s -> {speedup:.0f}x  (target >= 50x: {'ok' if speedup >= 50 else 'MISS'})"
    )
    print(f"DuckDB memory per million stored rows: {per_million:.1f} MiB")
    return 0 if ratio <= 2 and speedup >= 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
