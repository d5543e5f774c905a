"""Reliability tests reuse ``tests/unit/jobs/job_helpers.py`` and the emulator fixture."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit" / "jobs"))


@pytest.fixture
def emu(polaris_emulator: Any) -> Iterator[Any]:
    """The emulator, reset, with AIRFLOW_CONN_POLARIS_DEFAULT pointing at it."""
    polaris_emulator.reset()
    yield polaris_emulator
