"""Connection specs, secrets, and that secret values never leak."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_polaris.models import (
    KafkaConnectionSpec,
    PolarisSpecError,
    parse_connection_secrets,
    parse_connection_spec,
    validate_secrets_for,
)

SECRET = "s3cr3t-VALUE"
ROLE = "arn:aws:iam::123456789012:role/polaris"
KINESIS_ENDPOINT = "kinesis.us-east-1.amazonaws.com"
S3 = {"type": "s3", "bucket": "b", "awsEndpoint": "s3.us-east-1.amazonaws.com"}


def problems(data: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    with pytest.raises(PolarisSpecError) as info:
        parse_connection_spec(data, **kwargs)
    assert SECRET not in str(info.value)
    return dict(info.value.errors)


def secret_problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(PolarisSpecError) as info:
        parse_connection_secrets(data)
    assert SECRET not in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None
    return dict(info.value.errors)


@pytest.mark.parametrize("name", ["", "a" * 65, "has space", "slash/name", "ünïcode", "semi;colon"])
def test_connection_name_rule(name: str) -> None:
    assert "1-64 characters" in problems({"type": "push_streaming", "name": name})["name"]


def test_connection_name_allowed_characters() -> None:
    parse_connection_spec({"type": "push_streaming", "name": "a.B_c-9" + "x" * 57})


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"type": "kafka", "name": "k", "topicName": "t"}, "bootstrapServers"),
        ({"type": "confluent", "name": "c", "bootstrapServers": "b"}, "topicName"),
        ({"type": "kinesis", "name": "k"}, "stream"),
        ({"type": "kinesis", "name": "k", "stream": "s"}, "awsEndpoint"),
        ({"type": "kinesis", "name": "k", "stream": "s"}, "awsAssumedRoleArn"),
        ({"type": "s3", "name": "s"}, "bucket"),
        ({"type": "s3", "name": "s", "bucket": "b"}, "awsEndpoint"),
        ({"type": "azure", "name": "a", "storageAccount": "x"}, "container"),
        ({"type": "confluent_schema_registry", "name": "r"}, "urls"),
    ],
)
def test_required_properties(data: dict[str, Any], path: str) -> None:
    assert "add it" in problems(data)[path]
    # PATCH bodies may carry only what changes.
    parse_connection_spec(data, partial=True)


def test_unknown_connection_type_lists_types() -> None:
    message = problems({"type": "msk", "name": "m"})["type"]
    assert "'msk' is not a known connection type" in message and "kafka" in message


def test_secret_type_must_suit_connection() -> None:
    found = problems(
        {
            "type": "kafka",
            "name": "k",
            "bootstrapServers": "b",
            "topicName": "t",
            "secrets": {"type": "basic", "username": "u", "password": SECRET},
        }
    )
    assert found == {
        "secrets.type": "kafka connections don't take 'basic' secrets; use "
        '"sasl_plain", "sasl_scram" or "aws_iam"'
    }
    found = problems(
        {
            "type": "kinesis",
            "name": "k",
            "stream": "s",
            "awsEndpoint": KINESIS_ENDPOINT,
            "awsAssumedRoleArn": ROLE,
            "secrets": {"type": "access_key", "accessKeySecret": SECRET},
        }
    )
    assert "take no secrets" in found["secrets"]


@pytest.mark.parametrize(
    ("connection", "secrets", "ok"),
    [
        ({"type": "kafka", "bootstrapServers": "b", "topicName": "t"}, None, False),
        ({"type": "kafka", "bootstrapServers": "b", "topicName": "t"}, "sasl_scram", True),
        ({"type": "confluent", "bootstrapServers": "b", "topicName": "t"}, "confluent", True),
        ({"type": "azure", "storageAccount": "a", "container": "c"}, None, False),
        ({"type": "azure", "storageAccount": "a", "container": "c"}, "sas_token", True),
        ({"type": "azure", "storageAccount": "a", "container": "c"}, "sasl_plain", False),
        ({"type": "confluent_schema_registry", "urls": ["https://r"]}, "basic", True),
        ({"type": "confluent_schema_registry", "urls": ["https://r"]}, None, False),
        ({**S3, "awsAssumedRoleArn": ROLE}, None, True),
        (S3, None, False),  # neither a role nor access keys
        (S3, "access_key", True),
        (S3, "access_key_without_id", False),
        ({"type": "azure", "storageAccount": "a", "container": "c"}, "access_key_without_id", True),
        (S3, "access_key_empty", False),
        (
            {
                "type": "kinesis",
                "stream": "s",
                "awsEndpoint": KINESIS_ENDPOINT,
                "awsAssumedRoleArn": ROLE,
            },
            None,
            True,
        ),
        ({"type": "push_streaming"}, "basic", False),
    ],
)
def test_validate_secrets_for(connection: dict[str, Any], secrets: str | None, ok: bool) -> None:
    spec = parse_connection_spec({**connection, "name": "c"})
    samples = {
        "sasl_plain": {"type": "sasl_plain", "username": "u", "password": SECRET},
        "sasl_scram": {
            "type": "sasl_scram",
            "mechanism": "SCRAM-SHA-256",
            "username": "u",
            "password": SECRET,
        },
        "confluent": {"type": "confluent", "key": "k", "secret": SECRET},
        "sas_token": {"type": "sas_token", "sasToken": "?" + SECRET},
        "basic": {"type": "basic", "username": "u", "password": SECRET},
        "access_key": {"type": "access_key", "accessKeyId": "AKIA", "accessKeySecret": SECRET},
        "access_key_without_id": {"type": "access_key", "accessKeySecret": SECRET},
        "access_key_empty": {"type": "access_key", "accessKeyId": "AKIA", "accessKeySecret": ""},
    }
    given = samples[secrets] if secrets else None
    if ok:
        result = validate_secrets_for(spec, given)
        assert (result.type if result else None) == (given or {}).get("type")
    else:
        with pytest.raises(PolarisSpecError) as info:
            validate_secrets_for(spec, given)
        assert info.value.paths[0].startswith(("secrets", "awsAssumedRoleArn"))
        assert SECRET not in str(info.value)


def test_s3_needs_a_role_or_complete_access_keys() -> None:
    spec = parse_connection_spec({**S3, "name": "s"})
    with pytest.raises(PolarisSpecError) as info:
        validate_secrets_for(spec, None)
    assert info.value.paths == ["awsAssumedRoleArn"]
    assert "or access_key secrets" in str(info.value)
    with pytest.raises(PolarisSpecError) as info:
        validate_secrets_for(spec, {"type": "access_key", "accessKeySecret": SECRET})
    assert info.value.paths == ["secrets.accessKeyId"]
    assert "login" in str(info.value) and SECRET not in str(info.value)
    embedded = {**S3, "name": "s", "secrets": {"type": "access_key", "accessKeySecret": SECRET}}
    assert "secrets.accessKeyId" in problems(embedded)


def test_required_secret_types_exposed() -> None:
    assert KafkaConnectionSpec.required_secret_types == ("sasl_plain", "sasl_scram", "aws_iam")
    spec = parse_connection_spec({**S3, "name": "s"})
    assert spec.required_secret_types == ()
    assert spec.accepted_secret_types == ("access_key",)


def test_embedded_secrets_checked_by_validate_secrets_for() -> None:
    spec = parse_connection_spec(
        {
            "type": "kafka",
            "name": "k",
            "bootstrapServers": "b",
            "topicName": "t",
            "secrets": {"type": "sasl_plain", "username": "u", "password": SECRET},
        }
    )
    assert validate_secrets_for(spec) is spec.secrets


class TestSecrets:
    def test_values_hidden_from_repr_str_and_dump(self) -> None:
        secrets = parse_connection_secrets(
            {"type": "basic", "username": "u", "password": SECRET, "futureToken": SECRET},
            allow_unknown_fields=["futureToken"],
        )
        for text in (
            repr(secrets),
            str(secrets),
            str(secrets.model_dump()),
            secrets.model_dump_json(),
        ):
            assert SECRET not in text
        assert secrets.to_api() == {
            "type": "basic",
            "username": "u",
            "password": SECRET,
            "futureToken": SECRET,
        }

    def test_values_hidden_inside_a_connection(self) -> None:
        spec = parse_connection_spec(
            {
                "type": "kafka",
                "name": "k",
                "bootstrapServers": "b",
                "topicName": "t",
                "ssl": {
                    "keystore": {
                        "type": "pem",
                        "certificates": "C",
                        "key": SECRET,
                        "keyPassword": SECRET,
                    }
                },
                "secrets": {"type": "sasl_plain", "username": "u", "password": SECRET},
            }
        )
        assert SECRET not in repr(spec) and SECRET not in str(spec)
        body = spec.to_api()
        assert body["secrets"]["password"] == SECRET
        assert body["ssl"]["keystore"]["key"] == SECRET

    @pytest.mark.parametrize(
        ("data", "path"),
        [
            ({"type": "sas_token", "sasToken": SECRET}, "sasToken"),
            (
                {"type": "sasl_scram", "mechanism": SECRET, "username": "u", "password": "p"},
                "mechanism",
            ),
            ({"type": "sasl_plain", "username": "u", "password": 12345}, "password"),
            ({"type": "basic", "username": "u"}, "password"),
            ({"type": "aws_iam", "awsAssumedRoleArn": SECRET}, "awsAssumedRoleArn"),
        ],
    )
    def test_errors_name_the_field_not_the_value(self, data: dict[str, Any], path: str) -> None:
        assert path in secret_problems(data)

    def test_scram_mechanisms_listed(self) -> None:
        found = secret_problems(
            {"type": "sasl_scram", "mechanism": "SCRAM", "username": "u", "password": "p"}
        )
        assert found["mechanism"] == "must be one of 'SCRAM-SHA-256' or 'SCRAM-SHA-512'"

    def test_sas_token_advice(self) -> None:
        message = secret_problems({"type": "sas_token", "sasToken": SECRET})["sasToken"]
        assert "must start with '?'" in message

    def test_empty_credentials_are_refused(self) -> None:
        found = secret_problems({"type": "sasl_plain", "username": "u", "password": ""})
        assert found == {
            "password": "must not be empty; set the credential in the secrets connection"
        }
        assert "sasToken" in secret_problems({"type": "sas_token", "sasToken": ""})

    def test_fields_of_each_secret_type(self) -> None:
        from airflow_provider_polaris.models.secrets import secret_fields

        assert secret_fields("sasl_scram") == ("mechanism", "username", "password")
        assert secret_fields("access_key") == ("accessKeyId", "accessKeySecret")
        assert secret_fields("aws_iam") == ("awsAssumedRoleArn",)
        assert secret_fields("nope") == ()

    def test_unknown_secret_type(self) -> None:
        message = secret_problems({"type": "oauth", "token": SECRET})["type"]
        assert "sasl_plain" in message and "sas_token" in message

    def test_connection_error_hides_embedded_secret_values(self) -> None:
        found = problems(
            {
                "type": "kafka",
                "name": "k",
                "bootstrapServers": "b",
                "topicName": "t",
                "secrets": {
                    "type": "sasl_scram",
                    "mechanism": SECRET,
                    "username": "u",
                    "password": SECRET,
                },
            }
        )
        assert "secrets.mechanism" in found


def test_direct_construction_errors_hide_values() -> None:
    from pydantic import ValidationError

    from airflow_provider_polaris.models import SasTokenSecrets

    with pytest.raises(ValidationError) as info:
        SasTokenSecrets(type="sas_token", sas_token=SECRET)  # type: ignore[arg-type]
    assert SECRET not in str(info.value)
    with pytest.raises(ValidationError) as info:
        KafkaConnectionSpec(
            type="kafka",
            name="k",
            ssl={"keystore": {"key": {"nested": SECRET}}},  # type: ignore[arg-type]
        )
    assert SECRET not in str(info.value)
