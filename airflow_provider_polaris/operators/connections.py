"""Create, delete and test Polaris connections (``/v1/projects/{project}/connections``).

Connection secrets (Kafka SASL credentials and client keys, access keys, SAS tokens, registry
passwords) never go in the DAG file: they are read at run time from an Airflow connection named
by ``secrets_conn_id`` (so from any secrets backend), masked in logs the moment they are read,
and sent only in the request body. See ``docs/setup-operators.md`` for the mapping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_polaris._compat import AirflowFailException, BaseHook, mask_secret
from airflow_provider_polaris.operators._base import PolarisCreateOperator, PolarisOperator

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context
    from airflow_provider_polaris.models.connections import ConnectionSpec

# Response-only fields that never count as a difference.
_READ_ONLY = frozenset(
    {
        "name",
        "secrets",
        "submittedByUser",
        "modifiedByUser",
        "submittedOnTimestamp",
        "modifiedOnTimestamp",
        "endpointUrl",
    }
)
_SENSITIVE_WORDS = ("password", "secret", "token", "key")

# Secret type -> (field filled from the connection's login, field filled from its password).
_LOGIN_PASSWORD_FIELDS: dict[str, tuple[str | None, str | None]] = {
    "sasl_plain": ("username", "password"),
    "sasl_scram": ("username", "password"),
    "basic": ("username", "password"),
    "confluent": ("key", "secret"),
    "access_key": ("accessKeyId", "accessKeySecret"),
    "sas_token": (None, "sasToken"),
    "aws_iam": (None, None),
}
# Connection types whose secrets have only one possible type.
_DEFAULT_SECRET_TYPE = {"confluent": "sasl_plain", "confluent_schema_registry": "basic"}
# Extras of the secrets connection holding the Kafka client key for mutual TLS, and the field
# of the connection's ``ssl.keystore`` each one fills.
KEYSTORE_EXTRAS = {"ssl_keystore_key": "key", "ssl_keystore_key_password": "keyPassword"}
_KEY_IN_DAG = (
    "do not put the Kafka client key (ssl.keystore.key / keyPassword) in the DAG file: store it "
    "in the Airflow connection named by secrets_conn_id (extra ssl_keystore_key and "
    "ssl_keystore_key_password); it is merged into the request at run time"
)


def _is_sensitive(path: str) -> bool:
    lowered = path.lower()
    return any(word in lowered for word in _SENSITIVE_WORDS)


def property_differences(
    desired: Mapping[str, Any], existing: Mapping[str, Any], prefix: str = ""
) -> list[str]:
    """Differences between desired and existing non-secret properties, as readable lines.

    Only properties the desired spec sets are compared (Polaris fills in defaults); values of
    fields whose name suggests a credential are not shown.
    """
    lines = []
    for key, want in desired.items():
        if not prefix and key in _READ_ONLY:
            continue
        path = f"{prefix}{key}"
        have = existing.get(key)
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            lines.extend(property_differences(want, have, f"{path}."))
        elif want != have:
            if _is_sensitive(path):
                lines.append(f"{path}: differs (value hidden)")
            else:
                lines.append(
                    f"{path}: Polaris has {json.dumps(have)}, spec wants {json.dumps(want)}"
                )
    return lines


@dataclass
class ConnectionSecretsRead:
    """What a secrets connection provides: the Polaris ``secrets`` object, the Kafka keystore
    credentials (``key``, ``keyPassword``; may be empty) and the extra keys that were not used."""

    secrets: dict[str, Any]
    keystore: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def _mask(value: str) -> None:
    mask_secret(value)
    if "\n" in value:  # a PEM key: mask its body lines too, should one be logged on its own
        for line in value.splitlines():
            if len(line) >= 16 and not line.startswith("-----"):
                mask_secret(line)


def _extra_of(conn: Any) -> dict[str, Any]:
    # A list, number or text extra is a PolarisConnectionConfigError naming the connection.
    from airflow_provider_polaris.hooks.config import extra_object

    return dict(extra_object(conn)) if hasattr(conn, "extra_dejson") else {}


def secret_type_difference(desired: str | None, existing: Mapping[str, Any]) -> list[str]:
    """A difference line when the stored secrets' ``type`` is not the desired one (Polaris
    returns the type only, never the values, so nothing else can be compared)."""
    stored = existing.get("secrets")
    have = stored.get("type") if isinstance(stored, Mapping) else None
    if desired is None or desired == have:  # no secrets_conn_id: the stored ones are kept
        return []
    return [
        f"secrets.type: Polaris has {json.dumps(have)}, spec wants {json.dumps(desired)} "
        "(secret values are never compared)"
    ]


def secrets_from_airflow_connection(conn: Any, polaris_type: str) -> ConnectionSecretsRead:
    """Build a Polaris ``secrets`` object from an Airflow connection (see the module docs).

    - ``extra`` may hold the whole object under ``"secrets"`` (``{"secrets": {"type": ...}}``);
      otherwise ``type`` and the extra keys that are fields of that secret type form it
      (``{"type": "sasl_scram", "mechanism": ...}``); other keys are listed in ``ignored``.
    - ``login`` / ``password`` fill the type's credential fields when not set in extra:
      ``username``/``password`` (sasl_plain, sasl_scram, basic), ``key``/``secret`` (confluent),
      ``accessKeyId``/``accessKeySecret`` (access_key), ``sasToken`` from the password.
    - ``type`` defaults to ``sasl_plain`` for confluent and ``basic`` for schema registries.
    - ``ssl_keystore_key`` / ``ssl_keystore_key_password`` (kafka only) are the client key for
      mutual TLS and its password.

    Every value used is registered with the secrets masker as it is read.
    """
    if conn.password:
        _mask(conn.password)
    extra = _extra_of(conn)
    ignored: list[str] = []
    keystore = _keystore_of(extra, polaris_type, ignored)
    secrets = _secrets_of(conn, extra, polaris_type, ignored)
    for value in secrets.values():
        if isinstance(value, str) and value:
            _mask(value)
    secret_type = secrets.get("type") or _DEFAULT_SECRET_TYPE.get(polaris_type)
    if not secret_type:
        raise AirflowFailException(
            f"secrets connection {conn.conn_id!r} does not say which Polaris secret type it "
            'holds: add {"type": "sasl_plain" | "sasl_scram" | "aws_iam" | "access_key" | '
            '"sas_token" | "basic"} to its extra'
        )
    secrets["type"] = secret_type
    login_field, password_field = _LOGIN_PASSWORD_FIELDS.get(secret_type, (None, None))
    if login_field and conn.login and login_field not in secrets:
        secrets[login_field] = conn.login
    if password_field and conn.password and password_field not in secrets:
        secrets[password_field] = conn.password
    return ConnectionSecretsRead(secrets, keystore, sorted(ignored))


def _keystore_of(extra: dict[str, Any], polaris_type: str, ignored: list[str]) -> dict[str, str]:
    """Pop the mutual-TLS client key extras (kafka only; listed in ``ignored`` otherwise)."""
    keystore: dict[str, str] = {}
    for extra_key, keystore_field in KEYSTORE_EXTRAS.items():
        value = extra.pop(extra_key, None)
        if value in (None, ""):
            continue
        if polaris_type != "kafka":
            ignored.append(extra_key)
            continue
        _mask(str(value))
        keystore[keystore_field] = str(value)
    return keystore


def _secrets_of(
    conn: Any, extra: dict[str, Any], polaris_type: str, ignored: list[str]
) -> dict[str, Any]:
    """The ``secrets`` object the extra holds: nested under ``"secrets"``, or its keys that are
    fields of the secret type (the others are listed in ``ignored``)."""
    from pydantic.alias_generators import to_camel

    from airflow_provider_polaris.models.secrets import secret_fields

    nested = extra.pop("secrets", None)
    if isinstance(nested, str):
        try:
            nested = json.loads(nested)
        except ValueError:
            raise AirflowFailException(
                f"secrets connection {conn.conn_id!r}: extra 'secrets' is not a JSON object"
            ) from None
    if isinstance(nested, Mapping):
        ignored.extend(extra)
        return dict(nested)
    secrets: dict[str, Any] = {}
    if extra.get("type"):
        secrets["type"] = extra.pop("type")
    fields = secret_fields(secrets.get("type") or _DEFAULT_SECRET_TYPE.get(polaris_type) or "")
    for key, value in extra.items():
        wire = key if key in fields else to_camel(key)
        if wire in fields:
            secrets[wire] = value
        elif key != "type":
            ignored.append(key)
    return secrets


def keystore_credentials_in(connection: Any) -> bool:
    """Whether a connection spec (dict or model) carries ``ssl.keystore.key``/``keyPassword``."""
    if not isinstance(connection, Mapping):
        ssl = getattr(connection, "ssl", None)
        keystore = getattr(ssl, "keystore", None)
        return bool(getattr(keystore, "key", None) or getattr(keystore, "key_password", None))
    ssl = connection.get("ssl")
    keystore = ssl.get("keystore") if isinstance(ssl, Mapping) else None
    if not isinstance(keystore, Mapping):
        return False
    return any(keystore.get(k) for k in ("key", "keyPassword", "key_password"))


def with_keystore(body: dict[str, Any], keystore: Mapping[str, str]) -> dict[str, Any]:
    """``body`` with ``keystore`` merged into ``ssl.keystore`` (new dicts; ``type`` pem)."""
    ssl = dict(body.get("ssl") or {})
    ssl["keystore"] = {"type": "pem", **(ssl.get("keystore") or {}), **keystore}
    return {**body, "ssl": ssl}


class PolarisCreateConnectionOperator(PolarisCreateOperator):
    """Create a Polaris connection (``POST /connections``), idempotently.

    :param connection: the connection spec without secrets (dict or ``ConnectionSpec``), e.g.
        ``{"type": "kafka", "name": "clicks", "bootstrapServers": "...", "topicName": "clicks"}``.
        Templated.
    :param secrets_conn_id: an Airflow connection holding the secrets (read at run time, masked).
    :param if_exists: on a 409 (the name exists): ``ignore`` (default) reads the existing
        connection and logs every difference in non-secret properties; ``update`` PATCHes the
        properties and secrets; ``fail`` fails the task.
    :param allow_unknown_fields: fields the provider doesn't know are errors (a misspelled key
        would be ignored by Polaris); ``True`` sends every unknown field as given, a list sends
        the listed dotted paths (``["someNewProperty"]``, ``["secrets.newCredential"]``), each
        with a warning naming the field, never its value.
    :return: (XCom) ``{"name", "type", "action": "created"|"exists"|"updated", "differences",
        "endpointUrl"?}``; never any secret.

    Missing properties or secrets are reported (with field names) before any request.
    """

    resource = "connection"
    template_fields: Sequence[str] = ("connection", "secrets_conn_id")
    template_fields_renderers = {"connection": "json"}

    def __init__(
        self,
        *,
        connection: Mapping[str, Any] | ConnectionSpec,
        secrets_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(connection, Mapping) and "secrets" in connection:
            raise ValueError(
                "do not put secrets in the DAG file: store them in an Airflow connection "
                "and pass secrets_conn_id"
            )
        if keystore_credentials_in(connection):
            raise ValueError(_KEY_IN_DAG)
        self.connection = connection
        self.secrets_conn_id = secrets_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_polaris.client import PolarisConflictError
        from airflow_provider_polaris.models.connections import (
            parse_connection_spec,
            validate_secrets_for,
        )
        from airflow_provider_polaris.models.errors import PolarisSpecError

        try:
            allow = self.allow_unknown_fields
            spec = parse_connection_spec(self.connection, allow_unknown_fields=allow)
            if spec.secrets is not None:
                raise AirflowFailException(
                    "do not put secrets in the DAG file: use secrets_conn_id"
                )
            if keystore_credentials_in(spec):
                raise AirflowFailException(_KEY_IN_DAG)
            read = self._read_secrets(spec.type)
            secrets = validate_secrets_for(
                spec, read.secrets if read else None, allow_unknown_fields=allow
            )
        except PolarisSpecError as exc:
            raise AirflowFailException(str(exc)) from None
        properties = spec.to_api()
        body = dict(properties)
        if read is not None and read.keystore:
            body = with_keystore(body, read.keystore)
        if secrets is not None:
            body["secrets"] = secrets.to_api()
        name = spec.name
        client = self.hook.get_client()
        try:
            created = client.connections.create(body)
        except PolarisConflictError:
            desired_type = secrets.type if secrets is not None else None
            return self._on_conflict(client, name, spec.type, properties, body, desired_type)
        self.log.info("Created Polaris %s connection %r", spec.type, name)
        return self._result(created, name, spec.type, "created", [])

    def _read_secrets(self, polaris_type: str) -> ConnectionSecretsRead | None:
        if not self.secrets_conn_id:
            return None
        conn = BaseHook.get_connection(self.secrets_conn_id)
        read = secrets_from_airflow_connection(conn, polaris_type)
        if read.ignored:
            self.log.info(
                "secrets connection %r: extra %s ignored (not fields of %s secrets%s)",
                self.secrets_conn_id,
                ", ".join(repr(k) for k in read.ignored),
                read.secrets.get("type"),
                "; ssl_keystore_* apply to kafka connections only"
                if any(k in KEYSTORE_EXTRAS for k in read.ignored)
                else "",
            )
        return read

    def _on_conflict(
        self,
        client: Any,
        name: str,
        conn_type: str,
        properties: dict[str, Any],
        body: dict[str, Any],
        secret_type: str | None,
    ) -> dict[str, Any]:
        self.refuse_existing(name)
        if self.if_exists == "update":
            updated = client.connections.update(name, body)
            self.log.info("Updated Polaris connection %r (properties and secrets)", name)
            return self._result(updated, name, conn_type, "updated", [])
        existing = client.connections.get(name)
        differences = property_differences(properties, existing)
        differences.extend(secret_type_difference(secret_type, existing))
        self.log_existing(name, differences)
        return self._result(existing, name, conn_type, "exists", differences)

    @staticmethod
    def _result(
        response: Mapping[str, Any] | None,
        name: str,
        conn_type: str,
        action: str,
        differences: list[str],
    ) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": name,
            "type": conn_type,
            "action": action,
            "differences": differences,
        }
        if response and response.get("endpointUrl"):
            result["endpointUrl"] = response["endpointUrl"]
        return result


class PolarisDeleteConnectionOperator(PolarisOperator):
    """Delete a Polaris connection (``DELETE /connections/{name}``).

    :param name: the connection name. Templated.
    :param missing_ok: succeed when it does not exist (default True).
    """

    template_fields: Sequence[str] = ("name",)

    def __init__(self, *, name: str, missing_ok: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.missing_ok = missing_ok

    def execute(self, context: Context) -> bool:
        from airflow_provider_polaris.client import PolarisNotFoundError

        try:
            self.hook.get_client().connections.delete(self.name)
        except PolarisNotFoundError:
            if not self.missing_ok:
                raise AirflowFailException(
                    f"Polaris connection {self.name!r} does not exist"
                ) from None
            self.log.info("Polaris connection %r does not exist; nothing to delete", self.name)
            return False
        self.log.info("Deleted Polaris connection %r", self.name)
        return True


class PolarisTestConnectionOperator(PolarisOperator):
    """Ask Polaris to test a connection (``POST /connections/{name}/test``); fail if it fails.

    :param name: the connection name. Templated.
    """

    template_fields: Sequence[str] = ("name",)

    def __init__(self, *, name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name

    def execute(self, context: Context) -> dict[str, Any]:
        # A failed test raises the client's PolarisApiError, which carries Polaris' explanation.
        result = self.hook.get_client().connections.test(self.name)
        self.log.info("Polaris connection %r passed its test", self.name)
        return dict(result or {})
