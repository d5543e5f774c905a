"""Turn an Airflow connection of type ``imply_polaris`` into a :class:`PolarisConfig`.

Pure: no lookups, no masking (the hook masks secrets where it reads the connection), and no
I/O beyond checking that a CA bundle named in ``verify`` exists. Every mistake is reported
before any request, naming the connection id, the field and the fix.

The host field is read by :mod:`._host` (its docstring lists the accepted forms).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from airflow_provider_polaris._provider_info import AUTH_TYPES, CONNECTION_TYPE, POLARIS_CLOUDS
from airflow_provider_polaris.client import PolarisConfig, RetryPolicy
from airflow_provider_polaris.client._core import default_user_agent
from airflow_provider_polaris.exceptions import (
    PolarisConnectionConfigError as PolarisConnectionConfigError,  # its old import path
)
from airflow_provider_polaris.hooks._host import host_credentials, parse_host, shown_host

_LEGACY_PREFIX = f"extra__{CONNECTION_TYPE}__"

_TRUE = {"true", "1", "yes", "on"}
# PolarisConfig's own ValueErrors start with its field name; say which form field that is.
_CONFIG_FIELD_TO_FORM = {
    "project_id": "extra.project_id",
    "base_url": "host",
    "org": "host",
    "region": "extra.region",
    "cloud": "extra.cloud",
    "api_key": "password",
    "client_id": "login",
    "client_secret": "password",
    "token_url": "extra.token_url",
    "connect_timeout": "extra.connect_timeout",
    "read_timeout": "extra.timeout",
    "verify": "extra.verify",
    "retry.max_attempts": "extra.max_retries",
}
_FALSE = {"false", "0", "no", "off"}


class ConnectionLike(Protocol):
    """The attributes of an Airflow ``Connection`` the parser reads (2.x and 3.x alike)."""

    @property
    def conn_id(self) -> str | None: ...
    @property
    def conn_type(self) -> str | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def login(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def port(self) -> int | None: ...
    @property
    def extra_dejson(self) -> dict[str, Any]: ...


_Fail = Callable[[str, str], PolarisConnectionConfigError]


def config_from_connection(conn: ConnectionLike) -> PolarisConfig:
    """Build a :class:`PolarisConfig` from an ``imply_polaris`` connection (see module doc)."""
    conn_id = conn.conn_id
    extras = _Extras(conn_id, extra_object(conn))

    def fail(field: str, problem: str) -> PolarisConnectionConfigError:
        return PolarisConnectionConfigError(conn_id, field, problem)

    if conn.conn_type not in (None, "", CONNECTION_TYPE, CONNECTION_TYPE.replace("_", "-")):
        raise fail(
            "conn_type",
            f"is {conn.conn_type!r}; a Polaris connection has type {CONNECTION_TYPE!r}.",
        )

    endpoint = parse_host(conn.host, conn.port, fail)
    project_id = _project_id(endpoint, extras, fail)
    region = extras.text("region")
    cloud = extras.text("cloud")
    if cloud is not None:
        cloud = cloud.lower()
        if cloud not in POLARIS_CLOUDS:
            raise fail("extra.cloud", f"unknown cloud {cloud!r}; use one of {POLARIS_CLOUDS}.")

    common = _client_options(extras)
    common.update(_credentials(conn, extras, fail))
    common["console_base_url"] = extras.url("console_url")
    common["user_agent"] = default_user_agent()

    try:
        if endpoint.base_url is not None:
            return PolarisConfig(
                project_id=project_id, base_url=endpoint.base_url, org=endpoint.org, **common
            )
        region = endpoint.region or region
        if not region:
            raise fail(
                "extra.region",
                f"the host {shown_host(conn.host)!r} names only the organization, so the "
                "region is needed. Set the 'Region' field (e.g. us-east-1), or put the full API "
                "host ORG.REGION.CLOUD.api.imply.io in the host.",
            )
        return PolarisConfig.from_parts(
            org=endpoint.org or "",
            region=region,
            cloud=endpoint.cloud or cloud or "aws",
            project_id=project_id,
            **common,
        )
    except PolarisConnectionConfigError:
        raise
    except ValueError as err:
        # PolarisConfig validates too; its messages never contain secrets.
        message = str(err)
        config_field = re.split(r"[\s:(]", message, maxsplit=1)[0]
        raise fail(_CONFIG_FIELD_TO_FORM.get(config_field, "connection"), message) from None


def _project_id(endpoint: Any, extras: _Extras, fail: _Fail) -> str:
    """The project id: the 'Project ID' field, or the one a pasted API URL names (must agree)."""
    project_id = extras.text("project_id")
    if endpoint.project_id is not None:
        if project_id is not None and project_id != endpoint.project_id:
            raise fail(
                "host",
                f"its path names project {endpoint.project_id!r} but the 'Project ID' field "
                f"(extra.project_id) says {project_id!r}. Keep only scheme://host in the host "
                "(the provider appends /v1/projects/<id>) or make the two agree.",
            )
        project_id = endpoint.project_id
    if not project_id:
        raise fail(
            "extra.project_id",
            "the Polaris project ID is missing. Set the 'Project ID' field (extra "
            '{"project_id": "<uuid>"}); it is in the project\'s URL in the Polaris console.',
        )
    return project_id


_EXTRA_EXAMPLE = '{"project_id": "<uuid>", "region": "us-east-1"}'
_EXTRA_URI_HINT = (
    "In a connection URI, give extras as query parameters (?project_id=...&region=...) or as "
    "__extra__=<URL-encoded JSON object>."
)


def extra_object(conn: ConnectionLike) -> Mapping[str, Any]:
    """The connection's extras, which must be a JSON object (checked before any other field).

    Airflow hands back whatever JSON the extra holds (a list, a number, a string...) and turns
    text that is not JSON into ``{}`` after logging a traceback. The raw text is decoded here
    first so a broken extra is reported as one, not as a missing project id.
    """
    raw = getattr(conn, "extra", None)
    if isinstance(raw, str) and raw.strip():
        try:
            json.loads(raw)
        except ValueError as err:
            where = (
                f" ({err.msg} at line {err.lineno}, column {err.colno})"
                if isinstance(err, json.JSONDecodeError)
                else ""
            )
            raise PolarisConnectionConfigError(
                conn.conn_id,
                "extra",
                f"is not valid JSON{where}; it must be a JSON object like {_EXTRA_EXAMPLE}. "
                + _EXTRA_URI_HINT,
            ) from None
    value = conn.extra_dejson
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    kind = _json_kind(value)
    if isinstance(value, str) and _is_json_object(value):
        kind += " holding a JSON object (the extra was JSON-encoded twice; store the object itself)"
    raise PolarisConnectionConfigError(
        conn.conn_id,
        "extra",
        f"must be a JSON object like {_EXTRA_EXAMPLE}, got {kind}. {_EXTRA_URI_HINT}",
    )


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _json_kind(value: Any) -> str:
    """How a JSON value is named in errors; never the value itself (it may be a secret)."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a JSON object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def connection_secrets(conn: ConnectionLike) -> list[str]:
    """Every secret of ``conn`` for the masker (call before parsing): password, host user info."""
    return [secret for secret in (conn.password, *host_credentials(conn.host)) if secret]


class _Extras:
    """Read extras tolerant of URI-form strings and the legacy ``extra__imply_polaris__`` keys."""

    def __init__(self, conn_id: str | None, raw: Mapping[str, Any]) -> None:
        self.conn_id = conn_id
        self.raw = raw

    def fail(self, name: str, problem: str) -> PolarisConnectionConfigError:
        """The error for a bad ``extra.<name>``."""
        return PolarisConnectionConfigError(self.conn_id, f"extra.{name}", problem)

    def get(self, name: str) -> Any:
        for key in (name, _LEGACY_PREFIX + name):
            value = self.raw.get(key)
            # The 2.x form stores empty number fields as None; "" comes from URIs and forms.
            if value is not None and not (isinstance(value, str) and not value.strip()):
                return value.strip() if isinstance(value, str) else value
        return None

    def text(self, name: str) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, (bool, dict, list)):
            raise self.fail(name, f"expected text, got {_json_kind(value)}.")
        return str(value)

    def url(self, name: str) -> str | None:
        """An http(s) URL without credentials; only its scheme, host and path are ever shown."""
        value = self.text(name)
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if host_credentials(value):
            problem = "contains credentials (user:password@; not shown here); remove them"
        elif not valid:
            problem = f"expected an http(s):// URL, got {shown_host(value)!r}"
        else:
            return value
        raise self.fail(name, problem + ".")

    def number(self, name: str) -> float | None:
        value = self.get(name)
        if value is None:
            return None
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            raise self.fail(name, f"expected a number of seconds, got {value!r}.") from None
        if not number > 0 or not math.isfinite(number):
            raise self.fail(name, f"must be a finite number above 0, got {value!r}.")
        return number

    def integer(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            number = int(value) if not isinstance(value, str) else int(value, 10)
        except (TypeError, ValueError):
            raise self.fail(name, f"expected a whole number, got {value!r}.") from None
        if number < 0:
            raise self.fail(name, f"must be 0 or more, got {value!r}.")
        return number

    def boolean_or_path(self, name: str) -> bool | str | None:
        value = self.get(name)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, (dict, list)):
            raise self.fail(
                name, f"expected true, false or the path of a CA bundle, got {_json_kind(value)}."
            )
        text = str(value).lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return str(value)  # a CA bundle path


def _client_options(extras: _Extras) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if (read_timeout := extras.number("timeout")) is not None:
        options["read_timeout"] = read_timeout
    if (connect_timeout := extras.number("connect_timeout")) is not None:
        options["connect_timeout"] = connect_timeout
    if (verify := extras.boolean_or_path("verify")) is not None:
        # Checked here, not when the first request loads it: a wrong path is a connection
        # mistake and must be named as one, not surface as a bare FileNotFoundError.
        if isinstance(verify, str) and not os.path.isfile(verify):
            raise extras.fail(
                "verify",
                f"the CA bundle {verify!r} is not a file on this machine. Give the path of a "
                "PEM file readable where tasks and triggers run, or true / false.",
            )
        options["verify"] = verify
    if (max_retries := extras.integer("max_retries")) is not None:
        options["retry"] = RetryPolicy(max_attempts=max_retries + 1)
    return options


def _credentials(conn: ConnectionLike, extras: _Extras, fail: _Fail) -> dict[str, Any]:
    login = (conn.login or "").strip() or None
    secret = conn.password or None
    auth_type = extras.text("auth_type")
    if auth_type is not None:
        auth_type = auth_type.lower().replace("-", "_")
        if auth_type == "apikey":
            auth_type = "api_key"
        if auth_type not in AUTH_TYPES:
            raise fail(
                "extra.auth_type",
                f"unknown authentication type {auth_type!r}; use one of {AUTH_TYPES} "
                "or leave it empty to infer it from the login field.",
            )
    else:
        auth_type = "oauth" if login else "api_key"

    if auth_type == "api_key":
        if not secret:
            hint = (
                " The login field holds a value: if that is your API key, move it to the "
                "password field and leave login empty."
                if login
                else ""
            )
            raise fail("password", "the API key is missing: put it in the password field." + hint)
        return {"api_key": secret}
    if not login:
        raise fail("login", "auth_type is 'oauth' but the OAuth client ID (login) is empty.")
    if not secret:
        raise fail(
            "password",
            "the OAuth client secret is missing: put it in the password field. If you meant to "
            "use an API key, put the key in the password field and leave login empty.",
        )
    return {
        "client_id": login,
        "client_secret": secret,
        "token_url": extras.url("token_url"),
    }
