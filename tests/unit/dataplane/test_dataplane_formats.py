"""Input formats: nd-json, csv (header / columns / skipHeaderRows), tsv, gzip, inline."""

from __future__ import annotations

import gzip

from airflow_provider_polaris.testing.dataplane import DataPlane

from .conftest import batch_job, ndjson_schema, run

SCHEMA = ndjson_schema(("ts", "string"), ("city", "string"), ("n", "long"))
MAPPINGS = [
    {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
    {"columnName": "city", "expression": '"city"'},
    {"columnName": "n", "expression": '"n"'},
]
EXPECTED = [
    {"__time": 1704067200000, "city": "Paris", "n": 1},
    {"__time": 1704070800000, "city": "Oslo", "n": 2},
]


def uploaded(name: str, fmt: dict[str, object]) -> dict[str, object]:
    return {"type": "uploaded", "fileList": [name], "inputSchema": SCHEMA, "formatSettings": fmt}


NDJSON = (
    b'{"ts":"2024-01-01T00:00:00Z","city":"Paris","n":1,"extra":true}\n'
    b'\n{"ts":"2024-01-01T01:00:00Z","city":"Oslo","n":"2"}\n'
)


def test_ndjson_types_fields_and_ignores_extras(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["a.json"] = NDJSON
    result = run(dp, batch_job(uploaded("a.json", {"format": "nd-json"}), "t", MAPPINGS), files)
    assert result.error_code is None
    assert dp.table_rows("t") == EXPECTED
    assert (result.rows_processed, result.rows_persisted) == (2, 2)
    assert result.bytes_processed == len(NDJSON)


def test_gzip_by_name_and_by_magic_bytes(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["a.json.gz"] = gzip.compress(NDJSON)
    files["noext"] = gzip.compress(NDJSON)
    run(dp, batch_job(uploaded("a.json.gz", {"format": "nd-json"}), "t", MAPPINGS), files)
    run(dp, batch_job(uploaded("noext", {"format": "nd-json"}), "u", MAPPINGS), files)
    assert dp.table_rows("t") == EXPECTED
    assert dp.table_rows("u") == EXPECTED


def test_csv_with_header_row(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["a.csv"] = b'ts,city,n\n2024-01-01T00:00:00Z,"Paris",1\n2024-01-01T01:00:00Z,Oslo,2\n'
    run(dp, batch_job(uploaded("a.csv", {"format": "csv"}), "t", MAPPINGS), files)
    assert dp.table_rows("t") == EXPECTED


def test_csv_with_columns_and_skipped_header(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["a.csv"] = b"junk header\n2024-01-01T00:00:00Z,Paris,1\n2024-01-01T01:00:00Z,Oslo,2\n"
    fmt = {"format": "csv", "columns": ["ts", "city", "n"], "skipHeaderRows": 1}
    run(dp, batch_job(uploaded("a.csv", fmt), "t", MAPPINGS), files)
    assert dp.table_rows("t") == EXPECTED


def test_tsv(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["a.tsv"] = b"ts\tcity\tn\n2024-01-01T00:00:00Z\tParis\t1\n2024-01-01T01:00:00Z\tOslo\t2\n"
    run(dp, batch_job(uploaded("a.tsv", {"format": "tsv"}), "t", MAPPINGS), files)
    assert dp.table_rows("t") == EXPECTED


def test_inline_source(dp: DataPlane) -> None:
    source = {
        "type": "inline",
        "data": NDJSON.decode(),
        "inputSchema": SCHEMA,
        "formatSettings": {"format": "nd-json"},
    }
    run(dp, batch_job(source, "t", MAPPINGS), {})
    assert dp.table_rows("t") == EXPECTED


def test_bad_rows_are_skipped_by_error(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["a.json"] = NDJSON + b'{"ts":"2024-01-01T02:00:00Z","n":"many"}\nnot json\n[1]\n'
    result = run(dp, batch_job(uploaded("a.json", {"format": "nd-json"}), "t", MAPPINGS), files)
    assert result.error_code is None
    assert result.rows_skipped_by_error == 3
    assert dp.table_rows("t") == EXPECTED


def test_unsupported_format_fails(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["a.parquet"] = b"PAR1"
    result = run(dp, batch_job(uploaded("a.parquet", {"format": "parquet"}), "t", MAPPINGS), files)
    assert result.error_code == "cannot_parse_source"
    assert "parquet" in result.error_message


def test_a_long_is_truncated_and_exact(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["a.csv"] = (
        b"ts,city,n\n2024-01-01T00:00:00Z,A,2.7\n2024-01-01T01:00:00Z,B,9007199254740993\n"
    )
    files["a.json"] = (
        b'{"ts":"2024-01-01T00:00:00Z","n":-2.5}\n{"ts":"2024-01-01T01:00:00Z","n":"1e3"}\n'
    )
    run(dp, batch_job(uploaded("a.csv", {"format": "csv"}), "t", MAPPINGS), files)
    run(dp, batch_job(uploaded("a.json", {"format": "nd-json"}), "u", MAPPINGS), files)
    assert [r["n"] for r in dp.table_rows("t")] == [2, 9007199254740993]  # not rounded to 3
    assert [r["n"] for r in dp.table_rows("u")] == [-2, 1000]
