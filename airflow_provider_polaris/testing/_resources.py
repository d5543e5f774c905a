"""Validation of connection and table bodies (polaris-api.md §5 and §6)."""

from __future__ import annotations

from typing import Any

from ._errors import bad
from ._rules import (
    INPUT_DATA_TYPES,
    TABLE_PARTITIONING,
    TIME_RESOLUTION,
    check_bool,
    check_enum,
    check_str_list,
    check_table_name,
)

# type -> (required string properties, required list properties, allowed secret types or None,
#          whether secrets are required)
_CONNECTION_TYPES: dict[
    str, tuple[tuple[str, ...], tuple[str, ...], frozenset[str] | None, bool]
] = {
    "kafka": (
        ("bootstrapServers", "topicName"),
        (),
        frozenset({"sasl_plain", "sasl_scram", "aws_iam"}),
        True,
    ),
    "confluent": (
        ("bootstrapServers", "topicName"),
        (),
        frozenset({"sasl_plain", "confluent"}),
        True,
    ),
    "kinesis": (("stream", "awsEndpoint", "awsAssumedRoleArn"), (), None, False),
    "s3": (("bucket", "awsEndpoint"), (), frozenset({"access_key"}), False),
    "azure": (("storageAccount", "container"), (), frozenset({"access_key", "sas_token"}), True),
    # Polaris' docs create it without secrets and add them afterwards (PATCH or PUT .../secrets).
    "confluent_schema_registry": (
        (),
        ("urls",),
        frozenset({"basic", "sasl_plain", "sasl_scram"}),
        False,
    ),
    "push_streaming": ((), (), None, False),
}
CONNECTION_TYPES = frozenset(_CONNECTION_TYPES)

_SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "sasl_plain": ("username", "password"),
    "sasl_scram": ("username", "password", "mechanism"),
    "aws_iam": ("awsAssumedRoleArn",),
    "access_key": ("accessKeySecret",),
    "sas_token": ("sasToken",),
    "basic": ("username", "password"),
    "confluent": ("key", "secret"),
}
SECRET_TYPES = frozenset(_SECRET_FIELDS)
# Fields of a connection response that the client may not set.
CONNECTION_READ_ONLY = frozenset(
    {
        "submittedByUser",
        "modifiedByUser",
        "submittedOnTimestamp",
        "modifiedOnTimestamp",
        "endpointUrl",
    }
)


# Credentials that live among a connection's properties (kafka ``ssl.keystore``): stored for
# the connection, never returned ("Polaris never returns stored credentials"). Certificates
# are public and are returned.
_KEYSTORE_CREDENTIALS = ("key", "keyPassword")


def _check_ssl(ssl: Any) -> None:
    if not isinstance(ssl, dict):
        raise bad("ssl must be an object with keystore and/or truststore", "ssl")
    for store in ("keystore", "truststore"):
        if store in ssl and not isinstance(ssl[store], dict):
            raise bad(f"ssl.{store} must be an object", f"ssl.{store}")


def public_properties(props: dict[str, Any]) -> dict[str, Any]:
    """A connection's properties as responses show them: without keystore credentials."""
    ssl = props.get("ssl")
    if not isinstance(ssl, dict):
        return props
    keystore = ssl.get("keystore")
    if not isinstance(keystore, dict) or not any(k in keystore for k in _KEYSTORE_CREDENTIALS):
        return props
    shown = {k: v for k, v in keystore.items() if k not in _KEYSTORE_CREDENTIALS}
    return {**props, "ssl": {**ssl, "keystore": shown}}


def _check_secrets(conn_type: str, secrets: Any) -> dict[str, Any] | None:
    _, _, allowed, required = _CONNECTION_TYPES[conn_type]
    if secrets is None:
        if required:
            raise bad(f"{conn_type} connections need secrets", "secrets")
        return None
    if allowed is None:
        raise bad(f"{conn_type} connections take no secrets", "secrets")
    if not isinstance(secrets, dict):
        raise bad("secrets must be an object", "secrets")
    kind = check_enum(secrets.get("type"), allowed, "secrets.type")
    for field in _SECRET_FIELDS[kind]:
        if not isinstance(secrets.get(field), str) or not secrets[field]:
            raise bad(f"secrets.{field} is required for {kind} secrets", f"secrets.{field}")
    if kind == "sasl_scram":
        check_enum(
            secrets["mechanism"], frozenset({"SCRAM-SHA-256", "SCRAM-SHA-512"}), "secrets.mechanism"
        )
    access_key_id = secrets.get("accessKeyId")
    if (
        kind == "access_key"
        and conn_type == "s3"
        and not (isinstance(access_key_id, str) and access_key_id)
    ):
        raise bad("secrets.accessKeyId is required for S3 access keys", "secrets.accessKeyId")
    return dict(secrets)


def validate_connection(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Check a full connection body; return (properties without secrets, secrets or None)."""
    conn_type = check_enum(body.get("type"), CONNECTION_TYPES, "type")
    strings, lists, _, _ = _CONNECTION_TYPES[conn_type]
    props = {k: v for k, v in body.items() if k != "secrets" and k not in CONNECTION_READ_ONLY}
    for field in strings:
        if not isinstance(props.get(field), str) or not props[field].strip():
            raise bad(f"{field} is required for {conn_type} connections", field)
    for field in lists:
        check_str_list(props.get(field), field)
    if props.get("description") is not None and not isinstance(props["description"], str):
        raise bad("description must be a string", "description")
    if "topicNameIsPattern" in props:
        check_bool(props, "topicNameIsPattern")
    if conn_type == "kafka" and "ssl" in props:
        _check_ssl(props["ssl"])
    if conn_type == "s3" and not props.get("awsAssumedRoleArn") and body.get("secrets") is None:
        raise bad(
            "s3 connections need awsAssumedRoleArn or access_key secrets", "awsAssumedRoleArn"
        )
    return props, _check_secrets(conn_type, body.get("secrets"))


def _check_schema(table_type: str, schema: Any) -> list[dict[str, Any]]:
    if schema is None:
        return []
    if not isinstance(schema, list):
        raise bad("schema must be a list", "schema")
    seen: set[str] = set()
    for i, column in enumerate(schema):
        where = f"schema[{i}]"
        if (
            not isinstance(column, dict)
            or not isinstance(column.get("name"), str)
            or not column["name"]
        ):
            raise bad("Each column needs a name", f"{where}.name")
        if column["name"] in seen:
            raise bad(f"Duplicate column {column['name']!r}", f"{where}.name")
        seen.add(column["name"])
        check_enum(column.get("dataType"), INPUT_DATA_TYPES, f"{where}.dataType")
        if table_type == "aggregate" and column["name"] != "__time":
            column.setdefault("type", "dimension")
            check_enum(column["type"], frozenset({"dimension", "measure"}), f"{where}.type")
    return schema


def validate_table(body: Any, *, creating: bool) -> dict[str, Any]:
    """Check a TablePayload; fill the documented defaults when ``creating``."""
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object")
    table = dict(body)
    check_table_name(table.get("name"))
    table_type = check_enum(table.get("type"), frozenset({"detail", "aggregate"}), "type")
    table["schemaMode"] = check_enum(
        table.get("schemaMode") or "strict", frozenset({"strict", "flexible"}), "schemaMode"
    )
    granularity = check_enum(
        table.get("partitioningGranularity") or "day", TABLE_PARTITIONING, "partitioningGranularity"
    )
    if creating and granularity == "week":
        raise bad("week partitioning is deprecated for new tables", "partitioningGranularity")
    table["partitioningGranularity"] = granularity
    if table_type == "aggregate":
        table["timeResolution"] = check_enum(
            table.get("timeResolution") or "millisecond", TIME_RESOLUTION, "timeResolution"
        )
    elif table.get("timeResolution") is not None:
        raise bad("timeResolution applies to aggregate tables only", "timeResolution")
    description = table.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 1000):
        raise bad("description must be a string of at most 1000 characters", "description")
    if table.get("clusteringColumns") is not None:
        check_str_list(table["clusteringColumns"], "clusteringColumns", allow_empty=True)
    table["schema"] = _check_schema(table_type, table.get("schema"))
    if not creating:
        version = table.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise bad("version is required when updating a table", "version")
    return table
