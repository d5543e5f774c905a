"""``serve --data-dir DIR``: what survives a restart of the emulator.

Kept: tables (definitions and rows), uploaded files and connections (with the secrets set on
them: the directory is for local testing). Not kept: jobs (history and running ones, so a
streaming job must be started again), async query statements, OAuth tokens, the request log,
faults and scripted fates.

Rows live in ``DIR/rows.duckdb`` (appends are buffered until their table is next read, and
flushed at the latest on stop); the rest is written to ``DIR/state.json`` and ``DIR/files/``
when the emulator stops (Ctrl-C, SIGTERM or :meth:`PolarisEmulator.stop`). A killed process
loses what was written since its last clean stop.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"
ROWS_FILE = "rows.duckdb"
_FILES = "files"


def rows_file(data_dir: str) -> str:
    """The DuckDB file holding the rows (the directory is created)."""
    os.makedirs(data_dir, exist_ok=True)
    return os.path.join(data_dir, ROWS_FILE)


def save(state: Any, data_dir: str) -> None:
    """Write the tables, files and connections of ``state`` (and flush its rows)."""
    root = Path(data_dir)
    (root / _FILES).mkdir(parents=True, exist_ok=True)
    with state.lock:
        state.dataplane.flush()
        files = {}
        for index, (name, (content, meta)) in enumerate(sorted(state.files.items())):
            stored = f"{index:06d}.bin"
            (root / _FILES / stored).write_bytes(content)
            files[name] = {"stored": stored, "meta": meta}
        payload = {"tables": state.tables, "connections": state.connections, "files": files}
        text = json.dumps(payload, indent=1, sort_keys=True)
    temporary = root / (STATE_FILE + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(root / STATE_FILE)  # atomic: a crash mid-save keeps the previous state
    for old in (root / _FILES).iterdir():
        if old.name not in {f["stored"] for f in files.values()}:
            old.unlink()


def restore(state: Any, data_dir: str) -> None:
    """Load what :func:`save` wrote into a fresh ``state`` (nothing when never saved)."""
    root = Path(data_dir)
    if not (root / STATE_FILE).is_file():
        return
    payload = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    with state.lock:
        state.tables.update(payload.get("tables") or {})
        state.connections.update(payload.get("connections") or {})
        for name, entry in (payload.get("files") or {}).items():
            content = (root / _FILES / entry["stored"]).read_bytes()
            state.files[name] = (content, entry["meta"])
