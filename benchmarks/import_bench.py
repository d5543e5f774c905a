"""DAG-parse cost: what importing every operator and sensor adds over ``airflow.sdk``.

Each measurement is a fresh interpreter (``python -X importtime``), repeated ``--repeat`` times
(median): one imports ``airflow.sdk`` alone, the other ``airflow.sdk`` and then every public
module of ``airflow_provider_polaris.operators`` and ``.sensors``. The difference is what a DAG
file using the provider pays at parse time. Every import over 5 ms that the provider triggers
(cumulative time, after ``airflow.sdk`` is loaded) is listed. Target: at most 30 ms added.
Usage: ``python benchmarks/import_bench.py [--repeat 5] [--json PATH]``.
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


def import_run(modules: list[str]) -> tuple[float, list[tuple[str, float]]]:
    """Total ms of the provider imports after ``airflow.sdk`` and the slow ones among them."""
    code = "import airflow.sdk\nprint('-- sdk loaded --', flush=True)\n"
    code += "".join(f"import {m}\n" for m in modules)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    lines = done.stderr.splitlines()
    # importtime writes to stderr as modules finish; what follows airflow.sdk's own line is ours.
    start = max(i for i, line in enumerate(lines) if line.rstrip().endswith("| airflow.sdk"))
    total, slow = 0.0, []
    for line in lines[start + 1 :]:
        if not line.startswith("import time:") or "|" not in line:
            continue
        _self, cumulative, name = (part.strip() for part in line[12:].split("|"))
        if not cumulative.isdigit():
            continue
        level = len(name) - len(name.lstrip())
        if level == 0:  # a top-level import of the DAG file: cumulative covers its children
            total += int(cumulative) / 1000
        if int(cumulative) / 1000 > LIST_OVER_MS:
            slow.append((name.strip(), int(cumulative) / 1000))
    return total, slow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    runs = [import_run(MODULES) for _ in range(args.repeat)]
    totals = sorted(total for total, _ in runs)
    median = statistics.median(totals)
    slow = min(runs, key=lambda run: abs(run[0] - median))[1]
    listed = ", ".join(f"{name} {ms:.1f} ms" for name, ms in slow) or "none"
    row: dict[str, Any] = {
        "bench": "import",
        "case": "DAG parse: every operator and sensor over airflow.sdk",
        "added ms (median)": round(median, 1),
        f"runs ({args.repeat})": "/".join(f"{t:.0f}" for t in totals),
        "imports over 5 ms": listed,
        "verdict": f"{median:.1f} ms <= {TARGET_MS:g} ms: "
        + ("ok" if median <= TARGET_MS else "MISSED (see the imports over 5 ms)"),
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
