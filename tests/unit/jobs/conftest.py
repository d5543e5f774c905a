"""Fixtures for job tests (helpers live in ``job_helpers.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def emu(polaris_emulator: Any) -> Iterator[Any]:
    """The emulator, reset, with AIRFLOW_CONN_POLARIS_DEFAULT pointing at it."""
    polaris_emulator.reset()
    assert os.environ.get("AIRFLOW_CONN_POLARIS_DEFAULT")
    yield polaris_emulator
