"""Apache Airflow provider for Imply Polaris, the managed Apache Druid service."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow's ProvidersManager reads (a plain dict, no imports)."""
    from airflow_provider_polaris._provider_info import PROVIDER_INFO

    return PROVIDER_INFO
