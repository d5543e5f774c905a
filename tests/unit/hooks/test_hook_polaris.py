"""PolarisHook: env-var connections, sync and async lookups, clients, masking, test_connection."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any
from urllib.parse import quote

import airflow
import httpx
import pytest
import respx
from packaging.version import Version

import airflow_provider_polaris
from airflow_provider_polaris import _compat
from airflow_provider_polaris.client import AsyncPolarisClient, PolarisClient
from airflow_provider_polaris.client.auth import basic_authorization, basic_credentials
from airflow_provider_polaris.hooks.config import PolarisConnectionConfigError
from airflow_provider_polaris.hooks.polaris import PolarisHook

PROJECT = "0b7c2a4e-8d0e-4c1b-9f43-2a7f1f9c1d55"
API_KEY = "pok_Very5ecretApiKeyValue"
BASE = "http://polaris.test"
PROJECT_URL = f"{BASE}/v1/projects/{PROJECT}"


def json_conn(**overrides: Any) -> str:
    conn: dict[str, Any] = {
        "conn_type": "imply_polaris",
        "host": BASE,
        "password": API_KEY,
        "extra": {"project_id": PROJECT, "timeout": 12, "max_retries": 1},
    }
    conn.update(overrides)
    return json.dumps(conn)


@pytest.fixture
def polaris_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", json_conn())


def redact(value: str) -> Any:
    """Run ``value`` through Airflow's own secrets masker (its path differs per Airflow line)."""
    try:
        from airflow.sdk._shared.secrets_masker import redact as airflow_redact
    except ImportError:  # Airflow 2.x
        from airflow.utils.log.secrets_masker import redact as airflow_redact
    return airflow_redact(value)


def test_construction_does_no_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("connection looked up at construction time")

    monkeypatch.setattr(PolarisHook, "get_connection", boom)
    hook = PolarisHook()
    assert hook.polaris_conn_id == "polaris_default"
    assert PolarisHook(polaris_conn_id="other").polaris_conn_id == "other"


def test_class_attributes() -> None:
    assert PolarisHook.conn_name_attr == "polaris_conn_id"
    assert PolarisHook.default_conn_name == "polaris_default"
    assert PolarisHook.conn_type == "imply_polaris"
    assert PolarisHook.hook_name == "Imply Polaris"


def test_env_json_connection(polaris_env: None) -> None:
    config = PolarisHook().get_config()
    assert config.base_url == BASE
    assert config.project_id == PROJECT
    assert config.api_key == API_KEY
    assert config.read_timeout == 12
    assert config.retry.max_attempts == 2


def test_env_uri_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = (
        f"imply-polaris://:{quote(API_KEY, safe='')}@myorg.us-east-1.aws.api.imply.io/"
        f"?project_id={PROJECT}&timeout=10&verify=false&max_retries=3"
    )
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_URI", uri)
    config = PolarisHook("polaris_uri").get_config()
    assert config.base_url == "https://myorg.us-east-1.aws.api.imply.io"
    assert config.org == "myorg"
    assert (config.read_timeout, config.verify, config.retry.max_attempts) == (10.0, False, 4)
    assert config.api_key == API_KEY


def test_env_uri_connection_with_base_url_and_oauth(monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow's "host with protocol" URI form: conn-type://scheme://login:password@host:port
    uri = (
        "imply-polaris://http://my-client:s3cret-value@127.0.0.1:8795/"
        f"?project_id={PROJECT}&token_url=http%3A%2F%2F127.0.0.1%3A8795%2Ftoken"
    )
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", uri)
    config = PolarisHook().get_config()
    assert config.base_url == "http://127.0.0.1:8795"
    assert config.auth_kind == "oauth"
    assert (config.client_id, config.client_secret) == ("my-client", "s3cret-value")
    assert config.token_url == "http://127.0.0.1:8795/token"


def test_env_uri_connection_with_a_docker_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"imply-polaris://:{quote(API_KEY, safe='')}@polaris-emulator:8795?project_id={PROJECT}"
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", uri)
    config = PolarisHook().get_config()
    assert config.base_url == "http://polaris-emulator:8795"
    assert config.project_url == f"http://polaris-emulator:8795/v1/projects/{PROJECT}"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_user_agent_names_the_provider_and_the_running_airflow(
    polaris_env: None, mode: str
) -> None:
    with respx.mock:
        route = respx.get(PROJECT_URL).respond(200, json={"metadata": {"uid": PROJECT}})
        hook = PolarisHook()
        if mode == "sync":
            hook.get_client().projects.get()
            hook.close()
        else:

            async def get() -> None:
                await (await hook.get_async_client()).projects.get()
                await hook.aclose()

            asyncio.run(get())
    products = route.calls.last.request.headers["User-Agent"].split()
    assert f"airflow-provider-polaris/{airflow_provider_polaris.__version__}" in products
    assert f"apache-airflow/{Version(airflow.__version__).base_version}" in products


def test_bad_env_connection_raises_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", json_conn(extra={}))
    with respx.mock(assert_all_called=False) as router:
        with pytest.raises(PolarisConnectionConfigError, match=r"'polaris_default'.*project_id"):
            PolarisHook().get_client()
        assert not router.calls


def test_secret_is_masked_when_read(polaris_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    real = _compat._mask_secret
    monkeypatch.setattr(_compat, "_mask_secret", lambda value: (seen.append(value), real(value)))
    hook = PolarisHook()
    hook.get_config()
    assert API_KEY in seen
    assert API_KEY not in str(redact(f"Authorization uses {API_KEY} here"))
    assert API_KEY not in repr(hook)
    assert API_KEY not in repr(hook.get_config())


def test_masked_secret_is_redacted_from_a_log_record(polaris_env: None) -> None:
    PolarisHook().get_config()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key=%s", (API_KEY,), None)
    assert API_KEY not in str(redact(record.getMessage()))


def test_get_client_is_cached_and_closed(polaris_env: None) -> None:
    hook = PolarisHook()
    client = hook.get_client()
    assert isinstance(client, PolarisClient)
    assert hook.get_client() is client
    hook.close()
    assert hook.get_client() is not client
    hook.close()


async def test_aget_config_and_async_client(polaris_env: None) -> None:
    hook = PolarisHook()
    config = await hook.aget_config()
    assert config.project_id == PROJECT
    client = await hook.get_async_client()
    assert isinstance(client, AsyncPolarisClient)
    assert await hook.get_async_client() is client
    await hook.aclose()


async def test_aget_config_masks_with_the_async_masker(
    polaris_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    async def fake_amask(value: str | None) -> None:
        seen.append(value or "")

    monkeypatch.setattr("airflow_provider_polaris.hooks.polaris.amask_secret", fake_amask)
    monkeypatch.setattr(
        "airflow_provider_polaris.hooks.polaris.mask_secret",
        lambda value: pytest.fail("sync mask_secret called inside the event loop"),
    )
    await PolarisHook().aget_config()
    assert seen == [API_KEY, basic_credentials(API_KEY)]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_basic_credentials_of_the_key_are_masked(polaris_env: None, mode: str) -> None:
    """base64(key:) decodes to the key: a logged Authorization header must not show it."""
    hook = PolarisHook()
    if mode == "sync":
        hook.get_config()
    else:
        asyncio.run(hook.aget_config())
    header = basic_authorization(API_KEY)
    assert basic_credentials(API_KEY) not in str(redact(f"headers={{'Authorization': {header!r}}}"))


async def test_async_client_is_built_off_the_event_loop_once(
    polaris_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building it loads the TLS trust store (tens of ms): never on the triggerer's loop."""
    built_in: list[threading.Thread] = []
    real_init = httpx.AsyncClient.__init__

    def spy(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        built_in.append(threading.current_thread())
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", spy)
    hook = PolarisHook()
    first, second = await asyncio.gather(hook.get_async_client(), hook.get_async_client())
    assert first is second
    assert len(built_in) == 1
    assert built_in[0] is not threading.current_thread()
    await hook.aclose()


async def test_aget_connection_fallback_does_not_block_the_loop(
    polaris_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a native aget_connection (2.11, 3.0) the lookup runs in a worker thread."""
    real_get = _compat.BaseHook.get_connection

    class SlowHook:
        @classmethod
        def get_connection(cls, conn_id: str) -> Any:
            time.sleep(0.3)  # a slow secrets backend
            return real_get(conn_id)

    monkeypatch.setattr(_compat, "BaseHook", SlowHook)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        config = await PolarisHook().aget_config()
    finally:
        task.cancel()
    assert config.project_id == PROJECT
    assert ticks >= 10  # the loop kept running while the lookup waited


# -- test_connection --------------------------------------------------------------------------


@respx.mock
def test_test_connection_ok(polaris_env: None) -> None:
    route = respx.get(PROJECT_URL).respond(
        200, json={"metadata": {"uid": PROJECT, "name": "Docs project"}}
    )
    ok, message = PolarisHook().test_connection()
    assert ok, message
    assert "Docs project" in message
    assert route.called
    auth = route.calls.last.request.headers["Authorization"]
    assert auth.startswith("Basic ")


@respx.mock
def test_test_connection_401(polaris_env: None) -> None:
    route = respx.get(PROJECT_URL).respond(401, json={"message": "bad key"})
    ok, message = PolarisHook().test_connection()
    assert not ok
    assert "401" in message and "API key" in message
    assert API_KEY not in message
    assert route.call_count == 1  # the button is never retried


@respx.mock
def test_test_connection_404_names_the_project(polaris_env: None) -> None:
    respx.get(PROJECT_URL).respond(404, json={"message": "not found"})
    ok, message = PolarisHook().test_connection()
    assert not ok
    assert PROJECT in message and "Project ID" in message


@respx.mock
def test_test_connection_network_error(polaris_env: None) -> None:
    respx.get(PROJECT_URL).mock(side_effect=httpx.ConnectError("refused"))
    ok, message = PolarisHook().test_connection()
    assert not ok
    assert BASE in message


def test_test_connection_bad_config_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", json_conn(host="myorg"))
    ok, message = PolarisHook().test_connection()
    assert not ok
    assert "region" in message


def test_test_connection_missing_connection_never_raises() -> None:
    ok, message = PolarisHook("does_not_exist").test_connection()
    assert not ok
    assert "does_not_exist" in message
