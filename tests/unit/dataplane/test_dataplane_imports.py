"""The provider itself never imports the emulator's engines (duckdb, sqlglot)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import airflow_provider_polaris

_SCRIPT = """
import importlib, pathlib, sys
import airflow_provider_polaris as root
base = pathlib.Path(root.__file__).parent
imported = 0
for path in sorted(base.rglob("*.py")):
    parts = path.relative_to(base).with_suffix("").parts
    if parts[0] == "testing" or parts[-1] == "__main__":
        continue
    name = ".".join(("airflow_provider_polaris", *parts)).removesuffix(".__init__")
    try:
        importlib.import_module(name)
        imported += 1
    except ImportError:
        pass  # an optional Airflow part missing on this line
print(imported, sorted(m for m in ("duckdb", "sqlglot") if m in sys.modules))
"""


def test_provider_modules_do_not_import_duckdb_or_sqlglot() -> None:
    root = Path(airflow_provider_polaris.__file__).parent.parent
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={
            "PYTHONPATH": str(root),
            "PATH": "/usr/bin:/bin",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        },
        timeout=300,
    )
    count, loaded = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) > 20  # the provider's modules really were imported
    assert loaded == "[]"


def test_the_emulator_query_path_does_import_them() -> None:
    """The check above can fail: the emulator's data plane does load both."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom airflow_provider_polaris.testing.dataplane import DataPlane\n"
            "DataPlane().query('SELECT 1', None)\n"
            "print(sorted(m for m in ('duckdb', 'sqlglot') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == "['duckdb', 'sqlglot']"
