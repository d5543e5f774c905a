"""DAG-parse cost: what importing every operator and sensor adds to what a DAG file already pays.

Baseline (fair): what every DAG file imports anyway -- ``from airflow.sdk import DAG,
BaseOperator`` and ``airflow.triggers.base`` on Airflow 3 (``from airflow import DAG``,
``airflow.models.BaseOperator`` and ``airflow.triggers.base`` on 2.11). Each run is a fresh
interpreter that loads the baseline, then times (``perf_counter``, wall clock) the import of
every public operator and sensor module; ``--repeat`` runs, median. One more run under
``-X importtime`` lists the imports over 5 ms and counts the modules the provider adds; it also
says whether common-sql or OpenLineage got imported (they must not be). Target: at most 30 ms.
Usage: ``python benchmarks/import_bench.py [--repeat 7] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

MODULES = [
    "airflow_provider_polaris.operators",
    "airflow_provider_polaris.operators.connections",
    "airflow_provider_polaris.operators.events",
    "airflow_provider_polaris.operators.files",
    "airflow_provider_polaris.operators.jobs",
    "airflow_provider_polaris.operators.streaming",
    "airflow_provider_polaris.operators.tables",
    "airflow_provider_polaris.sensors.jobs",
    "airflow_provider_polaris.sensors.tables",
]
TARGET_MS, LIST_OVER_MS = 30.0, 5.0
BASELINE = """
try:
    from airflow.sdk import DAG, BaseOperator
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.models import BaseOperator
import airflow.triggers.base
"""
LAZY = ("airflow.providers.common.sql", "airflow.providers.openlineage", "openlineage")


def _code(modules: list[str]) -> str:
    body = "".join(f"    import {m}\n" for m in modules)
    return (
        BASELINE
        + "import sys, time\nbefore = set(sys.modules)\nprint('-- baseline --', flush=True)\n"
        + "t0 = time.perf_counter()\nif True:\n"
        + body
        + "ms = (time.perf_counter() - t0) * 1000\n"
        + "added = sorted(set(sys.modules) - before)\n"
        + f"lazy = [m for m in added if m.startswith({LAZY!r})]\n"
        + "print(json.dumps({'ms': ms, 'added': len(added), 'lazy': lazy}))\n"
    ).replace("import sys, time", "import json, sys, time")


def timed_run(modules: list[str]) -> dict[str, Any]:
    """Wall-clock ms of the provider imports after the baseline, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _code(modules)], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _importtime(code: str) -> list[tuple[str, float]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    found = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _self, cumulative, name = (part.strip() for part in line[12:].split("|"))
            if cumulative.isdigit():
                found.append((name, int(cumulative) / 1000))
    return found


def slow_imports(modules: list[str]) -> list[tuple[str, float]]:
    """The imports over ``LIST_OVER_MS`` (cumulative, ``-X importtime``) that the baseline does
    not make."""
    baseline = {name for name, _ in _importtime(BASELINE)}
    return [
        (name, ms)
        for name, ms in _importtime(_code(modules))
        if name not in baseline and ms > LIST_OVER_MS
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    runs = [timed_run(MODULES) for _ in range(args.repeat)]
    totals = sorted(run["ms"] for run in runs)
    median = statistics.median(totals)
    listed = ", ".join(f"{name} {ms:.1f} ms" for name, ms in slow_imports(MODULES)) or "none"
    lazy = sorted({m for run in runs for m in run["lazy"]})
    ok = median <= TARGET_MS and not lazy
    row: dict[str, Any] = {
        "bench": "import",
        "case": "DAG parse: every operator and sensor over a DAG file's own imports",
        "added ms (median, wall)": round(median, 1),
        f"runs ({args.repeat})": "/".join(f"{t:.0f}" for t in totals),
        "modules added": runs[0]["added"],
        "common-sql/OpenLineage imported": ", ".join(lazy) or "no",
        "imports over 5 ms (importtime)": listed,
        "verdict": f"{median:.1f} ms <= {TARGET_MS:g} ms: "
        + ("ok" if ok else "MISSED (see the imports over 5 ms)"),
    }
    print("| case | measured | verdict |\n|---|---|---|")
    measured = "; ".join(
        f"{k} {v}" for k, v in row.items() if k not in ("bench", "case", "verdict")
    )
    print(f"| {row['case']} | {measured} | {row['verdict']} |")
    if args.json:
        args.json.write_text(json.dumps([row], indent=1))


if __name__ == "__main__":
    main()
