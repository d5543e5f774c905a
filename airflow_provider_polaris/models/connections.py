"""Connection specs (``POST /connections`` bodies), discriminated on ``type``.

Each connection type declares the properties a create needs and the secret types it accepts;
``validate_secrets_for`` checks a secrets object against them. The rules are Polaris' own
(polaris-api.md §5), so that a create the server would refuse with a 400 fails here first,
naming the field and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, ValidationInfo, model_validator

from airflow_provider_polaris.models._base import (
    LazyAdapter,
    PolarisModel,
    Secret,
    TaggedBy,
    validate_spec,
)
from airflow_provider_polaris.models._checks import ConnectionName, NonBlank
from airflow_provider_polaris.models._strict import AllowUnknownFields
from airflow_provider_polaris.models.errors import PolarisSpecError, SpecIssue, join_path
from airflow_provider_polaris.models.secrets import (
    SECRET_TYPES,
    AccessKeySecrets,
    AnyConnectionSecrets,
    ConnectionSecrets,
    parse_connection_secrets,
)


def _one_of(names: tuple[str, ...]) -> str:
    quoted = [f'"{n}"' for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


class ConnectionSpec(PolarisModel):
    """Base of every connection spec; ``parse_connection_spec`` returns a subclass.

    ``required_secret_types``: a create needs secrets of one of these types (empty: none needed).
    ``accepted_secret_types``: the secret types the connection type takes at all.
    """

    # Direct construction raises pydantic's ValidationError: keep secret values out of its text.
    model_config = ConfigDict(hide_input_in_errors=True)

    required_properties: ClassVar[tuple[str, ...]] = ()
    required_secret_types: ClassVar[tuple[str, ...]] = ()
    accepted_secret_types: ClassVar[tuple[str, ...]] = ()

    # Read-only fields of a GET connection (§5): a response can be parsed and sent back.
    echoed_fields = frozenset(
        {
            "submittedByUser",
            "modifiedByUser",
            "submittedOnTimestamp",
            "modifiedOnTimestamp",
            "endpointUrl",
        }
    )
    type: str
    name: ConnectionName
    description: str | None = None
    secrets: AnyConnectionSecrets | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_echoed_secret_type(cls, data: Any) -> Any:
        # A GET answers ``"secrets": {"type": ...}`` only (Polaris never returns credentials):
        # a response parses, and the credentials come from secrets_conn_id when sent back.
        if isinstance(data, Mapping):
            secrets = data.get("secrets")
            if (
                isinstance(secrets, Mapping)
                and set(secrets) == {"type"}
                and secrets["type"] in SECRET_TYPES
            ):
                return {k: v for k, v in data.items() if k != "secrets"}
        return data

    @model_validator(mode="after")
    def _check_connection(self, info: ValidationInfo) -> ConnectionSpec:
        issues: list[tuple[str, str]] = []
        # A PATCH body (context partial=True) may carry only the properties being changed.
        if not (info.context or {}).get("partial"):
            for name in self.required_properties:
                if getattr(self, name) is None:
                    alias = type(self).model_fields[name].alias or name
                    issues.append((alias, f"{self.type} connections need {alias!r}; add it"))
        if self.secrets is not None:
            issues.extend(self.secrets_issues(self.secrets))
        if issues:
            raise SpecIssue(*issues)
        return self

    def secrets_issues(self, secrets: ConnectionSecrets) -> list[tuple[str, str]]:
        """Problems with ``secrets`` for this connection: a type it doesn't take, or a field
        this connection type needs."""
        accepted = self.accepted_secret_types
        if secrets.type in accepted:
            return []
        if not accepted:
            return [("secrets", f"{self.type} connections take no secrets; remove secrets")]
        return [
            (
                "secrets.type",
                f"{self.type} connections don't take {secrets.type!r} secrets; use "
                f"{_one_of(accepted)}",
            )
        ]

    def missing_secrets_issues(self) -> list[tuple[str, str]]:
        """Problems with creating this connection without secrets."""
        if not self.required_secret_types:
            return []
        return [
            (
                "secrets",
                f"{self.type} connections need secrets of type "
                f"{_one_of(self.required_secret_types)}; store them in an Airflow connection "
                "and pass secrets_conn_id",
            )
        ]


class KafkaKeystore(PolarisModel):
    """Client certificate and key for Kafka mutual TLS (PEM)."""

    model_config = ConfigDict(hide_input_in_errors=True)
    spec_noun = "ssl.keystore"

    type: str | None = None
    certificates: str | None = None
    key: Secret | None = None
    key_password: Secret | None = None


class KafkaTruststore(PolarisModel):
    """CA certificates to trust for Kafka TLS (PEM)."""

    spec_noun = "ssl.truststore"

    type: str | None = None
    certificates: str | None = None


class KafkaSsl(PolarisModel):
    """``ssl`` of a Kafka connection: ``keystore`` and/or ``truststore``."""

    spec_noun = "ssl"
    keystore: KafkaKeystore | None = None
    truststore: KafkaTruststore | None = None


class _TopicConnectionSpec(ConnectionSpec):
    """What Kafka and Confluent connections share: the brokers and the topic."""

    required_properties = ("bootstrap_servers", "topic_name")

    bootstrap_servers: NonBlank | None = None
    topic_name: NonBlank | None = None
    topic_name_is_pattern: bool | None = None


class KafkaConnectionSpec(_TopicConnectionSpec):
    """A Kafka connection (also Amazon MSK and Kafka on Event Hubs)."""

    required_secret_types = ("sasl_plain", "sasl_scram", "aws_iam")
    accepted_secret_types = required_secret_types

    spec_noun = "a kafka connection"
    type: Literal["kafka"]
    client_rack: str | None = None
    ssl: KafkaSsl | None = None


class ConfluentConnectionSpec(_TopicConnectionSpec):
    """A Confluent Cloud topic (API key and secret as ``sasl_plain``)."""

    required_secret_types = ("sasl_plain", "confluent")
    accepted_secret_types = required_secret_types

    spec_noun = "a confluent connection"
    type: Literal["confluent"]


class KinesisConnectionSpec(ConnectionSpec):
    """An Amazon Kinesis stream, read by assuming ``awsAssumedRoleArn`` (no secrets)."""

    required_properties = ("stream", "aws_endpoint", "aws_assumed_role_arn")

    spec_noun = "a kinesis connection"
    type: Literal["kinesis"]
    stream: NonBlank | None = None
    aws_endpoint: str | None = None
    aws_assumed_role_arn: str | None = None


class S3ConnectionSpec(ConnectionSpec):
    """An S3 bucket, read by assuming ``awsAssumedRoleArn`` (recommended) or with ``access_key``
    secrets (``accessKeyId`` and ``accessKeySecret``): one of the two is required."""

    required_properties = ("bucket", "aws_endpoint")
    accepted_secret_types = ("access_key",)

    spec_noun = "an s3 connection"
    type: Literal["s3"]
    bucket: NonBlank | None = None
    aws_endpoint: str | None = None
    prefix: str | None = None
    aws_assumed_role_arn: str | None = None

    def secrets_issues(self, secrets: ConnectionSecrets) -> list[tuple[str, str]]:
        """Besides the type: S3 access keys need their ID as well as the secret."""
        issues = super().secrets_issues(secrets)
        if not issues and isinstance(secrets, AccessKeySecrets) and not secrets.access_key_id:
            issues.append(
                (
                    "secrets.accessKeyId",
                    "S3 access keys need accessKeyId as well as accessKeySecret; set the "
                    "secrets connection's login to the access key ID",
                )
            )
        return issues

    def missing_secrets_issues(self) -> list[tuple[str, str]]:
        """Without secrets, Polaris must be able to assume a role."""
        if self.aws_assumed_role_arn:
            return []
        return [
            (
                "awsAssumedRoleArn",
                "s3 connections need awsAssumedRoleArn (recommended: a role Polaris assumes) or "
                "access_key secrets (accessKeyId and accessKeySecret, through secrets_conn_id); "
                "add one",
            )
        ]


class AzureConnectionSpec(ConnectionSpec):
    """An Azure storage container (``access_key`` or ``sas_token`` secrets)."""

    required_properties = ("storage_account", "container")
    required_secret_types = ("access_key", "sas_token")
    accepted_secret_types = required_secret_types

    spec_noun = "an azure connection"
    type: Literal["azure"]
    storage_account: NonBlank | None = None
    container: NonBlank | None = None
    prefix: str | None = None


class SchemaRegistryConnectionSpec(ConnectionSpec):
    """A Confluent Schema Registry for Avro/Protobuf streams (``basic`` secrets)."""

    required_properties = ("urls",)
    # Newer docs also mention SASL/PLAIN and SCRAM for registries; accept them rather than
    # block a configuration Polaris takes.
    required_secret_types = ("basic", "sasl_plain", "sasl_scram")
    accepted_secret_types = required_secret_types

    spec_noun = "a confluent_schema_registry connection"
    type: Literal["confluent_schema_registry"]
    urls: list[NonBlank] | None = Field(default=None, min_length=1)


class PushStreamingConnectionSpec(ConnectionSpec):
    """A push-streaming connection: events are POSTed to Polaris (no properties, no secrets)."""

    spec_noun = "a push_streaming connection"
    type: Literal["push_streaming"]


AnyConnectionSpec = Annotated[
    KafkaConnectionSpec
    | ConfluentConnectionSpec
    | KinesisConnectionSpec
    | S3ConnectionSpec
    | AzureConnectionSpec
    | SchemaRegistryConnectionSpec
    | PushStreamingConnectionSpec,
    TaggedBy("type", "connection type"),
]
"""Any connection spec, chosen by its ``type``."""

_CONNECTION_ADAPTER: LazyAdapter[ConnectionSpec] = LazyAdapter(AnyConnectionSpec)


def parse_connection_spec(
    data: Mapping[str, Any] | ConnectionSpec,
    *,
    partial: bool = False,
    allow_unknown_fields: AllowUnknownFields = False,
) -> ConnectionSpec:
    """Validate a connection spec given as a dict or a model.

    ``partial=True`` is for PATCH bodies: required properties may be left out. Errors never show
    secret values. Unknown fields are errors unless ``allow_unknown_fields`` is ``True`` or
    lists their dotted paths (``["someNewProperty"]``); those are sent as given, with a warning
    naming each field (never its value).
    """
    if isinstance(data, ConnectionSpec):
        return data
    return validate_spec(
        _CONNECTION_ADAPTER,
        data,
        "connection",
        context={"partial": partial},
        allow_unknown_fields=allow_unknown_fields,
    )


def validate_secrets_for(
    spec: ConnectionSpec,
    secrets: Mapping[str, Any] | ConnectionSecrets | None = None,
    *,
    allow_unknown_fields: AllowUnknownFields = False,
) -> ConnectionSecrets | None:
    """Check that ``secrets`` (or ``spec.secrets`` when not given) suit the connection type.

    Returns the parsed secrets (or None); raises ``PolarisSpecError`` for a secret type the
    connection doesn't take, a field the connection type needs (S3 access keys need
    ``accessKeyId``), or missing secrets where a create needs them (S3: unless
    ``awsAssumedRoleArn`` is set).
    """
    parsed = (
        spec.secrets
        if secrets is None
        else _parse_secrets_of_connection(secrets, allow_unknown_fields)
    )
    issues = spec.missing_secrets_issues() if parsed is None else spec.secrets_issues(parsed)
    if issues:
        raise PolarisSpecError(issues, "connection")
    return parsed


def _parse_secrets_of_connection(
    secrets: Mapping[str, Any] | ConnectionSecrets, allow: AllowUnknownFields
) -> ConnectionSecrets:
    """Parse secrets given apart from the spec, reporting paths as the connection sees them."""
    if not isinstance(allow, bool):
        # The caller lists paths as the connection sees them ("secrets.newCredential").
        allow = [p.removeprefix("secrets.") for p in allow if p.startswith("secrets.")]
    try:
        return parse_connection_secrets(secrets, allow_unknown_fields=allow)
    except PolarisSpecError as exc:
        issues = [(join_path("secrets", path), message) for path, message in exc.errors]
        unknown = [join_path("secrets", path) for path in exc.unknown_fields]
    raise PolarisSpecError(issues, "connection", unknown_fields=unknown)
