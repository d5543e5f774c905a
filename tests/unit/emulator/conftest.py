"""Emulator tests talk plain HTTP (httpx) to the session emulator from the pytest plugin."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_polaris.testing.server import PolarisEmulator


@pytest.fixture
def emu(polaris_emulator: PolarisEmulator) -> PolarisEmulator:
    """The plugin's emulator on a manual clock: jobs move only when a test advances time."""
    polaris_emulator.configure(manual_clock=True, time_scale=1.0)
    return polaris_emulator


@pytest.fixture
def api(emu: PolarisEmulator) -> Iterator[httpx.Client]:
    """An httpx client on the project URL with the API key as HTTP Basic (``key:``)."""
    with httpx.Client(
        base_url=f"{emu.base_url}/v1/projects/{emu.project_id}", auth=(emu.api_key, ""), timeout=10
    ) as client:
        yield client
