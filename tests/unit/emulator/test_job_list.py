"""``GET /jobs`` sorts, filters and pages as polaris-api.md §3 "List filters" documents, and
``lastUpdatedTimestamp`` moves on every state change, so an incremental poller that walks the list
by ``last_updated_date_time DESC`` down to a high-water mark sees exactly the jobs that changed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import batch_spec, create_job, streaming_spec, upload

SORT_COLUMNS = (
    "created_by_user_name",
    "created_date_time",
    "execution_status",
    "last_updated_date_time",
    "source_name",
    "source_type",
    "target_table_name",
    "type",
    "source_connection_name",
    "source_table_name",
)
# The JobSummaryResponse fields of Imply's SDK model (required and optional).
SUMMARY_FIELDS = {
    "createdBy",
    "createdTimestamp",
    "desiredExecutionStatus",
    "executionStatus",
    "health",
    "id",
    "lastModifiedBy",
    "lastUpdatedTimestamp",
    "target",
    "type",
    "completedTimestamp",
    "startedTimestamp",
}


def listed(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/jobs", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["values"])


def ids(api: httpx.Client, **params: Any) -> list[str]:
    return [job["id"] for job in listed(api, **params)]


def stamp(api: httpx.Client, job_id: str) -> str:
    return str(api.get(f"/jobs/{job_id}").json()["lastUpdatedTimestamp"])


@pytest.fixture
def three(api: httpx.Client, emu: PolarisEmulator) -> list[str]:
    """Batch jobs a, b, c into tables ta, tb, tc, created 0.1 s apart."""
    upload(api)
    out = []
    for name in ("a", "b", "c"):
        out.append(create_job(api, batch_spec(f"t{name}"))["id"])
        emu.advance(0.1)
    return out


def test_default_order_is_last_updated_desc_with_ties_by_latest_change(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    upload(api)
    a, b, c = (create_job(api, batch_spec(f"t{n}"))["id"] for n in "abc")  # one instant
    assert ids(api) == [c, b, a]
    assert ids(api, sortColumn="last_updated_date_time", sortOrder="DESC") == [c, b, a]
    assert ids(api, sortOrder="ASC") == [a, b, c]
    api.post(f"/jobs/{a}/status", json={"desiredExecutionStatus": "canceled"})  # same instant
    assert ids(api) == [a, c, b]  # the latest change first, though the times are equal


def test_every_state_change_moves_last_updated(
    api: httpx.Client, emu: PolarisEmulator, three: list[str]
) -> None:
    a, b, c = three
    before = stamp(api, a)
    emu.advance(1.0)  # all three start
    started = stamp(api, a)
    assert started > before
    emu.advance(1.0)
    api.post(f"/jobs/{b}/status", json={"desiredExecutionStatus": "canceled"})
    assert ids(api)[0] == b  # the cancel request is a change
    emu.advance(0.5)  # the cancel takes effect
    assert api.get(f"/jobs/{b}").json()["executionStatus"] == "canceled"
    emu.advance(5)  # a and c complete, in creation order
    assert ids(api) == [c, a, b]
    done = stamp(api, a)
    assert done > started
    emu.advance(5)
    assert stamp(api, a) == done  # nothing changed: the stamp holds


def test_streaming_changes_move_last_updated_but_more_events_do_not(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    job_id = create_job(api, streaming_spec())["id"]
    seen = [stamp(api, job_id)]

    def changed() -> bool:
        seen.append(stamp(api, job_id))
        return seen[-1] > seen[-2]

    emu.advance(2)
    assert changed()  # pending -> running
    emu.advance(1)
    api.post("/events/push", content=b'{"ts":"2024-01-01T00:00:00Z","n":1}')
    assert not changed()  # running, still running
    emu.advance(20)
    assert api.get(f"/jobs/{job_id}/status").json()["executionStatus"] == "idle"
    assert changed()  # running -> idle
    emu.advance(1)
    api.post("/events/push", content=b'{"ts":"2024-01-01T00:00:00Z","n":2}')
    assert changed()  # idle -> running
    for desired in ("suspended", "running", "canceled"):
        emu.advance(1)
        api.post(f"/jobs/{job_id}/status", json={"desiredExecutionStatus": desired})
        assert changed()  # the request
        emu.advance(1)
        assert changed()  # its effect


@pytest.mark.parametrize("column", SORT_COLUMNS)
@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_every_sort_column_in_both_orders(
    api: httpx.Client, emu: PolarisEmulator, column: str, order: str
) -> None:
    upload(api)
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    create_job(api, batch_spec("zeta"))
    emu.advance(1)
    create_job(api, streaming_spec("alpha"))
    emu.advance(1)
    create_job(
        api, {"type": "drop_table", "target": {"type": "table", "tableName": "zeta"}}
    )  # no source
    emu.advance(1.5)
    jobs = listed(api, sortColumn=column, sortOrder=order)

    def key(job: dict[str, Any]) -> Any:
        source = job.get("source") or {}
        name = source.get("tableName") or source.get("connectionName") or ""
        if not name and job["type"] == "batch":
            name = "events.json"  # the first file of an uploaded source
        return {
            "created_by_user_name": job["createdBy"]["username"],
            "created_date_time": job["createdTimestamp"],
            "execution_status": job["executionStatus"],
            "last_updated_date_time": job["lastUpdatedTimestamp"],
            "source_name": name,
            "source_type": source.get("type", ""),
            "target_table_name": job["target"]["tableName"],
            "type": job["type"],
            "source_connection_name": source.get("connectionName", ""),
            "source_table_name": source.get("tableName", ""),
        }[column]

    keys = [key(job) for job in jobs]
    assert keys == sorted(keys, reverse=order == "DESC")
    assert len(jobs) == 3


def test_repeated_filters_are_ored_and_different_ones_anded(
    api: httpx.Client, emu: PolarisEmulator, three: list[str]
) -> None:
    a, b, c = three
    assert set(ids(api, targetTableName="ta")) == {a}
    assert set(ids(api, type=["batch", "sql"])) == {a, b, c}
    query = [("targetTableName", "ta"), ("type", "batch"), ("type", "streaming")]
    assert [j["id"] for j in api.get("/jobs", params=query).json()["values"]] == [a]
    api.post(f"/jobs/{b}/status", json={"desiredExecutionStatus": "canceled"})
    emu.advance(1)
    both = [("executionStatus", "canceled"), ("executionStatus", "running")]
    assert {j["id"] for j in api.get("/jobs", params=both).json()["values"]} == {a, b, c}
    assert ids(api, executionStatus="canceled") == [b]
    assert ids(api, healthStatus="error") == [b]
    assert set(ids(api, healthStatus="ok")) == {a, c}
    assert ids(api, searchString="TB") == [b]  # case-insensitive, over the job's fields


@pytest.mark.parametrize(
    ("params", "target"),
    [
        ({"paginationLimit": 0}, "paginationLimit"),
        ({"paginationLimit": 1001}, "paginationLimit"),
        ({"paginationOffset": -1}, "paginationOffset"),
        ({"sortColumn": "name"}, "sortColumn"),
        ({"sortOrder": "UP"}, "sortOrder"),
        ({"type": "nightly"}, "type"),
        ({"executionStatus": "done"}, "executionStatus"),
    ],
)
def test_out_of_bounds_parameters_are_400(
    api: httpx.Client, params: dict[str, Any], target: str
) -> None:
    response = api.get("/jobs", params=params)
    assert response.status_code == 400 and response.json()["target"] == target


def test_pages_and_more_results_available(api: httpx.Client, three: list[str]) -> None:
    a, b, c = three
    first = api.get("/jobs", params={"paginationLimit": 2}).json()
    assert [j["id"] for j in first["values"]] == [c, b] and first["moreResultsAvailable"]
    last = api.get("/jobs", params={"paginationLimit": 2, "paginationOffset": 2}).json()
    assert [j["id"] for j in last["values"]] == [a] and not last["moreResultsAvailable"]
    exact = api.get("/jobs", params={"paginationLimit": 3}).json()
    assert len(exact["values"]) == 3 and not exact["moreResultsAvailable"]
    assert api.get("/jobs", params={"paginationLimit": 1000}).status_code == 200


def test_summaries_carry_the_sdk_fields_without_spec(api: httpx.Client, three: list[str]) -> None:
    for job in listed(api):
        assert set(job) >= SUMMARY_FIELDS
        assert "spec" not in job
        assert job["source"] == {"type": "uploaded"}  # cut down to type / name / data


def test_a_high_water_mark_walk_sees_exactly_the_jobs_that_changed(
    api: httpx.Client, emu: PolarisEmulator, three: list[str]
) -> None:
    """The walk helper H7's poller does: DESC by last update, stop at the previous maximum."""
    a = three[0]
    emu.advance(1.0)  # all running
    mark = listed(api)[0]["lastUpdatedTimestamp"]
    emu.advance(1.0)
    api.post(f"/jobs/{a}/status", json={"desiredExecutionStatus": "canceled"})
    changed = []
    offset = 0
    while True:
        page = api.get("/jobs", params={"paginationLimit": 1, "paginationOffset": offset}).json()
        fresh = [j for j in page["values"] if j["lastUpdatedTimestamp"] > mark]
        changed += [j["id"] for j in fresh]
        if len(fresh) < len(page["values"]) or not page["moreResultsAvailable"]:
            break
        offset += 1
    assert changed == [a]
