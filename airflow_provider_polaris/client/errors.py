"""Exceptions raised by the Polaris client.

Every error carries the HTTP method and a secret-free URL (no user info, no query string), so the
message explains itself in a task log without ever showing credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

_MAX_BODY_CHARS = 4000
_MAX_MESSAGE_CHARS = 2000


def safe_url(url: str) -> str:
    """``url`` without user info, query string or fragment (the parts that may carry secrets)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _url_path(url: str) -> str:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return url


class PolarisError(Exception):
    """Base class of every error the Polaris client raises."""


class PolarisApiError(PolarisError):
    """Polaris answered with an error status.

    Attributes mirror Polaris' ErrorResponse: ``code`` (e.g. ``BadArgument``), ``message``,
    ``target`` (the offending field), plus the request ``method`` and secret-free ``url``,
    the ``retry_after`` delay the server asked for (seconds, if any) and the decoded ``body``.
    """

    def __init__(
        self,
        status_code: int,
        code: str | None,
        message: str,
        target: str | None = None,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.target = target
        self.method = method
        self.url = safe_url(url) if url else ""
        self.retry_after = retry_after
        self.body = body
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = f"{self.method} {_url_path(self.url)} -> " if self.method or self.url else ""
        text = f"{head}{self.status_code}"
        if self.code:
            text += f" {self.code}"
        if self.message:
            text += f": {self.message}"
        if self.target:
            text += f" (target: {self.target})"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-rich exceptions do not unpickle by default; Airflow may pickle task errors.
        what = (self.status_code, self.code, self.message, self.target)
        return (type(self), (*what, self.method, self.url, self.retry_after, self.body))


class PolarisBadRequestError(PolarisApiError):
    """400: the request was invalid (bad field, bad enum, misaligned interval, ...)."""


class PolarisAuthError(PolarisApiError):
    """401 or 403: credentials missing, invalid or expired, or a permission is missing."""


class PolarisNotFoundError(PolarisApiError):
    """404: the job, table, connection, file or project does not exist."""


class PolarisConflictError(PolarisApiError):
    """409: the name already exists, or a table ``version`` is stale."""


class PolarisRateLimitError(PolarisApiError):
    """429: too many requests; ``retry_after`` tells how long to wait, when Polaris said so."""


class PolarisServerError(PolarisApiError):
    """5xx: Polaris failed to process the request."""


class PolarisTransportError(PolarisError):
    """The request failed on the network (after retries, where retrying was allowed)."""

    _separator = ": "

    def __init__(self, message: str, method: str = "", url: str = "") -> None:
        self.method = method
        self.url = safe_url(url) if url else ""
        self.reason = message
        head = f"{method} {_url_path(self.url)}{self._separator}" if method or url else ""
        super().__init__(f"{head}{message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.method, self.url))


class PolarisTimeoutError(PolarisTransportError):
    """The request timed out (after retries, where retrying was allowed).

    ``phase`` says where: ``"connect"``, ``"read"`` (waiting for the response), ``"write"``
    (sending the request) or ``"pool"`` (waiting for a free connection); ``timeout`` is the
    limit that ran out, in seconds (None when there was none).
    """

    _separator = " "

    def __init__(
        self,
        message: str,
        method: str = "",
        url: str = "",
        phase: str = "",
        timeout: float | None = None,
    ) -> None:
        self.phase = phase
        self.timeout = timeout
        super().__init__(message, method, url)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.method, self.url, self.phase, self.timeout))


# httpx timeout -> (phase, what the client was doing, the PolarisConfig field, connection extra)
_TIMEOUTS: dict[type[httpx.TimeoutException], tuple[str, str, str, str]] = {
    httpx.ConnectTimeout: ("connect", "connecting to {host}", "connect_timeout", "connect_timeout"),
    httpx.ReadTimeout: ("read", "reading the response", "read_timeout", "timeout"),
    httpx.WriteTimeout: ("write", "sending the request", "read_timeout", "timeout"),
    httpx.PoolTimeout: ("pool", "waiting for a free connection in the client's pool", "", ""),
}

# What a network error means when the library gave no message (asyncio's often give none).
_SILENT_ERRORS: dict[type[httpx.TransportError], str] = {
    httpx.ConnectError: "could not connect to {host}",
    httpx.ReadError: "the connection broke while reading the response",
    httpx.WriteError: "the connection broke while sending the request",
    httpx.RemoteProtocolError: "the server closed the connection without a complete response",
    httpx.LocalProtocolError: "the request could not be sent (HTTP protocol error)",
    httpx.ProxyError: "the proxy refused or dropped the request",
    httpx.UnsupportedProtocol: "the URL's scheme is not http or https",
}


def transport_error(
    exc: httpx.TransportError,
    *,
    method: str,
    url: str,
    timeouts: Mapping[str, float | None],
    attempts: int = 1,
    withheld: bool = False,
) -> PolarisTransportError:
    """The error to raise for a network failure: says what failed, where, and after how long.

    ``timeouts`` are the limits the request was sent with (``httpx.Timeout.as_dict()``),
    ``attempts`` how many times it was sent, and ``withheld`` that it was not sent again
    because the server may already have acted on it (a create after a read timeout).
    """
    safe = safe_url(url)
    host = urlsplit(safe).netloc or "the server"
    notes = []
    if withheld:
        notes.append("not re-sent, since Polaris may already have acted on it")
    elif attempts > 1:
        notes.append(f"gave up after {attempts} attempts")
    for kind, (phase, doing, setting, extra) in _TIMEOUTS.items():
        if isinstance(exc, kind):
            limit = timeouts.get(phase)
            text = f"timed out after {limit:g}s" if limit is not None else "timed out"
            text += f" {doing.format(host=host)}"
            if setting and limit is not None:
                notes.insert(
                    0,
                    f"{setting}={limit:g}s; raise extra.{extra} in the Airflow connection "
                    "if this call needs longer",
                )
            text += f" ({'; '.join(notes)})" if notes else ""
            return PolarisTimeoutError(text, method, url, phase, limit)
    text = f"{type(exc).__name__}: {_network_text(exc, host)}"
    text += f" ({'; '.join(notes)})" if notes else ""
    return PolarisTransportError(text, method, url)


def _network_text(exc: BaseException, host: str) -> str:
    """The first non-empty message down the exception chain, else what the error class means."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            break
        if isinstance(seen, Exception):
            # httpx and httpcore messages may quote the URL; drop anything after '?'.
            text = str(seen).split("?", 1)[0].strip()
            if text:
                return text
        seen = seen.__cause__ or seen.__context__
    for kind, meaning in _SILENT_ERRORS.items():
        if isinstance(exc, kind):
            return meaning.format(host=host)
    return "the network call failed without details"


_BY_STATUS: dict[int, type[PolarisApiError]] = {
    400: PolarisBadRequestError,
    401: PolarisAuthError,
    403: PolarisAuthError,
    404: PolarisNotFoundError,
    409: PolarisConflictError,
    429: PolarisRateLimitError,
}


def error_class_for(status_code: int) -> type[PolarisApiError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return PolarisServerError
    return _BY_STATUS.get(status_code, PolarisApiError)


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def extract_error_fields(body: Any) -> tuple[str | None, str | None, str | None]:
    """``(code, message, target)`` from any error body shape Polaris or its gateway sends.

    The message follows polaris-api.md section 10: ``message``, else ``error.message``, else
    ``error`` when it is a string, else ``errorMessage``, else the raw text. Two shapes name the
    error class in a string ``error`` and explain it apart: Druid SQL errors (``errorCode`` /
    ``errorMessage``) and OAuth errors (``error_description``); there the explanation is the
    message and ``error`` the fallback code. The async query failure
    ``{"taskId", "state", "error": {"errorCode", "errorMessage", ...}}`` nests a Druid error.
    The code comes from the same level as the message where it can.
    """
    if isinstance(body, dict):
        return _object_error_fields(body)
    if isinstance(body, list):
        return None, json.dumps(body, default=str)[:_MAX_MESSAGE_CHARS], None
    if isinstance(body, str):
        return None, _text_message(body), None
    return None, None, None


def _object_error_fields(body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    inner = body.get("error")
    nested: dict[str, Any] = inner if isinstance(inner, dict) else {}
    named = inner if isinstance(inner, str) and inner else None
    explained = _str_or_none(body.get("errorMessage")) or _str_or_none(
        body.get("error_description")  # OAuth token endpoint
    )
    top_code = _str_or_none(body.get("errorCode")) or _str_or_none(body.get("code"))
    nested_code = _str_or_none(nested.get("errorCode")) or _str_or_none(nested.get("code"))
    nested_message = _str_or_none(nested.get("message")) or _str_or_none(nested.get("errorMessage"))

    message = _str_or_none(body.get("message"))
    if message is not None:
        code = top_code or nested_code or named
    elif nested_message is not None:
        message, code = nested_message, nested_code or top_code
    elif named is not None and explained is None:
        message, code = named, top_code
    elif explained is not None:
        message, code = explained, top_code or named
    else:
        code = top_code or nested_code
        innererror = body.get("innererror")
        if isinstance(innererror, dict):
            message = _str_or_none(innererror.get("message"))
        if message is None and body:
            message = json.dumps(body, default=str)[:_MAX_MESSAGE_CHARS]
    target = _str_or_none(body.get("target")) or _str_or_none(nested.get("target"))
    return code, message, target


def _text_message(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if text.lstrip().startswith("<"):
        # An HTML error page from a proxy: keep the title-ish text, not the markup.
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title:
            return title.group(1).strip()[:_MAX_MESSAGE_CHARS]
        stripped = re.sub(r"<[^>]+>", " ", text)
        text = " ".join(stripped.split())
    return text[:_MAX_MESSAGE_CHARS] or None


def decode_body(content: bytes, content_type: str | None) -> Any:
    """The response body as JSON when it parses as JSON, else as (truncated) text."""
    if not content:
        return None
    text = content.decode("utf-8", errors="replace")
    if content_type is None or "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text[:_MAX_BODY_CHARS]


def api_error(
    status_code: int,
    body: Any,
    *,
    method: str,
    url: str,
    retry_after: float | None = None,
    reason: str = "",
) -> PolarisApiError:
    """Build the right :class:`PolarisApiError` subclass for an error response."""
    code, message, target = extract_error_fields(body)
    return error_class_for(status_code)(
        status_code,
        code,
        message or reason,
        target,
        method,
        url,
        retry_after,
        body,
    )
