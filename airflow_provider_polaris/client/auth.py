"""Authorization headers: API keys as HTTP Basic, OAuth client credentials as cached Bearer tokens.

The token cache is pure state; fetching a token is a plan (see ``_core``) run by the client under
its own lock (``threading.Lock`` or ``asyncio.Lock``), so concurrent callers share one refresh.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import httpx

from airflow_provider_polaris.client._core import ApiCall, Core, Plan, parse_object
from airflow_provider_polaris.client.errors import PolarisApiError, PolarisAuthError

DEFAULT_TOKEN_LIFETIME = 300.0
MAX_REFRESH_LEAD = 60.0
REFRESH_LEAD_FRACTION = 0.2


def basic_credentials(api_key: str) -> str:
    """``base64(api_key + ":")``: the key as user name with an empty password.

    As secret as the key itself (it decodes to it): mask it wherever the key is masked.
    """
    return base64.b64encode(f"{api_key}:".encode()).decode("ascii")


def basic_authorization(api_key: str) -> str:
    """The ``Authorization`` header value for an API key: ``Basic <basic_credentials>``."""
    return "Basic " + basic_credentials(api_key)


def bearer_token(header: str) -> str:
    """The access token inside a ``Bearer <token>`` header."""
    return header.removeprefix("Bearer ")


@dataclass(frozen=True)
class Token:
    """An OAuth access token and its lifetime in seconds."""

    access_token: str = field(repr=False)
    expires_in: float


def parse_token(response: httpx.Response) -> Token:
    """Read ``access_token`` / ``expires_in`` from a token endpoint response."""
    body = parse_object(response)
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise PolarisAuthError(
            response.status_code,
            "InvalidTokenResponse",
            "token response has no access_token",
            None,
            response.request.method,
            str(response.request.url),
        )
    try:
        lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
    except (TypeError, ValueError):
        lifetime = DEFAULT_TOKEN_LIFETIME
    return Token(token, lifetime if lifetime > 0 else DEFAULT_TOKEN_LIFETIME)


class Authenticator:
    """Produces the ``Authorization`` header for a config; caches and refreshes OAuth tokens."""

    def __init__(self, core: Core) -> None:
        self._core = core
        config = core.config
        self.static: str | None = (
            basic_authorization(config.api_key) if config.api_key is not None else None
        )
        self._header: str | None = None
        self._refresh_at = 0.0

    def __repr__(self) -> str:
        return f"Authenticator(kind={self._core.config.auth_kind!r})"

    def current(self, stale: str | None = None) -> str | None:
        """The cached header if still fresh and not the ``stale`` one a server refused."""
        if self.static is not None:
            return self.static
        if self._header is None or self._header == stale:
            return None
        if self._core.clock() >= self._refresh_at:
            return None
        return self._header

    def refresh_plan(self) -> Plan[str]:
        """Fetch a token (retried like any safe call), cache it, return the new header."""
        config = self._core.config
        assert config.token_url is not None and config.client_id and config.client_secret
        call: ApiCall[Token] = ApiCall(
            "POST",
            config.token_url,
            parse_token,
            data={
                "client_id": config.client_id,
                "client_secret": config.client_secret,
                "grant_type": "client_credentials",
            },
            idempotent=True,
            scope="absolute",
            authenticate=False,
        )
        fetched_at = self._core.clock()
        try:
            token = yield from self._core.plan(call)
        except PolarisApiError as exc:
            if 400 <= exc.status_code < 500 and not isinstance(exc, PolarisAuthError):
                raise _as_auth_error(exc) from exc
            raise
        lead = min(MAX_REFRESH_LEAD, token.expires_in * REFRESH_LEAD_FRACTION)
        self._header = f"Bearer {token.access_token}"
        self._refresh_at = fetched_at + token.expires_in - lead
        return self._header


def _as_auth_error(exc: PolarisApiError) -> PolarisAuthError:
    return PolarisAuthError(
        exc.status_code,
        exc.code,
        f"OAuth token request refused: {exc.message}",
        exc.target,
        exc.method,
        exc.url,
        exc.retry_after,
        exc.body,
    )
