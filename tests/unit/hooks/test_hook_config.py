"""PolarisHook.config_from_connection: every host form, auth inference, extras, bad connections."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import certifi
import pytest

from airflow_provider_polaris._compat import AirflowException, Connection
from airflow_provider_polaris.client import PolarisConfig
from airflow_provider_polaris.hooks.config import PolarisConnectionConfigError
from airflow_provider_polaris.hooks.polaris import PolarisHook

PROJECT = "0b7c2a4e-8d0e-4c1b-9f43-2a7f1f9c1d55"


def make_conn(
    host: str | None = "myorg",
    *,
    login: str | None = None,
    password: str | None = "pok_secret_key",
    port: int | None = None,
    conn_id: str = "polaris_test",
    **extra: Any,
) -> Any:
    extra.setdefault("project_id", PROJECT)
    extra = {k: v for k, v in extra.items() if v is not None}
    return Connection(
        conn_id=conn_id,
        conn_type="imply_polaris",
        host=host,
        login=login,
        password=password,
        port=port,
        extra=json.dumps(extra),
    )


def parse(conn: Any) -> PolarisConfig:
    return PolarisHook.config_from_connection(conn)


@pytest.mark.parametrize(
    ("host", "extra", "base_url", "org"),
    [
        ("myorg", {"region": "us-east-1"}, "https://myorg.us-east-1.aws.api.imply.io", "myorg"),
        (
            "myorg",
            {"region": "eastus", "cloud": "azure"},
            "https://myorg.eastus.azure.api.imply.io",
            "myorg",
        ),
        (
            "myorg.app.imply.io",
            {"region": "eu-west-1"},
            "https://myorg.eu-west-1.aws.api.imply.io",
            "myorg",
        ),
        (
            "https://myorg.app.imply.io/",
            {"region": "us-east-1"},
            "https://myorg.us-east-1.aws.api.imply.io",
            "myorg",
        ),
        (
            "myorg.us-east-1.aws.api.imply.io",
            {},
            "https://myorg.us-east-1.aws.api.imply.io",
            "myorg",
        ),
        (
            "https://myorg.eu-central-1.aws.api.imply.io/",
            {"region": "us-east-1"},  # the host wins over a stale region extra
            "https://myorg.eu-central-1.aws.api.imply.io",
            "myorg",
        ),
        ("http://127.0.0.1:8795", {}, "http://127.0.0.1:8795", None),
        ("127.0.0.1:8795", {}, "http://127.0.0.1:8795", None),
        ("localhost", {}, "http://localhost", None),
        ("https://polaris-proxy.internal/api/", {}, "https://polaris-proxy.internal/api", None),
        ("polaris-proxy.internal", {}, "https://polaris-proxy.internal", None),
        # A host with a port is a base URL; http:// for loopback and single-label names.
        ("polaris-emulator:8795", {}, "http://polaris-emulator:8795", None),
        ("127.0.0.2:8795", {}, "http://127.0.0.2:8795", None),
        ("[::1]:8795", {}, "http://[::1]:8795", None),
        ("polaris.internal:8443", {}, "https://polaris.internal:8443", None),
        # ... but never plain HTTP to port 443: an API key must not cross the network in clear.
        ("myorg:443", {}, "https://myorg:443", None),
        # A pasted API URL is cut back to its host.
        (
            f"https://myorg.us-east-1.aws.api.imply.io/v1/projects/{PROJECT}/jobs",
            {},
            "https://myorg.us-east-1.aws.api.imply.io",
            "myorg",
        ),
        (
            "myorg.us-east-1.aws.api.imply.io/v1/",
            {},
            "https://myorg.us-east-1.aws.api.imply.io",
            "myorg",
        ),
        (f"http://127.0.0.1:8795/v1/projects/{PROJECT}", {}, "http://127.0.0.1:8795", None),
        ("https://polaris-proxy.internal/api/v1", {}, "https://polaris-proxy.internal/api", None),
        (
            f"https://myorg.app.imply.io/projects/{PROJECT}/jobs",
            {"region": "us-east-1"},
            "https://myorg.us-east-1.aws.api.imply.io",
            "myorg",
        ),
    ],
)
def test_host_forms(host: str, extra: dict[str, Any], base_url: str, org: str | None) -> None:
    config = parse(make_conn(host, **extra))
    assert config.base_url == base_url
    assert config.org == org
    assert config.project_id == PROJECT
    assert config.project_url == f"{base_url}/v1/projects/{PROJECT}"


def test_region_from_api_host_sets_cloud() -> None:
    config = parse(make_conn("myorg.westus2.azure.api.imply.io"))
    assert config.base_url == "https://myorg.westus2.azure.api.imply.io"


def test_port_field_is_added_to_a_base_url_without_port() -> None:
    assert parse(make_conn("127.0.0.1", port=8795)).base_url == "http://127.0.0.1:8795"


@pytest.mark.parametrize(
    ("host", "base_url"),
    [
        ("polaris-emulator", "http://polaris-emulator:8795"),  # URI imply-polaris://:k@name:8795
        ("myorg", "http://myorg:8795"),
        ("polaris.internal", "https://polaris.internal:8795"),
        ("http://127.0.0.1", "http://127.0.0.1:8795"),
        ("myorg.us-east-1.aws.api.imply.io", "https://myorg.us-east-1.aws.api.imply.io:8795"),
    ],
)
def test_a_port_makes_the_host_a_base_url(host: str, base_url: str) -> None:
    """A port is never dropped: a single-label host with a port is a server, not an org."""
    config = parse(make_conn(host, port=8795))
    assert config.base_url == base_url


@pytest.mark.parametrize(
    "host",
    [
        f"https://myorg.us-east-1.aws.api.imply.io/v1/projects/{PROJECT}",
        f"myorg.us-east-1.aws.api.imply.io/v1/projects/{PROJECT}/jobs/j1",
        f"https://myorg.app.imply.io/projects/{PROJECT}",
    ],
)
def test_project_id_from_a_pasted_url(host: str) -> None:
    config = parse(make_conn(host, project_id=None, region="us-east-1"))
    assert config.project_id == PROJECT
    assert config.project_url == f"https://myorg.us-east-1.aws.api.imply.io/v1/projects/{PROJECT}"


def test_pasted_url_agreeing_with_the_project_extra() -> None:
    host = f"https://myorg.us-east-1.aws.api.imply.io/v1/projects/{PROJECT}/"
    assert parse(make_conn(host)).project_url.count("/v1/projects/") == 1


def test_api_key_is_default_auth() -> None:
    config = parse(make_conn(region="us-east-1"))
    assert config.auth_kind == "api_key"
    assert config.api_key == "pok_secret_key"
    assert config.client_id is None


def test_login_means_oauth_with_default_token_url() -> None:
    config = parse(make_conn(login="my-client", password="client-secret", region="us-east-1"))
    assert config.auth_kind == "oauth"
    assert (config.client_id, config.client_secret) == ("my-client", "client-secret")
    assert config.token_url == (
        "https://id.imply.io/auth/realms/myorg/protocol/openid-connect/token"
    )
    assert config.api_key is None


def test_oauth_token_url_override() -> None:
    config = parse(
        make_conn(
            "http://127.0.0.1:8795",
            login="c",
            password="s",
            token_url="http://127.0.0.1:8795/oauth/token",
        )
    )
    assert config.token_url == "http://127.0.0.1:8795/oauth/token"


def test_explicit_auth_type_api_key_ignores_login() -> None:
    config = parse(make_conn(login="someone", auth_type="api_key", region="us-east-1"))
    assert config.auth_kind == "api_key"


def test_string_extras_from_uri_connections_are_parsed() -> None:
    config = parse(
        make_conn(
            region="us-east-1",
            timeout="15",
            connect_timeout="2.5",
            verify="false",
            max_retries="2",
            console_url="https://console.example/",
        )
    )
    assert config.read_timeout == 15.0
    assert config.connect_timeout == 2.5
    assert config.verify is False
    assert config.retry.max_attempts == 3
    assert config.console_base_url == "https://console.example"


def test_typed_extras_and_ca_bundle_path(tmp_path: Path) -> None:
    bundle = tmp_path / "polaris.pem"
    shutil.copyfile(certifi.where(), bundle)
    config = parse(make_conn(region="us-east-1", timeout=30, verify=str(bundle), max_retries=0))
    assert config.read_timeout == 30
    assert config.verify == str(bundle)
    assert config.retry.max_attempts == 1
    assert parse(make_conn(region="us-east-1", verify=True)).verify is True
    assert parse(make_conn(region="us-east-1", verify="TRUE")).verify is True


def test_defaults_when_extras_are_absent() -> None:
    config = parse(make_conn(region="us-east-1"))
    default = PolarisConfig(project_id="p", base_url="https://x", api_key="k")
    assert config.read_timeout == default.read_timeout
    assert config.connect_timeout == default.connect_timeout
    assert config.verify is True
    assert config.retry == default.retry
    assert config.user_agent and config.user_agent.startswith("airflow-provider-polaris/")


def test_legacy_prefixed_extras_and_empty_values() -> None:
    conn = make_conn(
        project_id="",
        **{
            "extra__imply_polaris__project_id": PROJECT,
            "extra__imply_polaris__region": "ap-south-1",
            "extra__imply_polaris__max_retries": None,
        },
    )
    config = parse(conn)
    assert config.project_id == PROJECT
    assert config.base_url == "https://myorg.ap-south-1.aws.api.imply.io"


BAD_CONNECTIONS = [
    pytest.param(make_conn(region="us-east-1", project_id=""), "extra.project_id", id="no-project"),
    pytest.param(make_conn("myorg"), "extra.region", id="bare-org-no-region"),
    pytest.param(make_conn("myorg.app.imply.io"), "extra.region", id="app-host-no-region"),
    pytest.param(make_conn(None, region="us-east-1"), "host", id="no-host"),
    pytest.param(make_conn("ftp://files.example"), "host", id="bad-scheme"),
    pytest.param(make_conn("http://[::1"), "host", id="unparseable-host"),
    pytest.param(make_conn("my_org!", region="us-east-1"), "host", id="bad-org"),
    pytest.param(
        make_conn("https://myorg.us-east-1.aws.api.imply.io/api/v2"), "host", id="api-host-path"
    ),
    pytest.param(
        make_conn("https://myorg.app.imply.io/tables", region="us-east-1"), "host", id="app-path"
    ),
    pytest.param(
        make_conn(
            f"https://myorg.us-east-1.aws.api.imply.io/v1/projects/{PROJECT}",
            project_id="another-project",
        ),
        "host",
        id="path-project-disagrees",
    ),
    pytest.param(make_conn("myorg/v1", region="us-east-1"), "host", id="org-with-path"),
    pytest.param(make_conn("myorg.app.imply.io", port=443, region="us-east-1"), "port", id="port"),
    pytest.param(make_conn("http://127.0.0.1:8795", port=9000), "port", id="two-ports"),
    pytest.param(
        make_conn(region="us-east-1", verify="/nonexistent/ca.pem"), "extra.verify", id="no-ca"
    ),
    pytest.param(make_conn(region="us-east-1", auth_type="kerberos"), "extra.auth_type", id="auth"),
    pytest.param(make_conn(region="us-east-1", timeout="ten"), "extra.timeout", id="timeout"),
    pytest.param(make_conn(region="us-east-1", timeout="0"), "extra.timeout", id="timeout-zero"),
    pytest.param(
        make_conn(region="us-east-1", connect_timeout=True), "extra.connect_timeout", id="ct-bool"
    ),
    pytest.param(make_conn(region="us-east-1", max_retries="x"), "extra.max_retries", id="retries"),
    pytest.param(make_conn(region="us-east-1", max_retries=-1), "extra.max_retries", id="neg"),
    pytest.param(make_conn(region="us-east-1", cloud="ibm"), "extra.cloud", id="cloud"),
    pytest.param(make_conn(region="us-east-1", password=None), "password", id="no-key"),
    pytest.param(
        make_conn(region="us-east-1", login="c", password=None), "password", id="no-secret"
    ),
    pytest.param(
        make_conn(region="us-east-1", auth_type="oauth"), "login", id="oauth-without-client-id"
    ),
    pytest.param(
        make_conn("http://127.0.0.1:8795", login="c", password="s"),
        "extra.token_url",
        id="oauth-custom-url-without-token-url",
    ),
]


@pytest.mark.parametrize(("conn", "field"), BAD_CONNECTIONS)
def test_bad_connection_names_conn_id_and_field(conn: Any, field: str) -> None:
    with pytest.raises(PolarisConnectionConfigError) as info:
        parse(conn)
    message = str(info.value)
    assert "'polaris_test'" in message
    assert f"field {field!r}" in message
    assert info.value.field == field
    assert info.value.conn_id == "polaris_test"
    # Never a secret in the error text.
    assert "pok_secret_key" not in message
    assert isinstance(info.value, AirflowException)
    assert isinstance(info.value, ValueError)


def test_api_key_in_login_gets_a_hint() -> None:
    with pytest.raises(PolarisConnectionConfigError, match="move it to the password field"):
        parse(
            make_conn(
                region="us-east-1",
                login="pok_in_the_wrong_field",
                password=None,
                auth_type="api_key",
            )
        )


def test_wrong_connection_type_is_rejected() -> None:
    conn = Connection(conn_id="x", conn_type="http", host="myorg", password="k")
    with pytest.raises(PolarisConnectionConfigError, match="conn_type"):
        parse(conn)
