"""PolarisConfig: URL building, validation, secret hiding."""

from __future__ import annotations

import pytest
from polaris_client_harness import API_KEY, CLIENT_SECRET, PROJECT

from airflow_provider_polaris.client import PolarisConfig
from airflow_provider_polaris.client.config import quote_segment


def test_from_parts_builds_regional_url() -> None:
    config = PolarisConfig.from_parts(
        org="acme", region="eu-central-1", project_id=PROJECT, api_key=API_KEY
    )
    assert config.base_url == "https://acme.eu-central-1.aws.api.imply.io"
    assert config.project_url == f"https://acme.eu-central-1.aws.api.imply.io/v1/projects/{PROJECT}"
    assert config.auth_kind == "api_key"
    assert config.org == "acme"
    assert config.connect_timeout == 10 and config.read_timeout == 60 and config.verify is True


def test_from_parts_other_cloud() -> None:
    config = PolarisConfig.from_parts(
        org="acme", region="eastus", cloud="azure", project_id="p", api_key=API_KEY
    )
    assert config.base_url == "https://acme.eastus.azure.api.imply.io"


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8080", "http://127.0.0.1:8080/", "  http://127.0.0.1:8080//"]
)
def test_base_url_override_with_or_without_trailing_slash(base_url: str) -> None:
    config = PolarisConfig(project_id="p1", base_url=base_url, api_key=API_KEY)
    assert config.project_url == "http://127.0.0.1:8080/v1/projects/p1"
    assert config.api_url == "http://127.0.0.1:8080/v1"


def test_base_url_path_prefix_is_kept() -> None:
    config = PolarisConfig(project_id="p1", base_url="https://proxy/polaris/", api_key=API_KEY)
    assert config.project_url == "https://proxy/polaris/v1/projects/p1"


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("Koalas Rollup", "Koalas%20Rollup"),
        ("dir/sub/file.json.gz", "dir%2Fsub%2Ffile.json.gz"),
        ("données été", "donn%C3%A9es%20%C3%A9t%C3%A9"),
        ("a?b#c%d&e+f", "a%3Fb%23c%25d%26e%2Bf"),
        ("safe-._~chars", "safe-._~chars"),
    ],
)
def test_quote_segment(raw: str, encoded: str) -> None:
    assert quote_segment(raw) == encoded


def test_oauth_token_url_defaults_from_org() -> None:
    config = PolarisConfig.from_parts(
        org="acme", region="us-east-1", project_id="p", client_id="cid", client_secret="s"
    )
    assert config.auth_kind == "oauth"
    assert config.token_url == "https://id.imply.io/auth/realms/acme/protocol/openid-connect/token"


def test_org_is_derived_from_imply_host() -> None:
    config = PolarisConfig(
        project_id="p",
        base_url="https://acme.us-east-1.aws.api.imply.io",
        client_id="cid",
        client_secret="s",
    )
    assert config.org == "acme"
    assert config.token_url is not None and "/realms/acme/" in config.token_url


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"project_id": ""}, "project_id"),
        ({"project_id": "   "}, "project_id"),
        ({"api_key": None}, "api_key"),
        ({"client_id": "cid", "client_secret": "s"}, "api_key"),
        ({"api_key": None, "client_id": "cid"}, "client_secret"),
        ({"api_key": None, "client_secret": "s"}, "client_id"),
        ({"api_key": None, "client_id": "c", "client_secret": "s"}, "token_url"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"read_timeout": -1}, "read_timeout"),
        ({"max_connections": 0}, "max_connections"),
        ({"max_connections": 2.5}, "max_connections"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"base_url": "https://user:pw@host"}, "base_url"),
        ({"base_url": ""}, "base_url"),
    ],
)
def test_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    values: dict[str, object] = {
        "project_id": "p",
        "base_url": "http://localhost:1",
        "api_key": "k",
    }
    values.update(kwargs)
    with pytest.raises(ValueError, match=field):
        PolarisConfig(**values)  # type: ignore[arg-type]


def test_repr_hides_secrets() -> None:
    key_config = PolarisConfig(project_id="p", base_url="http://h", api_key=API_KEY)
    oauth_config = PolarisConfig(
        project_id="p",
        base_url="http://h",
        client_id="cid",
        client_secret=CLIENT_SECRET,
        token_url="http://h/token",
    )
    for config in (key_config, oauth_config):
        for text in (repr(config), str(config), f"{config}"):
            assert API_KEY not in text and CLIENT_SECRET not in text
            assert "***" in text


def test_config_is_frozen() -> None:
    config = PolarisConfig(project_id="p", base_url="http://h", api_key="k")
    with pytest.raises(AttributeError):
        config.project_id = "q"  # type: ignore[misc]


def test_console_urls() -> None:
    cloud = PolarisConfig.from_parts(org="acme", region="us-east-1", project_id="p", api_key="k")
    assert cloud.job_console_url("j-1") == "https://acme.app.imply.io/projects/p/jobs/j-1"
    local = PolarisConfig(project_id="p", base_url="http://127.0.0.1:9/", api_key="k")
    assert local.job_console_url("j-1") == "http://127.0.0.1:9/console/projects/p/jobs/j-1"
    custom = PolarisConfig(
        project_id="p", base_url="http://h", api_key="k", console_base_url="https://ui.example/"
    )
    assert custom.job_console_url("j 1") == "https://ui.example/projects/p/jobs/j%201"


def test_client_package_imports_no_airflow() -> None:
    import subprocess
    import sys

    code = (
        "import sys, airflow_provider_polaris.client; "
        "assert not [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
