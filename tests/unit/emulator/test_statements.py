"""Async (deep-storage) query statements: /query/sql/statements over raw HTTP (§9)."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import batch_spec, create_job, status, upload

QUERY = 'SELECT "country", "n" FROM "t" ORDER BY "n"'


@pytest.fixture
def loaded(api: httpx.Client, emu: PolarisEmulator) -> httpx.Client:
    """Table ``t`` with two rows (DE 1, FR 2), on the manual clock."""
    upload(api)
    job = create_job(api, batch_spec())
    emu.advance(5)
    assert status(api, job["id"]) == "completed"
    return api


def _submit(api: httpx.Client, query: str = QUERY, **body: object) -> dict[str, object]:
    response = api.post("/query/sql/statements", json={"query": query, **body})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_statement_runs_on_the_emulator_clock_then_succeeds(
    loaded: httpx.Client, emu: PolarisEmulator
) -> None:
    submitted = _submit(loaded)
    query_id = submitted["queryId"]
    assert isinstance(query_id, str) and submitted["state"] == "RUNNING"
    assert str(submitted["createdAt"]).endswith("Z") and submitted["durationMs"] == 0
    assert submitted["schema"] == [
        {"name": "country", "type": "VARCHAR", "nativeType": "STRING"},
        {"name": "n", "type": "BIGINT", "nativeType": "LONG"},
    ]
    assert "result" not in submitted
    early = loaded.get(f"/query/sql/statements/{query_id}/results")
    assert early.status_code == 400 and early.json()["category"] == "INVALID_INPUT"
    assert "RUNNING" in early.json()["errorMessage"]

    emu.advance(0.6)
    assert loaded.get(f"/query/sql/statements/{query_id}").json()["durationMs"] == 600
    emu.advance(0.4)  # the `statement` duration: 1 s at time scale 1
    done = loaded.get(f"/query/sql/statements/{query_id}").json()
    assert done["state"] == "SUCCESS" and done["durationMs"] == 1000
    assert done["result"] == {
        "numTotalRows": 2,
        "totalSizeInBytes": len('["DE",1]\n["FR",2]\n'),
        "dataSource": "__query_select",
        "sampleRecords": [["DE", 1], ["FR", 2]],
        "pages": [{"id": 0, "numRows": 2, "sizeInBytes": 18}],
    }
    assert "stages" not in done

    rows = loaded.get(f"/query/sql/statements/{query_id}/results")
    assert rows.status_code == 200 and rows.json() == [
        {"country": "DE", "n": 1},
        {"country": "FR", "n": 2},
    ]
    as_csv = loaded.get(
        f"/query/sql/statements/{query_id}/results",
        params={"page": 0, "resultFormat": "csv", "filename": "out.csv"},
    )
    assert as_csv.text == "DE,1\nFR,2\n\n" and as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["content-disposition"] == 'attachment; filename="out.csv"'


def test_detail_and_pages(loaded: httpx.Client, emu: PolarisEmulator) -> None:
    query_id = _submit(loaded, context={"rowsPerPage": 1})["queryId"]
    emu.advance(1)
    detail = loaded.get(f"/query/sql/statements/{query_id}", params={"detail": "true"}).json()
    assert [p["id"] for p in detail["result"]["pages"]] == [0, 1]
    assert [p["numRows"] for p in detail["result"]["pages"]] == [1, 1]
    assert detail["stages"][0]["phase"] == "FINISHED" and detail["warnings"] == []
    assert isinstance(detail["counters"], dict)
    page = loaded.get(
        f"/query/sql/statements/{query_id}/results",
        params={"page": 1, "resultFormat": "array"},
    )
    assert page.json() == [["FR", 2]]
    for bad_page in ("2", "-1", "x"):
        response = loaded.get(
            f"/query/sql/statements/{query_id}/results", params={"page": bad_page}
        )
        assert response.status_code == 400 and "page" in response.json()["errorMessage"]
    bad_format = loaded.get(
        f"/query/sql/statements/{query_id}/results", params={"resultFormat": "xml"}
    )
    assert bad_format.status_code == 400
    bad_context = loaded.post(
        "/query/sql/statements", json={"query": QUERY, "context": {"rowsPerPage": 0}}
    )
    assert bad_context.status_code == 400 and bad_context.json()["state"] == "FAILED"


def test_cancel_running_statement_then_deleting_a_finished_one(
    loaded: httpx.Client, emu: PolarisEmulator
) -> None:
    running = _submit(loaded)["queryId"]
    canceled = loaded.delete(f"/query/sql/statements/{running}")
    assert canceled.status_code == 202 and canceled.content == b""
    emu.advance(5)
    body = loaded.get(f"/query/sql/statements/{running}").json()
    assert body["state"] == "FAILED" and "result" not in body
    assert body["errorDetails"]["category"] == "CANCELED"
    assert loaded.get(f"/query/sql/statements/{running}/results").status_code == 400
    assert loaded.delete(f"/query/sql/statements/{running}").status_code == 200

    finished = _submit(loaded)["queryId"]
    emu.advance(1)
    assert loaded.delete(f"/query/sql/statements/{finished}").status_code == 200
    assert loaded.get(f"/query/sql/statements/{finished}").json()["state"] == "SUCCESS"


def test_unknown_statement_is_404(api: httpx.Client) -> None:
    for response in (
        api.get("/query/sql/statements/nope"),
        api.get("/query/sql/statements/nope/results"),
        api.delete("/query/sql/statements/nope"),
    ):
        assert response.status_code == 404
        body = response.json()
        assert body["category"] == "NOT_FOUND" and body["errorCode"] == "notFound"
        assert "nope" in body["errorMessage"]


def test_failing_statement_is_400_with_task_id_state_and_error(api: httpx.Client) -> None:
    response = api.post("/query/sql/statements", json={"query": 'SELECT * FROM "missing"'})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"taskId", "state", "error"} and body["state"] == "FAILED"
    assert body["error"]["error"] == "druidException"
    assert (
        body["error"]["category"] == "INVALID_INPUT" and "missing" in body["error"]["errorMessage"]
    )
    assert api.get(f"/query/sql/statements/{body['taskId']}").status_code == 404
    insert = api.post(
        "/query/sql/statements", json={"query": 'INSERT INTO "t" SELECT 1 PARTITIONED BY DAY'}
    )
    assert insert.status_code == 400 and insert.json()["error"]["category"] == "UNSUPPORTED"
    missing = api.post("/query/sql/statements", json={"resultFormat": "array"})
    assert missing.status_code == 400 and missing.json()["error"]["errorMessage"]
    assert api.post("/query/sql/statements", content=b"x").status_code == 415


def test_statement_duration_is_configurable_and_scaled(
    loaded: httpx.Client, emu: PolarisEmulator
) -> None:
    emu.configure(job_durations={"statement": 10}, time_scale=0.5)
    query_id = _submit(loaded, parameters=[])["queryId"]
    emu.advance(4.9)
    assert loaded.get(f"/query/sql/statements/{query_id}").json()["state"] == "RUNNING"
    emu.advance(0.1)
    assert loaded.get(f"/query/sql/statements/{query_id}").json()["state"] == "SUCCESS"
    emu.reset()
    assert loaded.get(f"/query/sql/statements/{query_id}").status_code == 404


def test_results_default_to_the_submitted_result_format(
    loaded: httpx.Client, emu: PolarisEmulator
) -> None:
    query_id = _submit(loaded, resultFormat="array")["queryId"]
    emu.advance(1)
    results = loaded.get(f"/query/sql/statements/{query_id}/results")
    assert results.json() == [["DE", 1], ["FR", 2]]  # Druid keeps the POSTed format
    objects = loaded.get(f"/query/sql/statements/{query_id}/results?resultFormat=object")
    assert objects.json() == [{"country": "DE", "n": 1}, {"country": "FR", "n": 2}]
