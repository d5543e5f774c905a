"""Test-wide set-up: an isolated Airflow home and DAGs folder, set before Airflow is imported.

Airflow 3.3's ``dag.test()`` re-parses the DAG bundle, so every DAG a test runs must live in the
configured DAGs folder. We point that folder at a temporary directory holding copies of
``example_dags/*.py`` and ``tests/dags/*.py``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="polaris-test-airflow-home-"))
DAGS_FOLDER = _AIRFLOW_HOME / "dags"
DAGS_FOLDER.mkdir()
for _source in (REPO_ROOT / "example_dags", REPO_ROOT / "tests" / "dags"):
    for _dag_file in sorted(_source.glob("*.py")):
        shutil.copy(_dag_file, DAGS_FOLDER / _dag_file.name)

os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP"] = "airflow_provider_polaris.*"
os.environ.pop("AIRFLOW_CONN_POLARIS_DEFAULT", None)
if importlib.metadata.version("apache-airflow").startswith("2."):
    # 2.11's unit-test config names LocalExecutor, which a sensor's dependency check loads and
    # refuses with SQLite; dag.test() runs tasks in-process whatever the executor.
    os.environ["AIRFLOW__CORE__EXECUTOR"] = "SequentialExecutor"


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[None]:
    """A freshly created Airflow metadata database (sqlite in the temporary AIRFLOW_HOME)."""
    from airflow.utils import db

    db.resetdb()
    yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


class DagRunner:
    """Loads DAGs from the test DAGs folder; runs them with ``dag.test()`` (2.11 or 3.x)."""

    def load(self, file_name: str, dag_id: str) -> Any:
        """Import ``file_name`` from the DAGs folder (a fresh module each call); return its DAG."""
        path = DAGS_FOLDER / file_name
        spec = importlib.util.spec_from_file_location(f"polaris_test_dag_{path.stem}", path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for value in vars(module).values():
            if getattr(value, "dag_id", None) == dag_id and hasattr(value, "test"):
                return value
        raise LookupError(f"{file_name} defines no DAG {dag_id!r}")

    def run(
        self, dag: Any, logical_date: datetime | None, run_conf: dict[str, Any] | None = None
    ) -> Any:
        """``dag.test()`` for one logical date (Airflow 2.11 names it ``execution_date``)."""
        parameters = inspect.signature(dag.test).parameters
        key = "logical_date" if "logical_date" in parameters else "execution_date"
        return dag.test(**{key: logical_date}, run_conf=run_conf)


@pytest.fixture
def dag_runner(airflow_db: None) -> DagRunner:
    """Run DAGs end to end with ``dag.test()`` against a fresh metadata DB."""
    return DagRunner()
