"""The legacy (hook-method) connection form agrees with the declarative provider-info form."""

from __future__ import annotations

import sys
import types
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
        if form.is_required(field["schema"]):  # 3.3 refuses Save while it is empty
            assert name == "project_id"
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(None, field["schema"])
            continue
        jsonschema.validate(None, field["schema"])  # every other field may be left empty


def test_form_defaults_equal_client_defaults() -> None:
    """A form that pre-fills defaults must not change behaviour from an empty extra."""
    client = PolarisConfig(project_id="p", base_url="https://x", api_key="k")
    defaults = {name: f["schema"].get("default") for name, f in CONN_FIELDS.items()}
    assert defaults["timeout"] == client.read_timeout
    assert defaults["connect_timeout"] == client.connect_timeout
    assert defaults["max_retries"] == client.retry.max_attempts - 1
    assert defaults["verify"] == "true" and client.verify is True
    assert defaults["cloud"] == "aws"


# -- the legacy (wtforms) form -------------------------------------------------------------------
#
# wtforms, flask_appbuilder and flask_babel come with the Flask UI: Airflow 2.11 ships them, 3.x
# does not (the FAB provider brings them). So that the agreement is checked on both lines, the
# test also runs against minimal stand-ins of the few names form.py uses, put in sys.modules for
# that test only. Where the real libraries exist, a test checks the stand-ins build the same form.


class StandInUnboundField:
    """What calling a wtforms field class outside a form returns: the class and its arguments."""

    def __init__(self, field_class: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.field_class, self.args, self.kwargs = field_class, args, kwargs


class StandInField:
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # as wtforms.Field.__new__ without form
        return StandInUnboundField(cls, args, kwargs)


class StandInValidator:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


def _stand_in_modules() -> dict[str, types.ModuleType]:
    wtforms = types.ModuleType("wtforms")
    for name in ("StringField", "PasswordField", "IntegerField", "BooleanField"):
        setattr(wtforms, name, type(name, (StandInField,), {}))
    validators = types.ModuleType("wtforms.validators")
    for name in ("Optional", "AnyOf", "NumberRange"):
        setattr(validators, name, type(name, (StandInValidator,), {}))
    validators.StopValidation = type("StopValidation", (Exception,), {})  # type: ignore[attr-defined]
    wtforms.validators = validators  # type: ignore[attr-defined]
    appbuilder = types.ModuleType("flask_appbuilder")
    widgets = types.ModuleType("flask_appbuilder.fieldwidgets")
    for name in ("BS3TextFieldWidget", "BS3PasswordFieldWidget"):
        setattr(widgets, name, type(name, (), {}))
    appbuilder.fieldwidgets = widgets  # type: ignore[attr-defined]
    babel = types.ModuleType("flask_babel")
    babel.lazy_gettext = lambda text: text  # type: ignore[attr-defined]
    return {
        "wtforms": wtforms,
        "wtforms.validators": validators,
        "flask_appbuilder": appbuilder,
        "flask_appbuilder.fieldwidgets": widgets,
        "flask_babel": babel,
    }


def _legacy_widgets(libraries: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    if libraries == "installed":
        pytest.importorskip("wtforms")
        pytest.importorskip("flask_appbuilder")
        pytest.importorskip("flask_babel")
    else:
        for name, module in _stand_in_modules().items():
            monkeypatch.setitem(sys.modules, name, module)
    return PolarisHook.get_connection_form_widgets()


@pytest.mark.parametrize("libraries", ["installed", "stand-ins"])
def test_legacy_widgets_agree_with_declarative_fields(
    libraries: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    widgets = _legacy_widgets(libraries, monkeypatch)
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
        validators = {type(v).__name__ for v in unbound.kwargs["validators"]}
        # An extra is required on both forms, or optional on both.
        assert ("Optional" in validators) != form.is_required(schema), name
        assert ("AnyOf" in validators) == any(c is not None for c in schema.get("enum", []))
        assert ("NumberRange" in validators) == ("minimum" in schema), name


def test_stand_ins_build_the_same_form_as_the_real_libraries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def shape(widgets: dict[str, Any]) -> dict[str, Any]:
        return {
            name: (
                unbound.field_class.__name__,
                str(unbound.args[0]),
                unbound.kwargs["description"],
                unbound.kwargs.get("default"),
                sorted(type(v).__name__ for v in unbound.kwargs["validators"]),
                type(unbound.kwargs.get("widget")).__name__,
            )
            for name, unbound in widgets.items()
        }

    real = shape(_legacy_widgets("installed", monkeypatch))
    assert shape(_legacy_widgets("stand-ins", monkeypatch)) == real


def test_type_mapping() -> None:
    assert form.legacy_field_class_name({"type": ["integer", "null"]}) == "IntegerField"
    assert form.legacy_field_class_name({"type": ["number", "null"]}) == "StringField"
    assert form.legacy_field_class_name({"type": "boolean"}) == "BooleanField"
    assert form.legacy_field_class_name({"type": "string", "format": "password"}) == (
        "PasswordField"
    )


# -- what the 3.3 form renders and what both forms accept ----------------------------------------


def test_selects_label_every_option_so_no_null_text_shows() -> None:
    """Airflow 3.3 shows ``values_display[str(value)]``, else the raw value: ``null`` for None."""
    selects = {n: f["schema"] for n, f in CONN_FIELDS.items() if "enum" in f["schema"]}
    assert set(selects) == {"cloud", "auth_type"}
    for name, schema in selects.items():
        labels = schema["values_display"]
        assert set(labels) == {"null" if v is None else v for v in schema["enum"]}, name
        assert "null" not in labels["null"], name


def test_region_suggests_known_regions_and_accepts_any() -> None:
    schema = CONN_FIELDS["region"]["schema"]
    assert "enum" not in schema and schema["examples"][0] == "us-east-1"
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate("me-central-1", schema)  # a region newer than the list
    description = form.legacy_description(CONN_FIELDS["region"])
    assert "us-east-1" in description and "germanywestcentral" in description


def test_descriptions_show_example_values_that_placeholders_cannot() -> None:
    for name in UI_FIELD_BEHAVIOUR["placeholders"]:
        if name in CONN_FIELDS and name != "region":
            assert "Example: " in CONN_FIELDS[name]["description"], name


@pytest.mark.parametrize(
    ("conn_type", "project_id", "error"),
    [
        ("imply_polaris", "", "Project ID is required for an Imply Polaris connection."),
        ("imply_polaris", "  ", "Project ID is required for an Imply Polaris connection."),
        ("imply_polaris", "7f3c2a1e", None),
        ("http", "", None),  # the field belongs to another type's form: never blocks its Save
    ],
)
def test_legacy_form_requires_project_id_only_for_polaris(
    conn_type: str, project_id: str, error: str | None
) -> None:
    wtforms = pytest.importorskip("wtforms")
    pytest.importorskip("flask_appbuilder")
    flask = pytest.importorskip("flask")
    from werkzeug.datastructures import MultiDict

    widgets = PolarisHook.get_connection_form_widgets()
    fields = {f"extra__imply_polaris__{n}": w for n, w in widgets.items()}
    form_class = type("F", (wtforms.Form,), {"conn_type": wtforms.StringField(), **fields})
    with flask.Flask(__name__).test_request_context():
        data = MultiDict(
            {
                "conn_type": conn_type,
                "extra__imply_polaris__project_id": project_id,
                "extra__imply_polaris__region": "me-central-1",
            }
        )
        instance = form_class(formdata=data)
        assert instance.validate() is (error is None), instance.errors
    if error:
        assert instance.errors == {"extra__imply_polaris__project_id": [error]}
