"""Turn an Airflow connection of type ``imply_polaris`` into a :class:`PolarisConfig`.

Pure: no lookups, no I/O, no masking (the hook masks secrets where it reads the connection).
Every mistake is reported before any request, naming the connection id, the field and the fix.

Accepted ``host`` forms (the "Organization or API URL" field):

- ``myorg`` or ``myorg.app.imply.io`` (or with ``https://``): the organization; the ``region``
  extra (and ``cloud``, default ``aws``) say where the API lives.
- ``myorg.us-east-1.aws.api.imply.io`` with or without ``https://``: the regional API host;
  organization, region and cloud are read from it.
- any other URL with a scheme, e.g. ``http://127.0.0.1:8795``: used verbatim as the base URL
  (the local emulator, a proxy). A loopback host without scheme (``127.0.0.1``, ``localhost``)
  means ``http://``; any other dotted host without scheme means ``https://``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from airflow_provider_polaris._compat import AIRFLOW_VERSION, AirflowException
from airflow_provider_polaris._provider_info import AUTH_TYPES, CONNECTION_TYPE, POLARIS_CLOUDS
from airflow_provider_polaris.client import PolarisConfig, RetryPolicy

_LEGACY_PREFIX = f"extra__{CONNECTION_TYPE}__"
_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_APP_HOST = re.compile(r"^(?P<org>[A-Za-z0-9-]+)\.app\.imply\.io$", re.IGNORECASE)
_REGIONAL_API_HOST = re.compile(
    r"^(?P<org>[A-Za-z0-9-]+)\.(?P<region>[A-Za-z0-9-]+)\.(?P<cloud>[A-Za-z0-9-]+)"
    r"\.api\.imply\.io$",
    re.IGNORECASE,
)
_GLOBAL_API_HOST = re.compile(r"^(?P<org>[A-Za-z0-9-]+)\.api\.imply\.io$", re.IGNORECASE)
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
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


class PolarisConnectionConfigError(AirflowException, ValueError):
    """An ``imply_polaris`` connection is incomplete or malformed (raised before any request).

    The message names the connection id, the field and how to fix it; it never contains a secret.
    """

    def __init__(self, conn_id: str | None, field: str, problem: str) -> None:
        self.conn_id = conn_id
        self.field = field
        super().__init__(f"Polaris connection {conn_id!r}, field {field!r}: {problem}")


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


@dataclass(frozen=True)
class _Endpoint:
    base_url: str | None = None
    org: str | None = None
    region: str | None = None
    cloud: str | None = None


def default_user_agent() -> str:
    """``airflow-provider-polaris/<version> apache-airflow/<version>`` for support tickets."""
    from airflow_provider_polaris import __version__

    return f"airflow-provider-polaris/{__version__} apache-airflow/{AIRFLOW_VERSION}"


def config_from_connection(conn: ConnectionLike) -> PolarisConfig:
    """Build a :class:`PolarisConfig` from an ``imply_polaris`` connection (see module doc)."""
    conn_id = conn.conn_id
    extras = _Extras(conn_id, conn.extra_dejson or {})

    def fail(field: str, problem: str) -> PolarisConnectionConfigError:
        return PolarisConnectionConfigError(conn_id, field, problem)

    if conn.conn_type not in (None, "", CONNECTION_TYPE, CONNECTION_TYPE.replace("_", "-")):
        raise fail(
            "conn_type",
            f"is {conn.conn_type!r}; a Polaris connection has type {CONNECTION_TYPE!r}.",
        )

    project_id = extras.text("project_id")
    if not project_id:
        raise fail(
            "extra.project_id",
            "the Polaris project ID is missing. Set the 'Project ID' field (extra "
            '{"project_id": "<uuid>"}); it is in the project\'s URL in the Polaris console.',
        )

    endpoint = _parse_host(conn_id, conn.host, conn.port)
    region = extras.text("region")
    cloud = extras.text("cloud")
    if cloud is not None:
        cloud = cloud.lower()
        if cloud not in POLARIS_CLOUDS:
            raise fail("extra.cloud", f"unknown cloud {cloud!r}; use one of {POLARIS_CLOUDS}.")

    common = _client_options(extras)
    common.update(_credentials(conn, extras, fail))
    common["console_base_url"] = extras.text("console_url")
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
                f"the host {conn.host!r} names only the organization, so the region is needed. "
                "Set the 'Region' field (e.g. us-east-1), or put the full API host "
                "ORG.REGION.CLOUD.api.imply.io in the host.",
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


class _Extras:
    """Read extras tolerant of URI-form strings and the legacy ``extra__imply_polaris__`` keys."""

    def __init__(self, conn_id: str | None, raw: Mapping[str, Any]) -> None:
        self.conn_id = conn_id
        self.raw = raw

    def get(self, name: str) -> Any:
        for key in (name, _LEGACY_PREFIX + name):
            value = self.raw.get(key)
            # The 2.x form stores empty number fields as None; "" comes from URIs and forms.
            if value is not None and not (isinstance(value, str) and not value.strip()):
                return value.strip() if isinstance(value, str) else value
        return None

    def text(self, name: str) -> str | None:
        value = self.get(name)
        return None if value is None else str(value)

    def number(self, name: str) -> float | None:
        value = self.get(name)
        if value is None:
            return None
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            raise PolarisConnectionConfigError(
                self.conn_id, f"extra.{name}", f"expected a number of seconds, got {value!r}."
            ) from None
        if not number > 0:
            raise PolarisConnectionConfigError(
                self.conn_id, f"extra.{name}", f"must be greater than 0, got {value!r}."
            )
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
            raise PolarisConnectionConfigError(
                self.conn_id, f"extra.{name}", f"expected a whole number, got {value!r}."
            ) from None
        if number < 0:
            raise PolarisConnectionConfigError(
                self.conn_id, f"extra.{name}", f"must be 0 or more, got {value!r}."
            )
        return number

    def boolean_or_path(self, name: str) -> bool | str | None:
        value = self.get(name)
        if value is None or isinstance(value, bool):
            return value
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
        "token_url": extras.text("token_url"),
    }


def _parse_host(conn_id: str | None, host: str | None, port: int | None) -> _Endpoint:
    raw = (host or "").strip()
    if not raw:
        raise PolarisConnectionConfigError(
            conn_id,
            "host",
            "empty. Put your organization name (myorg), its API host "
            "(myorg.us-east-1.aws.api.imply.io) or a base URL (http://127.0.0.1:8795) in the host.",
        )
    has_scheme = "://" in raw
    try:
        parts = urlsplit(raw if has_scheme else f"//{raw}")
        hostname = parts.hostname or ""
        url_port = parts.port
    except ValueError:  # e.g. an unbalanced IPv6 bracket or a non-numeric port
        hostname, url_port, parts = "", None, urlsplit("")
    if not hostname or (has_scheme and parts.scheme not in ("http", "https")):
        raise PolarisConnectionConfigError(
            conn_id,
            "host",
            f"cannot read {raw!r}; use myorg, myorg.REGION.CLOUD.api.imply.io "
            "or an http(s):// base URL.",
        )
    path = parts.path.rstrip("/")

    if match := _REGIONAL_API_HOST.match(hostname):
        scheme = parts.scheme or "https"
        netloc = parts.netloc if has_scheme else hostname
        return _Endpoint(
            base_url=f"{scheme}://{netloc}{path}",
            org=match.group("org"),
            region=match.group("region"),
            cloud=match.group("cloud").lower(),
        )
    # The console (app) host and the global API host only identify the organization.
    if match := (_APP_HOST.match(hostname) or _GLOBAL_API_HOST.match(hostname)):
        return _Endpoint(org=match.group("org"))
    if not has_scheme and "." not in hostname and hostname not in _LOOPBACK:
        if not _DNS_LABEL.match(hostname):
            raise PolarisConnectionConfigError(
                conn_id, "host", f"{raw!r} is not a valid organization name."
            )
        return _Endpoint(org=hostname)

    # Any other host: a base URL used verbatim (emulator, proxy, private endpoint).
    scheme = parts.scheme or ("http" if hostname in _LOOPBACK else "https")
    netloc = parts.netloc
    if url_port is None and port:
        netloc = f"{netloc}:{port}"
    return _Endpoint(base_url=f"{scheme}://{netloc}{path}")
