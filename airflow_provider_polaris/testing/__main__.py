"""``python -m airflow_provider_polaris.testing serve`` / ``polaris-emulator``: run the emulator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._core import DEFAULT_API_KEY, DEFAULT_ORG, DEFAULT_PROJECT_ID
from ._lifecycle import DEFAULT_JOB_DURATIONS, merge_job_durations
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
        target.add_argument(
            "--job-duration",
            action="append",
            default=[],
            type=_duration,
            metavar="NAME=SECONDS",
            help=(
                "simulated duration at time scale 1, repeatable; NAME is one of "
                f"{', '.join(DEFAULT_JOB_DURATIONS)} (defaults "
                + ", ".join(f"{k}={v:g}" for k, v in DEFAULT_JOB_DURATIONS.items())
                + ")"
            ),
        )
        target.add_argument(
            "--http",
            choices=("auto", "h11", "httptools"),
            default="auto",
            help="uvicorn HTTP parser (auto: httptools when installed)",
        )
        target.add_argument(
            "--loop",
            choices=("auto", "asyncio", "uvloop"),
            default="auto",
            help="event loop (auto: uvloop when installed)",
        )
        target.add_argument(
            "--data-dir",
            default=None,
            metavar="DIR",
            help=(
                "keep tables (with rows), files and connections in DIR across restarts "
                "(jobs are not kept); default: in memory"
            ),
        )
    return parser


def _duration(text: str) -> tuple[str, float]:
    """``NAME=SECONDS`` of ``--job-duration``, checked like the Python API checks it."""
    name, sep, seconds = text.partition("=")
    try:
        value = float(seconds)
        merge_job_durations({name.strip(): value})
    except ValueError as exc:
        detail = str(exc) if sep and seconds.strip() else "expected NAME=SECONDS, e.g. batch=10"
        raise argparse.ArgumentTypeError(detail) from None
    return name.strip(), value


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``polaris-emulator`` console script."""
    args = _parser().parse_args(argv)
    if args.time_scale <= 0:
        raise SystemExit("--time-scale must be positive")
    import uvicorn

    from ._state import EmulatorState
    from .server import bind_socket, build_asgi_app, server_stack, uvicorn_config

    state = EmulatorState(
        api_key=args.api_key,
        project_id=args.project_id,
        org=args.org,
        time_scale=args.time_scale,
        events_budget=args.events_budget,
        job_durations=dict(args.job_duration),
        data_dir=args.data_dir,
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
        f"  server     : uvicorn, {server_stack(args.http, args.loop)}\n"
        f"  time scale : {state.time_scale}\n"
        f"  data dir   : {args.data_dir or '(none: in memory)'}\n"
        f"  durations  : {_durations_text(state.job_durations)} (seconds at time scale 1)\n"
        f"  try        : curl -u {state.api_key}: {base_url}/v1/projects/{state.project_id}/jobs\n"
        f"  Airflow    : AIRFLOW_CONN_POLARIS_DEFAULT='"
        f'{{"conn_type":"imply_polaris","host":"{base_url}","password":"{state.api_key}",'
        f'"extra":{{"project_id":"{state.project_id}"}}}}\'\n'
        "Press Ctrl-C to stop.",
        flush=True,
    )
    config = uvicorn_config(build_asgi_app(state, base_url), http=args.http, loop=args.loop)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        state.save()
    print("Polaris emulator stopped.", flush=True)
    sys.exit(0)


def _durations_text(durations: dict[str, float]) -> str:
    return ", ".join(f"{name}={seconds:g}" for name, seconds in durations.items())


if __name__ == "__main__":
    main()
