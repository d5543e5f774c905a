"""Turn an Airflow connection of type ``imply_polaris`` into a :class:`PolarisConfig`.

Pure: no lookups, no masking (the hook masks secrets where it reads the connection), and no
I/O beyond checking that a CA bundle named in ``verify`` exists. Every mistake is reported
before any request, naming the connection id, the field and the fix.

Accepted ``host`` forms (the "Organization or API URL" field):

- ``myorg`` or ``myorg.app.imply.io`` (or with ``https://``): the organization; the ``region``
  extra (and ``cloud``, default ``aws``) say where the API lives.
- ``myorg.us-east-1.aws.api.imply.io`` with or without ``https://``: the regional API host;
  organization, region and cloud are read from it.
- any other host, or any host with a port: a base URL (the local emulator, a proxy). Without
  a scheme, a loopback host (``localhost``, ``127.x.x.x``, ``::1``) or a single-label name
  (``polaris-emulator:8795``, as in Docker networks) means ``http://`` unless the port is 443,
  anything else ``https://``. A path is kept as a prefix (a proxy).

A pasted API URL is cut back to the host: a trailing ``/v1``, ``/v1/projects`` or
``/v1/projects/<id>/...`` is removed (the client appends ``/v1/projects/<id>`` itself), and the
project id in it is used when the ``project_id`` extra is empty. A console URL
``myorg.app.imply.io/projects/<id>/...`` is read the same way. Any other path on an Imply host
is an error.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import SplitResult, unquote, urlsplit

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
# A pasted API URL: the base URL, then /v1, /v1/projects or /v1/projects/<id>[/anything].
_API_PATH = re.compile(r"^(?P<prefix>.*?)/v1(?:/projects(?:/(?P<project>[^/]+)(?:/.*)?)?)?$")
# A pasted console URL: /projects/<id>[/anything].
_CONSOLE_PATH = re.compile(r"^/projects/(?P<project>[^/]+)(?:/.*)?$")
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
    project_id: str | None = None  # from a pasted API or console URL


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

    endpoint = _parse_host(conn_id, conn.host, conn.port)
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
        # Checked here, not when the first request loads it: a wrong path is a connection
        # mistake and must be named as one, not surface as a bare FileNotFoundError.
        if isinstance(verify, str) and not os.path.isfile(verify):
            raise PolarisConnectionConfigError(
                extras.conn_id,
                "extra.verify",
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
        "token_url": extras.text("token_url"),
    }


def _parse_host(conn_id: str | None, host: str | None, port: int | None) -> _Endpoint:
    raw = (host or "").strip()

    def fail(field: str, problem: str) -> PolarisConnectionConfigError:
        return PolarisConnectionConfigError(conn_id, field, problem)

    if not raw:
        raise fail(
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
        raise fail(
            "host",
            f"cannot read {raw!r}; use myorg, myorg.REGION.CLOUD.api.imply.io "
            "or an http(s):// base URL.",
        )
    if url_port is not None and port and url_port != port:
        raise fail(
            "port",
            f"is {port} but the host {raw!r} says port {url_port}; keep the port in one place.",
        )
    port = url_port or port or None
    path = parts.path.rstrip("/")

    if match := _REGIONAL_API_HOST.match(hostname):
        prefix, project = _api_path(path)
        if prefix:
            raise fail("host", _unexpected_path(raw, path, f"https://{hostname}"))
        netloc = f"{hostname}:{port}" if port else hostname
        return _Endpoint(
            base_url=f"{parts.scheme or 'https'}://{netloc}",
            org=match.group("org"),
            region=match.group("region"),
            cloud=match.group("cloud").lower(),
            project_id=project,
        )
    # The console (app) host and the global API host only identify the organization.
    if match := (_APP_HOST.match(hostname) or _GLOBAL_API_HOST.match(hostname)):
        console = _CONSOLE_PATH.match(path) if _APP_HOST.match(hostname) else None
        prefix, project = ("", console.group("project")) if console else _api_path(path)
        if prefix:
            raise fail("host", _unexpected_path(raw, path, hostname))
        if port:
            raise fail(
                "port",
                f"{hostname} names the organization, which has no port; remove port {port} "
                "(a port only applies to a base URL such as http://127.0.0.1:8795).",
            )
        return _Endpoint(org=match.group("org"), project_id=unquote(project) if project else None)
    single_label = "." not in hostname and not _is_loopback(hostname)
    if not has_scheme and single_label and not port:
        if path or not _DNS_LABEL.match(hostname):
            raise fail("host", f"{raw!r} is not a valid organization name.")
        return _Endpoint(org=hostname)

    # Any other host, or a host with a port: a base URL (emulator, proxy, private endpoint).
    plain = (_is_loopback(hostname) or single_label) and port != 443
    scheme = parts.scheme or ("http" if plain else "https")
    prefix, project = _api_path(path)
    return _Endpoint(base_url=f"{scheme}://{_netloc(parts, port)}{prefix}", project_id=project)


def _api_path(path: str) -> tuple[str, str | None]:
    """``(prefix, project_id)``: ``path`` without a trailing ``/v1[/projects[/<id>/...]]``."""
    match = _API_PATH.match(path)
    if match is None:
        return path, None
    project = match.group("project")
    return match.group("prefix"), unquote(project) if project else None


def _unexpected_path(raw: str, path: str, host: str) -> str:
    return (
        f"{raw!r} has the path {path!r}, which Polaris does not serve there. Put only the host "
        f"({host}) in the host field: the provider appends /v1/projects/<project_id>."
    )


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _netloc(parts: SplitResult, port: int | None) -> str:
    """The URL's netloc, with the connection's port added when the URL has none."""
    netloc = parts.netloc
    if parts.port is None and port:
        netloc = f"{netloc}:{port}"
    return netloc
