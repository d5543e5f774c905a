"""PolarisCreate/Delete/TestConnectionOperator against the emulator; secrets never leak."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.client import PolarisNotFoundError
from airflow_provider_polaris.operators.connections import (
    PolarisCreateConnectionOperator,
    PolarisDeleteConnectionOperator,
    PolarisTestConnectionOperator,
)

LOGIN = "svc-user-7781"
PASSWORD = "pw-5f0c2d9a-never-log-me"
SAS = "?sv=2024&sig=sas-token-never-log-me"

# type -> (spec, secrets connection (login, password, extra) or None, property to change)
CASES: dict[
    str, tuple[dict[str, Any], tuple[str | None, str, dict[str, Any]] | None, tuple[str, Any]]
] = {
    "kafka": (
        {"type": "kafka", "name": "k", "bootstrapServers": "b1:9092", "topicName": "clicks"},
        (LOGIN, PASSWORD, {"type": "sasl_scram", "mechanism": "SCRAM-SHA-512"}),
        ("topicName", "clicks-v2"),
    ),
    "confluent": (
        {"type": "confluent", "name": "c", "bootstrapServers": "pkc:9092", "topicName": "t"},
        (LOGIN, PASSWORD, {}),  # the secret type defaults to sasl_plain
        ("topicName", "t2"),
    ),
    "kinesis": (
        {
            "type": "kinesis",
            "name": "kin",
            "stream": "s",
            "awsEndpoint": "kinesis.us-east-1.amazonaws.com",
            "awsAssumedRoleArn": "arn:aws:iam::123456789012:role/polaris",
        },
        None,
        ("stream", "s2"),
    ),
    "s3": (
        {
            "type": "s3",
            "name": "s3c",
            "bucket": "b",
            "awsEndpoint": "s3.us-east-1.amazonaws.com",
            "prefix": "in/",
        },
        ("AKIAEXAMPLE", PASSWORD, {"type": "access_key"}),
        ("prefix", "in2/"),
    ),
    "azure": (
        {"type": "azure", "name": "az", "storageAccount": "acct", "container": "c1"},
        (None, SAS, {"type": "sas_token"}),
        ("container", "c2"),
    ),
    "confluent_schema_registry": (
        {"type": "confluent_schema_registry", "name": "sr", "urls": ["https://sr.example.com"]},
        (LOGIN, PASSWORD, {}),  # basic
        ("urls", ["https://sr2.example.com"]),
    ),
    "push_streaming": (
        {"type": "push_streaming", "name": "ps", "description": "pushes"},
        None,
        ("description", "pushes v2"),
    ),
}


def _redact(text: str) -> str:
    try:
        from airflow.sdk.log import redact
    except ImportError:  # Airflow 2
        from airflow.utils.log.secrets_masker import redact
    return str(redact(text))


def _secrets_conn(
    monkeypatch: pytest.MonkeyPatch, login: str | None, pw: str, extra: dict[str, Any]
) -> str:
    conn: dict[str, Any] = {"conn_type": "generic", "password": pw, "extra": extra}
    if login:
        conn["login"] = login
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_SECRETS", json.dumps(conn))
    return "polaris_secrets"


def _logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return caplog.text + captured.out + captured.err


@pytest.mark.parametrize("conn_type", list(CASES))
def test_create_ignore_update_fail(
    conn_type: str,
    polaris_emulator: Any,
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec, secrets, (prop, new_value) = CASES[conn_type]
    secrets_conn_id = _secrets_conn(monkeypatch, *secrets) if secrets else None
    caplog.set_level(logging.DEBUG)

    def run(connection: dict[str, Any], if_exists: str) -> dict[str, Any]:
        op = PolarisCreateConnectionOperator(
            task_id=f"create_{if_exists}",
            connection=connection,
            secrets_conn_id=secrets_conn_id,
            if_exists=if_exists,  # type: ignore[arg-type]
        )
        op.render_template_fields(context={})  # type: ignore[arg-type]
        rendered = json.dumps({f: getattr(op, f) for f in op.template_fields}, default=str)
        assert PASSWORD not in rendered and SAS not in rendered
        result = op.execute(context={})  # type: ignore[arg-type]
        assert PASSWORD not in json.dumps(result) and SAS not in json.dumps(result)
        return result

    created = run(spec, "ignore")
    assert created["action"] == "created"
    if secrets:
        assert client.connections.get(spec["name"])["secrets"]["type"]

    changed = {**spec, prop: new_value}
    ignored = run(changed, "ignore")
    assert ignored["action"] == "exists"
    assert len(ignored["differences"]) == 1 and ignored["differences"][0].startswith(prop)
    assert client.connections.get(spec["name"])[prop] == spec[prop]
    assert "differs from the spec" in _logs(caplog, capsys)

    updated = run(changed, "update")
    assert updated["action"] == "updated"
    assert client.connections.get(spec["name"])[prop] == new_value
    patches = [e for e in polaris_emulator.request_log() if e["method"] == "PATCH"]
    assert len(patches) == 1

    with pytest.raises(AirflowFailException, match="already exists"):
        run(spec, "fail")

    text = _logs(caplog, capsys)
    for secret in (PASSWORD, SAS):
        assert secret not in text
    if secrets:
        assert secrets[1] not in _redact(f"x {secrets[1]} y")  # registered with the masker


def test_missing_properties_and_secrets_fail_before_any_request(
    polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = PolarisCreateConnectionOperator(
        task_id="t", connection={"type": "kafka", "name": "k", "topicName": "t"}
    )
    with pytest.raises(AirflowFailException) as info:
        op.execute(context={})  # type: ignore[arg-type]
    assert "bootstrapServers" in str(info.value)
    op = PolarisCreateConnectionOperator(
        task_id="t",
        connection={"type": "kafka", "name": "k", "bootstrapServers": "b:1", "topicName": "t"},
    )
    with pytest.raises(AirflowFailException, match="secrets"):
        op.execute(context={})  # type: ignore[arg-type]
    secrets_id = _secrets_conn(monkeypatch, LOGIN, PASSWORD, {"type": "sasl_scram"})
    op = PolarisCreateConnectionOperator(
        task_id="t",
        connection={"type": "kafka", "name": "k", "bootstrapServers": "b:1", "topicName": "t"},
        secrets_conn_id=secrets_id,
    )
    with pytest.raises(AirflowFailException, match="mechanism") as info:
        op.execute(context={})  # type: ignore[arg-type]
    assert PASSWORD not in str(info.value)
    assert polaris_emulator.count_requests(None, r"/connections.*") == 0


def test_secrets_in_the_dag_file_are_refused() -> None:
    with pytest.raises(ValueError, match="secrets_conn_id"):
        PolarisCreateConnectionOperator(
            task_id="t",
            connection={"type": "push_streaming", "name": "p", "secrets": {"type": "basic"}},
        )


def test_full_secrets_object_in_extra(
    polaris_emulator: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {"type": "sasl_plain", "username": LOGIN, "password": PASSWORD}
    monkeypatch.setenv(
        "AIRFLOW_CONN_KAFKA_SECRETS",
        json.dumps({"conn_type": "generic", "extra": {"secrets": secrets}}),
    )
    op = PolarisCreateConnectionOperator(
        task_id="t",
        connection={"type": "kafka", "name": "k", "bootstrapServers": "b:1", "topicName": "t"},
        secrets_conn_id="kafka_secrets",
    )
    assert op.execute(context={})["action"] == "created"  # type: ignore[arg-type]
    assert client.connections.get("k")["secrets"] == {"type": "sasl_plain"}
    assert PASSWORD not in _redact(PASSWORD)


def test_delete_and_test_connection(polaris_emulator: Any, client: Any) -> None:
    client.connections.create({"type": "push_streaming", "name": "p"})
    assert PolarisTestConnectionOperator(task_id="t", name="p").execute(context={}) is not None  # type: ignore[arg-type]
    assert PolarisDeleteConnectionOperator(task_id="d", name="p").execute(context={}) is True  # type: ignore[arg-type]
    with pytest.raises(PolarisNotFoundError):
        client.connections.get("p")
    assert PolarisDeleteConnectionOperator(task_id="d", name="p").execute(context={}) is False  # type: ignore[arg-type]
    with pytest.raises(AirflowFailException):
        PolarisDeleteConnectionOperator(task_id="d", name="p", missing_ok=False).execute(context={})  # type: ignore[arg-type]
    with pytest.raises(PolarisNotFoundError):
        PolarisTestConnectionOperator(task_id="t", name="p").execute(context={})  # type: ignore[arg-type]
