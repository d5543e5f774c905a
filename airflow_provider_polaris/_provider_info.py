"""Provider metadata read by Airflow's ProvidersManager: plain data, imports nothing heavy.

``CONN_FIELDS`` and ``UI_FIELD_BEHAVIOUR`` are the single description of the connection form.
Airflow 3.2+ reads them declaratively from ``PROVIDER_INFO``; Airflow 2.11 - 3.1 call
``PolarisHook.get_connection_form_widgets()`` / ``get_ui_field_behaviour()``, which build the
legacy wtforms widgets from these same tables, so the two forms cannot drift apart.

Defaults here must equal the client's defaults (``PolarisConfig``, ``RetryPolicy``); a test
checks that.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_polaris import __version__

CONNECTION_TYPE = "imply_polaris"
HOOK_NAME = "Imply Polaris"
HOOK_CLASS_NAME = "airflow_provider_polaris.hooks.polaris.PolarisHook"

# From polaris-sdk's RegionEnum (AWS, then Azure). Only offered as choices in the form; the hook
# accepts any region name so a new Polaris region works without a release.
POLARIS_REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-central-1",
    "eu-west-1",
    "ap-northeast-2",
    "ap-south-1",
    "eastus",
    "germanywestcentral",
    "westus2",
]
POLARIS_CLOUDS = ["aws", "azure", "gcp"]
AUTH_TYPES = ["api_key", "oauth"]

# Field name -> {"label", "description", "schema": JSON schema}; the Airflow 3.2+ ``conn-fields``
# shape. A ``"null"`` in ``type`` lets a field stay empty; Airflow 3.3's form marks a field without
# it required and refuses Save while it is empty. ``enum`` makes a select (``values_display`` gives
# its options readable labels; its ``"null"`` key labels the empty choice, which 3.3 otherwise
# shows as the text ``null``). ``examples`` makes a text field suggesting the values while
# accepting any other. Airflow 3.3 shows placeholders only for the standard fields, so example
# values go in the descriptions too.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "project_id": {
        "label": "Project ID",
        "description": "Required. The Polaris project ID (a UUID), as shown in the project's "
        "URL in the Polaris console. Example: 7f3c2a1e-9b4d-4c6e-8a2f-1d5e6b7c8a9d.",
        "schema": {"type": "string", "minLength": 1},
    },
    "region": {
        "label": "Region",
        "description": "Polaris region, e.g. us-east-1; any region name is accepted. Required "
        "when Organization is only the organization name or its app.imply.io address.",
        "schema": {"type": ["string", "null"], "examples": POLARIS_REGIONS},
    },
    "cloud": {
        "label": "Cloud provider",
        "description": "Cloud provider of the region: aws, azure or gcp.",
        "schema": {
            "type": ["string", "null"],
            "enum": [None, *POLARIS_CLOUDS],
            "default": "aws",
            "values_display": {"null": "(not set: aws)", **{c: c for c in POLARIS_CLOUDS}},
        },
    },
    "auth_type": {
        "label": "Authentication type",
        "description": "api_key or oauth. Leave empty to infer it: OAuth client credentials "
        "when an OAuth client ID is set, otherwise an API key.",
        "schema": {
            "type": ["string", "null"],
            "enum": [None, *AUTH_TYPES],
            "values_display": {
                "null": "(infer from the OAuth client ID)",
                "api_key": "api_key (API key)",
                "oauth": "oauth (OAuth client credentials)",
            },
        },
    },
    "token_url": {
        "label": "OAuth token URL",
        "description": "OAuth only. Defaults to https://id.imply.io/auth/realms/ORG/protocol/"
        "openid-connect/token for your organization. Example: "
        "https://id.imply.io/auth/realms/myorg/protocol/openid-connect/token.",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": {
        "label": "Read timeout (seconds)",
        "description": "How long one API call may wait for a response.",
        "schema": {"type": ["number", "null"], "default": 60},
    },
    "connect_timeout": {
        "label": "Connect timeout (seconds)",
        "description": "How long opening a connection to Polaris may take.",
        "schema": {"type": ["number", "null"], "default": 10},
    },
    "verify": {
        "label": "Verify TLS certificates",
        "description": "true, false, or the path of a CA bundle (PEM) file on the workers "
        "and triggerers.",
        "schema": {"type": ["string", "null"], "default": "true"},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries of a failed call (429, 5xx, network errors) after the first "
        "attempt. 0 disables retrying.",
        "schema": {"type": ["integer", "null"], "default": 4, "minimum": 0},
    },
    "console_url": {
        "label": "Console URL",
        "description": "Polaris console address for job links. Defaults to "
        "https://ORG.app.imply.io. Example: https://myorg.app.imply.io.",
        "schema": {"type": ["string", "null"]},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {
        "host": "Organization or API URL",
        "login": "OAuth client ID (leave empty for an API key)",
        "password": "API key or OAuth client secret",
    },
    "placeholders": {
        "host": "myorg, myorg.us-east-1.aws.api.imply.io or http://127.0.0.1:8795",
        "login": "OAuth client ID; empty when using an API key",
        "password": "pok_... (API key) or the OAuth client secret",
        "project_id": "00000000-0000-0000-0000-000000000000",
        "region": "us-east-1",
        "token_url": "https://id.imply.io/auth/realms/myorg/protocol/openid-connect/token",
        "console_url": "https://myorg.app.imply.io",
        "extra": '{"project_id": "...", "region": "us-east-1"}',
    },
}

_INTEGRATION = "Imply Polaris"


def _modules(*names: str) -> list[str]:
    return [f"airflow_provider_polaris.{name}" for name in names]


PROVIDER_INFO: dict[str, Any] = {
    "package-name": "airflow-provider-polaris",
    "name": "Imply Polaris",
    "description": "Apache Airflow provider for Imply Polaris, the managed Apache Druid "
    "service: ingestion jobs, streaming, tables, files, events and SQL.",
    "versions": [__version__],
    "integrations": [
        {
            "integration-name": _INTEGRATION,
            "external-doc-url": "https://docs.imply.io/polaris/",
            "tags": ["service"],
        }
    ],
    # hooks.sql (PolarisSqlHook, common-sql) serves the same connection type: PolarisHook called
    # by common-sql's SQL operators returns it (see PolarisHook.__new__).
    "hooks": [
        {"integration-name": _INTEGRATION, "python-modules": _modules("hooks.polaris", "hooks.sql")}
    ],
    "operators": [
        {
            "integration-name": _INTEGRATION,
            "python-modules": _modules(
                "operators.jobs",
                "operators.streaming",
                "operators.connections",
                "operators.tables",
                "operators.files",
                "operators.events",
            ),
        }
    ],
    "sensors": [
        {
            "integration-name": _INTEGRATION,
            "python-modules": _modules("sensors.jobs", "sensors.tables"),
        }
    ],
    "triggers": [{"integration-name": _INTEGRATION, "python-modules": _modules("triggers.jobs")}],
    "connection-types": [
        {
            "connection-type": CONNECTION_TYPE,
            "hook-class-name": HOOK_CLASS_NAME,
            "hook-name": HOOK_NAME,
            "conn-fields": CONN_FIELDS,
            "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
        }
    ],
    "extra-links": ["airflow_provider_polaris.links.PolarisJobLink"],
    # polaris://{org}/{project_id}/{table} (docs/lineage.md): Airflow 3 reads asset-uris,
    # 2.11 dataset-uris; the same normaliser validates the URI on both.
    "asset-uris": [
        {"schemes": ["polaris"], "handler": "airflow_provider_polaris.assets.sanitize_uri"}
    ],
    "dataset-uris": [
        {"schemes": ["polaris"], "handler": "airflow_provider_polaris.assets.sanitize_uri"}
    ],
}
