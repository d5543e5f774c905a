"""The host field of an ``imply_polaris`` connection: which Polaris API it points at.

Accepted forms (the "Organization or API URL" field):

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
is an error. Credentials typed into the host (``user:password@host``) are an error that never
shows them; :func:`host_credentials` lists them so the hook can mask them first.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

Fail = Callable[[str, str], Exception]
"""``fail(field, problem)``: the connection error to raise (it names the connection id)."""

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
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# A pasted console URL: /projects/<id>[/anything].
_CONSOLE_PATH = re.compile(r"^/projects/(?P<project>[^/]+)(?:/.*)?$")


@dataclass(frozen=True)
class Endpoint:
    """Where the API is: a base URL, or the organization (and region/cloud) to build it from."""

    base_url: str | None = None
    org: str | None = None
    region: str | None = None
    cloud: str | None = None
    project_id: str | None = None  # from a pasted API or console URL


def parse_host(host: str | None, port: int | None, fail: Fail) -> Endpoint:
    """Read the host (and port) field into an :class:`Endpoint`; ``fail`` builds the error."""
    raw = (host or "").strip()
    _refuse_empty_or_credentials(raw, fail)
    shown = shown_host(raw)
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
            f"cannot read {shown!r}; use myorg, myorg.REGION.CLOUD.api.imply.io "
            "or an http(s):// base URL.",
        )
    port = _one_port(port, url_port, shown, fail)
    path = parts.path.rstrip("/")
    if match := _REGIONAL_API_HOST.match(hostname):
        prefix, project = _api_path(path)
        if prefix:
            raise fail("host", _unexpected_path(shown, path, f"https://{hostname}"))
        netloc = f"{hostname}:{port}" if port else hostname
        return Endpoint(
            base_url=f"{parts.scheme or 'https'}://{netloc}",
            org=match.group("org"),
            region=match.group("region"),
            cloud=match.group("cloud").lower(),
            project_id=project,
        )
    # The console (app) host and the global API host only identify the organization.
    if match := (_APP_HOST.match(hostname) or _GLOBAL_API_HOST.match(hostname)):
        return _organization_host(match, hostname, path, port, shown, fail)
    single_label = "." not in hostname and not _is_loopback(hostname)
    if not has_scheme and single_label and not port:
        if path or not _DNS_LABEL.match(hostname):
            raise fail("host", f"{shown!r} is not a valid organization name.")
        return Endpoint(org=hostname)
    # Any other host, or a host with a port: a base URL (emulator, proxy, private endpoint).
    plain = (_is_loopback(hostname) or single_label) and port != 443
    scheme = parts.scheme or ("http" if plain else "https")
    prefix, project = _api_path(path)
    return Endpoint(base_url=f"{scheme}://{_netloc(parts, port)}{prefix}", project_id=project)


def _refuse_empty_or_credentials(raw: str, fail: Fail) -> None:
    if not raw:
        raise fail(
            "host",
            "empty. Put your organization name (myorg), its API host "
            "(myorg.us-east-1.aws.api.imply.io) or a base URL (http://127.0.0.1:8795) in the host.",
        )
    if host_credentials(raw):
        # Never echo the host here: the part before '@' is a password or an API key.
        raise fail(
            "host",
            "contains credentials (user:password@ before the host name; not shown here). Put "
            "the API key in the password field (or the OAuth client ID in login and its secret "
            f"in password) and only the host ({shown_host(raw)}) in the host field.",
        )


def _one_port(port: Any, url_port: int | None, shown: str, fail: Fail) -> int | None:
    """The port field and a port in the host URL, which must agree."""
    if isinstance(port, str) and port.strip().isdecimal():  # a Connection built by hand
        port = int(port)
    if port is not None and not (
        isinstance(port, int) and not isinstance(port, bool) and 0 <= port <= 65535
    ):
        raise fail("port", f"must be a whole number from 1 to 65535, got {port!r}.")
    if url_port is not None and port and url_port != port:
        raise fail(
            "port",
            f"is {port} but the host {shown!r} says port {url_port}; keep the port in one place.",
        )
    return url_port or port or None


def _organization_host(
    match: re.Match[str], hostname: str, path: str, port: int | None, shown: str, fail: Fail
) -> Endpoint:
    console = _CONSOLE_PATH.match(path) if _APP_HOST.match(hostname) else None
    prefix, project = ("", console.group("project")) if console else _api_path(path)
    if prefix:
        raise fail("host", _unexpected_path(shown, path, hostname))
    if port:
        raise fail(
            "port",
            f"{hostname} names the organization, which has no port; remove port {port} "
            "(a port only applies to a base URL such as http://127.0.0.1:8795).",
        )
    return Endpoint(org=match.group("org"), project_id=unquote(project) if project else None)


def host_credentials(host: str | None) -> list[str]:
    """Secrets typed into the host as ``user:password@host`` (to mask; empty when none).

    The password part, the whole user info, and their percent-decoded forms; a lone name before
    ``@`` is masked too, since people paste an API key there. Any ``@`` counts: Polaris hosts
    never have one in their path.
    """
    rest = _after_scheme((host or "").strip())
    if "@" not in rest:
        return []
    # Up to the last '@', not the first '/': pasted secrets are often not percent-encoded.
    userinfo = rest.rsplit("@", 1)[0]
    _user, colon, password = userinfo.partition(":")
    found = [userinfo, password] if colon and password else [userinfo]
    found += [unquote(value) for value in found]
    return [value for value in dict.fromkeys(found) if value]


def _after_scheme(raw: str) -> str:
    """``raw`` without a leading ``scheme://`` (a real one: ``u:key@https://h`` has none)."""
    match = _SCHEME.match(raw)
    return raw[match.end() :] if match else raw


def shown_host(host: str | None) -> str:
    """``host`` as it may appear in an error: no user info, query string or fragment."""
    raw = (host or "").strip()
    rest = _after_scheme(raw)
    scheme = raw[: len(raw) - len(rest)]
    rest = rest.rsplit("@", 1)[-1]  # as in host_credentials: all before the last '@' may be secret
    return scheme + re.split(r"[?#]", rest, maxsplit=1)[0]


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
