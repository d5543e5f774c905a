"""A job's sources as DuckDB temp tables, created when the job starts (Polaris' snapshot).

Uploaded files and inline data land in a table with one column per ``inputSchema`` field,
typed by its ``dataType`` (:mod:`ingest_load`). A line that isn't a JSON object, or a value
that doesn't convert, is one unparseable row: it is kept aside with its message (``__err``)
and counted against ``maxParseExceptions``. A table source is a copy of the table's rows in
the source interval.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlglot import exp

from airflow_provider_polaris.testing.dataplane.errors import SqlError, UnsupportedError
from airflow_provider_polaris.testing.dataplane.formats import FormatError, decompress
from airflow_provider_polaris.testing.dataplane.ingest_load import field_type, load_source
from airflow_provider_polaris.testing.dataplane.store import TableStore, quote
from airflow_provider_polaris.testing.dataplane.timeutil import ALL_TIME, parse_interval

FileReader = Callable[[str], "bytes | None"]
Node = Any
_serial = itertools.count(1)
PARSE_ERRORS_KEPT = 5  # reasons kept for the job's health


class SourceError(Exception):
    """The source can't be read at all; ``code`` is the Polaris job error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def source_interval(spec: Mapping[str, Any]) -> tuple[int, int]:
    """A table source's ``interval`` (all time when absent)."""
    text = spec.get("interval")
    if not text:
        return ALL_TIME
    try:
        return parse_interval(str(text))
    except ValueError as exc:
        raise SourceError("cannot_parse_source", f"source.interval: {exc}") from None


class Staging:
    """The sources one job reads, as DuckDB temp tables; the hook :mod:`druid_sql` calls for
    each table a SELECT reads. ``empty`` stages typed, empty tables (planning only)."""

    def __init__(
        self,
        store: TableStore,
        read_file: FileReader,
        *,
        empty: bool = False,
        interval: tuple[int, int] = ALL_TIME,
    ) -> None:
        self.store, self.read_file, self.empty, self.interval = store, read_file, empty, interval
        self.made: list[tuple[str, str]] = []  # (TABLE or VIEW, name) to drop
        self.staged: dict[str, str] = {}  # each distinct source is staged once
        self.rows = 0  # good input rows
        self.errors = 0  # unparseable input rows
        self.messages: list[str] = []  # why the first PARSE_ERRORS_KEPT of them failed
        self.bytes = 0
        self.schemaless = False  # a source without inputSchema: columns unknown when empty
        self.declared: dict[str, str] = {}  # a source table's declared column types

    def __call__(self, table: Node) -> None:
        inner = table.this
        original = table.name if isinstance(inner, exp.Identifier) else None
        if isinstance(inner, exp.Anonymous) and str(inner.this).upper() == "TABLE":
            call = inner.expressions[0] if inner.expressions else None
            if not isinstance(call, exp.Anonymous):
                raise UnsupportedError(f"{inner.sql('druid')} is not supported by the emulator")
            alias = table.args.get("alias")
            if alias is not None and alias.args.get("columns"):
                raise UnsupportedError(
                    "EXTEND is not supported; give inputSchema in POLARIS_SOURCE"
                )
            kind = str(call.this).upper()
            args = [_text(arg, kind) for arg in call.expressions]
            name = self._external(kind, args)
        elif isinstance(inner, exp.Identifier):
            if table.db and table.db.lower() != "druid":
                raise SqlError(f"Object '{table.db}.{table.name}' not found")
            name = self._snapshot(table.name)
        else:
            raise UnsupportedError(f"{inner.sql('druid')} is not supported by the emulator")
        table.set("this", exp.to_identifier(name, quoted=True))
        table.set("db", None)
        table.set("catalog", None)
        if original is not None and table.args.get("alias") is None:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(original, quoted=True)))

    def drop(self) -> None:
        """Remove the staged tables."""
        with self.store.lock:
            for kind, name in reversed(self.made):
                self.store.con.execute(f"DROP {kind} IF EXISTS {quote(name)}")
        self.made.clear()

    # --- tables ----------------------------------------------------------------------------

    def _new(self, kind: str, stem: str) -> str:
        name = f"__{stem}_{next(_serial)}"
        self.made.append((kind, name))
        return name

    def sketch_columns(self) -> dict[str, str]:
        """The stored sketch columns (column → kind) of the tables this job reads."""
        tables = [key[len("TABLE:") :] for key in self.staged if key.startswith("TABLE:")]
        return self.store.sketch_columns(tables)

    def _snapshot(self, name: str) -> str:
        key = "TABLE:" + name
        if key in self.staged:
            return self.staged[key]
        if not self.store.exists(name):
            raise SqlError(f"Object '{name}' not found")
        start, end = self.interval
        staged = self._new("TABLE", "snapshot")
        where = f'WHERE "__time" >= epoch_ms({int(start)}) AND "__time" < epoch_ms({int(end)})'
        columns = "*"
        if self.empty:  # planning: columns holding only NULLs so far take their declared type
            typed = [
                f"CAST({quote(c)} AS {field_type({'dataType': self.declared[c]})}) AS {quote(c)}"
                for c in self.store.columns(name)
                if c in self.declared and c != "__time" and self.store.kind(name, c) is None
            ]
            columns = f"* REPLACE ({', '.join(typed)})" if typed else "*"
            where += " LIMIT 0"
        con = self.store.con
        con.execute(
            f"CREATE TEMP TABLE {quote(staged)} AS SELECT {columns} FROM {quote(name)} {where}"
        )
        found = con.execute(
            f"SELECT count(*), coalesce(sum(length(CAST(to_json(x) AS VARCHAR))), 0) "
            f"FROM {quote(staged)} AS x"
        ).fetchone()
        if found:
            self.rows += int(found[0])
            self.bytes += int(found[1])
        self.staged[key] = staged
        return staged

    def _external(self, kind: str, args: list[str]) -> str:
        key = kind + ":" + json.dumps(args)
        if key in self.staged:
            return self.staged[key]
        if kind == "POLARIS_SOURCE" and len(args) == 1:
            spec = _json(args[0], "POLARIS_SOURCE argument")
        elif kind == "EXTERN" and len(args) == 3:
            spec = _extern_spec(args)
        else:
            raise UnsupportedError(
                "Only TABLE(POLARIS_SOURCE('<source JSON>')) is supported as a table function"
            )
        self.staged[key] = name = self.load(spec)
        return name

    def load(self, spec: Mapping[str, Any]) -> str:
        """Stage a ``source`` object of a batch job (or a POLARIS_SOURCE spec); returns the
        name of the staged table of its good rows."""
        kind = spec.get("type")
        if kind == "table":
            return self._snapshot(str(spec.get("tableName") or ""))
        if kind in ("s3", "azure", "gcs", "url"):
            raise SourceError(
                "could_not_connect_to_source",
                f"The emulator is offline and cannot read {kind} sources"
                f" (connection {spec.get('connectionName')!r}); upload the files instead",
            )
        if kind not in ("uploaded", "inline"):
            raise SourceError(
                "cannot_parse_source", f"Source type {kind!r} is not supported for this job"
            )
        schema = [f for f in spec.get("inputSchema") or [] if isinstance(f, Mapping)]
        self.schemaless = self.schemaless or not schema  # planning: columns unknown
        raw = self._new("TABLE", "source")
        payloads = () if self.empty else self._payloads(spec)  # planning: typed, empty
        try:
            load_source(self.store.con, raw, payloads, spec.get("formatSettings"), schema)
        except FormatError as exc:
            raise SourceError("cannot_parse_source", str(exc)) from None
        view = self._new("VIEW", "stage")
        self.store.con.execute(
            f"CREATE TEMP VIEW {quote(view)} AS SELECT * EXCLUDE (__file, __line, __err) "
            f"FROM {quote(raw)} WHERE __err IS NULL"
        )
        good, bad, messages = self.store.con.execute(
            f"SELECT count(*) - count(__err), count(__err), (list(__err ORDER BY __file, __line) "
            f"FILTER (WHERE __err IS NOT NULL))[:{PARSE_ERRORS_KEPT}] FROM {quote(raw)}"
        ).fetchone() or (0, 0, [])
        self.rows, self.errors = self.rows + int(good), self.errors + int(bad)
        self.messages = (self.messages + [str(m) for m in messages or ()])[:PARSE_ERRORS_KEPT]
        return view

    def _payloads(self, spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        """Name and text of each file (or the inline data), counted in ``bytes``."""
        if spec.get("type") == "inline":
            data = str(spec.get("data") or "").encode()
            self.bytes += len(data)
            yield "inline data", data.decode().removeprefix("\ufeff")
            return
        files = spec.get("fileList") or []
        if not isinstance(files, list) or not files:
            raise SourceError("cannot_parse_source", "source.fileList must list uploaded files")
        for name in files:
            stored = self.read_file(str(name))
            if stored is None:
                raise SourceError(
                    "cannot_parse_source", f"Uploaded file '{name}' was not found in the project"
                )
            try:
                data = decompress(str(name), stored)
            except FormatError as exc:
                raise SourceError("cannot_parse_source", str(exc)) from None
            self.bytes += len(data)
            yield str(name), data.decode("utf-8", "replace").removeprefix("\ufeff")


def _text(node: Node, what: str) -> str:
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    raise UnsupportedError(f"{what}'s arguments must be string literals in the emulator")


def _json(text: str, what: str, *, anything: bool = False) -> Any:
    """Parsed JSON text: a JSON object unless ``anything``."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise SqlError(f"{what} is not valid JSON: {exc}") from None
    if not anything and not isinstance(value, dict):
        raise SqlError(f"{what} must be a JSON object")
    return value


def _extern_spec(args: list[str]) -> dict[str, Any]:
    """``EXTERN(inputSource, inputFormat, signature)`` as a Polaris source object."""
    source = _json(args[0], "EXTERN input source")
    fmt = _json(args[1], "EXTERN input format")
    signature = _json(args[2], "EXTERN signature", anything=True)
    fields = [c for c in signature if isinstance(c, Mapping)] if isinstance(signature, list) else []
    kind = str(source.get("type") or "")
    return {
        "type": "inline" if kind == "inline" else kind,
        "data": source.get("data"),
        "fileList": source.get("fileList") or source.get("files"),
        "formatSettings": {**fmt, "format": fmt.get("type") or fmt.get("format")},
        "inputSchema": [{"name": c.get("name"), "dataType": c.get("type")} for c in fields],
    }
