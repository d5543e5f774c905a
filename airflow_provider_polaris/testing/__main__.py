"""``python -m airflow_provider_polaris.testing serve`` / ``polaris-emulator``: run the emulator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._state import DEFAULT_API_KEY, DEFAULT_ORG, DEFAULT_PROJECT_ID
from ._traffic import DEFAULT_EVENTS_BUDGET


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polaris-emulator",
        description="A local Imply Polaris API for tests, demos and DAG development.",
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser(
        "serve", help="serve the emulator until Ctrl-C (the default command)"
    )
    for target in (parser, serve):
        target.add_argument(
            "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)"
        )
        target.add_argument(
            "--port", type=int, default=8795, help="port (0 = any free port; default 8795)"
        )
        target.add_argument("--api-key", default=DEFAULT_API_KEY, help="API key to accept")
        target.add_argument("--project-id", default=DEFAULT_PROJECT_ID, help="project id to serve")
        target.add_argument("--org", default=DEFAULT_ORG, help="organization (OAuth realm)")
        target.add_argument(
            "--time-scale",
            type=float,
            default=1.0,
            help="multiply simulated durations (0.01 = 100x faster)",
        )
        target.add_argument(
            "--events-budget",
            type=int,
            default=DEFAULT_EVENTS_BUDGET,
            help="events calls per minute",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``polaris-emulator`` console script."""
    args = _parser().parse_args(argv)
    if args.time_scale <= 0:
        raise SystemExit("--time-scale must be positive")
    import uvicorn

    from ._state import EmulatorState
    from .server import bind_socket, build_asgi_app, uvicorn_config

    state = EmulatorState(
        api_key=args.api_key,
        project_id=args.project_id,
        org=args.org,
        time_scale=args.time_scale,
        events_budget=args.events_budget,
    )
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        raise SystemExit(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    base_url = f"http://{host}:{port}"
    print(
        f"Polaris emulator listening on {base_url}\n"
        f"  project id : {state.project_id}\n"
        f"  API key    : {state.api_key}\n"
        f"  org        : {state.org} (OAuth client emulator-client / emulator-secret)\n"
        f"  time scale : {state.time_scale}\n"
        f"  try        : curl -u {state.api_key}: {base_url}/v1/projects/{state.project_id}/jobs\n"
        f"  Airflow    : AIRFLOW_CONN_POLARIS_DEFAULT='"
        f'{{"conn_type":"imply_polaris","host":"{base_url}","password":"{state.api_key}",'
        f'"extra":{{"project_id":"{state.project_id}"}}}}\'\n'
        "Press Ctrl-C to stop.",
        flush=True,
    )
    server = uvicorn.Server(uvicorn_config(build_asgi_app(state, base_url)))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("Polaris emulator stopped.", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
