"""Read the input rows of a job source: uploaded files, inline data, or another table."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_polaris.testing.dataplane.formats import (
    BadRecord,
    FormatError,
    Record,
    apply_schema,
    as_timestamp_row,
    decompress,
    read_records,
)
from airflow_provider_polaris.testing.dataplane.store import TableStore
from airflow_provider_polaris.testing.dataplane.timeutil import ALL_TIME, parse_interval

FileReader = Callable[[str], "bytes | None"]


class SourceError(Exception):
    """The source can't be read at all; ``code`` is the Polaris job error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SourceRows:
    """Parsed input: good rows, messages for unparseable ones, and uncompressed bytes read."""

    rows: list[Record] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    bytes_processed: int = 0


def load_source(spec: Mapping[str, Any], read_file: FileReader, store: TableStore) -> SourceRows:
    """Read a ``source`` object of a batch job or a POLARIS_SOURCE spec."""
    kind = spec.get("type")
    if kind == "table":
        return _table_rows(spec, store)
    if kind == "uploaded":
        files = spec.get("fileList") or []
        if not isinstance(files, list) or not files:
            raise SourceError("cannot_parse_source", "source.fileList must list uploaded files")
        out = SourceRows()
        for name in files:
            data = read_file(str(name))
            if data is None:
                raise SourceError(
                    "cannot_parse_source", f"Uploaded file '{name}' was not found in the project"
                )
            _parse(decompress(str(name), data), spec, out, str(name))
        return out
    if kind == "inline":
        out = SourceRows()
        _parse(str(spec.get("data") or "").encode(), spec, out, "inline data")
        return out
    if kind in ("s3", "azure", "gcs", "url"):
        raise SourceError(
            "could_not_connect_to_source",
            f"The emulator is offline and cannot read {kind} sources"
            f" (connection {spec.get('connectionName')!r}); upload the files instead",
        )
    raise SourceError("cannot_parse_source", f"Source type {kind!r} is not supported for this job")


def _parse(data: bytes, spec: Mapping[str, Any], out: SourceRows, name: str) -> None:
    out.bytes_processed += len(data)
    schema = spec.get("inputSchema")
    try:
        text = data.decode("utf-8", "replace")
        records = list(read_records(text, spec.get("formatSettings"), name))
    except FormatError as exc:
        raise SourceError("cannot_parse_source", str(exc)) from None
    for record in records:
        if isinstance(record, BadRecord):
            out.bad.append(f"{name}: {record.message}")
            continue
        try:
            out.rows.append(apply_schema(record, schema))
        except ValueError as exc:
            out.bad.append(f"{name}: {exc}")


def source_interval(spec: Mapping[str, Any]) -> tuple[int, int]:
    """A table source's ``interval`` (all time when absent)."""
    text = spec.get("interval")
    if not text:
        return ALL_TIME
    try:
        return parse_interval(str(text))
    except ValueError as exc:
        raise SourceError("cannot_parse_source", f"source.interval: {exc}") from None


def _table_rows(spec: Mapping[str, Any], store: TableStore) -> SourceRows:
    start, end = source_interval(spec)
    # The tuple is never mutated, so holding it is the start-of-job snapshot Polaris promises.
    rows = [
        as_timestamp_row(dict(r))
        for r in store.rows(str(spec.get("tableName")))
        if start <= r["__time"] < end
    ]
    size = sum(len(json.dumps(r, default=str)) for r in rows)
    return SourceRows(rows=rows, bytes_processed=size)
