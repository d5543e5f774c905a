"""PolarisHook: an Airflow connection of type ``imply_polaris`` -> Polaris clients."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow_provider_polaris._compat import BaseHook, aget_connection, amask_secret, mask_secret
from airflow_provider_polaris.client.auth import basic_credentials
from airflow_provider_polaris.hooks import form
from airflow_provider_polaris.hooks.config import (
    ConnectionLike,
    PolarisConnectionConfigError,
    config_from_connection,
    connection_secrets,
)
from airflow_provider_polaris.hooks.errors import explain_api_error

if TYPE_CHECKING:
    from airflow_provider_polaris.client import AsyncPolarisClient, PolarisClient, PolarisConfig
    from airflow_provider_polaris.events import PushControl, PushReport


class PolarisHook(BaseHook):
    """Talk to one Imply Polaris project through an Airflow connection.

    Constructing the hook does nothing: the connection is looked up on first use
    (:meth:`get_config` / :meth:`aget_config`), so DAG parsing stays free of I/O. The clients are
    cached per hook; close them with :meth:`close` / :meth:`aclose` (or use them as context
    managers).

    :param polaris_conn_id: the Airflow connection id (type ``imply_polaris``).
    """

    conn_name_attr = "polaris_conn_id"
    default_conn_name = "polaris_default"
    conn_type = "imply_polaris"
    hook_name = "Imply Polaris"

    def __new__(cls, *args: Any, **kwargs: Any) -> PolarisHook:
        """``PolarisHook`` called with keywords beyond its own returns a
        :class:`~airflow_provider_polaris.hooks.sql.PolarisSqlHook`.

        Airflow maps the ``imply_polaris`` connection type to this class; common-sql's SQL
        operators call it with the connection's extras and their ``hook_params``
        (``hook_params={"sql": True}`` where there are none) and need a ``DbApiHook``. The SQL
        hook (and common-sql) is imported only then.
        """
        if cls is PolarisHook and set(kwargs) - {"polaris_conn_id", "logger_name"}:
            from airflow_provider_polaris.hooks.sql import PolarisSqlHook

            return super().__new__(PolarisSqlHook)
        return super().__new__(cls)

    def __init__(self, polaris_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.polaris_conn_id = polaris_conn_id
        self._config: PolarisConfig | None = None
        self._client: PolarisClient | None = None
        self._async_client: AsyncPolarisClient | None = None
        self._async_client_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        # The config (and so any secret) is never part of the repr.
        return f"{type(self).__name__}(polaris_conn_id={self.polaris_conn_id!r})"

    # -- configuration ---------------------------------------------------------------------------

    @staticmethod
    def config_from_connection(conn: ConnectionLike) -> PolarisConfig:
        """Parse an ``imply_polaris`` connection into a :class:`PolarisConfig` (pure, no I/O).

        The one parser of the connection form, shared by the sync and async paths. Raises
        :class:`PolarisConnectionConfigError` naming the connection id, field and fix.
        """
        return config_from_connection(conn)

    def get_config(self) -> PolarisConfig:
        """Look up the connection (blocking) and return its client configuration.

        The API key / OAuth client secret is registered with the secrets masker as soon as it
        is read, and so is the Basic credential derived from an API key. Do not call this from
        a trigger: use :meth:`aget_config`.
        """
        if self._config is None:
            conn = self.get_connection(self.polaris_conn_id)
            for typed in connection_secrets(conn):  # the password, and any typed into host
                mask_secret(typed)
            config = self.config_from_connection(conn)
            for secret in _derived_secrets(config):
                mask_secret(secret)
            self._config = config
        return self._config

    async def aget_config(self) -> PolarisConfig:
        """Look up the connection without blocking the event loop and return its configuration."""
        if self._config is None:
            conn = await aget_connection(self.polaris_conn_id)
            for typed in connection_secrets(conn):
                await amask_secret(typed)
            config = self.config_from_connection(conn)
            for secret in _derived_secrets(config):
                await amask_secret(secret)
            self._config = config
        return self._config

    # -- clients ---------------------------------------------------------------------------------

    def get_client(self) -> PolarisClient:
        """The synchronous Polaris client for this connection (created once per hook)."""
        if self._client is None:
            self._client = self.new_client()
        return self._client

    def new_client(self) -> PolarisClient:
        """A new synchronous client with its own connection pool; the caller closes it.

        For work that must not share the cached client, e.g. a cancel sent from a signal
        handler while the interrupted wait may be inside the cached client.
        """
        # Imported here so that importing the hook (DAG parse) does not load the client.
        from airflow_provider_polaris.client import PolarisClient

        return PolarisClient(self.get_config(), on_secret=mask_secret)

    async def get_async_client(self) -> AsyncPolarisClient:
        """The asynchronous Polaris client for this connection (created once per hook).

        Built in a worker thread: loading the TLS trust store takes tens of milliseconds, which
        would stall every other trigger sharing the triggerer's event loop. Concurrent callers
        wait for the one construction. An httpx async client belongs to the event loop it first
        runs in: use the hook from one loop only (a trigger's ``run()`` does).
        """
        if self._async_client is None:
            config = await self.aget_config()
            if self._async_client_lock is None:
                self._async_client_lock = asyncio.Lock()
            async with self._async_client_lock:
                if self._async_client is None:
                    from airflow_provider_polaris.client import AsyncPolarisClient

                    self._async_client = await asyncio.to_thread(
                        AsyncPolarisClient, config, on_secret=amask_secret
                    )
        return self._async_client

    @property
    def client_open(self) -> bool:
        """Whether a synchronous client is cached (opened and not closed since)."""
        return self._client is not None

    def close(self) -> None:
        """Close the cached synchronous client (its connection pool); the next
        :meth:`get_client` opens a new one."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the cached asynchronous client (its connection pool)."""
        client, self._async_client = self._async_client, None
        if client is not None:
            await client.aclose()

    # -- connection form and test ----------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection with one authenticated ``GET /v1/projects/{project_id}``.

        Used by the UI's "Test" button. Never raises: returns ``(ok, message)`` where the
        message says which setting to fix.
        """
        from airflow_provider_polaris.client import (
            PolarisApiError,
            PolarisClient,
            PolarisError,
            RetryPolicy,
        )

        try:
            config = self.get_config()
        except PolarisConnectionConfigError as err:
            return False, str(err)
        except Exception as err:  # a missing connection, a secrets backend failure, ...
            return False, f"Cannot read connection {self.polaris_conn_id!r}: {err}"
        from dataclasses import replace

        # One attempt: a person is waiting on the button and a retry hides the real answer.
        probe = replace(config, retry=RetryPolicy.no_retries())
        try:
            with PolarisClient(probe, on_secret=mask_secret) as client:
                project = client.projects.get()
        except PolarisApiError as err:
            return False, explain_api_error(err, self.polaris_conn_id, config)
        except PolarisError as err:
            return False, f"Cannot reach Polaris at {config.base_url}: {err}"
        except Exception as err:
            return False, f"Unexpected error testing the Polaris connection: {err}"
        name = (project.get("metadata") or {}).get("name") if isinstance(project, dict) else None
        label = f"{name!r} ({config.project_id})" if name else repr(config.project_id)
        return True, f"Connected to Polaris project {label} at {config.base_url}."

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (Airflow 2.11 - 3.1; 3.2+ uses provider info)."""
        return form.connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden/relabeled fields, placeholders (2.11 - 3.1; 3.2+ reads the provider info)."""
        return form.ui_field_behaviour()

    # -- events --------------------------------------------------------------------------------

    def push_events(
        self,
        connection_name: str,
        events: Any,
        *,
        control: PushControl | None = None,
        **options: Any,
    ) -> PushReport:
        """Push events to the push_streaming connection ``connection_name``
        (``POST /events/{connectionName}``) and return a
        :class:`~airflow_provider_polaris.events.PushReport`.

        ``events``: dicts, NDJSON lines, or a binary NDJSON file object (streamed). ``options``
        are :class:`~airflow_provider_polaris.events.PushOptions` fields. Raises
        :class:`~airflow_provider_polaris.events.EventsDeliveryError` naming the lines that were
        not delivered when a request finally fails. Many requests stay in flight on keep-alive
        connections driven by one asyncio loop; the pusher (not the client) paces and retries.
        ``control=PushControl()`` lets another thread stop the push (``control.abort()``, as
        ``PolarisPushEventsOperator.on_kill`` does); the report then says where to resume.
        """
        from airflow_provider_polaris.events import push_events

        return push_events(self.get_config(), connection_name, events, control=control, **options)


def _derived_secrets(config: PolarisConfig) -> list[str]:
    """Secrets computed from the connection's: the Basic credential (``base64(key:)``) of an
    API key, which would otherwise print in clear if a request's headers were ever logged."""
    return [basic_credentials(config.api_key)] if config.api_key else []
