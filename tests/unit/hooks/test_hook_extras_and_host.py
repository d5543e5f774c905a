"""Malformed extras and credentials typed into the host: the connection error, never a crash/leak.

Every form Airflow accepts a connection in is covered: a JSON env var (extra as an object, as
JSON text, or as a bare JSON value), a URI with query parameters or ``__extra__``, and a
``Connection`` object; on both Airflow lines (the suite runs under each venv).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_polaris import _compat
from airflow_provider_polaris._compat import Connection
from airflow_provider_polaris.hooks.config import (
    PolarisConnectionConfigError,
    connection_secrets,
)
from airflow_provider_polaris.hooks.polaris import PolarisHook

PROJECT = "0b7c2a4e-8d0e-4c1b-9f43-2a7f1f9c1d55"
API_KEY = "pok_Hook5ecretKeyForExtras"
HOST_SECRET = "Typed1nHostS3cret"
CONN_ID = "polaris_default"


def env_json(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> None:
    conn = {"conn_type": "imply_polaris", "host": "myorg", "password": API_KEY, **fields}
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", json.dumps(conn))


def env_uri(monkeypatch: pytest.MonkeyPatch, query: str, host: str = "myorg") -> None:
    uri = f"imply-polaris://:{quote(API_KEY, safe='')}@{host}/?{query}"
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", uri)


def config_error(mode: str = "sync") -> PolarisConnectionConfigError:
    hook = PolarisHook()
    with pytest.raises(PolarisConnectionConfigError) as info:
        if mode == "sync":
            hook.get_config()
        else:
            asyncio.run(hook.aget_config())
    return info.value


def assert_extra_error(error: PolarisConnectionConfigError, kind: str) -> None:
    message = str(error)
    assert (error.conn_id, error.field) == (CONN_ID, "extra")
    assert message.startswith(
        "Polaris connection 'polaris_default', field 'extra': must be a JSON object like "
        '{"project_id": "<uuid>", "region": "us-east-1"}, got ' + kind
    )
    assert API_KEY not in message


NON_OBJECTS = [([1], "a list"), (355, "a number"), (True, "the boolean true"), ("x", "a string")]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("value", "kind"), NON_OBJECTS[:3])
def test_json_env_var_with_a_non_object_extra(
    monkeypatch: pytest.MonkeyPatch, mode: str, value: Any, kind: str
) -> None:
    env_json(monkeypatch, extra=value)
    assert_extra_error(config_error(mode), kind)


def test_json_env_var_with_a_string_extra_reads_it_as_json_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Airflow treats a string ``extra`` as JSON text, so ``"x"`` is text that is not JSON."""
    env_json(monkeypatch, extra="x")
    error = config_error()
    assert error.field == "extra"
    assert "is not valid JSON (Expecting value at line 1, column 1)" in str(error)


@pytest.mark.parametrize(("value", "kind"), NON_OBJECTS)
def test_json_env_var_with_json_text_of_a_non_object(
    monkeypatch: pytest.MonkeyPatch, value: Any, kind: str
) -> None:
    env_json(monkeypatch, extra=json.dumps(value))
    assert_extra_error(config_error(), kind)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("value", "kind"), NON_OBJECTS)
def test_uri_dunder_extra_with_a_non_object(
    monkeypatch: pytest.MonkeyPatch, mode: str, value: Any, kind: str
) -> None:
    env_uri(monkeypatch, "__extra__=" + quote(json.dumps(value), safe=""))
    assert_extra_error(config_error(mode), kind)


@pytest.mark.parametrize(("value", "kind"), NON_OBJECTS)
def test_connection_object_with_a_non_object_extra(value: Any, kind: str) -> None:
    conn = Connection(
        conn_id=CONN_ID,
        conn_type="imply_polaris",
        host="myorg",
        password=API_KEY,
        extra=json.dumps(value),
    )
    with pytest.raises(PolarisConnectionConfigError) as info:
        PolarisHook.config_from_connection(conn)
    assert_extra_error(info.value, kind)


def test_extra_encoded_twice_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    env_json(monkeypatch, extra=json.dumps(json.dumps({"project_id": PROJECT})))
    error = config_error()
    assert_extra_error(error, "a string holding a JSON object")
    assert "JSON-encoded twice" in str(error)


def test_extra_that_is_not_json_is_named_not_reported_as_a_missing_project() -> None:
    conn = Connection(
        conn_id=CONN_ID, conn_type="imply_polaris", host="myorg", password=API_KEY, extra="{oops"
    )
    with pytest.raises(PolarisConnectionConfigError) as info:
        PolarisHook.config_from_connection(conn)
    assert info.value.field == "extra"
    assert str(info.value).startswith(
        "Polaris connection 'polaris_default', field 'extra': is not valid JSON (Expecting "
        "property name enclosed in double quotes at line 1, column 2)"
    )


@pytest.mark.parametrize("extra", [None, "", "null", "{}"])
def test_empty_extras_still_ask_for_the_project_id(extra: str | None) -> None:
    conn = Connection(
        conn_id=CONN_ID, conn_type="imply_polaris", host="myorg", password=API_KEY, extra=extra
    )
    with pytest.raises(PolarisConnectionConfigError) as info:
        PolarisHook.config_from_connection(conn)
    assert info.value.field == "extra.project_id"


def test_uri_query_parameters_still_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    env_uri(monkeypatch, f"project_id={PROJECT}&region=us-east-1&timeout=7")
    config = PolarisHook().get_config()
    assert (config.project_id, config.read_timeout) == (PROJECT, 7.0)


@pytest.mark.parametrize(
    ("extra", "field", "problem"),
    [
        ({"project_id": [PROJECT]}, "extra.project_id", "expected text, got a list."),
        ({"project_id": {"id": PROJECT}}, "extra.project_id", "expected text, got a JSON object."),
        ({"region": True}, "extra.region", "expected text, got the boolean true."),
        ({"verify": {"path": "/x"}}, "extra.verify", "expected true, false or the path of a CA"),
        ({"timeout": "inf"}, "extra.timeout", "must be a finite number above 0, got 'inf'."),
        ({"connect_timeout": float("nan")}, "extra.connect_timeout", "must be a finite number"),
        ({"max_retries": [1]}, "extra.max_retries", "expected a whole number, got [1]."),
    ],
)
def test_wrongly_typed_extra_values_name_their_field(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], field: str, problem: str
) -> None:
    env_json(monkeypatch, extra={"project_id": PROJECT, "region": "us-east-1", **extra})
    error = config_error()
    assert error.field == field
    assert str(error).startswith(
        f"Polaris connection 'polaris_default', field {field!r}: {problem}"
    )


# -- credentials typed into the host ---------------------------------------------------------

HOSTS_WITH_CREDENTIALS = [
    (f"https://u:{HOST_SECRET}@myorg.app.imply.io", "https://myorg.app.imply.io"),
    (f"u:{HOST_SECRET}@myorg", "myorg"),
    (f"{HOST_SECRET}@myorg.us-east-1.aws.api.imply.io", "myorg.us-east-1.aws.api.imply.io"),
    (f"http://admin:{HOST_SECRET}@127.0.0.1:8795/v1", "http://127.0.0.1:8795/v1"),
    (f"ftp://u:{HOST_SECRET}@files.example", "ftp://files.example"),
    (f"u:{HOST_SECRET}@[::1", "[::1"),  # unparseable: the "cannot read" error would echo it
    (f"u:{HOST_SECRET}/x@myorg", "myorg"),  # an unencoded '/' in the pasted secret
    (f"u:{HOST_SECRET}@https://myorg.app.imply.io", "https://myorg.app.imply.io"),
    (f"https://u:{quote(HOST_SECRET + '/x', safe='')}@myorg", "https://myorg"),
]


@pytest.mark.parametrize(("host", "shown"), HOSTS_WITH_CREDENTIALS)
def test_credentials_in_the_host_are_an_error_that_never_shows_them(host: str, shown: str) -> None:
    conn = Connection(
        conn_id=CONN_ID,
        conn_type="imply_polaris",
        host=host,
        password=API_KEY,
        extra=json.dumps({"project_id": PROJECT, "region": "us-east-1"}),
    )
    with pytest.raises(PolarisConnectionConfigError) as info:
        PolarisHook.config_from_connection(conn)
    message = str(info.value)
    assert info.value.field == "host"
    assert message == (
        "Polaris connection 'polaris_default', field 'host': contains credentials "
        "(user:password@ before the host name; not shown here). Put the API key in the password "
        "field (or the OAuth client ID in login and its secret in password) and only the host "
        f"({shown}) in the host field."
    )
    assert HOST_SECRET not in message and quote(HOST_SECRET) not in message


def test_host_credentials_are_listed_for_masking_decoded_too() -> None:
    conn = Connection(
        conn_id=CONN_ID,
        conn_type="imply_polaris",
        host=f"https://u:{quote(HOST_SECRET + '/x', safe='')}@myorg",
        password=API_KEY,
    )
    secrets = connection_secrets(conn)
    assert API_KEY in secrets
    assert f"{HOST_SECRET}/x" in secrets and f"u:{HOST_SECRET}/x" in secrets
    plain = Connection(conn_id=CONN_ID, conn_type="imply_polaris", host="myorg", password=API_KEY)
    assert connection_secrets(plain) == [API_KEY]


def redact(value: str) -> str:
    try:
        from airflow.sdk._shared.secrets_masker import redact as airflow_redact
    except ImportError:  # Airflow 2.x
        from airflow.utils.log.secrets_masker import redact as airflow_redact
    return str(airflow_redact(value))


def test_host_credentials_are_masked_when_read_and_absent_from_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env_json(monkeypatch, host=f"https://u:{HOST_SECRET}@myorg.app.imply.io")
    seen: list[Any] = []
    real = _compat._mask_secret
    monkeypatch.setattr(_compat, "_mask_secret", lambda value: (seen.append(value), real(value)))
    caplog.set_level(logging.DEBUG)
    error = config_error()
    assert HOST_SECRET in seen  # registered before the parser could fail
    assert HOST_SECRET not in redact(f"host was u:{HOST_SECRET}@myorg")
    assert HOST_SECRET not in str(error)
    assert HOST_SECRET not in caplog.text
    ok, message = PolarisHook().test_connection()
    assert not ok and "contains credentials" in message and HOST_SECRET not in message


def test_host_credentials_are_masked_with_the_async_masker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env_json(monkeypatch, host=f"u:{HOST_SECRET}@myorg")
    seen: list[str] = []

    async def fake_amask(value: str | None) -> None:
        seen.append(value or "")

    monkeypatch.setattr("airflow_provider_polaris.hooks.polaris.amask_secret", fake_amask)
    config_error("async")
    assert seen == [API_KEY, f"u:{HOST_SECRET}", HOST_SECRET]


@pytest.mark.parametrize(
    "host",
    [
        f"https://myorg.app.imply.io/tables?token={HOST_SECRET}",
        f"myorg.us-east-1.aws.api.imply.io/api/v2#{HOST_SECRET}",
        f"my_org!?token={HOST_SECRET}",
    ],
)
def test_query_and_fragment_of_the_host_are_never_echoed(host: str) -> None:
    conn = Connection(
        conn_id=CONN_ID,
        conn_type="imply_polaris",
        host=host,
        password=API_KEY,
        extra=json.dumps({"project_id": PROJECT, "region": "us-east-1"}),
    )
    with pytest.raises(PolarisConnectionConfigError) as info:
        PolarisHook.config_from_connection(conn)
    assert info.value.field == "host"
    assert HOST_SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("extra", "port", "field", "problem"),
    [
        ({"token_url": "id.example/token"}, None, "extra.token_url", "expected an http(s):// URL"),
        (
            {"token_url": f"https://c:{HOST_SECRET}@id.example/token"},
            None,
            "extra.token_url",
            "contains credentials (user:password@; not shown here); remove them.",
        ),
        ({"console_url": "ftp://console"}, None, "extra.console_url", "expected an http(s)://"),
        ({}, 70000, "port", "must be a whole number from 1 to 65535, got 70000."),
    ],
)
def test_url_extras_and_port_are_checked(
    extra: dict[str, Any], port: int | None, field: str, problem: str
) -> None:
    conn = Connection(
        conn_id=CONN_ID,
        conn_type="imply_polaris",
        host="http://127.0.0.1",
        login="client-id",
        password=API_KEY,
        port=port,
        extra=json.dumps({"project_id": PROJECT, "token_url": "http://127.0.0.1/t", **extra}),
    )
    with pytest.raises(PolarisConnectionConfigError) as info:
        PolarisHook.config_from_connection(conn)
    assert info.value.field == field
    assert str(info.value).startswith(f"Polaris connection 'polaris_default', field {field!r}: ")
    assert problem in str(info.value) and HOST_SECRET not in str(info.value)
