"""Property tests: any connection either parses or raises PolarisConnectionConfigError.

Whatever a user types into an ``imply_polaris`` connection, in any form Airflow accepts (a
``Connection`` with JSON text extras, a JSON env var whose extra is an object, JSON text or a bare
JSON value, a URI with query parameters or ``__extra__``), the parser returns a PolarisConfig or
raises the project's own error naming the connection and a real field; never another exception,
and never with the password (API key / client secret) in the text, even when the key was also
typed into the host. Deterministic: derandomized, no example database.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from airflow_provider_polaris._compat import Connection
from airflow_provider_polaris._provider_info import CONN_FIELDS
from airflow_provider_polaris.client import PolarisConfig
from airflow_provider_polaris.hooks.config import PolarisConnectionConfigError
from airflow_provider_polaris.hooks.polaris import PolarisHook

CONN_ID = "polaris_prop"
PROJECT = "0b7c2a4e-8d0e-4c1b-9f43-2a7f1f9c1d55"
FIELDS = {"conn_type", "host", "port", "login", "password", "extra"} | {
    f"extra.{name}" for name in CONN_FIELDS
}

PROPERTY = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
# Plausible text for each field, so examples reach deep into the parser, plus anything at all.
plausible = st.sampled_from(
    [
        PROJECT,
        "us-east-1",
        "eastus",
        "aws",
        "azure",
        "IBM",
        "oauth",
        "api-key",
        "kerberos",
        "15",
        "0",
        "-3",
        "1e400",
        "nan",
        "true",
        "off",
        "/nonexistent/ca.pem",
        "http://127.0.0.1:8795/token",
        "https://console.example/",
        "ftp://x",
        "https://u:pw@id.example/token",
        " ",
        "",
    ]
)
extra_values = plausible | json_values
extras = st.dictionaries(
    st.sampled_from([*CONN_FIELDS, *(f"extra__imply_polaris__{n}" for n in CONN_FIELDS), "x"]),
    extra_values,
    max_size=6,
).map(lambda d: {"project_id": PROJECT, **d} if "project_id" not in d else d)
hosts = st.sampled_from(
    [
        "myorg",
        "myorg.app.imply.io",
        "https://myorg.app.imply.io/",
        f"https://myorg.app.imply.io/projects/{PROJECT}/jobs",
        "myorg.us-east-1.aws.api.imply.io",
        f"https://myorg.us-east-1.aws.api.imply.io/v1/projects/{PROJECT}",
        "http://127.0.0.1:8795",
        "polaris-emulator:8795",
        "[::1]:8795",
        "http://[::1",
        "https://polaris-proxy.internal/api/",
        "ftp://files.example",
        "my_org!",
        "myorg/v1",
        "",
    ]
) | st.text(max_size=20)
# A password shaped like a real key, so it cannot turn up in the text by coincidence.
secrets = st.text("abcdefXYZ0123456789/+&%@:", min_size=12, max_size=16).map(lambda s: f"pok_{s}")


def with_secret_in_host(host: str, secret: str, where: int) -> str:
    """Sometimes the user also typed the key into the host (as user info or a query)."""
    if where == 1:
        return f"u:{secret}@{host}"
    if where == 2:
        return f"{secret}@{host.split('://')[-1]}"
    if where == 3:
        return f"https://k:{secret}@{host.split('://')[-1]}"
    if where == 4:
        return f"{host}?api_key={secret}"
    return host


def check(build: Any, secret: str) -> None:
    """``build()`` parses into a config or raises the connection error; no secret ever shown."""
    try:
        config = build()
    except PolarisConnectionConfigError as err:
        message = str(err)
        assert err.conn_id == CONN_ID and f"'{CONN_ID}'" in message
        assert err.field in FIELDS, err.field
        assert message.startswith(f"Polaris connection '{CONN_ID}', field '{err.field}': ")
        assert secret not in message
        return
    assert isinstance(config, PolarisConfig)
    assert secret not in repr(config)
    assert config.api_key == secret or config.client_secret == secret


def parse_env(value: str) -> PolarisConfig:
    """Parse ``value`` the way Airflow reads ``AIRFLOW_CONN_*``: JSON, or else a URI.

    The env-var lookup itself is exercised in test_hook_extras_and_host.py; here the same
    deserialisation runs without it, because each lookup grows Airflow's secrets masker
    (a recompiled regex per secret) and 600 lookups took a minute.
    """
    if value.startswith("{"):
        conn = Connection.from_json(value, conn_id=CONN_ID)
    else:
        conn = Connection(conn_id=CONN_ID, uri=value)
    return PolarisHook.config_from_connection(conn)


@PROPERTY
@given(
    host=hosts,
    login=st.none() | st.sampled_from(["", "client-id"]),
    secret=secrets,
    where=st.integers(0, 4),
    port=st.none() | st.integers(-1, 70000),
    extra=extras,
)
def test_connection_object_with_json_text_extras(
    host: str, login: str | None, secret: str, where: int, port: int | None, extra: Any
) -> None:
    assume(secret not in json.dumps(extra) + host)
    conn = Connection(
        conn_id=CONN_ID,
        conn_type="imply_polaris",
        host=with_secret_in_host(host, secret, where),
        login=login,
        password=secret,
        port=port,
        extra=json.dumps(extra),
    )
    check(lambda: PolarisHook.config_from_connection(conn), secret)


@PROPERTY
@given(host=hosts, secret=secrets, extra=json_values | extras, as_text=st.booleans())
def test_json_env_var_with_any_extra(host: str, secret: str, extra: Any, as_text: bool) -> None:
    """The extra as an object, as JSON text, or as any bare JSON value (list, number, ...)."""
    assume(secret not in json.dumps(extra) + host)
    value = {
        "conn_type": "imply_polaris",
        "host": host,
        "password": secret,
        "extra": json.dumps(extra) if as_text else extra,
    }
    check(lambda: parse_env(json.dumps(value)), secret)


uri_hosts = st.sampled_from(
    ["myorg", "myorg.app.imply.io", "myorg.us-east-1.aws.api.imply.io", "127.0.0.1:8795"]
)


@PROPERTY
@given(
    host=uri_hosts,
    secret=secrets,
    extra=st.dictionaries(st.sampled_from(list(CONN_FIELDS)), plausible | st.text(max_size=8)),
)
def test_uri_with_query_parameters(host: str, secret: str, extra: dict[str, str]) -> None:
    assume(secret not in json.dumps(extra))
    query = urlencode({"project_id": PROJECT, **extra})
    uri = f"imply-polaris://:{quote(secret, safe='')}@{host}/?{query}"
    check(lambda: parse_env(uri), secret)


@PROPERTY
@given(host=uri_hosts, secret=secrets, extra=json_values | extras)
def test_uri_with_dunder_extra(host: str, secret: str, extra: Any) -> None:
    assume(secret not in json.dumps(extra))
    uri = (
        f"imply-polaris://:{quote(secret, safe='')}@{host}/"
        f"?__extra__={quote(json.dumps(extra), safe='')}"
    )
    check(lambda: parse_env(uri), secret)
