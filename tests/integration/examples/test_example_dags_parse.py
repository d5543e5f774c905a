"""Every example DAG imports cleanly on this Airflow line, fast, and without network access."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "example_dags"
EXAMPLE_FILES = sorted(EXAMPLES_DIR.glob("*.py"))


def _dagbag(folder: Path):  # type: ignore[no-untyped-def]
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.11
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=str(folder))


def test_there_are_example_dags() -> None:
    assert EXAMPLE_FILES, "example_dags/ should hold runnable examples"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_dag_imports_without_errors(path: Path, tmp_path: Path) -> None:
    (tmp_path / path.name).write_text(path.read_text())
    bag = _dagbag(tmp_path)
    assert bag.import_errors == {}, bag.import_errors
    assert bag.dags, f"{path.name} defines no DAG"
