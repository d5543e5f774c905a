"""Connections (polaris-api.md §6): validation of their bodies, their requests and routes.

Secrets are stored beside a connection and never shown; a push_streaming connection shows the
URL its events go to.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._clock import iso
from .._core import StateCore
from .._errors import bad, conflict, found
from .._http import RouteTable, base_url, created, json_body, json_response, principal, read
from .._rules import check_bool, check_connection_name, check_enum, check_str_list

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


class ConnectionsApi(StateCore):
    """Connection requests; ``base_url`` is what the client called (for ``endpointUrl``)."""

    def _render_connection(self, conn: dict[str, Any], base_url: str) -> dict[str, Any]:
        out = public_properties({k: v for k, v in conn.items() if not k.startswith("_")})
        if conn["_secrets"] is not None:
            out["secrets"] = {"type": conn["_secrets"]["type"]}
        if conn["type"] == "push_streaming":
            out["endpointUrl"] = f"{base_url}{self.prefix}/events/{conn['name']}"
        return out

    def create_connection(
        self, body: Any, principal: dict[str, str], base_url: str
    ) -> dict[str, Any]:
        """POST /connections."""
        with self.lock:
            if not isinstance(body, dict):
                raise bad("The request body must be a JSON object")
            name = check_connection_name(body.get("name"))
            props, secrets = validate_connection(body)
            if name in self.connections:
                raise conflict(f"A connection with name [{name}] already exists", "name")
            now = iso(self.clock.now())
            conn = {
                **props,
                "submittedByUser": principal,
                "modifiedByUser": principal,
                "submittedOnTimestamp": now,
                "modifiedOnTimestamp": now,
                "_secrets": secrets,
            }
            self.connections[name] = conn
            return self._render_connection(conn, base_url)

    def _connection(self, name: str) -> dict[str, Any]:
        return found(self.connections, name, "Connection", "connectionName")

    def get_connection(self, name: str, base_url: str) -> dict[str, Any]:
        """GET /connections/{name}."""
        with self.lock:
            return self._render_connection(self._connection(name), base_url)

    def list_connections(self, base_url: str) -> dict[str, Any]:
        """GET /connections."""
        with self.lock:
            return {
                "values": [self._render_connection(c, base_url) for c in self.connections.values()]
            }

    def update_connection(
        self, name: str, body: Any, principal: dict[str, str], base_url: str
    ) -> dict[str, Any]:
        """PATCH /connections/{name}: ``type`` required and unchanged; properties merge."""
        with self.lock:
            conn = self._connection(name)
            if not isinstance(body, dict):
                raise bad("The request body must be a JSON object")
            if "type" not in body:
                raise bad("type is required", "type")
            if body["type"] != conn["type"]:
                raise bad(
                    f"The type of connection {name} is {conn['type']} and can't change", "type"
                )
            if "name" in body and body["name"] != name:
                raise bad("Connection names can't change", "name")
            merged = {k: v for k, v in conn.items() if not k.startswith("_")}
            merged.update({k: v for k, v in body.items() if k != "secrets"})
            merged["secrets"] = body["secrets"] if "secrets" in body else conn["_secrets"]
            props, secrets = validate_connection(merged)
            props.update(
                submittedByUser=conn["submittedByUser"],
                submittedOnTimestamp=conn["submittedOnTimestamp"],
                modifiedByUser=principal,
                modifiedOnTimestamp=iso(self.clock.now()),
                _secrets=secrets,
            )
            self.connections[name] = props
            return self._render_connection(props, base_url)

    def set_connection_secrets(
        self, name: str, body: Any, principal: dict[str, str], base_url: str
    ) -> None:
        """PUT /connections/{name}/secrets (older docs, §14): the body is the secrets object."""
        with self.lock:
            conn_type = self._connection(name)["type"]
            self.update_connection(name, {"type": conn_type, "secrets": body}, principal, base_url)

    def delete_connection(self, name: str) -> None:
        """DELETE /connections/{name}: refused while a live streaming job reads it."""
        with self.lock:
            self._connection(name)
            now = self.clock.now()
            for job in self.jobs.values():
                reads_it = (job.spec.get("source") or {}).get("connectionName") == name
                if reads_it and job.streaming and not self._settled(job, now):
                    raise bad(
                        f"Connection {name} is used by streaming job {job.id}", "connectionName"
                    )
            del self.connections[name]

    def test_connection(self, name: str) -> dict[str, Any]:
        """POST /connections/{name}/test: nothing is reachable offline, so a valid config passes."""
        with self.lock:
            conn = self._connection(name)
            return {"name": name, "type": conn["type"], "status": "ok"}

    def connections_meta(self) -> dict[str, Any]:
        """GET /connectionsMeta (values for the AWS trust policy)."""
        return {
            "externalId": str(uuid.uuid5(uuid.NAMESPACE_URL, self.project_id)),
            "implyArn": "arn:aws:iam::012345678901:role/imply-polaris-emulator",
        }


async def _connections(state: ConnectionsApi, request: Request) -> Response:
    if request.method == "GET":
        return json_response(state.list_connections(base_url(request)))
    conn = state.create_connection(await json_body(request), principal(request), base_url(request))
    return created(request, conn, conn["name"])


async def _connection(state: ConnectionsApi, request: Request) -> Response:
    name = request.path_params["name"]
    if request.method == "GET":
        return json_response(state.get_connection(name, base_url(request)))
    if request.method == "DELETE":
        state.delete_connection(name)
        return Response(b"", 200)
    body = await json_body(request)
    return json_response(state.update_connection(name, body, principal(request), base_url(request)))


async def _secrets(state: ConnectionsApi, request: Request) -> Response:
    body = await json_body(request)
    name = request.path_params["name"]
    state.set_connection_secrets(name, body, principal(request), base_url(request))
    return Response(b"", 200)  # the older docs: 200 OK, empty body


async def _test(state: ConnectionsApi, request: Request) -> Response:
    await json_body(request, required=False)
    return json_response(state.test_connection(request.path_params["name"]))


# ``/connections``, one connection, its test and secrets, ``/connectionsMeta`` (under the project)
ROUTES: RouteTable[ConnectionsApi] = [
    ("/connections", _connections, ["GET", "POST"]),
    ("/connections/{name}", _connection, ["GET", "PATCH", "DELETE"]),
    ("/connections/{name}/test", _test, ["POST"]),
    ("/connections/{name}/secrets", _secrets, ["PUT"]),
    ("/connectionsMeta", read(ConnectionsApi.connections_meta), ["GET"]),
]
