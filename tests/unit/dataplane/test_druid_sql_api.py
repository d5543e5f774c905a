"""The query API over real HTTP on the DuckDB engine: result headers, parameters,
``context.sqlTimeZone`` and sketch types on ``POST /query/sql`` and on the async statements."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from airflow_provider_polaris.testing.server import PolarisEmulator
from tests.unit.emulator._helpers import ROWS, batch_spec, create_job, status, upload

# The rows the shared helper uploads (ts, country, n), as Python values.
LINES = [line for line in ROWS.decode().splitlines() if line]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _joda(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    offset = moment.strftime("%z")
    return text + ("Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}")


@pytest.fixture
def api(polaris_emulator: PolarisEmulator) -> Iterator[httpx.Client]:
    """Table ``t`` loaded from the helper's two rows, on the manual clock."""
    polaris_emulator.configure(manual_clock=True, time_scale=1.0)
    base = f"{polaris_emulator.base_url}/v1/projects/{polaris_emulator.project_id}"
    with httpx.Client(base_url=base, auth=(polaris_emulator.api_key, ""), timeout=10) as client:
        upload(client)
        job = create_job(client, batch_spec())
        polaris_emulator.advance(5)
        assert status(client, job["id"]) == "completed"
        yield client


def _rows() -> list[dict]:
    return [json.loads(line) for line in LINES]


def test_headers_parameters_zone_and_sketch_types(api: httpx.Client) -> None:
    zone = ZoneInfo("America/New_York")
    response = api.post(
        "/query/sql",
        json={
            "query": 'SELECT __time, "country", DS_HLL("country") AS h, '
            'APPROX_QUANTILE_DS("n", 0.5) AS q FROM "t" WHERE "n" >= ? GROUP BY 1, 2',
            "resultFormat": "array",
            "header": True,
            "typesHeader": True,
            "sqlTypesHeader": True,
            "parameters": [{"type": "BIGINT", "value": 2}],
            "context": {"sqlTimeZone": "America/New_York"},
        },
    )
    assert response.status_code == 200, response.text
    names, natives, sql_types, *rows = response.json()
    assert names == ["__time", "country", "h", "q"]
    assert sql_types == ["TIMESTAMP", "VARCHAR", "COMPLEX<HLLSketch>", "DOUBLE"]
    assert natives == ["LONG", "STRING", "COMPLEX<HLLSketch>", "DOUBLE"]
    kept = [r for r in _rows() if r["n"] >= 2]
    assert [[r[0], r[1], r[3]] for r in rows] == [
        [_joda(_utc(r["ts"]).astimezone(zone)), r["country"], float(r["n"])] for r in kept
    ]


def test_statements_use_the_same_engine_zone_and_parameters(
    api: httpx.Client, polaris_emulator: PolarisEmulator
) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    submitted = api.post(
        "/query/sql/statements",
        json={
            "query": "SELECT FLOOR(__time TO DAY) AS d, "
            'HLL_SKETCH_ESTIMATE(DS_HLL("country")) AS e FROM "t" WHERE "n" > ? GROUP BY 1',
            "parameters": [{"type": "BIGINT", "value": 0}],
            "context": {"sqlTimeZone": "Asia/Tokyo"},
        },
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["schema"] == [
        {"name": "d", "type": "TIMESTAMP", "nativeType": "LONG"},
        {"name": "e", "type": "DOUBLE", "nativeType": "DOUBLE"},
    ]
    polaris_emulator.advance(2)
    results = api.get(
        f"/query/sql/statements/{submitted.json()['queryId']}/results",
        params={"resultFormat": "array"},
    )
    days: dict[str, set[str]] = {}
    for r in _rows():
        local = _utc(r["ts"]).astimezone(tokyo)
        midnight = datetime(local.year, local.month, local.day, tzinfo=tokyo)
        days.setdefault(_joda(midnight), set()).add(r["country"])
    assert results.json() == [[day, float(len(c))] for day, c in sorted(days.items())]


def test_an_unknown_zone_fails_in_druids_shape(api: httpx.Client) -> None:
    body = {"query": 'SELECT COUNT(*) FROM "t"', "context": {"sqlTimeZone": "Nowhere/Land"}}
    direct = api.post("/query/sql", json=body)
    assert direct.status_code == 400
    error = direct.json()
    assert error["error"] == "druidException" and error["category"] == "INVALID_INPUT"
    assert error["errorMessage"] == "The datetime zone id 'Nowhere/Land' is not recognised"
    statement = api.post("/query/sql/statements", json=body)
    assert statement.status_code == 400 and statement.json()["state"] == "FAILED"
    assert statement.json()["error"] == error


@pytest.mark.parametrize(
    "query",
    [
        'INSERT INTO "x" SELECT * FROM "t" PARTITIONED BY DAY',
        'REPLACE INTO "t" OVERWRITE ALL SELECT * FROM "t" PARTITIONED BY DAY',
        "SELECT * FROM TABLE(POLARIS_SOURCE('{}'))",
    ],
)
def test_ingestion_sql_is_refused_by_the_query_api(api: httpx.Client, query: str) -> None:
    response = api.post("/query/sql", json={"query": query})
    assert response.status_code == 400
    assert response.json()["category"] == "UNSUPPORTED"
    assert "SQL ingestion jobs" in response.json()["errorMessage"]


def test_utc_by_default(api: httpx.Client) -> None:
    rows = api.post("/query/sql", json={"query": 'SELECT MIN(__time) AS m FROM "t"'}).json()
    first = min(_utc(r["ts"]) for r in _rows())
    assert rows == [{"m": _joda(first.astimezone(timezone.utc))}]
