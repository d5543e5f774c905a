"""Local Polaris emulator: an offline Imply Polaris API for demos, tests and users' DAG tests.

``from airflow_provider_polaris.testing import PolarisEmulator`` — imported lazily so that the
pytest plugin (loaded by every pytest run) stays cheap and never needs starlette or uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import PolarisEmulator

__all__ = ["PolarisEmulator"]


def __getattr__(name: str) -> Any:
    if name == "PolarisEmulator":
        from .server import PolarisEmulator

        return PolarisEmulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
