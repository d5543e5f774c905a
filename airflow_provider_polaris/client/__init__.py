"""Imply Polaris REST API client: pure Python + httpx, no Airflow imports.

Start with :class:`PolarisConfig` and :class:`PolarisClient` (or :class:`AsyncPolarisClient`).
"""

from __future__ import annotations

from airflow_provider_polaris.client._core import ApiCall
from airflow_provider_polaris.client.aio import AsyncPolarisClient
from airflow_provider_polaris.client.config import PolarisConfig
from airflow_provider_polaris.client.errors import (
    PolarisApiError,
    PolarisAuthError,
    PolarisBadRequestError,
    PolarisConflictError,
    PolarisError,
    PolarisNotFoundError,
    PolarisRateLimitError,
    PolarisServerError,
    PolarisTimeoutError,
    PolarisTransportError,
)
from airflow_provider_polaris.client.events import PushResult, RateLimitInfo
from airflow_provider_polaris.client.retry import RetryPolicy
from airflow_provider_polaris.client.sync import PolarisClient

__all__ = [
    "ApiCall",
    "AsyncPolarisClient",
    "PolarisApiError",
    "PolarisAuthError",
    "PolarisBadRequestError",
    "PolarisClient",
    "PolarisConfig",
    "PolarisConflictError",
    "PolarisError",
    "PolarisNotFoundError",
    "PolarisRateLimitError",
    "PolarisServerError",
    "PolarisTimeoutError",
    "PolarisTransportError",
    "PushResult",
    "RateLimitInfo",
    "RetryPolicy",
]
