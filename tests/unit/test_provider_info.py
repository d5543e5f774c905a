"""Provider registration: schema-valid provider info that Airflow's ProvidersManager and CLI see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import airflow
import pytest

import airflow_provider_polaris
from airflow_provider_polaris import get_provider_info
from airflow_provider_polaris._provider_info import PROVIDER_INFO

PACKAGE = "airflow-provider-polaris"
AIRFLOW_BIN = Path(sys.executable).with_name("airflow")


def test_get_provider_info_returns_the_plain_dict() -> None:
    info = get_provider_info()
    assert info is PROVIDER_INFO
    json.dumps(info)  # plain data only: no classes, no lazy strings


def test_package_name_is_the_canonical_distribution_name() -> None:
    dist = metadata.distribution(PACKAGE)
    assert PROVIDER_INFO["package-name"] == dist.metadata["Name"].lower().replace("_", "-")
    assert PROVIDER_INFO["versions"][0] == airflow_provider_polaris.__version__
    entry_points = {ep.name: ep.value for ep in dist.entry_points}
    assert entry_points["provider_info"] == "airflow_provider_polaris:get_provider_info"


def test_validates_against_airflows_bundled_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = Path(airflow.__file__).parent / "provider_info.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(PROVIDER_INFO, schema)


def test_connection_types_validate_against_airflows_provider_yaml_schema() -> None:
    """Airflow 3.2+ describes ``conn-fields`` / ``ui-field-behaviour`` in provider.yaml.schema.json
    (stricter than provider_info.schema.json: no unknown keys, known hidden fields only)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = Path(airflow.__file__).parent / "provider.yaml.schema.json"
    if not schema_path.exists():
        pytest.skip(f"this Airflow ships no {schema_path.name}")
    full = json.loads(schema_path.read_text())
    connection_types = full["properties"]["connection-types"]
    described = set(connection_types["items"].get("properties", {}))
    if not {"conn-fields", "ui-field-behaviour"} <= described:
        pytest.skip("this Airflow's provider.yaml schema predates declarative connection forms")
    schema = {
        "type": "object",
        "properties": {"connection-types": connection_types},
        "definitions": full.get("definitions", {}),
    }
    jsonschema.validate({"connection-types": PROVIDER_INFO["connection-types"]}, schema)


def test_declared_classes_exist_where_written() -> None:
    """Every module/class the provider info names is importable once its engineer lands it."""
    import importlib

    (conn_type,) = PROVIDER_INFO["connection-types"]
    module, _, name = conn_type["hook-class-name"].rpartition(".")
    assert getattr(importlib.import_module(module), name).conn_type == "imply_polaris"
    repo = Path(airflow_provider_polaris.__file__).parent
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in PROVIDER_INFO[section]:
            for module_name in entry["python-modules"]:
                relative = module_name.removeprefix("airflow_provider_polaris.")
                path = repo.joinpath(*relative.split(".")).with_suffix(".py")
                if not path.exists():
                    pytest.skip(f"{module_name} not written yet")


def test_providers_manager_registers_the_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    assert PACKAGE in ProvidersManager().providers
    try:  # 3.x: hooks are a task-runtime concern (ProvidersManager.hooks is deprecated there)
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime as Runtime
    except ImportError:  # 2.x
        Runtime = ProvidersManager
    hook_info = Runtime().hooks["imply_polaris"]
    assert hook_info is not None
    assert hook_info.hook_name == "Imply Polaris"
    assert hook_info.hook_class_name == "airflow_provider_polaris.hooks.polaris.PolarisHook"
    assert hook_info.connection_id_attribute_name == "polaris_conn_id"


def test_providers_manager_builds_the_connection_form() -> None:
    """3.2+: from the declarative conn-fields; 2.11: from the hook's legacy methods."""
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    widgets = manager.connection_form_widgets
    assert "extra__imply_polaris__project_id" in widgets
    assert "extra__imply_polaris__max_retries" in widgets
    behaviour = manager.field_behaviours["imply_polaris"]
    assert behaviour["relabeling"]["host"] == "Organization or API URL"
    assert "port" in behaviour["hidden_fields"]
    assert "extra__imply_polaris__region" in behaviour["placeholders"]


def _airflow_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AIRFLOW_BIN), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ),  # carries the conftest's AIRFLOW_HOME and test config
        check=False,
    )


def test_cli_providers_list_and_hooks() -> None:
    listed = _airflow_cli("providers", "list")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert PACKAGE in listed.stdout

    hooks = _airflow_cli("providers", "hooks")
    assert hooks.returncode == 0, hooks.stderr[-2000:]
    (line,) = [line for line in hooks.stdout.splitlines() if line.startswith("imply_polaris ")]
    assert "Imply Polaris" in line
    assert "airflow_provider_polaris.hooks.polaris.PolarisHook" in line
