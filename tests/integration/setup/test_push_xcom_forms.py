"""``events`` from an upstream task, run by real Airflow (``dag.test()``) against the emulator:
the templated ``xcom_pull`` string, the XComArg, NDJSON text, and native rendering."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.operators.events import events_from_text

DAG_FILE = Path(__file__).parent / "dags" / "polaris_push_xcom_forms.py"


@pytest.fixture
def xcom_forms_dags(dag_runner: Any) -> Any:
    """The test DAG file, copied into the DAGs folder that ``dag.test()`` parses."""
    shutil.copy(DAG_FILE, Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / DAG_FILE.name)
    return dag_runner


def _succeeded(run: Any) -> bool:
    return str(run.state) in ("success", "DagRunState.SUCCESS")


@pytest.mark.dagtest
def test_every_form_of_upstream_events_is_pushed(
    polaris_emulator: Any, push_table: str, xcom_forms_dags: Any
) -> None:
    when = datetime.now(timezone.utc)
    dag = xcom_forms_dags.load(DAG_FILE.name, "polaris_push_xcom_forms")
    assert _succeeded(xcom_forms_dags.run(dag, when))
    native = xcom_forms_dags.load(DAG_FILE.name, "polaris_push_xcom_native")
    assert _succeeded(xcom_forms_dags.run(native, when))

    stored = Counter(row["i"] for row in polaris_emulator.table_rows(push_table))
    # templated text and XComArg: 1-3 twice; NDJSON text: 11-12; native rendering: 21-22
    assert stored == Counter({1: 2, 2: 2, 3: 2, 11: 1, 12: 1, 21: 1, 22: 1})


NOW = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'[{{"__time": "{NOW}", "i": 1}}]', [{"__time": NOW, "i": 1}]),
        (f'{{"__time": "{NOW}", "i": 1}}', [{"__time": NOW, "i": 1}]),
        (
            f"[{{'__time': '{NOW}', 'ok': True, 'x': None}}]",
            [{"__time": NOW, "ok": True, "x": None}],
        ),
        ('{"i": 1}\n{"i": 2}\n', ['{"i": 1}', '{"i": 2}']),  # NDJSON: checked line by line
        ('{"i": 1}\n{broken\n', ['{"i": 1}', "{broken"]),  # the bad line is rejected later
        ("s3://bucket/events.ndjson", None),
        ("/data/events.ndjson.gz", None),
    ],
)
def test_rendered_text_forms(text: str, expected: Any) -> None:
    assert events_from_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "[{'__time': datetime.datetime(2026, 1, 1)}]",  # repr of a non-literal: never evaluated
        "[1, 2",
        "",
        "not json\nnor a path",
        "[1, 2] [3]",
    ],
)
def test_unreadable_text_fails_naming_events_and_the_fix(text: str) -> None:
    with pytest.raises(AirflowFailException) as info:
        events_from_text(text)
    message = str(info.value)
    assert message.startswith("events ") and "events=build_events()" in message
    assert "render_template_as_native_obj=True" in message


def test_a_huge_python_literal_is_refused_with_the_fixes() -> None:
    from airflow_provider_polaris.operators.events import MAX_LITERAL_CHARS

    text = repr([{"__time": "2024-01-01T00:00:00Z", "pad": "x" * 100, "ok": True}] * 40_000)
    assert len(text) > MAX_LITERAL_CHARS
    with pytest.raises(AirflowFailException) as info:
        events_from_text(text)
    message = str(info.value)
    for fix in ("XComArg", "render_template_as_native_obj", "NDJSON file"):
        assert fix in message


def test_deeply_nested_text_fails_clearly() -> None:
    with pytest.raises(AirflowFailException, match="nested too deeply"):
        events_from_text("[" * 100_000 + "]" * 100_000)
