"""Every ``python`` snippet of docs/*.md works as written, on both Airflow lines.

- Every block compiles (top-level ``await`` allowed: some show async code) and every name it
  imports from the provider exists.
- Every block that defines a DAG (``DAG(`` or ``@dag``) is written into the test DAGs folder,
  imported (the DAG loads and its tasks build) and, when listed in ``RUNS``, run with
  ``dag.test()`` against the emulator.

A block preceded by ``<!-- fragment -->`` is deliberately partial and skipped; keep these few.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import textwrap
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.demo import seed_source_table

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCS = sorted((REPO_ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"(?P<before>[^\n]*\n)?(?P<indent>[ \t]*)```python\n(?P<code>.*?)```", re.S)
FRAGMENT = "<!-- fragment -->"


def snippets() -> list[tuple[str, str]]:
    """``(id, code)`` of every non-fragment python block of docs/*.md."""
    found = []
    for page in DOCS:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            if FRAGMENT in (match.group("before") or ""):
                continue
            line = text[: match.start("code")].count("\n")
            found.append((f"{page.name}:{line}", textwrap.dedent(match.group("code"))))
    return found


def dag_snippets() -> list[tuple[str, str]]:
    return [(sid, code) for sid, code in snippets() if "DAG(" in code or "@dag" in code]


def _dag_id(code: str) -> str:
    match = re.search(r"DAG\(\s*(?:dag_id=)?\"([^\"]+)\"", code) or re.search(
        r"@dag\((?:[^)]*?dag_id=)?\"([^\"]+)\"", code
    )
    assert match, "a DAG snippet must name its dag_id as a string literal"
    return match.group(1)


def _client(emulator: Any) -> PolarisClient:
    config = PolarisConfig(
        project_id=emulator.project_id, base_url=emulator.base_url, api_key=emulator.api_key
    )
    return PolarisClient(config)


def _seed_events(emulator: Any) -> None:
    with _client(emulator) as client:
        seed_source_table(client)


def _rolled_up(emulator: Any) -> None:
    hour = int(datetime(2026, 1, 1, 10, tzinfo=timezone.utc).timestamp() * 1000)
    raw = [r for r in emulator.table_rows("events") if hour <= r["__time"] < hour + 3_600_000]
    rollup = emulator.table_rows("events_hourly")
    assert {row["__time"] for row in rollup} == {hour}
    assert sum(row["events"] for row in rollup) == len(raw) > 0


def _copied(emulator: Any) -> None:
    assert len(emulator.table_rows("events_copy")) == len(emulator.table_rows("events")) > 0


# dag_id -> (set-up before the run, logical date, check after the run)
RUNS: dict[str, tuple[Callable[[Any], None], datetime, Callable[[Any], None]]] = {
    "docs_jobs_hourly_rollup": (
        _seed_events,
        datetime(2026, 1, 1, 11, tzinfo=timezone.utc),
        _rolled_up,
    ),
    "docs_jobs_manual_append": (
        _seed_events,
        datetime(2026, 1, 1, 11, tzinfo=timezone.utc),
        _copied,
    ),
}


def test_docs_have_dag_snippets_and_every_one_is_run() -> None:
    ids = {_dag_id(code) for _, code in dag_snippets()}
    assert ids, "no DAG snippet found in docs/*.md"
    # A new DAG snippet must be run here (or this set says why not).
    assert ids == set(RUNS), ids ^ set(RUNS)


@pytest.mark.parametrize(("sid", "code"), snippets(), ids=[sid for sid, _ in snippets()])
def test_snippet_compiles_and_its_imports_exist(sid: str, code: str) -> None:
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree = compile(code, sid, "exec", flags=flags)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "airflow_provider_polaris"
        ):
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                assert hasattr(module, alias.name), f"{sid}: {node.module} has no {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("airflow_provider_polaris"):
                    importlib.import_module(alias.name)


# Pages whose blocks need no server: run them in order, in one namespace, as a reader would.
SELF_CONTAINED = ("specs.md",)


@pytest.mark.parametrize("page", SELF_CONTAINED)
def test_self_contained_page_runs_top_to_bottom(page: str) -> None:
    namespace: dict[str, Any] = {}
    blocks = [code for sid, code in snippets() if sid.startswith(f"{page}:")]
    assert blocks, page
    for code in blocks:
        exec(compile(code, page, "exec"), namespace)


@pytest.mark.dagtest
@pytest.mark.parametrize(("sid", "code"), dag_snippets(), ids=[sid for sid, _ in dag_snippets()])
def test_dag_snippet_runs_against_the_emulator(
    sid: str, code: str, polaris_emulator: Any, dag_runner: Any
) -> None:
    dag_id = _dag_id(code)
    set_up, logical_date, check = RUNS[dag_id]
    set_up(polaris_emulator)
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"docs_snippet_{dag_id}.py"
    path.write_text(code)
    try:
        dag = dag_runner.load(path.name, dag_id)
        assert dag.task_ids, sid
        run = dag_runner.run(dag, logical_date)
    finally:
        path.unlink()
    assert str(run.state) in ("success", "DagRunState.SUCCESS"), (sid, run.state)
    check(polaris_emulator)
