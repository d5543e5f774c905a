"""Reattach identity: which earlier job a retry may adopt.

The canonical comparison runs against what the emulator really echoes back (``GET /jobs/{id}``),
so server-filled defaults are the emulator's, and every user-meaningful change must still count.
"""

from __future__ import annotations

import copy
import importlib.metadata
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from job_helpers import DictStateStore, batch_spec, make_context, posts

from airflow_provider_polaris.client import PolarisServerError
from airflow_provider_polaris.hooks.polaris import PolarisHook
from airflow_provider_polaris.models import parse_job_spec
from airflow_provider_polaris.operators._canonical import (
    canonical_json,
    request_hash,
    same_whole_request,
)
from airflow_provider_polaris.operators._reattach import STATE_KEY
from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

SCHEMA = [{"name": "ts", "dataType": "string"}, {"name": "n", "dataType": "long"}]


def s3_spec() -> dict[str, Any]:
    return {
        "type": "batch",
        "target": {"type": "table", "tableName": "events"},
        "createTableIfNotExists": True,
        "source": {
            "type": "s3",
            "connectionName": "b",
            "uris": ["s3://b/day1.json", "s3://b/day1b.json"],
            "inputSchema": SCHEMA,
            "formatSettings": {"format": "nd-json"},
        },
        "mappings": [
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "n", "expression": '"n"'},
        ],
        "filterExpression": '"n" > 0',
    }


def replace_spec() -> dict[str, Any]:
    return {
        "type": "batch",
        "ingestionMode": "replace",
        "source": {"type": "table", "tableName": "events", "interval": "2024-01-01/2024-01-02"},
        "target": {
            "type": "table",
            "tableName": "rollup",
            "intervals": ["2024-01-02/2024-01-03", "2024-01-01/2024-01-02"],
        },
        "createTableIfNotExists": True,
        "mappings": [{"columnName": "__time", "expression": '"__time"'}],
    }


@pytest.fixture
def client(polaris_emulator: Any) -> Any:
    c = PolarisHook().get_client()
    c.connections.create(
        {
            "type": "s3",
            "name": "b",
            "bucket": "b",
            "awsEndpoint": "s3.us-east-1.amazonaws.com",
            "awsAssumedRoleArn": "arn:aws:iam::123456789012:role/polaris",
        }
    )
    PolarisCreateJobOperator(task_id="seed", job_spec=batch_spec(), poll_interval=0.02).execute(
        make_context()
    )  # the "events" table (source of the table-to-table specs)
    yield c
    c.close()


def echoed(client: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """The job document Polaris returns for ``spec`` (created for real, then read back)."""
    job = client.jobs.create(body(spec))
    return dict(client.jobs.get(job["id"]))


def body(spec: dict[str, Any]) -> dict[str, Any]:
    """What the operators send for ``spec``."""
    return parse_job_spec(spec).to_api()


@pytest.mark.parametrize("make", [batch_spec, s3_spec, replace_spec], ids=["inline", "s3", "tbl"])
def test_the_echo_of_a_request_is_the_same_request(client: Any, make: Callable[[], Any]) -> None:
    spec = make()
    job = echoed(client, spec)
    assert canonical_json(job) != canonical_json({"type": "other"})
    assert same_whole_request(job, body(spec))


def test_server_defaults_and_notation_are_not_differences(client: Any) -> None:
    job = echoed(client, replace_spec())
    spelled_out = replace_spec()
    spelled_out["target"]["intervals"] = [
        "2024-01-01T00:00:00Z/2024-01-02T00:00:00.000Z",  # other notation, other order
        "2024-01-02T00:00:00+00:00/2024-01-03T00:00:00Z",
    ]
    spelled_out.update(filterExpression=None, maxParseExceptions=2147483647)
    assert same_whole_request(job, body(spelled_out))
    assert request_hash(body(spelled_out)) == request_hash(body(replace_spec()))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = spec
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return change


_DELETE = object()
S3_CHANGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "uris": _set("source.uris", ["s3://b/day2.json", "s3://b/day1b.json"]),
    "one uri fewer": _set("source.uris", ["s3://b/day1.json"]),
    "connection": _set("source.connectionName", "other"),
    "schema": _set("source.inputSchema", [{"name": "ts", "dataType": "string"}]),
    "format": _set("source.formatSettings", {"format": "csv", "columns": ["ts", "n"]}),
    "mapping expression": _set("mappings.1.expression", '"n" * 2'),
    "mapping dropped": _set("mappings", [{"columnName": "__time", "expression": "TIME_PARSE(ts)"}]),
    "aggregation flag": _set("mappings.1.isAggregation", False),
    "filter": _set("filterExpression", '"n" > 1'),
    "no filter": _set("filterExpression", _DELETE),
    "target": _set("target.tableName", "events2"),
    "max parse exceptions": _set("maxParseExceptions", 0),
    "create table flag": _set("createTableIfNotExists", False),
    "partitioning": _set("partitionedBy", "hour"),
    "clustering": _set("clusteringColumns", ["n"]),
}


@pytest.mark.parametrize("change", list(S3_CHANGES), ids=list(S3_CHANGES))
def test_every_user_meaningful_change_is_another_request(client: Any, change: str) -> None:
    job = echoed(client, s3_spec())
    other = copy.deepcopy(s3_spec())
    S3_CHANGES[change](other)
    assert not same_whole_request(job, other)
    assert request_hash(other) != request_hash(body(s3_spec()))


@pytest.mark.parametrize(
    "selector",
    [("prefixes", ["s3://b/day1/"]), ("objects", ["day1.json"]), ("pattern", "day1*.json")],
)
def test_another_s3_selector_is_another_request(client: Any, selector: tuple[str, Any]) -> None:
    job = echoed(client, s3_spec())
    other = s3_spec()
    del other["source"]["uris"]
    other["source"][selector[0]] = selector[1]
    assert not same_whole_request(job, body(other))


def test_other_inline_data_intervals_or_mode_are_other_requests(client: Any) -> None:
    inline = echoed(client, batch_spec())
    other = batch_spec()
    other["source"] = {**other["source"], "data": other["source"]["data"] + "\n{}"}
    assert not same_whole_request(inline, body(other))
    replace = echoed(client, replace_spec())
    for change in (
        _set("target.intervals", ["2024-01-01/2024-01-02"]),
        _set("source.interval", "2024-01-01/2024-01-03"),
        _set("source.interval", _DELETE),
    ):
        spec = replace_spec()
        change(spec)
        assert not same_whole_request(replace, body(spec))
    appended = replace_spec()
    appended["ingestionMode"] = "append"
    del appended["target"]["intervals"]
    assert not same_whole_request(replace, body(appended))


# -- the record and the crash windows (Airflow 3.3's task state store) ------------------------


def op(spec: dict[str, Any] | None = None) -> PolarisCreateJobOperator:
    return PolarisCreateJobOperator(
        task_id="load", job_spec=spec or batch_spec(), poll_interval=0.02
    )


@pytest.fixture
def no_retries(polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(
        "AIRFLOW_CONN_POLARIS_DEFAULT", polaris_emulator.airflow_connection({"max_retries": 0})
    )
    return polaris_emulator


def test_intent_is_recorded_before_the_create_and_kept_by_later_tries(no_retries: Any) -> None:
    emu, store = no_retries, DictStateStore()
    emu.inject_fault("POST", r"/jobs", kind="status", status=503)
    with pytest.raises(PolarisServerError):
        op().execute(make_context(try_number=1, store=store))
    record = store.data[STATE_KEY]  # the create never reached Polaris, the intent is there
    assert record["job_id"] is None
    assert record["request"] == request_hash(body(batch_spec()))
    first_since = record["since"]
    emu.script_job(outcome="running")
    emu.inject_fault("GET", r"/jobs/[^/]+", kind="drop", count=50)
    with pytest.raises(Exception):  # noqa: B017 - try 2 created its job, then lost Polaris
        op().execute(make_context(try_number=2, store=store))
    emu.clear_faults()
    assert store.data[STATE_KEY]["since"] == first_since  # the first attempt's time is kept
    job_id = store.data[STATE_KEY]["job_id"]
    emu.script_job(job_id, outcome="completed", after_polls=1)
    assert op().execute(make_context(try_number=3, store=store))["id"] == job_id
    assert posts(emu) == 2 and emu.count_requests("POST", r"/jobs$") == 2
    assert STATE_KEY not in store.data


def test_readable_store_without_a_record_never_scans(polaris_emulator: Any) -> None:
    emu, store = polaris_emulator, DictStateStore()
    op().execute(make_context(try_number=1))  # an identical job, e.g. a sibling's
    op().execute(make_context(try_number=2, store=store))
    assert posts(emu) == 2
    assert emu.count_requests("GET", r"/jobs$") == 0


def test_an_intent_for_another_request_never_scans(polaris_emulator: Any) -> None:
    emu, store = polaris_emulator, DictStateStore()
    store.set(STATE_KEY, {"job_id": None, "request": "0" * 64, "since": "2020-01-01T00:00:00Z"})
    op().execute(make_context(try_number=1))
    op().execute(make_context(try_number=2, store=store))
    assert posts(emu) == 2
    assert emu.count_requests("GET", r"/jobs$") == 0


def test_scan_without_a_store_skips_a_same_table_job_with_other_inputs(
    polaris_emulator: Any,
) -> None:
    emu = polaris_emulator
    other = batch_spec()
    other["source"] = {**other["source"], "data": '{"ts": "2024-01-02T00:00:00Z"}\n'}
    op(other).execute(make_context(try_number=1))  # a sibling's job, created during this run
    result = op().execute(make_context(try_number=2))  # our first try never reached Polaris
    assert posts(emu) == 2
    assert emu.get_job(result["id"])["source"]["data"] == batch_spec()["source"]["data"]


# -- Airflow 2.x: the first try's start from TaskInstanceHistory (a real metadata DB) -----------


@pytest.mark.dagtest
@pytest.mark.skipif(
    not importlib.metadata.version("apache-airflow").startswith("2."),
    reason="Airflow 3's task instances have no DB access: the recorded intent carries the time",
)
def test_first_try_start_comes_from_the_task_instance_history(
    polaris_emulator: Any, dag_runner: Any
) -> None:
    from airflow.models import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    from airflow_provider_polaris.operators._reattach import first_try_started

    run = dag_runner.run(dag_runner.load("test_jobs_retry.py", "test_jobs_retry_sync"), None)
    t1, t2, t3 = (datetime(2030, 1, 1, h, tzinfo=timezone.utc) for h in (1, 2, 3))
    log = logging.getLogger(__name__)
    with create_session() as session:
        ti = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .one()
        )
        context = {"ti": ti, "dag_run": SimpleNamespace(start_date=t1 - timedelta(hours=1))}
        for number, started, state in ((1, t1, "running"), (2, t2, "running")):
            ti.try_number, ti.start_date, ti.state = number, started, TaskInstanceState(state)
            TaskInstanceHistory.record_ti(ti, session=session)
        session.flush()  # as the runner's commit would (Airflow's sessions don't autoflush)
        ti.try_number, ti.start_date = 3, datetime(2030, 1, 1, 9, tzinfo=timezone.utc)
        assert first_try_started(context, log) == t1  # two failed tries, then this one
        ti.try_number, ti.start_date, ti.state = 3, t3, TaskInstanceState.SUCCESS
        TaskInstanceHistory.record_ti(ti, session=session)  # a user cleared a successful try
        session.flush()
        ti.try_number, ti.start_date = 4, datetime(2030, 1, 1, 9, tzinfo=timezone.utc)
        assert first_try_started(context, log) == ti.start_date  # a new sequence begins
        session.rollback()
