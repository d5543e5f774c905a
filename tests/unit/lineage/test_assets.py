"""The ``polaris://`` Asset URI: builder, the normaliser Airflow applies, and the SQL tables a
job reads and writes (no HTTP: pure functions, and Airflow's own Asset class)."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from airflow_provider_polaris._compat import Asset
from airflow_provider_polaris._provider_info import PROVIDER_INFO
from airflow_provider_polaris.assets import alias_name, sanitize_uri, table_uri
from airflow_provider_polaris.operators._lineage import source_tables, sql_tables, written_table

PROJECT = "6B4A7D2E-3F1C-4E8A-9B5D-0C2F7A1E9D34"


def test_table_uri_percent_encodes_the_table_once_and_lowercases_org_and_project() -> None:
    uri = table_uri("MyOrg", PROJECT, "My Table/2")
    assert uri == f"polaris://myorg/{PROJECT.lower()}/My%20Table%2F2"
    assert table_uri("myorg", PROJECT, "My%20Table%2F2") == uri


@pytest.mark.parametrize(
    "bad", ["polaris://org", "polaris://org/proj", "polaris://org/proj/t/x", "polaris:///p/t"]
)
def test_normaliser_rejects_uris_that_are_not_org_project_table(bad: str) -> None:
    with pytest.raises(ValueError, match="must be polaris://ORG/PROJECT_ID/TABLE"):
        sanitize_uri(urlsplit(bad))


def test_airflow_applies_the_registered_normaliser() -> None:
    """Airflow's own Asset (Dataset on 2.11) goes through ProvidersManager's URI handlers."""
    asset = Asset(f"polaris://MyOrg/{PROJECT}/My Table/?x=1")
    assert asset.uri == f"polaris://myorg/{PROJECT.lower()}/My%20Table"


def test_provider_info_registers_the_scheme_for_both_lines() -> None:
    handler = "airflow_provider_polaris.assets.sanitize_uri"
    for key in ("asset-uris", "dataset-uris"):
        assert PROVIDER_INFO[key] == [{"schemes": ["polaris"], "handler": handler}]


def test_alias_name_is_unique_per_dag_and_task() -> None:
    assert alias_name("d", "t") == "polaris-outlet:d.t"
    assert alias_name(None, "t") == "polaris-outlet:t"


def test_sql_tables_reads_quoted_names_and_skips_extern_sources() -> None:
    sql = 'REPLACE INTO "Roll ""Up""" OVERWRITE ALL SELECT * FROM "My Table" JOIN dim ON 1=1'
    assert sql_tables(sql) == ('Roll "Up"', ["My Table", "dim"])
    extern = "INSERT INTO t SELECT * FROM TABLE(EXTERN('{}', '{}')) PARTITIONED BY DAY"
    assert sql_tables(extern) == ("t", [])


def test_written_and_source_tables_of_job_documents() -> None:
    t2t = {
        "type": "batch",
        "source": {"type": "table", "tableName": "raw"},
        "target": {"type": "table", "tableName": "hourly"},
    }
    assert (written_table(t2t), source_tables(t2t)) == ("hourly", ["raw"])
    sql = {"type": "sql", "query": 'INSERT INTO "b" SELECT * FROM "a"'}
    assert (written_table(sql), source_tables(sql)) == ("b", ["a"])


def test_importing_the_provider_imports_neither_common_sql_nor_openlineage() -> None:
    """A fresh interpreter loads what a DAG file loads anyway (Airflow's provider discovery
    imports every provider's ``get_provider_info``), then every operator, sensor, the hook and
    the assets module: no further common-sql or OpenLineage module may be loaded."""
    code = (
        "import sys\n"
        "try:\n"
        "    from airflow.sdk import DAG, BaseOperator\n"
        "except ImportError:\n"
        "    from airflow import DAG\n"
        "    from airflow.models import BaseOperator\n"
        "import airflow.triggers.base\n"
        "before = set(sys.modules)\n"
        "import airflow_provider_polaris, airflow_provider_polaris.assets\n"
        "import airflow_provider_polaris.hooks.polaris\n"
        "for m in ('connections', 'events', 'files', 'jobs', 'streaming', 'tables'):\n"
        "    __import__(f'airflow_provider_polaris.operators.{m}')\n"
        "import airflow_provider_polaris.sensors.jobs, airflow_provider_polaris.sensors.tables\n"
        "new = set(sys.modules) - before\n"
        "print(sorted(m for m in new if m.startswith(('airflow.providers.common.sql', "
        "'airflow.providers.openlineage', 'openlineage'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
    # The check can fail: using the SQL hook does load common-sql.
    used = (
        code
        + "import airflow_provider_polaris.hooks.sql\nprint(sorted(set(sys.modules) - before))\n"
    )
    done = subprocess.run([sys.executable, "-c", used], capture_output=True, text=True, check=True)
    assert "airflow.providers.common.sql.hooks.sql" in done.stdout.strip().splitlines()[-1]
