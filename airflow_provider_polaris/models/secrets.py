"""Connection secrets (discriminated on ``type``); values never appear in repr, str or errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, SecretStr, field_validator, model_validator

from airflow_provider_polaris.models._base import (
    LazyAdapter,
    PolarisModel,
    Secret,
    TaggedBy,
    validate_spec,
)
from airflow_provider_polaris.models._checks import NonBlank
from airflow_provider_polaris.models._strict import AllowUnknownFields
from airflow_provider_polaris.models.errors import SpecIssue


class ConnectionSecrets(PolarisModel):
    """Base of every secrets object; ``parse_connection_secrets`` returns a subclass.

    Passwords, keys and tokens are ``SecretStr``; unknown fields are masked in ``repr`` too,
    since they may be credentials. ``to_api()`` is the only place values are revealed.
    """

    # Direct construction raises pydantic's ValidationError: keep values out of its text too.
    model_config = ConfigDict(hide_input_in_errors=True)
    _mask_extras: ClassVar[bool] = True

    type: str

    @model_validator(mode="after")
    def _no_empty_secret(self) -> ConnectionSecrets:
        # Polaris refuses an empty password, key or token; say so before any request.
        empty = [
            (field.alias or name, "must not be empty; set the credential in the secrets connection")
            for name, field in type(self).model_fields.items()
            if isinstance(value := getattr(self, name), SecretStr) and not value.get_secret_value()
        ]
        if empty:
            raise SpecIssue(*empty)
        return self


class SaslPlainSecrets(ConnectionSecrets):
    """SASL/PLAIN username and password (Kafka, Confluent: API key and secret)."""

    spec_noun = "sasl_plain secrets"
    type: Literal["sasl_plain"]
    username: NonBlank
    password: Secret


class SaslScramSecrets(ConnectionSecrets):
    """SASL/SCRAM with ``mechanism`` SCRAM-SHA-256 or SCRAM-SHA-512."""

    spec_noun = "sasl_scram secrets"
    type: Literal["sasl_scram"]
    mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"]
    username: NonBlank
    password: Secret


class AwsIamSecrets(ConnectionSecrets):
    """An IAM role Polaris assumes (MSK IAM auth)."""

    spec_noun = "aws_iam secrets"
    type: Literal["aws_iam"]
    aws_assumed_role_arn: NonBlank

    @field_validator("aws_assumed_role_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not value.startswith("arn:"):
            raise ValueError('must be an IAM role ARN such as "arn:aws:iam::123456789012:role/x"')
        return value


class AccessKeySecrets(ConnectionSecrets):
    """An access key (S3: ``accessKeyId`` + ``accessKeySecret``; Azure: ``accessKeySecret``).

    ``accessKeyId`` is optional here because Azure takes none; S3 connections require it
    (``S3ConnectionSpec`` checks).
    """

    spec_noun = "access_key secrets"
    type: Literal["access_key"]
    access_key_id: str | None = None
    access_key_secret: Secret


class SasTokenSecrets(ConnectionSecrets):
    """An Azure shared access signature, including its leading ``?``."""

    spec_noun = "sas_token secrets"
    type: Literal["sas_token"]
    sas_token: Secret

    @field_validator("sas_token")
    @classmethod
    def _leading_question_mark(cls, value: Any) -> Any:
        if not value.get_secret_value().startswith("?"):
            # The message must not quote the token.
            raise SpecIssue(("", "must start with '?'; copy the whole SAS token including the ?"))
        return value


class BasicSecrets(ConnectionSecrets):
    """HTTP Basic credentials (schema registry: API key and secret)."""

    spec_noun = "basic secrets"
    type: Literal["basic"]
    username: NonBlank
    password: Secret


class ConfluentSecrets(ConnectionSecrets):
    """Deprecated Confluent Cloud ``{key, secret}``; equivalent to ``sasl_plain``."""

    spec_noun = "confluent secrets"
    type: Literal["confluent"]
    key: Secret
    secret: Secret


AnyConnectionSecrets = Annotated[
    SaslPlainSecrets
    | SaslScramSecrets
    | AwsIamSecrets
    | AccessKeySecrets
    | SasTokenSecrets
    | BasicSecrets
    | ConfluentSecrets,
    TaggedBy("type", "secrets type"),
]
"""Any secrets object, chosen by its ``type``."""

_SECRETS_ADAPTER: LazyAdapter[ConnectionSecrets] = LazyAdapter(AnyConnectionSecrets)

_SECRETS_BY_TYPE: dict[str, type[ConnectionSecrets]] = {
    "sasl_plain": SaslPlainSecrets,
    "sasl_scram": SaslScramSecrets,
    "aws_iam": AwsIamSecrets,
    "access_key": AccessKeySecrets,
    "sas_token": SasTokenSecrets,
    "basic": BasicSecrets,
    "confluent": ConfluentSecrets,
}
SECRET_TYPES = tuple(_SECRETS_BY_TYPE)
"""Every secrets ``type`` Polaris knows."""


def secret_fields(secret_type: str) -> tuple[str, ...]:
    """The wire names of the fields of one secrets type, without ``type`` (empty: unknown).

    ``secret_fields("sasl_scram") == ("mechanism", "username", "password")``
    """
    model = _SECRETS_BY_TYPE.get(secret_type)
    if model is None:
        return ()
    return tuple(
        field.alias or name for name, field in model.model_fields.items() if name != "type"
    )


def parse_connection_secrets(
    data: Mapping[str, Any] | ConnectionSecrets,
    *,
    allow_unknown_fields: AllowUnknownFields = False,
) -> ConnectionSecrets:
    """Validate connection secrets given as a dict or a model; errors never show values.

    Unknown fields are errors unless ``allow_unknown_fields`` allows them (``True`` or their
    paths, e.g. ``["newCredential"]``); the warning for each names the field, never its value.
    """
    if isinstance(data, ConnectionSecrets):
        return data
    return validate_spec(
        _SECRETS_ADAPTER,
        data,
        "connection secrets",
        show_input=False,
        allow_unknown_fields=allow_unknown_fields,
    )
