"""Open what a task reads from: a local path or an fsspec URL (file uploads and event pushes)."""

from __future__ import annotations

import os
from typing import IO

from airflow_provider_polaris._compat import object_storage_path


def open_source(location: str) -> IO[bytes]:
    """Open a local path or an fsspec URL for streaming binary reads."""
    if "://" in location:
        return object_storage_path(location).open("rb")
    return open(os.path.expanduser(location), "rb")
