"""Run every benchmark script in this folder (``make bench``): ONE table, and ``results.json``.

Each ``*_bench.py`` runs in its own process with its defaults. A script that takes ``--json PATH``
writes its rows there (``case``, measured values, ``verdict``); the others print markdown tables,
whose rows are read back from their output (first cell: the case; the rest: measured values;
a ``verdict``/``target`` column, when present, is the verdict) or fixed-width tables (a line
with three or more numbers is a row, under the nearest header line). Their progress goes to stderr.
Every row lands in one table on stdout and in ``benchmarks/results.json``; rows that miss a
target say ``MISSED`` with the reason. Returns the number of scripts that failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"


def table_rows(bench: str, text: str) -> list[dict[str, Any]]:
    """The rows of every markdown table in ``text`` (duplicates dropped)."""
    rows: list[dict[str, Any]] = []
    header: list[str] | None = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|"):
            header = None
            continue
        if header is None:
            header = cells
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue
        row: dict[str, Any] = {"bench": bench, "case": cells[0]}
        for name, value in zip(header[1:], cells[1:], strict=False):
            key = "verdict" if name.lower() in ("verdict", "target", "judged") else name
            row[key] = value
        if row not in rows:
            rows.append(row)
    return rows


def _is_number(token: str) -> bool:
    return token.replace(",", "").replace(".", "", 1).replace("-", "", 1).isdigit()


def text_rows(bench: str, text: str) -> list[dict[str, Any]]:
    """Rows of fixed-width tables: a line with 3+ numbers is a row (its leading words are the
    case, the nearest header line above names its columns); ``targets:`` lines are verdicts."""
    rows: list[dict[str, Any]] = []
    header = ""
    for line in text.splitlines():
        tokens = line.split()
        if line.startswith("targets:") and rows:
            rows[-1]["verdict"] = line.removeprefix("targets:").strip()
            continue
        numbers = [t for t in tokens if _is_number(t)]
        if len(numbers) < 3 or len(numbers) * 3 < len(tokens):
            if not numbers and len(tokens) >= 4 and not set(line.strip()) <= set("-"):
                header = " ".join(tokens)
            continue
        first = next(i for i, t in enumerate(tokens) if _is_number(t))
        row: dict[str, Any] = {"bench": bench, "case": " ".join(tokens[:first]) or tokens[0]}
        row["columns"] = header
        row["values"] = " ".join(tokens[first:])
        for word in ("MISSED", "missed", "FAIL", "met", "ok"):
            if word in tokens[-3:]:
                row["verdict"] = " ".join(tokens[len(tokens) - 3 :])
                break
        if row not in rows:
            rows.append(row)
    return rows


def run(script: Path) -> tuple[list[dict[str, Any]], bool]:
    bench = script.stem.removesuffix("_bench")
    started = time.monotonic()
    print(f"=== {script.name}", file=sys.stderr, flush=True)
    if '"--json"' in script.read_text():
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "rows.json"
            code = subprocess.call(
                [sys.executable, str(script), "--json", str(out)], stdout=sys.stderr
            )
            rows = json.loads(out.read_text()) if out.exists() else []
    else:
        done = subprocess.run([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        code = done.returncode
        rows = table_rows(bench, done.stdout) or text_rows(bench, done.stdout)
    seconds = time.monotonic() - started
    print(f"=== {script.name}: {seconds:.0f} s, exit {code}", file=sys.stderr, flush=True)
    if code != 0:
        rows.append({"bench": bench, "case": "(script failed)", "verdict": f"MISSED: exit {code}"})
    return rows, code == 0


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| bench | case | measured | verdict |")
    print("|---|---|---|---|")
    for row in rows:
        measured = "; ".join(
            f"{key} {value}"
            for key, value in row.items()
            if key not in ("bench", "case", "verdict") and value not in ("", None)
        )
        print(f"| {row['bench']} | {row['case']} | {measured} | {row.get('verdict', '')} |")


def main() -> int:
    """Run the ``*_bench.py`` scripts one after another; print one table; return the failures."""
    rows: list[dict[str, Any]] = []
    failures = 0
    for script in sorted(HERE.glob("*_bench.py")):
        script_rows, ok = run(script)
        rows += script_rows
        failures += not ok
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")
    print_table(rows)
    return failures


if __name__ == "__main__":
    sys.exit(main())
