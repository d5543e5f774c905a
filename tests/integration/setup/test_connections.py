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
    # A missing connection is permanent: no Airflow retries (hooks/errors.py).
    with pytest.raises(AirflowFailException, match="connection 'p' does not exist") as missing:
        PolarisTestConnectionOperator(task_id="t", name="p").execute(context={})  # type: ignore[arg-type]
    assert isinstance(missing.value.__cause__, PolarisNotFoundError)


# -- Polaris' own rules, checked before any request (polaris-api.md §5) -----------------------

S3_ENDPOINT = "s3.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/polaris"

# name -> (connection spec, secrets connection (login, password, extra) or None, field named)
BAD_CASES: dict[str, tuple[dict[str, Any], tuple[str | None, str, dict[str, Any]] | None, str]] = {
    "kinesis_without_endpoint": (
        {"type": "kinesis", "name": "kin", "stream": "s", "awsAssumedRoleArn": ROLE},
        None,
        "awsEndpoint",
    ),
    "kinesis_without_role": (
        {"type": "kinesis", "name": "kin", "stream": "s", "awsEndpoint": "kinesis.x"},
        None,
        "awsAssumedRoleArn",
    ),
    "s3_without_endpoint": (
        {"type": "s3", "name": "s3c", "bucket": "b", "awsAssumedRoleArn": ROLE},
        None,
        "awsEndpoint",
    ),
    "s3_without_role_or_keys": (
        {"type": "s3", "name": "s3c", "bucket": "b", "awsEndpoint": S3_ENDPOINT},
        None,
        "awsAssumedRoleArn",
    ),
    "s3_access_key_without_id": (
        {"type": "s3", "name": "s3c", "bucket": "b", "awsEndpoint": S3_ENDPOINT},
        (None, PASSWORD, {"type": "access_key"}),
        "secrets.accessKeyId",
    ),
    "azure_access_key_without_secret": (
        {"type": "azure", "name": "az", "storageAccount": "acct", "container": "c1"},
        (None, "", {"type": "access_key"}),
        "secrets.accessKeySecret",
    ),
    "azure_sas_token_without_token": (
        {"type": "azure", "name": "az", "storageAccount": "acct", "container": "c1"},
        (None, "", {"type": "sas_token"}),
        "secrets.sasToken",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_what_polaris_would_refuse_fails_before_any_request(
    case: str, polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, secrets, field = BAD_CASES[case]
    secrets_conn_id = _secrets_conn(monkeypatch, *secrets) if secrets else None
    op = PolarisCreateConnectionOperator(
        task_id="t", connection=spec, secrets_conn_id=secrets_conn_id
    )
    with pytest.raises(AirflowFailException) as info:
        op.execute(context={})  # type: ignore[arg-type]
    assert f"{field}:" in str(info.value) and PASSWORD not in str(info.value)
    assert polaris_emulator.request_log() == []


def test_the_emulator_refuses_the_same_bodies(client: Any) -> None:
    """The rules above are Polaris' (as the emulator plays it): a body that skips the provider's
    checks gets a 400 naming the same field."""
    from airflow_provider_polaris.client import PolarisBadRequestError

    for case in ("kinesis_without_endpoint", "s3_without_role_or_keys"):
        spec, _, field = BAD_CASES[case]
        with pytest.raises(PolarisBadRequestError, match=field):
            client.connections.create(spec)


# -- Kafka mutual TLS: the client key comes from the secrets connection -----------------------

PEM_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-never-log\n"
    "-----END PRIVATE KEY-----"
)
KEY_PASSWORD = "kp-never-log-4242"
MTLS_SPEC = {
    "type": "kafka",
    "name": "mtls",
    "bootstrapServers": "b1:9094",
    "topicName": "clicks",
    "ssl": {
        "keystore": {"type": "pem", "certificates": "-----BEGIN CERTIFICATE-----\nCERT"},
        "truststore": {"type": "pem", "certificates": "CA"},
    },
}


def test_kafka_client_key_comes_from_the_secrets_connection(
    polaris_emulator: Any,
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    extra = {
        "type": "sasl_plain",
        "ssl_keystore_key": PEM_KEY,
        "ssl_keystore_key_password": KEY_PASSWORD,
    }
    secrets_conn_id = _secrets_conn(monkeypatch, LOGIN, PASSWORD, extra)
    op = PolarisCreateConnectionOperator(
        task_id="t", connection=MTLS_SPEC, secrets_conn_id=secrets_conn_id
    )
    op.render_template_fields(context={})  # type: ignore[arg-type]
    result = op.execute(context={})  # type: ignore[arg-type]
    assert result["action"] == "created"

    stored = polaris_emulator.state.connections["mtls"]  # what Polaris keeps, not what it shows
    keystore = stored["ssl"]["keystore"]
    assert keystore == {
        "type": "pem",
        "certificates": MTLS_SPEC["ssl"]["keystore"]["certificates"],  # type: ignore[index]
        "key": PEM_KEY,
        "keyPassword": KEY_PASSWORD,
    }
    assert stored["_secrets"] == {"type": "sasl_plain", "username": LOGIN, "password": PASSWORD}
    assert "key" not in client.connections.get("mtls")["ssl"]["keystore"]

    rendered = json.dumps({f: getattr(op, f) for f in op.template_fields}, default=str)
    text = _logs(caplog, capsys) + json.dumps(result) + rendered
    for secret in (PEM_KEY, KEY_PASSWORD, PASSWORD):
        assert secret not in text
    assert KEY_PASSWORD not in _redact(f"x {KEY_PASSWORD} y")  # registered with the masker
    assert PEM_KEY not in _redact(f"x {PEM_KEY} y")


def test_kafka_client_key_in_the_dag_file_is_refused(
    polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_polaris.models import parse_connection_spec

    in_dag = {**MTLS_SPEC, "ssl": {"keystore": {"type": "pem", "key": PEM_KEY}}}
    with pytest.raises(ValueError, match="secrets_conn_id") as info:
        PolarisCreateConnectionOperator(task_id="t", connection=in_dag)
    assert "ssl_keystore_key" in str(info.value) and PEM_KEY not in str(info.value)
    model = parse_connection_spec({**MTLS_SPEC, "ssl": {"keystore": {"keyPassword": "kp"}}})
    with pytest.raises(ValueError, match="secrets_conn_id"):
        PolarisCreateConnectionOperator(task_id="t", connection=model)
    # What a template renders is checked when the task runs, before any request.
    secrets_conn_id = _secrets_conn(monkeypatch, LOGIN, PASSWORD, {"type": "sasl_plain"})
    op = PolarisCreateConnectionOperator(
        task_id="t", connection=MTLS_SPEC, secrets_conn_id=secrets_conn_id
    )
    op.connection = in_dag
    with pytest.raises(AirflowFailException, match="ssl_keystore_key"):
        op.execute(context={})  # type: ignore[arg-type]
    assert polaris_emulator.request_log() == []


# -- what the secrets connection's extras map to -----------------------------------------------


def test_unrelated_extras_are_not_sent_and_are_named(
    polaris_emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    # e.g. an AWS connection reused as the secrets connection: region_name is not a secret field.
    extra = {"type": "access_key", "region_name": "us-east-1", "role_arn": ROLE}
    secrets_conn_id = _secrets_conn(monkeypatch, "AKIAEXAMPLE", PASSWORD, extra)
    spec = {"type": "s3", "name": "s3c", "bucket": "b", "awsEndpoint": S3_ENDPOINT}
    op = PolarisCreateConnectionOperator(
        task_id="t", connection=spec, secrets_conn_id=secrets_conn_id
    )
    assert op.execute(context={})["action"] == "created"  # type: ignore[arg-type]
    assert polaris_emulator.state.connections["s3c"]["_secrets"] == {
        "type": "access_key",
        "accessKeyId": "AKIAEXAMPLE",
        "accessKeySecret": PASSWORD,
    }
    logs = _logs(caplog, capsys)
    assert "'region_name', 'role_arn' ignored (not fields of access_key secrets" in logs
    assert "us-east-1" not in logs  # names only, never values


def test_snake_case_extras_map_to_the_secret_fields(
    polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {"type": "aws_iam", "aws_assumed_role_arn": ROLE}
    secrets_conn_id = _secrets_conn(monkeypatch, None, "", extra)
    spec = {"type": "kafka", "name": "msk", "bootstrapServers": "b:9098", "topicName": "t"}
    op = PolarisCreateConnectionOperator(
        task_id="t", connection=spec, secrets_conn_id=secrets_conn_id
    )
    assert op.execute(context={})["action"] == "created"  # type: ignore[arg-type]
    assert polaris_emulator.state.connections["msk"]["_secrets"] == {
        "type": "aws_iam",
        "awsAssumedRoleArn": ROLE,
    }


def test_ignore_reports_a_different_secret_type(
    polaris_emulator: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = {"type": "kafka", "name": "k", "bootstrapServers": "b:1", "topicName": "t"}
    client.connections.create(
        {**spec, "secrets": {"type": "sasl_plain", "username": LOGIN, "password": PASSWORD}}
    )
    extra = {"type": "sasl_scram", "mechanism": "SCRAM-SHA-512"}
    secrets_conn_id = _secrets_conn(monkeypatch, LOGIN, PASSWORD, extra)
    op = PolarisCreateConnectionOperator(
        task_id="t", connection=spec, secrets_conn_id=secrets_conn_id
    )
    result = op.execute(context={})  # type: ignore[arg-type]
    assert result["action"] == "exists"
    assert result["differences"] == [
        'secrets.type: Polaris has "sasl_plain", spec wants "sasl_scram" '
        "(secret values are never compared)"
    ]
    assert polaris_emulator.count_requests("PATCH", r"/connections/.*") == 0


@pytest.mark.parametrize("extra", [[1, 2], 355, True])
def test_secrets_connection_whose_extra_is_not_an_object_fails_before_any_request(
    polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch, extra: Any
) -> None:
    from airflow_provider_polaris.hooks.config import PolarisConnectionConfigError

    monkeypatch.setenv(
        "AIRFLOW_CONN_KAFKA_SECRETS",
        json.dumps({"conn_type": "generic", "password": PASSWORD, "extra": extra}),
    )
    op = PolarisCreateConnectionOperator(
        task_id="t",
        connection={"type": "kafka", "name": "k", "bootstrapServers": "b:1", "topicName": "t"},
        secrets_conn_id="kafka_secrets",
    )
    polaris_emulator.clear_request_log()
    with pytest.raises((PolarisConnectionConfigError, AirflowFailException)) as raised:
        op.execute(context={})  # type: ignore[arg-type]
    assert "'kafka_secrets'" in str(raised.value) and "extra" in str(raised.value)
    assert PASSWORD not in str(raised.value)
    assert polaris_emulator.request_log() == []
