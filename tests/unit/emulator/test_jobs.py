"""Jobs API: create, list filters, lifecycle per type on the manual clock, cancel, validation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import batch_spec, create_job, status, streaming_spec, upload


def test_create_job_returns_201_location_and_full_shape(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    upload(api)
    response = api.post("/jobs", json=batch_spec())
    assert response.status_code == 201
    job = response.json()
    assert response.headers["location"].endswith(f"/v1/projects/{emu.project_id}/jobs/{job['id']}")
    assert job["executionStatus"] == "pending"
    assert job["desiredExecutionStatus"] == "running"
    assert job["health"] == {"status": "ok"}
    assert job["spec"]["type"] == "batch" and job["spec"]["ingestionMode"] == "append"
    assert job["createdBy"]["username"] and job["createdTimestamp"].endswith("Z")
    assert job["startedTimestamp"] is None and job["completedTimestamp"] is None
    full = api.get(f"/jobs/{job['id']}").json()
    assert full["spec"] == job["spec"] and full["target"]["tableName"] == "t"


def test_batch_lifecycle_on_manual_clock(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(api)
    job = create_job(api, batch_spec())
    assert status(api, job["id"]) == "pending"
    emu.advance(1.0)
    assert status(api, job["id"]) == "running"
    running = api.get(f"/jobs/{job['id']}").json()
    assert running["startedTimestamp"] is not None and running["completedTimestamp"] is None
    assert 0 <= api.get(f"/jobs/{job['id']}/progress").json()["overallProgress"] < 1
    emu.advance(3.0)
    done = api.get(f"/jobs/{job['id']}").json()
    assert done["executionStatus"] == "completed"
    assert done["completedTimestamp"] >= done["startedTimestamp"]
    assert api.get(f"/jobs/{job['id']}/progress").json() == {"overallProgress": 1.0}
    assert set(api.get(f"/jobs/{job['id']}/metrics").json()["totals"]) == {
        "numBytesProcessed",
        "numRowsPersisted",
        "numRowsProcessed",
        "numRowsProcessedWithWarning",
        "numRowsSkippedByError",
        "numRowsSkippedByFilter",
    }
    messages = [entry["message"] for entry in api.get(f"/jobs/{job['id']}/logs").json()["logs"]]
    assert messages[:2] == ["Job created", "Job started"]


def test_time_scale_finishes_jobs_without_advancing(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    emu.configure(manual_clock=False, time_scale=1e-6)
    upload(api)
    job = create_job(api, batch_spec())
    assert status(api, job["id"]) in ("completed", "failed")


def test_missing_file_fails_with_cannot_parse_source(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    job = create_job(api, batch_spec())
    emu.advance(10)
    body = api.get(f"/jobs/{job['id']}").json()
    assert body["executionStatus"] == "failed"
    assert body["health"]["status"] == "error" and body["health"]["code"] == "cannot_parse_source"
    assert "events.json" in body["health"]["message"]


def test_no_time_mapping_fails_with_null_timestamp(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(api)
    spec = batch_spec(mappings=[{"columnName": "n", "expression": '"n"'}])
    job = create_job(api, spec)
    emu.advance(10)
    assert api.get(f"/jobs/{job['id']}").json()["health"]["code"] == "null_timestamp"


def test_cancel_via_status_then_canceled(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(api)
    job = create_job(api, batch_spec())
    response = api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "canceled"})
    assert response.status_code == 200 and response.json() == {"executionStatus": "pending"}
    assert api.get(f"/jobs/{job['id']}").json()["desiredExecutionStatus"] == "canceled"
    emu.advance(1)
    body = api.get(f"/jobs/{job['id']}").json()
    assert body["executionStatus"] == "canceled"
    assert body["health"]["status"] == "error" and body["health"]["code"] == "canceled"
    again = api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "canceled"})
    assert again.status_code == 200


def test_cancel_via_put_returns_job(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(api)
    job = create_job(api, batch_spec())
    emu.advance(1.5)
    response = api.put(f"/jobs/{job['id']}", json={"desiredExecutionStatus": "canceled"})
    assert response.status_code == 200
    assert response.json()["desiredExecutionStatus"] == "canceled"
    emu.advance(1)
    assert status(api, job["id"]) == "canceled"
    emu.advance(10)
    assert status(api, job["id"]) == "canceled"  # a canceled job never completes


def test_deletion_jobs_cannot_be_canceled_and_drop_removes_table(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    api.post("/tables", json={"name": "gone", "type": "detail"})
    job = create_job(api, {"type": "drop_table", "target": {"type": "table", "tableName": "gone"}})
    response = api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "canceled"})
    assert response.status_code == 400
    assert api.get("/tables/gone").json()["availability"] == "deleting"
    emu.advance(5)
    assert status(api, job["id"]) == "completed"
    assert api.get("/tables/gone").status_code == 404


def test_delete_data_and_restore_data_lifecycle(api: httpx.Client, emu: PolarisEmulator) -> None:
    api.post("/tables", json={"name": "d", "type": "detail"})
    target = {"type": "table", "tableName": "d", "intervals": ["2024-01-01/2024-01-02"]}
    deletion = create_job(api, {"type": "delete_data", "target": target})
    restore = create_job(
        api,
        {
            "type": "restore_data",
            "target": {"type": "table", "tableName": "d"},
            "interval": "2024-01-01/2024-01-02",
        },
    )
    emu.advance(5)
    assert status(api, deletion["id"]) == "completed" and status(api, restore["id"]) == "completed"
    assert (
        api.post(
            "/jobs", json={"type": "delete_data", "target": {"type": "table", "tableName": "d"}}
        ).status_code
        == 400
    )
    missing = api.post(
        "/jobs", json={"type": "drop_table", "target": {"type": "table", "tableName": "nope"}}
    )
    assert missing.status_code == 404 and missing.json()["target"] == "target.tableName"


def test_streaming_lifecycle_suspend_resume_idle_cancel(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    job = create_job(api, streaming_spec())
    emu.advance(1)
    assert status(api, job["id"]) == "running"
    emu.advance(11)
    assert status(api, job["id"]) == "idle"
    assert (
        api.post("/events/push", content=b'{"ts":"2024-01-01T00:00:00Z","n":1}\n').status_code
        == 200
    )
    assert status(api, job["id"]) == "running"
    assert (
        api.post(
            f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "suspended"}
        ).status_code
        == 200
    )
    emu.advance(1)
    assert status(api, job["id"]) == "suspended"
    api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "running"})
    emu.advance(1)
    assert status(api, job["id"]) == "running"
    assert api.post(f"/jobs/{job['id']}/reset").status_code == 200
    api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "canceled"})
    emu.advance(1)
    body = api.get(f"/jobs/{job['id']}").json()
    assert body["executionStatus"] == "canceled" and body["health"]["code"] == "canceled"
    assert body["readFromPoint"] == "latest" and body["lateMessageRejectionPeriod"] == "P30D"


def test_one_streaming_job_per_table_unless_replace_running(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    first = create_job(api, streaming_spec())
    second = api.post("/jobs", json=streaming_spec())
    assert second.status_code == 400 and second.json()["target"] == "target.tableName"
    replacement = create_job(api, streaming_spec(replaceRunning=True))
    assert status(api, first["id"]) == "canceled"
    assert status(api, replacement["id"]) == "pending"


def test_reset_is_for_streaming_jobs_only(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(api)
    job = create_job(api, batch_spec())
    assert api.post(f"/jobs/{job['id']}/reset").status_code == 400
    assert api.post("/jobs/nope/reset").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "target"),
    [
        ({"type": "bulk"}, "type"),
        ({"partitionedBy": "week"}, "partitionedBy"),
        ({"ingestionMode": "merge"}, "ingestionMode"),
        (
            {"target": {"type": "table", "tableName": "t", "intervals": ["2024-01-01/2024-01-02"]}},
            "target.intervals",
        ),
        ({"ingestionMode": "replace"}, "target.intervals"),
        (
            {
                "ingestionMode": "replace",
                "replaceAll": True,
                "target": {
                    "type": "table",
                    "tableName": "t",
                    "intervals": ["2024-01-01/2024-01-02"],
                },
            },
            "target.intervals",
        ),
        (
            {
                "ingestionMode": "replace",
                "target": {
                    "type": "table",
                    "tableName": "t",
                    "intervals": ["2024-01-01T01:00:00Z/2024-01-02"],
                },
            },
            "target.intervals[0]",
        ),
        (
            {
                "source": {
                    "type": "uploaded",
                    "fileList": ["f"],
                    "inputSchema": [{"name": "a", "dataType": "text"}],
                    "formatSettings": {"format": "nd-json"},
                }
            },
            "source.inputSchema[0].dataType",
        ),
        (
            {
                "source": {
                    "type": "uploaded",
                    "fileList": ["f"],
                    "inputSchema": [],
                    "formatSettings": {"format": "xml"},
                }
            },
            "source.formatSettings.format",
        ),
        ({"source": {"type": "ftp"}}, "source.type"),
        ({"target": {"type": "table", "tableName": "/bad"}}, "target.tableName"),
        ({"mappings": [{"columnName": "x"}]}, "mappings[0].expression"),
        ({"maxParseExceptions": -1}, "maxParseExceptions"),
    ],
)
def test_job_validation_names_the_field(
    api: httpx.Client, overrides: dict[str, Any], target: str
) -> None:
    response = api.post("/jobs", json=batch_spec(**overrides))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BadArgument"
    assert response.json()["target"] == target


def test_replace_intervals_align_to_hour_partitioning(api: httpx.Client) -> None:
    target = {
        "type": "table",
        "tableName": "t",
        "intervals": ["2024-01-01T01:00:00Z/2024-01-01T02:00:00Z"],
    }
    ok = api.post(
        "/jobs", json=batch_spec(ingestionMode="replace", partitionedBy="hour", target=target)
    )
    assert ok.status_code == 201
    api.post(
        "/tables", json={"name": "monthly", "type": "detail", "partitioningGranularity": "month"}
    )
    monthly = {"type": "table", "tableName": "monthly", "intervals": ["2024-01-01/2024-01-15"]}
    assert (
        api.post("/jobs", json=batch_spec(ingestionMode="replace", target=monthly)).status_code
        == 400
    )


def test_missing_target_table_without_create_is_404(api: httpx.Client) -> None:
    response = api.post("/jobs", json=batch_spec(createTableIfNotExists=False))
    assert response.status_code == 404 and response.json()["code"] == "NotFound"


def test_table_to_table_needs_existing_source_and_creates_aggregate_target(
    api: httpx.Client,
) -> None:
    spec = {
        "type": "batch",
        "source": {"type": "table", "tableName": "raw"},
        "target": {"type": "table", "tableName": "rollup"},
        "createTableIfNotExists": True,
        "mappings": [
            {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
            {"columnName": "country", "expression": '"country"'},
            {"columnName": "total", "expression": 'SUM("n")', "isAggregation": True},
        ],
    }
    assert api.post("/jobs", json=spec).status_code == 404
    api.post("/tables", json={"name": "raw", "type": "detail"})
    create_job(api, spec)
    rollup = api.get("/tables/rollup").json()
    assert rollup["type"] == "aggregate"
    assert {c["name"]: c["type"] for c in rollup["schema"]} == {
        "country": "dimension",
        "total": "measure",
    }


def test_sql_job_takes_target_from_statement(api: httpx.Client, emu: PolarisEmulator) -> None:
    query = (
        "INSERT INTO \"sql target\" SELECT * FROM TABLE(POLARIS_SOURCE('{}')) PARTITIONED BY DAY"
    )
    job = create_job(api, {"type": "sql", "query": query, "createTableIfNotExists": True})
    assert job["target"]["tableName"] == "sql target" and job["query"] == query
    assert api.post("/jobs", json={"type": "sql", "query": "SELECT 1"}).json()["target"] == "query"
    no_partition = {
        "type": "sql",
        "query": 'INSERT INTO "x" SELECT 1',
        "createTableIfNotExists": True,
    }
    assert api.post("/jobs", json=no_partition).status_code == 400


def test_unknown_job_is_404_and_wrong_content_type_is_415(api: httpx.Client) -> None:
    response = api.get("/jobs/does-not-exist")
    assert response.status_code == 404 and response.json()["code"] == "NotFound"
    assert api.get("/jobs/does-not-exist/status").status_code == 404
    assert api.get("/jobs/does-not-exist/metrics").status_code == 404
    wrong = api.post("/jobs", content=b"type=batch", headers={"Content-Type": "text/plain"})
    assert wrong.status_code == 415
    assert (
        api.post(
            "/jobs", content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    bad_desired = api.post("/jobs/x/status", json={"desiredExecutionStatus": "paused"})
    assert bad_desired.status_code == 404


def _make_jobs(api: httpx.Client, emu: PolarisEmulator) -> list[dict[str, Any]]:
    upload(api)
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    jobs = [create_job(api, batch_spec("a")), create_job(api, batch_spec("b"))]
    emu.advance(10)
    jobs.append(create_job(api, streaming_spec("s", "push")))
    return jobs


def test_list_filters_sort_and_pagination(api: httpx.Client, emu: PolarisEmulator) -> None:
    a, b, s = _make_jobs(api, emu)
    page = api.get("/jobs").json()
    assert [j["id"] for j in page["values"]] == [s["id"], b["id"], a["id"]]
    assert page["moreResultsAvailable"] is False
    assert "spec" not in page["values"][0]
    assert set(page["values"][0]["source"]) == {"type", "connectionName"}

    def ids(**params: Any) -> list[str]:
        response = api.get("/jobs", params=params)
        assert response.status_code == 200, response.text
        return [j["id"] for j in response.json()["values"]]

    assert ids(type="streaming") == [s["id"]]
    assert set(ids(type=["batch", "streaming"])) == {a["id"], b["id"], s["id"]}
    assert ids(executionStatus=["pending", "running"]) == [s["id"]]
    health = api.get(f"/jobs/{a['id']}").json()["health"]["status"]
    expected = {a["id"], b["id"]} | ({s["id"]} if health == "ok" else set())
    assert set(ids(healthStatus=health)) == expected
    assert ids(healthStatus="error") == []
    assert ids(connectionName="push") == [s["id"]]
    assert ids(targetTableName="a") == [a["id"]]
    table_id = api.get("/tables/b").json()["id"]
    assert ids(targetTableId=table_id) == [b["id"]]
    assert ids(searchString=s["id"][:8]) == [s["id"]]
    assert ids(sortColumn="target_table_name", sortOrder="ASC") == [a["id"], b["id"], s["id"]]
    first = api.get("/jobs", params={"paginationLimit": 2}).json()
    assert len(first["values"]) == 2 and first["moreResultsAvailable"] is True
    rest = api.get("/jobs", params={"paginationLimit": 2, "paginationOffset": 2}).json()
    assert len(rest["values"]) == 1 and rest["moreResultsAvailable"] is False
    for params, target in (
        ({"paginationLimit": 0}, "paginationLimit"),
        ({"paginationLimit": 1001}, "paginationLimit"),
        ({"paginationOffset": -1}, "paginationOffset"),
        ({"type": "nope"}, "type"),
        ({"executionStatus": "canceling"}, "executionStatus"),
        ({"sortColumn": "id"}, "sortColumn"),
        ({"sortOrder": "UP"}, "sortOrder"),
    ):
        response = api.get("/jobs", params=params)
        assert response.status_code == 400 and response.json()["target"] == target


def test_script_next_job_after_polls_then_failed(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(api)
    emu.script_job(outcome="failed", after_polls=2, health_code="too_many_columns", message="boom")
    job = create_job(api, batch_spec())
    assert status(api, job["id"]) == "pending"
    running = api.get(f"/jobs/{job['id']}").json()  # reads before the outcome see it running
    assert running["executionStatus"] == "running" and running["startedTimestamp"] is not None
    body = api.get(f"/jobs/{job['id']}").json()
    assert body["executionStatus"] == "failed"
    assert body["completedTimestamp"] >= body["startedTimestamp"] == running["startedTimestamp"]
    assert body["health"]["code"] == "too_many_columns" and body["health"]["message"] == "boom"


def test_script_unknown_polls_then_complete_with_warning(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    upload(api)
    job = create_job(api, batch_spec())
    emu.script_job(
        job["id"],
        outcome="completed",
        unknown_polls=2,
        after_polls=1,
        warn_code="invalid_rows_found",
    )
    assert [status(api, job["id"]) for _ in range(4)] == [
        "unknown",
        "unknown",
        "pending",
        "completed",
    ]
    assert api.get(f"/jobs/{job['id']}").json()["health"]["status"] == "warn"
    assert emu.get_job(job["id"])["_emulator"]["polls"] == 5


def test_script_matches_table_and_running_forever(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(api)
    emu.script_job(table="forever", outcome="running")
    other = create_job(api, batch_spec("other"))
    forever = create_job(api, batch_spec("forever"))
    emu.advance(3600)
    assert status(api, forever["id"]) == "running"
    assert status(api, other["id"]) == "completed"


def test_list_pages_count_as_polls(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(api)
    emu.script_job(outcome="completed", after_polls=1)
    job = create_job(api, batch_spec())
    active = {"executionStatus": ["pending", "running"]}
    assert [j["id"] for j in api.get("/jobs", params=active).json()["values"]] == [job["id"]]
    assert api.get("/jobs", params=active).json()["values"] == []
    assert status(api, job["id"]) == "completed"


def test_count_requests_asserts_single_create(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(api)
    create_job(api, batch_spec())
    assert emu.count_requests("POST", r"/jobs") == 1
    assert emu.count_requests("POST", rf"/v1/projects/{emu.project_id}/jobs") == 1
    assert emu.count_requests("POST", r"/files") == 1
    assert emu.count_requests(None, r".*") == 2
