"""``ClosesPolarisClient`` lives in :mod:`airflow_provider_polaris._task` (below operators and
sensors, which both use it); this path re-exports it."""

from airflow_provider_polaris._task import ClosesPolarisClient

__all__ = ["ClosesPolarisClient"]
