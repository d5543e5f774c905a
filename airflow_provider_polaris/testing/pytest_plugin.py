"""pytest plugin (entry point ``pytest11``): the ``polaris_emulator`` fixtures.

Loaded by every pytest run in an environment where the provider is installed, so it imports
nothing heavy: the emulator (starlette, uvicorn) is imported inside the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_polaris.testing.server import PolarisEmulator

_TIME_SCALE_INI = "polaris_emulator_time_scale"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ini option that sets the session emulator's time scale."""
    parser.addini(
        _TIME_SCALE_INI,
        "time scale of the polaris_emulator fixture (default 0.01: a batch job takes ~40 ms)",
        default="0.01",
    )


@pytest.fixture(scope="session")
def polaris_emulator_server(pytestconfig: pytest.Config) -> Iterator[PolarisEmulator]:
    """One Polaris emulator for the whole session (prefer ``polaris_emulator``, which resets it)."""
    from airflow_provider_polaris.testing.server import PolarisEmulator

    time_scale = float(pytestconfig.getini(_TIME_SCALE_INI) or 0.01)
    emulator = PolarisEmulator(time_scale=time_scale)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def polaris_emulator(
    polaris_emulator_server: PolarisEmulator, monkeypatch: pytest.MonkeyPatch
) -> PolarisEmulator:
    """The session emulator, reset for this test; ``AIRFLOW_CONN_POLARIS_DEFAULT`` points at it."""
    polaris_emulator_server.reset()
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", polaris_emulator_server.airflow_connection())
    return polaris_emulator_server
