"""The one rule for permanent errors (hooks/errors.py) and the job-base options of issue 9:
classification, messages (connection and field named, no secret), the trigger's ``permanent``
flag, ``max_parse_exceptions`` placement and ``allow_unknown_fields``. Real emulator over HTTP
where Polaris answers; ``PolarisApiError`` values built directly only for the message table."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from job_helpers import batch_spec, make_context

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.client import (
    PolarisConfig,
    PolarisRateLimitError,
    PolarisServerError,
    PolarisTransportError,
)
from airflow_provider_polaris.client.errors import api_error
from airflow_provider_polaris.hooks.config import PolarisConnectionConfigError
from airflow_provider_polaris.hooks.errors import (
    explain_api_error,
    is_permanent,
    permanent_failure,
)
from airflow_provider_polaris.operators._job_base import PolarisJobFailedError
from airflow_provider_polaris.operators.files import PolarisUploadFilesOperator
from airflow_provider_polaris.operators.jobs import (
    PolarisCreateJobOperator,
    PolarisSqlIngestionOperator,
)
from airflow_provider_polaris.operators.tables import PolarisCreateTableOperator
from airflow_provider_polaris.triggers.jobs import PolarisJobTrigger, job_event

URL = "https://acme.api.imply.io/v1/projects/p-1"
WRONG_KEY = "pok_wrong_key_for_the_rule_tests"
API_KEY_CONFIG = PolarisConfig(
    project_id="p-1", base_url="https://acme.api.imply.io", org="acme", api_key="pok_secret"
)
OAUTH_CONFIG = PolarisConfig(
    project_id="p-1",
    base_url="https://acme.api.imply.io",
    org="acme",
    client_id="cid",
    client_secret="very-secret",
)


def err(status: int, path: str, body: Any = None, method: str = "GET") -> Any:
    return api_error(status, body or {}, method=method, url=URL + path)


# -- classification ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 415, 422])
def test_4xx_answers_are_permanent(status: int) -> None:
    assert is_permanent(err(status, "/jobs"))


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_timeouts_rate_limits_and_server_errors_stay_retryable(status: int) -> None:
    error = err(status, "/jobs")
    assert not is_permanent(error)
    assert permanent_failure(error, "polaris_default") is None


def test_network_errors_stay_retryable_and_causes_are_followed() -> None:
    assert not is_permanent(PolarisTransportError("connection reset", "GET", URL + "/jobs"))
    assert not is_permanent(TimeoutError())
    wrapped = RuntimeError("push failed")
    wrapped.__cause__ = err(401, "/events/c")
    assert is_permanent(wrapped)
    assert isinstance(PolarisRateLimitError(429, None, "slow down"), Exception)
    assert not is_permanent(PolarisServerError(503, None, "busy"))


def test_connection_and_spec_errors_are_permanent() -> None:
    from airflow_provider_polaris.models import PolarisSpecError, parse_job_spec

    config_error = PolarisConnectionConfigError("polaris_default", "extra", "not an object")
    failure = permanent_failure(config_error, "polaris_default")
    assert failure is not None and str(failure) == str(config_error)
    with pytest.raises(PolarisSpecError) as spec_error:
        parse_job_spec({**batch_spec(), "mapings": []})
    assert is_permanent(spec_error.value)


# -- messages ------------------------------------------------------------------------------------


def test_401_names_the_connection_and_the_password_field() -> None:
    text = explain_api_error(err(401, "/jobs", {"message": "bad key"}, "POST"), "my_conn", None)
    assert text.startswith(
        "Polaris rejected the credentials of Airflow connection 'my_conn' (401 Unauthorized): "
        "check its password field (the API key)"
    )
    text = explain_api_error(err(401, "/jobs"), "my_conn", API_KEY_CONFIG)
    assert "the API key of Airflow connection 'my_conn'" in text and "'acme'" in text
    oauth = explain_api_error(err(401, "/jobs"), "my_conn", OAUTH_CONFIG)
    assert "OAuth client credentials of Airflow connection 'my_conn'" in oauth
    assert "login field (the OAuth client ID)" in oauth and "very-secret" not in oauth


def test_403_names_the_permission_polaris_gives_or_the_documented_one() -> None:
    said = err(403, "/tables", {"message": "Missing permission ManageTables"}, "POST")
    text = explain_api_error(said, "c", API_KEY_CONFIG)
    assert text.startswith(
        "The API key of Airflow connection 'c' lacks the permission ManageTables (403 Forbidden)"
    )
    silent = explain_api_error(err(403, "/jobs", {}, "POST"), "c", API_KEY_CONFIG)
    assert silent.startswith(
        "The API key of Airflow connection 'c' lacks a permission for POST /v1/projects/p-1/jobs"
    )
    assert "ManageIngestionJobs" in silent


def test_404_names_the_missing_resource_or_the_project() -> None:
    table = explain_api_error(err(404, "/tables/My%20Table"), "c", API_KEY_CONFIG)
    assert table.startswith("Polaris table 'My Table' does not exist (404 Not Found)")
    project = explain_api_error(err(404, "", {"message": "Project not found"}), "c", None)
    assert "Project ID field (extra.project_id) of Airflow connection 'c'" in project


def test_400_gives_polaris_message_and_field() -> None:
    body = {"code": "BadArgument", "message": "interval not aligned", "target": "target.intervals"}
    text = explain_api_error(err(400, "/jobs", body, "POST"), "c", None)
    assert text.startswith(
        "Polaris rejected POST /v1/projects/p-1/jobs (400 Bad Request) in field "
        "'target.intervals': interval not aligned."
    )


# -- operators against the emulator --------------------------------------------------------------


@pytest.fixture
def wrong_key(emu: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    conn = json.loads(emu.airflow_connection())
    conn["password"] = WRONG_KEY
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", json.dumps(conn))
    return emu


@pytest.mark.parametrize(
    "operator",
    [
        lambda: PolarisCreateJobOperator(task_id="t", job_spec=batch_spec()),
        lambda: PolarisCreateTableOperator(task_id="t", table={"name": "t", "type": "detail"}),
        lambda: PolarisUploadFilesOperator(task_id="t", paths=[__file__]),
    ],
    ids=["job", "table", "files"],
)
def test_every_operator_fails_fast_on_a_wrong_key(
    wrong_key: Any, operator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(AirflowFailException, match=r"\(401 Unauthorized\)") as failure:
        operator().execute(make_context())
    assert WRONG_KEY not in str(failure.value)
    assert [r["status"] for r in wrong_key.request_log()] == [401]


def test_a_malformed_connection_fails_fast(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_POLARIS_DEFAULT",
        json.dumps({"conn_type": "imply_polaris", "host": emu.base_url, "password": "pok_x"}),
    )
    with pytest.raises(AirflowFailException, match="project"):
        PolarisCreateJobOperator(task_id="t", job_spec=batch_spec()).execute(make_context())
    assert emu.request_log() == []


def test_the_trigger_flags_a_permanent_error_and_execute_complete_fails_fast(emu: Any) -> None:
    trigger = PolarisJobTrigger(job_id="no-such-job", poll_interval=0.01, shared_poller=False)

    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(first_event())
    assert event["status"] == "error" and event["permanent"] is True
    assert event["message"].startswith("Polaris job 'no-such-job' does not exist (404 Not Found)")
    operator = PolarisCreateJobOperator(task_id="t", job_spec=batch_spec())
    with pytest.raises(AirflowFailException, match="does not exist"):
        operator.execute_complete(make_context(), event)
    # An event without the flag (older triggers, transient errors) stays retryable.
    old = job_event("error", "j-1", "Polling Polaris job j-1 failed: 503")
    assert "permanent" not in old
    with pytest.raises(PolarisJobFailedError) as retryable:
        operator.execute_complete(make_context(), old)
    assert not isinstance(retryable.value, AirflowFailException)


# -- max_parse_exceptions and allow_unknown_fields -----------------------------------------------


@pytest.mark.parametrize("bad", [-1, True, 1.5, "0"])
def test_max_parse_exceptions_is_validated_at_construction(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_parse_exceptions must be an int >= 0"):
        PolarisCreateJobOperator(task_id="t", job_spec=batch_spec(), max_parse_exceptions=bad)


def test_max_parse_exceptions_goes_where_each_job_type_reads_it(emu: Any) -> None:
    batch = PolarisCreateJobOperator(task_id="t", job_spec=batch_spec(), max_parse_exceptions=0)
    assert batch.render_job_request(make_context())["maxParseExceptions"] == 0
    sql = PolarisSqlIngestionOperator(
        task_id="s",
        sql='INSERT INTO "t" SELECT 1 AS __time PARTITIONED BY DAY',
        context={"finalizeAggregations": False},
        max_parse_exceptions=3,
    )
    body = sql.render_job_request(make_context())
    assert body["context"] == {"finalizeAggregations": False, "maxParseExceptions": 3}
    assert "maxParseExceptions" not in body
    clash = PolarisCreateJobOperator(
        task_id="t", job_spec={**batch_spec(), "maxParseExceptions": 5}, max_parse_exceptions=0
    )
    with pytest.raises(AirflowFailException, match="contradicts maxParseExceptions=5"):
        clash.render_job_request(make_context())
    drop = PolarisCreateJobOperator(
        task_id="d",
        job_spec={"type": "drop_table", "target": {"type": "table", "tableName": "t"}},
        max_parse_exceptions=0,
    )
    with pytest.raises(AirflowFailException, match="not a 'drop_table' job"):
        drop.render_job_request(make_context())
    assert emu.request_log() == []


def test_allow_unknown_fields_reaches_the_spec_parser(emu: Any) -> None:
    spec = batch_spec()
    spec = {**spec, "source": {**spec["source"], "someNewField": 1}}
    strict = PolarisCreateJobOperator(task_id="t", job_spec=spec)
    with pytest.raises(AirflowFailException, match="someNewField"):
        strict.render_job_request(make_context())
    lenient = PolarisCreateJobOperator(
        task_id="t", job_spec=spec, allow_unknown_fields=["source.someNewField"]
    )
    assert lenient.render_job_request(make_context())["source"]["someNewField"] == 1
    with pytest.raises(ValueError, match="allow_unknown_fields"):
        PolarisCreateJobOperator(task_id="t", job_spec=spec, allow_unknown_fields="source.x")
