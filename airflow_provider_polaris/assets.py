"""Polaris tables as Airflow Assets (Datasets on Airflow 2.11): ``polaris://{org}/{project_id}/{table}``.

The URI names one table of one project: ``org`` is the organization (for a connection given as a
base URL, such as the emulator's ``http://127.0.0.1:8795``, the URL's ``host:port``), then the
project ID and the table name, percent-encoded (``"My Table"`` -> ``My%20Table``). The provider
registers the ``polaris`` scheme with :func:`sanitize_uri` (``asset-uris`` on 3.x,
``dataset-uris`` on 2.11), so Airflow normalises and validates every ``polaris://`` URI a DAG
declares. Imports nothing heavy: DAG files may import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, quote, unquote, urlsplit

if TYPE_CHECKING:
    from airflow_provider_polaris.client.config import PolarisConfig

SCHEME = "polaris"

__all__ = ["SCHEME", "alias_name", "org_of", "polaris_asset", "sanitize_uri", "table_uri"]

# The AssetAlias a job operator declares as its outlet (see operators/_lineage.py).
ALIAS_PREFIX = "polaris-outlet:"


def alias_name(dag_id: str | None, task_id: str) -> str:
    """The ``AssetAlias`` a task emits its table's event through (unique per DAG and task)."""
    return f"{ALIAS_PREFIX}{dag_id}.{task_id}" if dag_id else f"{ALIAS_PREFIX}{task_id}"


def _segment(value: str) -> str:
    # Encode everything but unreserved characters, once: unquote first so that an already
    # encoded name ("My%20Table") and the raw one ("My Table") give the same URI.
    return quote(unquote(value), safe="")


def table_uri(org: str, project_id: str, table: str) -> str:
    """The Asset URI of ``table`` in ``project_id`` of ``org`` (normalised, see module doc)."""
    for field, value in (("org", org), ("project_id", project_id), ("table", table)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"polaris asset URI: {field} must be a non-empty string")
    return (
        f"{SCHEME}://{org.strip().lower()}/{_segment(project_id.strip()).lower()}/{_segment(table)}"
    )


def org_of(config: PolarisConfig) -> str:
    """The URI's ``org`` for a connection: the organization, else the base URL's ``host:port``."""
    if config.org:
        return config.org.lower()
    return (urlsplit(config.base_url).netloc or config.base_url).lower()


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``polaris://``: validate and normalise.

    Lower-cases the organization and project ID, percent-encodes the table name once, drops a
    trailing slash, query and fragment. Raises ``ValueError`` (Airflow shows it at parse time)
    when the URI is not ``polaris://{org}/{project_id}/{table}``.
    """
    parts = uri.path.removeprefix("/").removesuffix("/").split("/")
    if not uri.netloc or len(parts) != 2 or not all(parts):
        raise ValueError(
            f"polaris asset URI {uri.geturl()!r} must be polaris://ORG/PROJECT_ID/TABLE "
            "(the table name percent-encoded); build it with "
            "airflow_provider_polaris.assets.table_uri(org, project_id, table)"
        )
    project, table = parts
    path = f"/{_segment(project).lower()}/{_segment(table)}"
    return SplitResult(uri.scheme.lower(), uri.netloc.lower(), path, "", "")


def polaris_asset(org: str, project_id: str, table: str, **kwargs: Any) -> Any:
    """An ``Asset`` (``Dataset`` on 2.11) for the table, for ``schedule=[...]`` or ``outlets``."""
    from airflow_provider_polaris._compat import Asset

    return Asset(table_uri(org, project_id, table), **kwargs)
