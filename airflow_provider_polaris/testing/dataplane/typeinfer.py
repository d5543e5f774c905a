"""The Polaris column type an expression produces, from the types of the columns it reads.

Used when a job auto-creates its target table (``createTableIfNotExists``): Polaris types each
new column from its mapping, so ``SUM("amount")`` over a long ``amount`` is a long measure, not a
string. Types are Polaris ``dataType`` names: ``long``, ``double``, ``string``, ``timestamp``,
``json``; None means "can't tell" (the caller picks a default).
"""

from __future__ import annotations

from collections.abc import Mapping

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.timeutil import Timestamp
from airflow_provider_polaris.testing.dataplane.values import FLOAT_TYPES, INTEGER_TYPES

_NORMAL = {
    "long": "long",
    "bigint": "long",
    "integer": "long",
    "double": "double",
    "float": "double",
    "string": "string",
    "varchar": "string",
    "timestamp": "timestamp",
    "json": "json",
    "complex<json>": "json",
}
_TIMESTAMP_FUNCTIONS = frozenset(
    {
        "TIME_PARSE",
        "TIME_FLOOR",
        "TIME_CEIL",
        "TIME_SHIFT",
        "MILLIS_TO_TIMESTAMP",
        "DATE_TRUNC",
        "CURRENT_TIMESTAMP",
        "CURRENT_DATE",
    }
)
# Booleans are stored as longs, as in Druid.
_LONG_FUNCTIONS = frozenset(
    {
        "COUNT",
        "APPROX_COUNT_DISTINCT",
        "APPROX_COUNT_DISTINCT_DS_HLL",
        "APPROX_COUNT_DISTINCT_DS_THETA",
        "TIMESTAMP_TO_MILLIS",
        "TIME_EXTRACT",
        "LENGTH",
        "CHAR_LENGTH",
        "CHARACTER_LENGTH",
        "STRPOS",
        "CONTAINS_STRING",
        "ICONTAINS_STRING",
        "REGEXP_LIKE",
        "TIME_IN_INTERVAL",
    }
)
_DOUBLE_FUNCTIONS = frozenset({"AVG", "POWER", "SQRT", "EXP", "LN", "LOG10", "MOD", "SAFE_DIVIDE"})
_STRING_FUNCTIONS = frozenset(
    {
        "TIME_FORMAT",
        "UPPER",
        "LOWER",
        "CONCAT",
        "TEXTCAT",
        "SUBSTRING",
        "SUBSTR",
        "LEFT",
        "RIGHT",
        "TRIM",
        "BTRIM",
        "LTRIM",
        "RTRIM",
        "REPLACE",
        "REVERSE",
        "REGEXP_EXTRACT",
        "TO_JSON_STRING",
        "JSON_VALUE",
    }
)
_JSON_FUNCTIONS = frozenset({"PARSE_JSON", "TRY_PARSE_JSON"})
# The result has the type of the (first typed) argument: MIN/MAX of long is long, and so on.
_ARGUMENT_TYPED = frozenset(
    {
        "MIN",
        "MAX",
        "ANY_VALUE",
        "LATEST",
        "EARLIEST",
        "LATEST_BY",
        "EARLIEST_BY",
        "ABS",
        "ROUND",
        "GREATEST",
        "LEAST",
        "COALESCE",
        "NVL",
        "IFNULL",
        "NULLIF",
    }
)


def normal_type(data_type: str | None) -> str | None:
    """A declared ``dataType`` (``bigint``, ``float`` ...) as one of the inferred names."""
    return _NORMAL.get(str(data_type or "").lower())


def infer_type(node: n.Node, inputs: Mapping[str, str]) -> str | None:
    """The column type ``node`` produces when it reads columns typed by ``inputs``."""
    if isinstance(node, n.Literal):
        return _literal_type(node.value)
    if isinstance(node, n.Column):
        return "timestamp" if node.name == "__time" else normal_type(inputs.get(node.name))
    if isinstance(node, n.Cast):
        return _cast_type(node.type_name)
    if isinstance(node, n.Unary):
        return "long" if node.op == "NOT" else _numeric(infer_type(node.operand, inputs))
    if isinstance(node, n.Binary):
        return _binary_type(node, inputs)
    if isinstance(node, (n.IsNull, n.InList, n.Like, n.Between)):
        return "long"
    if isinstance(node, n.Case):
        branches = [then for _, then in node.whens]
        if node.default is not None:
            branches.append(node.default)
        return _first_known(branches, inputs)
    if isinstance(node, n.Call):
        return _call_type(node, inputs)
    return None


def _literal_type(value: object) -> str | None:
    if isinstance(value, Timestamp):
        return "timestamp"
    if isinstance(value, (bool, int)):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    return None


def _cast_type(type_name: str) -> str | None:
    if type_name in INTEGER_TYPES or type_name == "BOOLEAN":
        return "long"
    if type_name in FLOAT_TYPES:
        return "double"
    if type_name in ("TIMESTAMP", "DATE"):
        return "timestamp"
    return "string"


def _numeric(kind: str | None) -> str | None:
    return kind if kind in ("long", "double") else None


def _binary_type(node: n.Binary, inputs: Mapping[str, str]) -> str | None:
    if node.op == "||":
        return "string"
    if node.op in ("AND", "OR", "=", "<>", "<", "<=", ">", ">="):
        return "long"
    left, right = infer_type(node.left, inputs), infer_type(node.right, inputs)
    if "double" in (left, right):
        return "double"
    if left in ("long", "timestamp") and right in ("long", "timestamp"):
        return "long"  # long arithmetic stays long; a timestamp is its epoch millis
    return None


def _call_type(node: n.Call, inputs: Mapping[str, str]) -> str | None:
    name = node.name
    if name in ("FLOOR", "CEIL"):
        if node.to_unit:  # FLOOR(t TO HOUR)
            return "timestamp"
        return _numeric(infer_type(node.args[0], inputs)) if node.args else None
    if name == "SUM":
        # Druid sums longs as longs and everything else as doubles.
        arg = infer_type(node.args[0], inputs) if node.args else None
        return "long" if arg in ("long", "timestamp") else "double"
    if name in _TIMESTAMP_FUNCTIONS:
        return "timestamp"
    if name in _LONG_FUNCTIONS:
        return "long"
    if name in _DOUBLE_FUNCTIONS:
        return "double"
    if name in _STRING_FUNCTIONS:
        return "string"
    if name in _JSON_FUNCTIONS:
        return "json"
    if name in _ARGUMENT_TYPED:
        return _first_known(node.args[:1] if name.endswith("_BY") else node.args, inputs)
    return None


def _first_known(nodes: list[n.Node] | tuple[n.Node, ...], inputs: Mapping[str, str]) -> str | None:
    for node in nodes:
        kind = infer_type(node, inputs)
        if kind is not None:
            return kind
    return None
