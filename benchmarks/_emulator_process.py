"""Start the Polaris emulator in a subprocess for a benchmark (not a benchmark itself).

The server is pinned to the second core when there are two, so the measured process keeps its
own; the caller stops it (``proc.terminate()``) in a ``finally``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request


def start_emulator(api_key: str, project_id: str, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """``(process, base URL)`` of ``polaris-emulator serve`` on a free loopback port, healthy.

    ``extra`` are more ``serve`` arguments (e.g. ``"--time-scale", "1"``).
    """
    cmd = [sys.executable, "-m", "airflow_provider_polaris.testing", "serve", "--port", "0"]
    cmd += ["--api-key", api_key, "--project-id", project_id, *extra]

    def pin() -> None:  # keep the server off the measured process' core
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {1})

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=pin)
    assert proc.stdout is not None
    match = re.search(r"(http://\S+)", proc.stdout.readline())
    if not match:
        proc.kill()
        raise RuntimeError("emulator did not start")
    base = match.group(1)
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/_emulator/health", timeout=1).read()
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("emulator not healthy")
