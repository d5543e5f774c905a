"""The legacy (Flask/wtforms) connection form, generated from the declarative field table.

Airflow 2.11 - 3.1 build the connection form from ``get_connection_form_widgets()`` and
``get_ui_field_behaviour()``; Airflow 3.2+ read ``conn-fields`` / ``ui-field-behaviour`` from the
provider info. Both come from ``_provider_info.CONN_FIELDS`` / ``UI_FIELD_BEHAVIOUR`` so a field
is described once. wtforms, flask_appbuilder and flask_babel are imported inside the functions:
they exist only where the Flask UI runs, and importing them would slow every DAG parse.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_polaris._provider_info import CONN_FIELDS, CONNECTION_TYPE, UI_FIELD_BEHAVIOUR


def legacy_field_class_name(schema: dict[str, Any]) -> str:
    """The wtforms class for a field schema: the legacy form allows only four field classes.

    Numbers with decimals use ``StringField`` (there is no allowed float field); the hook's
    parser turns the text into a number and names the field if it is not one.
    """
    types = schema.get("type", "string")
    kind = types if isinstance(types, str) else next((t for t in types if t != "null"), "string")
    if schema.get("format") == "password":
        return "PasswordField"
    return {"integer": "IntegerField", "boolean": "BooleanField"}.get(kind, "StringField")


def is_required(schema: dict[str, Any]) -> bool:
    """Whether a field must be filled: its JSON type does not allow ``null`` (as Airflow 3.3)."""
    types = schema.get("type", "string")
    return "null" not in ([types] if isinstance(types, str) else types)


def legacy_description(field: dict[str, Any]) -> str:
    """The field description, listing enum choices and suggested values (no select widget)."""
    description = field.get("description", "")
    choices = [c for c in field["schema"].get("enum", []) if c is not None]
    if choices:
        description = f"{description} One of: {', '.join(choices)}.".strip()
    suggestions = field["schema"].get("examples", [])
    if suggestions:
        description = f"{description} Known values: {', '.join(suggestions)}.".strip()
    return description


def required_for_polaris(label: str) -> Any:
    """A wtforms validator requiring a value only on Imply Polaris connections.

    The legacy form holds the extra fields of every connection type at once, so a plain
    ``DataRequired`` would block saving every other type. Empty values on a Polaris
    connection fail with a message naming the field; other types skip the field.
    """
    from wtforms.validators import StopValidation

    def validate(form: Any, field: Any) -> None:
        conn_type = getattr(getattr(form, "conn_type", None), "data", None)
        if conn_type != CONNECTION_TYPE:
            raise StopValidation()  # another type's form: this field is hidden and unused
        if not (field.data or "").strip():
            raise StopValidation(f"{label} is required for an Imply Polaris connection.")

    return validate


def connection_form_widgets() -> dict[str, Any]:
    """wtforms fields for the Airflow 2.x / <= 3.1 connection form (keys are extra names)."""
    import wtforms
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms.validators import AnyOf, NumberRange, Optional

    widgets: dict[str, Any] = {}
    for name, field in CONN_FIELDS.items():
        schema = field["schema"]
        class_name = legacy_field_class_name(schema)
        validators: list[Any] = (
            [required_for_polaris(field["label"])] if is_required(schema) else [Optional()]
        )
        choices = [c for c in schema.get("enum", []) if c is not None]
        if choices:
            validators.append(AnyOf(choices))
        if "minimum" in schema:
            validators.append(NumberRange(min=schema["minimum"]))
        kwargs: dict[str, Any] = {
            "description": legacy_description(field),
            "validators": validators,
            "default": schema.get("default"),
        }
        if class_name != "BooleanField":
            kwargs["widget"] = (
                BS3PasswordFieldWidget() if class_name == "PasswordField" else BS3TextFieldWidget()
            )
        widgets[name] = getattr(wtforms, class_name)(lazy_gettext(field["label"]), **kwargs)
    return widgets


def ui_field_behaviour() -> dict[str, Any]:
    """``UI_FIELD_BEHAVIOUR`` in the hook-method shape (snake_case keys, fresh copies)."""
    return {
        "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }
