"""PolarisHook against the local Polaris emulator over real HTTP (API key and OAuth)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_polaris.hooks.polaris import PolarisHook

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


def set_conn(monkeypatch: pytest.MonkeyPatch, emulator: Any, **overrides: Any) -> None:
    conn = json.loads(emulator.airflow_connection())
    extra = {**conn["extra"], **overrides.pop("extra", {})}
    conn.update(overrides, extra=extra)
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", json.dumps(conn))


def test_test_connection_ok_with_the_emulators_connection(polaris_emulator: Any) -> None:
    ok, message = PolarisHook().test_connection()
    assert ok, message
    assert polaris_emulator.project_id in message


def test_test_connection_wrong_key(polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, polaris_emulator, password="pok_not_the_right_key")
    ok, message = PolarisHook().test_connection()
    assert not ok
    assert "401" in message and "API key" in message
    assert "pok_not_the_right_key" not in message


def test_test_connection_wrong_project(
    polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(monkeypatch, polaris_emulator, extra={"project_id": "no-such-project"})
    ok, message = PolarisHook().test_connection()
    assert not ok
    assert "no-such-project" in message and "Project ID" in message


def test_oauth_client_credentials(polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    polaris_emulator.register_oauth_client("airflow-client", "airflow-client-secret")
    set_conn(
        monkeypatch,
        polaris_emulator,
        login="airflow-client",
        password="airflow-client-secret",
        extra={"token_url": polaris_emulator.token_url},
    )
    hook = PolarisHook()
    assert hook.get_config().auth_kind == "oauth"
    ok, message = hook.test_connection()
    assert ok, message


async def test_async_client_reads_the_project(polaris_emulator: Any) -> None:
    hook = PolarisHook()
    client = await hook.get_async_client()
    try:
        project = await client.projects.get()
    finally:
        await hook.aclose()
    assert project["metadata"]["uid"] == polaris_emulator.project_id


def test_sync_client_reads_the_project(polaris_emulator: Any) -> None:
    hook = PolarisHook()
    try:
        assert hook.get_client().projects.get()["metadata"]["uid"] == polaris_emulator.project_id
    finally:
        hook.close()


def _redact(value: str) -> Any:
    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:  # Airflow 2.x
        from airflow.utils.log.secrets_masker import redact  # type: ignore[no-redef]
    return redact(value)


def _use_oauth(polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    polaris_emulator.register_oauth_client("masking-client", "masking-client-secret")
    set_conn(
        monkeypatch,
        polaris_emulator,
        login="masking-client",
        password="masking-client-secret",
        extra={"token_url": polaris_emulator.token_url},
    )


def test_oauth_access_tokens_are_masked_when_fetched(
    polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_oauth(polaris_emulator, monkeypatch)
    client = PolarisHook().get_client()
    client.projects.get()
    token = client.authorization_header().removeprefix("Bearer ")
    assert token
    assert token not in str(_redact(f"sent Authorization: Bearer {token}"))


async def test_oauth_access_tokens_are_masked_on_the_async_path(
    polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_oauth(polaris_emulator, monkeypatch)
    hook = PolarisHook()
    client = await hook.get_async_client()
    await client.projects.get()
    token = (await client.authorization_header()).removeprefix("Bearer ")
    assert token
    assert token not in str(_redact(f"token {token} in a log line"))
    await hook.aclose()


def test_new_client_is_separate_from_the_cached_one(polaris_emulator: Any) -> None:
    hook = PolarisHook()
    cached = hook.get_client()
    with hook.new_client() as fresh:
        assert fresh is not cached
        assert fresh.projects.get()["metadata"]["uid"] == polaris_emulator.project_id
    # Closing the fresh client leaves the cached one usable.
    assert cached.projects.get()["metadata"]["uid"] == polaris_emulator.project_id
    assert hook.get_client() is cached
