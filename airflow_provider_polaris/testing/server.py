"""``PolarisEmulator``: the emulator served by uvicorn on a loopback port in a background thread."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from importlib.util import find_spec
from typing import Any

from ._core import DEFAULT_API_KEY, DEFAULT_ORG, DEFAULT_PROJECT_ID
from ._state import EmulatorState
from ._traffic import DEFAULT_EVENTS_BUDGET

STARTUP_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 5.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: plain asyncio sets TCP_NODELAY on accepted connections only when
    # the listening socket says so (uvloop always does). Without it a keep-alive response written
    # as headers + body waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def build_asgi_app(state: EmulatorState, base_url: str) -> Any:
    """The ASGI app for a state (Polaris API plus the control API)."""
    from ._control import control_router
    from .app import EmulatorFront

    info = {
        "base_url": base_url,
        "project_id": state.project_id,
        "api_key": state.api_key,
        "org": state.org,
    }
    return EmulatorFront(state, control_router(state, info))


def server_stack(http: str = "auto", loop: str = "auto") -> str:
    """What uvicorn runs for these settings, e.g. ``httptools + uvloop`` (the fast path the
    ``emulator`` extra installs) or ``h11 + asyncio`` (pure Python)."""
    if http == "auto":
        http = "httptools" if find_spec("httptools") else "h11"
    if loop == "auto":
        loop = "uvloop" if find_spec("uvloop") else "asyncio"
    return f"{http} + {loop}"


def uvicorn_config(app: Any, *, http: str = "auto", loop: str = "auto") -> Any:
    """uvicorn settings for speed: no access log, warnings only; ``auto`` picks httptools and
    uvloop when installed (``h11`` / ``asyncio`` force the pure-Python stack)."""
    import uvicorn

    return uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_level="warning",
        http=http,
        loop=loop,
        timeout_keep_alive=30,
        server_header=False,
        date_header=False,
    )


class PolarisEmulator:
    """A local Imply Polaris API for tests, demos and DAG development.

    Use it as a context manager (or call :meth:`start` / :meth:`stop`)::

        with PolarisEmulator(time_scale=0.01) as emu:
            os.environ["AIRFLOW_CONN_POLARIS_DEFAULT"] = emu.airflow_connection()

    ``time_scale`` multiplies every simulated duration (a batch job is pending 1 s and runs 3 s at
    scale 1). ``job_durations`` changes some of those durations (seconds at scale 1): keys
    ``pending``, ``batch``, ``sql``, ``delete_data``, ``drop_table``, ``restore_data`` (running
    time per job type), ``transition`` (a cancel/suspend/resume taking effect) and ``idle``
    (a streaming job without events showing ``idle``). ``manual_clock=True`` freezes time until
    :meth:`advance`; ``clock`` injects the time source (seconds since the epoch).
    ``data_dir`` keeps tables (with their rows), files and connections across restarts (saved
    on :meth:`stop`; jobs are not kept).
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        project_id: str = DEFAULT_PROJECT_ID,
        org: str = DEFAULT_ORG,
        time_scale: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
        manual_clock: bool = False,
        events_budget: int = DEFAULT_EVENTS_BUDGET,
        job_durations: Mapping[str, float] | None = None,
        data_dir: str | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.state = EmulatorState(
            api_key=api_key,
            project_id=project_id,
            org=org,
            time_scale=time_scale,
            clock=clock,
            manual_clock=manual_clock,
            events_budget=events_budget,
            job_durations=job_durations,
            data_dir=data_dir,
        )
        self.host = host
        self.port = port
        self._server: Any = None
        self._front: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    # --- identity -----------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The API key the emulator accepts."""
        return self.state.api_key

    @property
    def project_id(self) -> str:
        """The emulated project's id."""
        return self.state.project_id

    @property
    def org(self) -> str:
        """The organization name (the OAuth realm)."""
        return self.state.org

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the provider appends ``/v1/projects/{id}/...``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint of this emulator."""
        return f"{self.base_url}/auth/realms/{self.org}/protocol/openid-connect/token"

    def airflow_connection(self, conn_extra: dict[str, Any] | None = None) -> str:
        """JSON for ``AIRFLOW_CONN_POLARIS_DEFAULT`` pointing at this emulator."""
        extra = {"project_id": self.project_id, **(conn_extra or {})}
        conn = {"conn_type": "imply_polaris", "host": self.base_url, "password": self.api_key}
        return json.dumps({**conn, "extra": extra})

    # --- server -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> PolarisEmulator:
        """Start serving on a free loopback port; return once the server answers."""
        if self.running:
            return self
        import uvicorn

        self._socket = bind_socket(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self._front = build_asgi_app(self.state, self.base_url)
        self._server = uvicorn.Server(uvicorn_config(self._front))
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="polaris-emulator",
            daemon=True,
        )
        self._thread.start()
        try:
            self._wait_until_serving()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self.running:
                raise RuntimeError("the Polaris emulator failed to start (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError("the Polaris emulator did not start in time")
            time.sleep(0.005)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            conn.request("GET", "/_emulator/health")
            if conn.getresponse().status != 200:
                raise RuntimeError("the Polaris emulator does not answer its health check")
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the server and wait for its thread (forcing it if a request hangs)."""
        if self._front is not None:
            self._front.closing = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT_SECONDS)
        if self._socket is not None:
            self._socket.close()
        self._thread = self._server = self._socket = self._front = None
        self.state.save()  # with ``data_dir``: tables, files and connections survive

    def __enter__(self) -> PolarisEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- control ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all jobs, tables, connections, files, tokens, scripts, faults and the log."""
        self.state.reset()

    def configure(
        self,
        *,
        time_scale: float | None = None,
        manual_clock: bool | None = None,
        job_durations: Mapping[str, float] | None = None,
    ) -> None:
        """Change the time scale, the clock mode and/or some job durations (merged into the
        current ones; see the class docstring) until the next :meth:`reset`."""
        self.state.configure(
            time_scale=time_scale, manual_clock=manual_clock, job_durations=job_durations
        )

    def advance(self, seconds: float) -> None:
        """Move the emulator clock forward (jobs progress, tokens expire, rate windows roll)."""
        self.state.advance(seconds)

    def script_job(
        self,
        job_id: str | None = None,
        *,
        table: str | None = None,
        outcome: str = "completed",
        after_polls: int | None = None,
        health_code: str | None = None,
        message: str | None = None,
        warn_code: str | None = None,
        unknown_polls: int = 0,
    ) -> None:
        """Script the fate of ``job_id`` or, without one, of the next job created (for ``table``).

        ``outcome``: ``completed`` (health ``ok``; ``warn`` with ``warn_code``; ``error`` with
        ``health_code``), ``failed`` (health error ``health_code``/``message``), ``canceled``,
        ``running`` (never finishes) or ``unknown`` (always reports ``unknown``).
        ``after_polls``: reach the outcome after that many status reads (GET job, GET status, or
        appearing in a list page) instead of after the simulated run time. ``unknown_polls``:
        report ``unknown`` for that many reads first.
        """
        self.state.script_job(
            job_id,
            table=table,
            outcome=outcome,
            after_polls=after_polls,
            health_code=health_code,
            message=message,
            warn_code=warn_code,
            unknown_polls=unknown_polls,
        )

    def inject_fault(
        self,
        method: str = "GET",
        path: str = ".*",
        *,
        kind: str = "status",
        status: int = 503,
        count: int = 1,
        retry_after: float | None = None,
        delay_seconds: float = 5.0,
    ) -> None:
        """Make the next ``count`` matching requests fail.

        ``path`` is a regex matched against the whole path, either after ``/v1/projects/{id}``
        (``/jobs/[^/]+``) or in full. ``kind``: ``status`` (answer ``status`` — 429 carries
        ``Retry-After`` and rate-limit headers), ``delay`` (process the request, then hold the
        response ``delay_seconds``), ``drop`` (close the connection without a response).
        ``method="*"`` matches any method.
        """
        with self.state.lock:
            self.state.faults.add(
                method=method,
                path=path,
                kind=kind,
                status=status,
                count=count,
                retry_after=retry_after,
                delay_seconds=delay_seconds,
            )

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self.state.lock:
            self.state.faults.clear()

    def set_events_budget(self, per_minute: int) -> None:
        """Set the per-minute call budget of ``POST /events/{connection}`` (default 83,334)."""
        self.state.set_events_budget(per_minute)

    def request_log(self) -> list[dict[str, Any]]:
        """Every Polaris request served: method, path, query, status, auth_kind, timestamp."""
        return self.state.requests.entries()

    def count_requests(self, method: str | None = None, path_regex: str | None = None) -> int:
        """How many logged requests match (regex over the full or project-relative path)."""
        return self.state.requests.count(method, path_regex, self.state.prefix)

    def clear_request_log(self) -> None:
        """Empty the request log."""
        self.state.requests.clear()

    def register_oauth_client(self, client_id: str, client_secret: str) -> None:
        """Accept this OAuth client too (``emulator-client``/``emulator-secret`` always works)."""
        self.state.register_oauth_client(client_id, client_secret)

    def get_job(self, job_id: str) -> dict[str, Any]:
        """The job as clients see it plus ``_emulator`` details; does not count as a poll."""
        return self.state.internal_job(job_id)

    def table_rows(self, name: str) -> list[dict[str, Any]]:
        """The rows the emulator holds for a table."""
        return self.state.table_rows(name)

    def dropped_events(self, connection: str | None = None) -> int:
        """Events accepted (200) for a push_streaming connection while no live streaming job
        read it, so they landed nowhere, as in Polaris: for one connection, or in total."""
        counts = self.state.dropped_event_counts()
        return counts.get(connection, 0) if connection is not None else sum(counts.values())
