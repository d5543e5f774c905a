"""Connection settings for the Polaris client (no I/O happens here)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlsplit

from airflow_provider_polaris.client.retry import RetryPolicy

DEFAULT_TOKEN_URL = "https://id.imply.io/auth/realms/{org}/protocol/openid-connect/token"
DEFAULT_CONSOLE_URL = "https://{org}.app.imply.io"
API_HOST_TEMPLATE = "https://{org}.{region}.{cloud}.api.imply.io"

# {org}.{region}.{cloud}.api.imply.io or {org}.api.imply.io (plus eng/staging variants).
_IMPLY_API_HOST = re.compile(r"^(?P<org>[^.]+)\.(?:[^.]+\.)*api\.(?:[a-z-]+\.)?imply\.io$")

AuthKind = Literal["api_key", "oauth"]


def quote_segment(value: str) -> str:
    """Percent-encode one URL path segment: everything but RFC 3986 unreserved characters.

    ``/`` is encoded too (as ``%2F``), so a file name containing slashes stays one segment.
    """
    return quote(str(value), safe="")


def _mask(value: str | None) -> str:
    return "None" if value is None else "'***'"


@dataclass(frozen=True, repr=False)
class PolarisConfig:
    """Everything needed to talk to one Polaris project.

    ``base_url`` is ``scheme://host[:port]`` (a path prefix is kept); the client appends
    ``/v1/projects/{project_id}/...``. Authenticate with exactly one of ``api_key`` or
    ``client_id`` + ``client_secret`` (OAuth client credentials; ``token_url`` defaults to
    Imply's identity realm for ``org``). ``max_connections`` sizes a client's connection pool:
    at most that many requests are in flight at once, the others wait their turn (for as long as
    it takes: waiting is not a timeout). Secrets never appear in ``repr()``.
    """

    project_id: str
    base_url: str
    api_key: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None
    org: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    verify: bool | str = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    user_agent: str | None = None
    console_base_url: str | None = None
    max_connections: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.project_id, str) or not self.project_id.strip():
            raise ValueError("project_id must be a non-empty string")
        object.__setattr__(self, "project_id", self.project_id.strip())
        object.__setattr__(self, "base_url", self._normalise_base_url(self.base_url))
        if self.org is None:
            host = urlsplit(self.base_url).hostname or ""
            match = _IMPLY_API_HOST.match(host)
            if match:
                object.__setattr__(self, "org", match.group("org"))
        has_key = bool(self.api_key)
        has_oauth = bool(self.client_id) or bool(self.client_secret)
        if has_key and has_oauth:
            raise ValueError("api_key: give an API key or OAuth client credentials, not both")
        if not has_key and not has_oauth:
            raise ValueError("api_key: an API key or client_id + client_secret is required")
        if has_oauth:
            if not self.client_id:
                raise ValueError("client_id is required with client_secret")
            if not self.client_secret:
                raise ValueError("client_secret is required with client_id")
            if not self.token_url:
                if not self.org:
                    raise ValueError("token_url (or org) is required for OAuth client credentials")
                object.__setattr__(self, "token_url", DEFAULT_TOKEN_URL.format(org=self.org))
        for name in ("connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        connections = self.max_connections
        if not isinstance(connections, int) or isinstance(connections, bool) or connections < 1:
            raise ValueError(f"max_connections must be a whole number >= 1, got {connections!r}")
        if not isinstance(self.verify, (bool, str)):
            raise ValueError("verify must be a bool or a CA bundle path")
        if not isinstance(self.retry, RetryPolicy):
            raise ValueError("retry must be a RetryPolicy")
        if self.console_base_url is not None:
            object.__setattr__(self, "console_base_url", self.console_base_url.rstrip("/"))

    @staticmethod
    def _normalise_base_url(base_url: str) -> str:
        if not isinstance(base_url, str) or not base_url.strip():
            raise ValueError("base_url must be a non-empty URL")
        url = base_url.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must look like https://host[:port], got {url!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("base_url must not carry credentials, a query or a fragment")
        return url

    @classmethod
    def from_parts(
        cls,
        *,
        org: str,
        region: str,
        project_id: str,
        cloud: str = "aws",
        **kwargs: object,
    ) -> PolarisConfig:
        """Config for ``https://{org}.{region}.{cloud}.api.imply.io``; other fields as keywords."""
        for name, value in (("org", org), ("region", region), ("cloud", cloud)):
            if not value or not re.fullmatch(r"[A-Za-z0-9-]+", value):
                raise ValueError(f"{name} must be a DNS label, got {value!r}")
        base_url = API_HOST_TEMPLATE.format(org=org, region=region, cloud=cloud)
        return cls(project_id=project_id, base_url=base_url, org=org, **kwargs)  # type: ignore[arg-type]

    @property
    def auth_kind(self) -> AuthKind:
        """``"api_key"`` or ``"oauth"``."""
        return "api_key" if self.api_key else "oauth"

    @property
    def api_url(self) -> str:
        """The ``/v1`` root on the API host (``projects.list()`` lives here)."""
        return f"{self.base_url}/v1"

    @property
    def project_url(self) -> str:
        """``{base_url}/v1/projects/{project_id}``: the root of every project-scoped resource."""
        return f"{self.api_url}/projects/{quote_segment(self.project_id)}"

    @property
    def console_url(self) -> str:
        """The Polaris UI root: ``console_base_url``, else ``https://{org}.app.imply.io`` for
        Imply-hosted APIs, else ``{base_url}/console`` (an emulator or proxy)."""
        if self.console_base_url:
            return self.console_base_url
        host = urlsplit(self.base_url).hostname or ""
        if self.org and host.endswith("imply.io"):
            return DEFAULT_CONSOLE_URL.format(org=self.org)
        return f"{self.base_url}/console"

    def job_console_url(self, job_id: str) -> str:
        """Link to a job's page in the Polaris UI."""
        return (
            f"{self.console_url}/projects/{quote_segment(self.project_id)}"
            f"/jobs/{quote_segment(job_id)}"
        )

    def __repr__(self) -> str:
        return (
            f"PolarisConfig(project_id={self.project_id!r}, base_url={self.base_url!r}, "
            f"auth_kind={self.auth_kind!r}, api_key={_mask(self.api_key)}, "
            f"client_id={self.client_id!r}, client_secret={_mask(self.client_secret)}, "
            f"token_url={self.token_url!r}, org={self.org!r}, "
            f"connect_timeout={self.connect_timeout!r}, read_timeout={self.read_timeout!r}, "
            f"max_connections={self.max_connections!r}, verify={self.verify!r}, "
            f"retry={self.retry!r}, user_agent={self.user_agent!r}, "
            f"console_base_url={self.console_base_url!r})"
        )

    __str__ = __repr__
