"""The legacy (hook-method) connection form agrees with the declarative provider-info form."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_polaris._provider_info import CONN_FIELDS, PROVIDER_INFO, UI_FIELD_BEHAVIOUR
from airflow_provider_polaris.client import PolarisConfig
from airflow_provider_polaris.hooks import form
from airflow_provider_polaris.hooks.polaris import PolarisHook

EXPECTED_FIELDS = {
    "project_id",
    "region",
    "cloud",
    "auth_type",
    "token_url",
    "timeout",
    "connect_timeout",
    "verify",
    "max_retries",
    "console_url",
}


def declared() -> dict[str, Any]:
    (conn_type,) = PROVIDER_INFO["connection-types"]
    return conn_type


def test_declarative_fields_are_the_shared_table() -> None:
    assert declared()["conn-fields"] is CONN_FIELDS
    assert declared()["ui-field-behaviour"] is UI_FIELD_BEHAVIOUR
    assert set(CONN_FIELDS) == EXPECTED_FIELDS


def test_ui_field_behaviour_matches() -> None:
    legacy = PolarisHook.get_ui_field_behaviour()
    assert legacy == {
        "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
        "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
        "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
    }
    assert {"schema", "port"} <= set(legacy["hidden_fields"])
    assert legacy["relabeling"]["host"] == "Organization or API URL"
    # Placeholders only name standard fields or declared extras.
    standard = {"host", "schema", "login", "password", "port", "extra"}
    assert set(legacy["placeholders"]) <= standard | set(CONN_FIELDS)


def test_conn_field_schemas_are_valid_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for name, field in CONN_FIELDS.items():
        assert field["label"], name
        jsonschema.Draft7Validator.check_schema(field["schema"])
        if "default" in field["schema"]:
            jsonschema.validate(field["schema"]["default"], field["schema"])
        jsonschema.validate(None, field["schema"])  # every field may be left empty


def test_form_defaults_equal_client_defaults() -> None:
    """A form that pre-fills defaults must not change behaviour from an empty extra."""
    client = PolarisConfig(project_id="p", base_url="https://x", api_key="k")
    defaults = {name: f["schema"].get("default") for name, f in CONN_FIELDS.items()}
    assert defaults["timeout"] == client.read_timeout
    assert defaults["connect_timeout"] == client.connect_timeout
    assert defaults["max_retries"] == client.retry.max_attempts - 1
    assert defaults["verify"] == "true" and client.verify is True
    assert defaults["cloud"] == "aws"


def test_legacy_widgets_agree_with_declarative_fields() -> None:
    pytest.importorskip("wtforms")
    pytest.importorskip("flask_appbuilder")
    widgets = PolarisHook.get_connection_form_widgets()
    assert set(widgets) == set(CONN_FIELDS)
    allowed = {"StringField", "PasswordField", "IntegerField", "BooleanField"}
    for name, unbound in widgets.items():
        field = CONN_FIELDS[name]
        schema = field["schema"]
        assert unbound.field_class.__name__ in allowed
        assert unbound.field_class.__name__ == form.legacy_field_class_name(schema), name
        assert str(unbound.args[0]) == field["label"], name
        assert unbound.kwargs.get("default") == schema.get("default"), name
        assert unbound.kwargs["description"] == form.legacy_description(field)
        assert field.get("description", "") in unbound.kwargs["description"]
        for choice in schema.get("enum", []):
            if choice is not None:
                assert choice in unbound.kwargs["description"], (name, choice)


def test_type_mapping() -> None:
    assert form.legacy_field_class_name({"type": ["integer", "null"]}) == "IntegerField"
    assert form.legacy_field_class_name({"type": ["number", "null"]}) == "StringField"
    assert form.legacy_field_class_name({"type": "boolean"}) == "BooleanField"
    assert form.legacy_field_class_name({"type": "string", "format": "password"}) == (
        "PasswordField"
    )
