"""The one rule for which errors end a task at once, and what their message says.

Permanent errors raise ``AirflowFailException`` (Airflow does not retry them): a retry would send
the same request and get the same answer. They are 4xx answers except 408 and 429 (400, 401, 403,
404, 409, 413, 415, 422, ...), a malformed Airflow connection (``PolarisConnectionConfigError``)
and an invalid spec (``PolarisSpecError``). Transient errors stay as they are, so Airflow's
``retries`` apply: 429, 5xx, network errors and timeouts.

Every operator and sensor applies the rule at its task entry points
(:class:`~airflow_provider_polaris.operators._lifecycle.ClosesPolarisClient`); a deferred wait's
trigger flags its error event with :func:`is_permanent` so ``execute_complete`` agrees.

The first line of each message names the Airflow connection and the field to fix; it never
contains a secret (client errors carry secret-free URLs, config errors never echo secrets).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.client.errors import PolarisApiError

if TYPE_CHECKING:
    from airflow_provider_polaris.client import PolarisConfig

# 4xx answers a retry may still get past: a request timeout and rate limiting.
_TRANSIENT_4XX = frozenset({408, 429})
_PROJECT_PATH = re.compile(r"^/v1/projects/[^/]+(?P<rest>/.*)?$")
# Polaris' project-level permission names (polaris-api.md section 2), to find one in a 403 text.
PERMISSIONS = (
    "ManageIngestionJobs",
    "ManageConnections",
    "ManageTables",
    "ViewTables",
    "ManageFiles",
    "AccessQueries",
    "ManageStreams",
    "ManageProjects",
    "AdministerProjects",
)
# What a missing resource is called and how to fix it, by the first path segment.
_RESOURCES = {
    "jobs": ("job", "check the job id (jobs of another project are not visible)"),
    "tables": (
        "table",
        "check the table name (names are case-sensitive) or create the table first "
        "(PolarisCreateTableOperator, or createTableIfNotExists on the job)",
    ),
    "connections": (
        "connection",
        "check the connection name or create it first (PolarisCreateConnectionOperator)",
    ),
    "files": ("file", "check the file name or upload it first (PolarisUploadFilesOperator)"),
    "events": (
        "push_streaming connection",
        "check the connection name or create it first (PolarisCreateConnectionOperator)",
    ),
}


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (a bounded walk of ``__cause__``)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 5 and current not in chain:
        chain.append(current)
        current = current.__cause__
    return chain


def _api_error(exc: BaseException) -> PolarisApiError | None:
    return next((e for e in _causes(exc) if isinstance(e, PolarisApiError)), None)


def _boundary_error(exc: BaseException) -> BaseException | None:
    """A malformed connection or spec: the project's own "fix your input" errors."""
    from airflow_provider_polaris.exceptions import PolarisConnectionConfigError
    from airflow_provider_polaris.models.errors import PolarisSpecError

    kinds = (PolarisConnectionConfigError, PolarisSpecError)
    return next((e for e in _causes(exc) if isinstance(e, kinds)), None)


def is_permanent(exc: BaseException) -> bool:
    """Whether a retry of the task cannot succeed (see the module docstring)."""
    if isinstance(exc, AirflowFailException):
        return True
    api = _api_error(exc)
    if api is not None:
        return 400 <= api.status_code < 500 and api.status_code not in _TRANSIENT_4XX
    return _boundary_error(exc) is not None


def _where(err: PolarisApiError) -> tuple[str, str]:
    """``(path inside the project, "METHOD path")`` of the failed request."""
    try:
        path = urlsplit(err.url).path or "/"
    except ValueError:
        path = "/"
    match = _PROJECT_PATH.match(path)
    inner = (match.group("rest") or "/") if match else path
    return inner, f"{err.method or 'request'} {path}".strip()


def _said(err: PolarisApiError) -> str:
    return f" Polaris said: {err.message}" if err.message else ""


def explain_api_error(
    err: PolarisApiError, conn_id: str | None, config: PolarisConfig | None = None
) -> str:
    """The message of a permanent API error: the first line names the Airflow connection and
    the field or resource to fix."""
    conn = repr(conn_id or "polaris_default")
    inner, request = _where(err)
    status = err.status_code
    if status == 401:
        return _explain_401(err, conn, config, request)
    if status == 403:
        return _explain_403(err, conn, config, request)
    if status == 404:
        return _explain_404(err, conn, config, inner, request)
    if status == 400:
        field = f" in field {err.target!r}" if err.target else ""
        return (
            f"Polaris rejected {request} (400 Bad Request){field}: {err.message or 'no details'}. "
            f"Fix the {'field' if err.target else 'request'} and rerun; a retry would send the "
            f"same request (Airflow connection {conn})."
        )
    if status == 409:
        return (
            f"Polaris refused {request} (409 Conflict): {err.message or 'no details'}. The "
            "resource already exists or changed meanwhile: pick another name, use the "
            "operator's if_exists option where it has one, or read the resource again "
            f"(Airflow connection {conn})."
        )
    return (
        f"Polaris refused {request} ({status}{' ' + err.code if err.code else ''}): "
        f"{err.message or 'no details'}. A retry would send the same request "
        f"(Airflow connection {conn})."
    )


def _explain_401(
    err: PolarisApiError, conn: str, config: PolarisConfig | None, request: str
) -> str:
    org = f" of organization {config.org!r}" if config is not None and config.org else ""
    if config is not None and config.auth_kind == "oauth":
        return (
            f"Polaris rejected the OAuth client credentials of Airflow connection {conn} "
            "(401 Unauthorized): check its login field (the OAuth client ID), its password field "
            f"(the client secret) and extra.token_url{org}. Request: {request}.{_said(err)}"
        )
    what = "the API key" if config is not None else "the credentials"
    return (
        f"Polaris rejected {what} of Airflow connection {conn} (401 Unauthorized): check its "
        f"password field (the API key): it must be a valid, unrevoked, unexpired key{org}. "
        f"Request: {request}.{_said(err)}"
    )


def permission_for(method: str, inner_path: str) -> str | None:
    """The permission Polaris' docs list for a request (polaris-api.md section 2), if any."""
    resource = inner_path.strip("/").split("/", 1)[0]
    if resource == "tables":
        return "ViewTables" if method.upper() == "GET" else "ManageTables"
    return {
        "jobs": "ManageIngestionJobs",
        "files": "ManageFiles",
        "connections": "ManageConnections",
        "query": "AccessQueries",
    }.get(resource)


def _explain_403(
    err: PolarisApiError, conn: str, config: PolarisConfig | None, request: str
) -> str:
    who = "OAuth client" if config is not None and config.auth_kind == "oauth" else "API key"
    named = next((p for p in PERMISSIONS if p in (err.message or "")), None)
    if named:
        head = f"The {who} of Airflow connection {conn} lacks the permission {named}"
        fix = f"grant {named} to the {who} in Polaris (project-level permissions)"
    else:
        head = f"The {who} of Airflow connection {conn} lacks a permission for {request}"
        listed = permission_for(err.method, _where(err)[0])
        fix = (
            f"grant it the permission Polaris' docs list for this operation ({listed})"
            if listed
            else f"grant the {who} access to this operation"
        )
    return (
        f"{head} (403 Forbidden): {fix}, or use a key that has it. Request: {request}.{_said(err)}"
    )


def _explain_404(
    err: PolarisApiError, conn: str, config: PolarisConfig | None, inner: str, request: str
) -> str:
    project = repr(config.project_id) if config is not None else "of the connection"
    at = f" at {config.base_url}" if config is not None else ""
    parts = inner.strip("/").split("/")
    known = _RESOURCES.get(parts[0])
    if known is None or len(parts) < 2 or "project" in (err.message or "").lower():
        return (
            f"Polaris project {project} was not found (404 Not Found) for {request}{at}: check the "
            f"Project ID field (extra.project_id) of Airflow connection {conn}, and that its host "
            f"or region points at the project's region.{_said(err)}"
        )
    kind, fix = known
    return (
        f"Polaris {kind} {unquote(parts[1])!r} does not exist (404 Not Found) in project "
        f"{project} of Airflow connection {conn}: {fix}. Request: {request}.{_said(err)}"
    )


def permanent_failure(
    exc: BaseException, conn_id: str | None, config: PolarisConfig | None = None
) -> AirflowFailException | None:
    """The ``AirflowFailException`` that must replace ``exc``, or ``None`` when ``exc`` is
    transient (or already an ``AirflowFailException``) and stays as it is."""
    if isinstance(exc, AirflowFailException) or not is_permanent(exc):
        return None
    api = _api_error(exc)
    if api is not None:
        return AirflowFailException(explain_api_error(api, conn_id, config))
    boundary = _boundary_error(exc)
    return AirflowFailException(str(boundary or exc))


def fail_fast(exc: BaseException, source: Any) -> None:
    """Raise the permanent failure for ``exc`` (from ``exc``) if it is one; else return.

    ``source`` is an operator, sensor or hook: its ``polaris_conn_id`` and, when the hook already
    read it, the connection's config (never looked up here: no I/O in an error path).
    """
    hook = source.__dict__.get("hook", source) if hasattr(source, "__dict__") else source
    config = getattr(hook, "_config", None)
    conn_id = getattr(source, "polaris_conn_id", None) or getattr(hook, "polaris_conn_id", None)
    failure = permanent_failure(exc, conn_id, config)
    if failure is not None:
        raise failure from exc
