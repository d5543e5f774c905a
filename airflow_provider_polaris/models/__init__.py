"""Pydantic v2 models of Polaris specs: jobs, sources, formats, connections + secrets, tables.

Specs may be written as dicts (snake_case or camelCase keys) or as models. ``parse_*`` validates
them before any request and raises ``PolarisSpecError`` naming each bad field's wire path and the
fix; ``.to_api()`` renders the camelCase wire dict. Unknown fields are kept and sent verbatim.
No Airflow imports here.
"""

from __future__ import annotations

from airflow_provider_polaris.models.common import ColumnMapping, InputField, JobTarget
from airflow_provider_polaris.models.connections import (
    AzureConnectionSpec,
    ConfluentConnectionSpec,
    ConnectionSpec,
    KafkaConnectionSpec,
    KinesisConnectionSpec,
    PushStreamingConnectionSpec,
    S3ConnectionSpec,
    SchemaRegistryConnectionSpec,
    parse_connection_spec,
    validate_secrets_for,
)
from airflow_provider_polaris.models.errors import PolarisSpecError
from airflow_provider_polaris.models.jobs import (
    BatchJobSpec,
    DeleteDataJobSpec,
    DropTableJobSpec,
    JobSpec,
    RestoreDataJobSpec,
    SqlJobSpec,
    StreamingJobSpec,
    parse_job_spec,
)
from airflow_provider_polaris.models.secrets import (
    AccessKeySecrets,
    AwsIamSecrets,
    BasicSecrets,
    ConfluentSecrets,
    ConnectionSecrets,
    SaslPlainSecrets,
    SaslScramSecrets,
    SasTokenSecrets,
    parse_connection_secrets,
)
from airflow_provider_polaris.models.tables import TableSpec, parse_table_spec

__all__ = [
    "AccessKeySecrets",
    "AwsIamSecrets",
    "AzureConnectionSpec",
    "BasicSecrets",
    "BatchJobSpec",
    "ColumnMapping",
    "ConfluentConnectionSpec",
    "ConfluentSecrets",
    "ConnectionSecrets",
    "ConnectionSpec",
    "DeleteDataJobSpec",
    "DropTableJobSpec",
    "InputField",
    "JobSpec",
    "JobTarget",
    "KafkaConnectionSpec",
    "KinesisConnectionSpec",
    "PolarisSpecError",
    "PushStreamingConnectionSpec",
    "RestoreDataJobSpec",
    "S3ConnectionSpec",
    "SasTokenSecrets",
    "SaslPlainSecrets",
    "SaslScramSecrets",
    "SchemaRegistryConnectionSpec",
    "SqlJobSpec",
    "StreamingJobSpec",
    "TableSpec",
    "parse_connection_secrets",
    "parse_connection_spec",
    "parse_job_spec",
    "parse_table_spec",
    "validate_secrets_for",
]
