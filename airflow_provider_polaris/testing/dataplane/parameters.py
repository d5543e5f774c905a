"""Bind ``?`` placeholders from a request's ``parameters`` list (``[{"type", "value"}]``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_polaris.testing.dataplane.errors import SqlError
from airflow_provider_polaris.testing.dataplane.values import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    STRING_TYPES,
    cast,
)


def bind_parameters(parameters: Any) -> list[Any]:
    """Convert Druid SQL parameters to values; a value that doesn't fit its type is an error."""
    if parameters is None:
        return []
    if not isinstance(parameters, list):
        raise SqlError("parameters must be a list of {type, value} objects")
    values: list[Any] = []
    for index, parameter in enumerate(parameters, start=1):
        if not isinstance(parameter, dict) or "value" not in parameter:
            raise SqlError(f"Parameter {index} must be an object with 'type' and 'value'")
        value = parameter["value"]
        type_name = str(parameter.get("type") or "").upper()
        if value is None or not type_name:
            values.append(value)
            continue
        known = INTEGER_TYPES | FLOAT_TYPES | STRING_TYPES | {"TIMESTAMP", "DATE", "BOOLEAN"}
        if type_name not in known:
            raise SqlError(f"Parameter {index} has unsupported type {type_name}")
        converted = cast(value, type_name)
        if converted is None:
            raise SqlError(f"Parameter {index}: cannot convert {value!r} to {type_name}")
        values.append(converted)
    return values
