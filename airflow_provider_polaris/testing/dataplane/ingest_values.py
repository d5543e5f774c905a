"""Values written by ingestion: ``inputSchema`` conversion and stored forms (shared with
streaming, which converts events in Python)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_polaris.testing.dataplane.formats import coerce
from airflow_provider_polaris.testing.dataplane.timeutil import Timestamp


def output_converter(data_type: str | None) -> Callable[[Any], Any]:
    """:func:`store_value` for one column, with a fast path for values already of its type."""
    if not data_type:
        return _store_untyped
    exact = exact_class(data_type)
    if exact is None:
        return lambda value: store_value(value, data_type)

    def convert(value: Any) -> Any:
        return value if value.__class__ is exact else store_value(value, data_type)

    return convert


_PLAIN = frozenset({str, int, float, type(None)})


def _store_untyped(value: Any) -> Any:
    return value if value.__class__ in _PLAIN else store_value(value, None)


def input_converter(data_type: str) -> Callable[[Any], Any]:
    """:func:`coerce` for one ``inputSchema`` field, with a fast path for values (and NULLs)
    already of its type; raises ValueError like ``coerce``."""
    exact = exact_class(data_type)
    if exact is None:
        return lambda value: coerce(value, data_type)

    def convert(value: Any) -> Any:
        if value is None or value.__class__ is exact:
            return value
        return coerce(value, data_type)

    return convert


def exact_class(data_type: str) -> type | None:
    """The Python class values of ``data_type`` have once converted (None: no single class).
    Exact classes only: bool is an int and Timestamp an int subclass, and both get converted."""
    return _EXACT_CLASSES.get(data_type.lower())


_EXACT_CLASSES: dict[str, type] = {
    "string": str,
    "varchar": str,
    "long": int,
    "bigint": int,
    "double": float,
    "float": float,
}


def store_value(value: Any, data_type: str | None) -> Any:
    """The stored form of a value: booleans and timestamps become longs (as in Druid), and a
    declared column type is applied when the value converts (else it is kept as is)."""
    if isinstance(value, (bool, Timestamp)):
        value = int(value)
    if data_type and value is not None:
        try:
            value = coerce(value, data_type)
        except (ValueError, OverflowError):
            return value
        if isinstance(value, Timestamp):  # a timestamp column holds epoch millis
            return int(value)
    return value


def schema_types(table: Mapping[str, Any] | None) -> dict[str, str]:
    """Declared column types of a table payload (``__time`` excluded)."""
    schema = (table or {}).get("schema") or []
    return {
        str(c.get("name")): str(c.get("dataType"))
        for c in schema
        if isinstance(c, Mapping) and c.get("dataType") and c.get("name") != "__time"
    }
