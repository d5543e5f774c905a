"""``python -m airflow_provider_polaris.testing serve`` / ``polaris-emulator``: run the emulator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence

from ._core import DEFAULT_API_KEY, DEFAULT_ORG, DEFAULT_PROJECT_ID
from ._lifecycle import DEFAULT_JOB_DURATIONS, merge_job_durations
from ._traffic import DEFAULT_EVENTS_BUDGET


def _parser() -> argparse.ArgumentParser:
    options = _options()
    parser = argparse.ArgumentParser(
        prog="polaris-emulator",
        description="A local Imply Polaris API for tests, demos and DAG development.",
        parents=[options],
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser(
        "serve", help="serve the emulator until Ctrl-C (the default command)", parents=[options]
    )
    return parser


def _options() -> argparse.ArgumentParser:
    """The options of ``serve``, also accepted without the command."""
    options = argparse.ArgumentParser(add_help=False)
    add = options.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=8795, help="port (0 = any free port; default 8795)")
    add("--api-key", default=DEFAULT_API_KEY, help="API key to accept")
    add("--project-id", default=DEFAULT_PROJECT_ID, help="project id to serve")
    add("--org", default=DEFAULT_ORG, help="organization (OAuth realm)")
    add(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply simulated durations (0.01 = 100x faster)",
    )
    add("--events-budget", type=int, default=DEFAULT_EVENTS_BUDGET, help="events calls per minute")
    add(
        "--job-duration",
        action="append",
        default=[],
        type=_duration,
        metavar="NAME=SECONDS",
        help=(
            "simulated duration at time scale 1, repeatable; NAME is one of "
            f"{', '.join(DEFAULT_JOB_DURATIONS)} "
            f"(defaults {_durations_text(DEFAULT_JOB_DURATIONS)})"
        ),
    )
    add(
        "--http",
        choices=("auto", "h11", "httptools"),
        default="auto",
        help="uvicorn HTTP parser (auto: httptools when installed)",
    )
    add(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="event loop (auto: uvloop when installed)",
    )
    add(
        "--data-dir",
        metavar="DIR",
        help="keep tables (with rows), files and connections in DIR across restarts "
        "(jobs are not kept); default: in memory",
    )
    return options


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


def _durations_text(durations: Mapping[str, float]) -> str:
    return ", ".join(f"{name}={seconds:g}" for name, seconds in durations.items())


if __name__ == "__main__":
    main()
