"""Authentication: API keys (Basic), OAuth client-credentials tokens (Bearer) and the
Keycloak-style token endpoint, plus ``/v1/apikeyinfo``."""

from __future__ import annotations

import base64
import binascii
import secrets as token_source
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._core import StateCore
from .._errors import ApiError
from .._http import RouteTable, json_response, media_type

DEFAULT_CLIENT_ID = "emulator-client"
DEFAULT_CLIENT_SECRET = "emulator-secret"
TOKEN_LIFETIME_SECONDS = 300
EXPIRED_TOKEN_MESSAGE = 'Token claims invalid: ["exp"]="token expired"'
_API_KEY_USER = {"username": "api-key-emulator", "userId": "0b6e4f4a-6f2e-4f57-9a59-2f7b6c1d0e01"}
_API_KEY_PERMISSIONS = [
    "ManageIngestionJobs",
    "ManageTables",
    "ViewTables",
    "ManageFiles",
    "ManageConnections",
    "AccessQueries",
]


def _unauthorized(message: str = "Unauthorized") -> ApiError:
    return ApiError(
        401, "Unauthorized", message, headers={"WWW-Authenticate": 'Basic realm="polaris"'}
    )


def _token_error(status: int, error: str, description: str) -> ApiError:
    """An error of the token endpoint, in Keycloak's ``error`` / ``error_description`` shape."""
    code = "BadArgument" if status == 400 else "Unauthorized"
    body = {"error": error, "error_description": description}
    return ApiError(status, code, description, body=body)


class AuthApi(StateCore):
    """Credentials of the emulated organization: the API key, OAuth clients and tokens."""

    def _clear(self) -> None:
        super()._clear()
        self.oauth_clients: dict[str, str] = {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET}
        self.tokens: dict[str, tuple[str, float]] = {}
        self._auth_cache: dict[str, tuple[str, dict[str, str]]] = {}

    def register_oauth_client(self, client_id: str, client_secret: str) -> None:
        """Allow this client id / secret at the token endpoint."""
        with self.lock:
            self.oauth_clients[client_id] = client_secret

    def authenticate(self, header: str | None) -> tuple[str, dict[str, str]]:
        """(auth kind, principal) for an Authorization header value, or 401."""
        if not header:
            raise _unauthorized("Missing credentials")
        cached = self._auth_cache.get(header)
        if cached is not None:
            return cached
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer":
            return self._bearer(value)
        if scheme != "basic" or not value:
            raise _unauthorized("Unsupported authorization scheme")
        if value == self.api_key:
            result = ("basic_raw", _API_KEY_USER)
        elif _basic_credentials(value) == f"{self.api_key}:":
            # Exactly ``key:`` (user = key, empty password), as ``curl -u KEY:`` and the SDK send.
            result = ("basic", _API_KEY_USER)
        else:
            raise _unauthorized("Invalid API key")
        self._auth_cache[header] = result
        return result

    def _bearer(self, token: str) -> tuple[str, dict[str, str]]:
        entry = self.tokens.get(token)
        if entry is None:
            raise _unauthorized("Invalid token")
        client_id, expires = entry
        if self.clock.now() >= expires:
            raise ApiError(
                401, "Unauthorized", EXPIRED_TOKEN_MESSAGE, body={"message": EXPIRED_TOKEN_MESSAGE}
            )
        return "bearer", {"username": f"service-account-{client_id}", "userId": _user_id(client_id)}

    def issue_token(
        self, org: str, form: Mapping[str, str], authorization: str | None
    ) -> dict[str, Any]:
        """The client-credentials grant of the Keycloak-style token endpoint."""
        with self.lock:
            if org != self.org:
                raise ApiError(
                    404, "NotFound", "Realm does not exist", body={"error": "Realm does not exist"}
                )
            if form.get("grant_type") != "client_credentials":
                raise _token_error(400, "unsupported_grant_type", "Unsupported grant_type")
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
            if authorization and authorization.lower().startswith("basic "):
                try:
                    decoded = base64.b64decode(authorization[6:].strip()).decode()
                    client_id, _, client_secret = decoded.partition(":")
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    pass
            if not client_id or self.oauth_clients.get(client_id) != client_secret:
                description = "Invalid client or Invalid client credentials"
                raise _token_error(401, "invalid_client", description)
            token = "emu." + token_source.token_urlsafe(24)
            self.tokens[token] = (client_id, self.clock.now() + TOKEN_LIFETIME_SECONDS)
            return {
                "access_token": token,
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "refresh_expires_in": 0,
                "token_type": "Bearer",
                "not-before-policy": 0,
                "scope": "profile email",
            }


def _basic_credentials(value: str) -> str | None:
    """The ``user:password`` text of a Basic credential (standard or URL-safe base64)."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
        return decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _user_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, name))


async def _token(state: AuthApi, request: Request) -> Response:
    if media_type(request) != "application/x-www-form-urlencoded":
        raise ApiError(415, "UnsupportedMediaType", "Use application/x-www-form-urlencoded")
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    issued = state.issue_token(
        request.path_params["org"], fields, request.headers.get("authorization")
    )
    return json_response(issued)


async def _api_key_info(state: AuthApi, request: Request) -> Response:
    return json_response({"id": "emulator-api-key", "permissions": _API_KEY_PERMISSIONS})


# ``/v1/apikeyinfo`` and the OAuth token endpoint. (paths from the root)
ROUTES: RouteTable[AuthApi] = [
    ("/v1/apikeyinfo", _api_key_info, ["GET"]),
    ("/auth/realms/{org}/protocol/openid-connect/token", _token, ["POST"]),
]
