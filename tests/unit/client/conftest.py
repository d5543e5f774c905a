"""Fixtures for client tests (helpers live in ``polaris_client_harness``)."""

from __future__ import annotations

import pytest
from polaris_client_harness import FakeServer, Harness


@pytest.fixture(params=["sync", "async"])
def harness(request: pytest.FixtureRequest) -> Harness:
    """Runs a test body against the sync and the async client."""
    return Harness(request.param)


@pytest.fixture
def server(harness: Harness) -> FakeServer:
    """The harness' scripted fake server."""
    return harness.server
