"""Test-wide set-up: an isolated Airflow home and DAGs folder, configured before Airflow is imported.

Airflow 3.3's ``dag.test()`` re-parses the DAG bundle, so every DAG a test runs must live in the
configured DAGs folder. We point that folder at a temporary directory holding copies of
``example_dags/*.py`` and ``tests/dags/*.py``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[None]:
    """A freshly created Airflow metadata database (sqlite in the temporary AIRFLOW_HOME)."""
    from airflow.utils import db

    db.resetdb()
    yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)
