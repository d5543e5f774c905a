"""Table rows held in an embedded DuckDB (in memory), one DuckDB table per Polaris table.

``__time`` is a TIMESTAMP; the other columns are typed from the values written: BIGINT, DOUBLE,
VARCHAR or JSON, widened when a later write doesn't fit (long + double is DOUBLE; any other
mix is VARCHAR, as Druid's string columns). A column that has only seen NULLs may take any type.
Queries read these tables directly (:mod:`duck`), so nothing is copied per query.

Writers hand over a DuckDB SELECT (:meth:`TableStore.insert_select`), so rows never pass
through Python. Rows are kept in time order (equal times keep arrival order): a write that
starts before the table's last time re-sorts the table once. Every DuckDB call holds one lock:
a DuckDB connection must not be used by two threads at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import duckdb

from airflow_provider_polaris.testing.dataplane.druid_functions import MACROS, sketch_field

_SETTINGS = (
    "SET integer_division = true",  # Druid: long / long stays a long
    "SET error_on_division_by_zero = false",  # x / 0 is NULL
    "SET TimeZone = 'UTC'",
    "SET default_null_order = 'nulls_first_on_asc_last_on_desc'",  # NULL sorts lowest
)


class _Table:
    """What the store knows beside DuckDB: column kinds and counters."""

    __slots__ = ("kinds", "last_ms", "rows", "version")

    def __init__(self) -> None:
        self.kinds: dict[str, str | None] = {"__time": "TIMESTAMP"}  # None: only NULLs so far
        self.rows = 0  # rows in DuckDB
        self.last_ms: int | None = None  # the latest __time in DuckDB
        self.version = 0


class TableStore:
    """Rows and known column names per table; ``__time`` is always the first column."""

    def __init__(self, path: str | None = None) -> None:
        """In memory by default; ``path`` keeps the rows in a DuckDB file, and the tables
        already in it are opened again."""
        self.lock = threading.RLock()
        self.con = duckdb.connect(path or ":memory:")
        for statement in (*_SETTINGS, *MACROS):  # MACROS: the Druid sketch functions
            self.con.execute(statement)
        self._tables: dict[str, _Table] = {}
        # Called with a table's name before anything reads or changes it: streamed events
        # staged for that table are mapped and written first (see stream_batch).
        self.before_read: Callable[[str], None] | None = None
        if path:
            self._reopen()

    def _reopen(self) -> None:
        for (name,) in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            table = self._tables[name] = _Table()
            for column, kind, *_ in self.con.execute(f"DESCRIBE {quote(name)}").fetchall():
                if column != "__time":
                    table.kinds[column] = str(kind)
            table.rows, table.last_ms = self.con.execute(
                f"SELECT count(*), max(epoch_ms({quote('__time')})) FROM {quote(name)}"
            ).fetchone() or (0, None)

    def flush(self) -> None:
        """Write DuckDB's state to its file (when it has one); the caller settles staged
        events first (:meth:`DataPlane.flush`)."""
        with self.lock:
            self.con.execute("CHECKPOINT")

    def clear(self) -> None:
        """Forget every table."""
        with self.lock:
            for name in list(self._tables):
                self.drop(name)

    def exists(self, name: str) -> bool:
        """True when the table has been created or written (even with zero rows)."""
        self.sync(name)
        return name in self._tables

    def sync(self, name: str) -> None:
        """Write what is staged for the table (queries call this before reading)."""
        with self.lock:
            if self.before_read is not None:
                self.before_read(name)

    def rows(self, name: str, every: int = 1) -> tuple[dict[str, Any], ...]:
        """The table's rows in time order, ``__time`` as epoch milliseconds (empty when
        unknown). Each row has every column; JSON values come back as Python objects.
        ``every`` > 1 returns a sample: about one row in ``every``."""
        with self.lock:
            self.sync(name)
            table = self._tables.get(name)
            if table is None:
                return ()
            columns = list(table.kinds)  # the DuckDB table's order, __time first
            where = f" WHERE rowid % {int(every)} = 0" if every > 1 else ""
            raw = self.con.execute(
                f"SELECT epoch_ms({quote('__time')}), * EXCLUDE ({quote('__time')}) "
                f"FROM {quote(name)}{where} ORDER BY {quote('__time')}, rowid"
            ).fetchall()
        rows = tuple(dict(zip(columns, values, strict=True)) for values in raw)
        for column in (c for c, kind in table.kinds.items() if kind == "JSON"):
            for row in rows:
                row[column] = None if row[column] is None else json.loads(row[column])
        return rows

    def days(self, name: str) -> int:
        """How many UTC days hold rows (Polaris' default partitioning: one segment a day)."""
        with self.lock:
            self.sync(name)
            if name not in self._tables:
                return 0
            days = f"SELECT count(DISTINCT CAST({quote('__time')} AS DATE)) FROM {quote(name)}"
            found = self.con.execute(days).fetchone()
            return int(found[0]) if found else 0

    def kind(self, name: str, column: str) -> str | None:
        """The column's DuckDB type (BIGINT, DOUBLE, VARCHAR, JSON), None while it holds only
        NULLs or is unknown."""
        self.sync(name)
        table = self._tables.get(name)
        return None if table is None else table.kinds.get(column)

    def sketch_columns(self, names: Iterable[str]) -> dict[str, str]:
        """The stored sketch columns of the tables ``names``: column → sketch kind."""
        found: dict[str, str] = {}
        for name in names:
            if self.exists(name):
                for column, kind in self._tables[name].kinds.items():
                    field = sketch_field(kind or "")
                    if field is not None:
                        found[column] = field
        return found

    def count(self, name: str) -> int:
        """How many rows the table holds."""
        self.sync(name)
        table = self._tables.get(name)
        return 0 if table is None else table.rows

    def version(self, name: str) -> int:
        """A number that changes with every write to the table (for caches of derived data)."""
        self.sync(name)
        table = self._tables.get(name)
        return -1 if table is None else table.version

    def columns(self, name: str) -> tuple[str, ...]:
        """The table's columns, ``__time`` first."""
        self.sync(name)
        table = self._tables.get(name)
        return ("__time",) if table is None else tuple(table.kinds)

    def _table(self, name: str) -> _Table:
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = _Table()
            self.con.execute(f"DROP TABLE IF EXISTS {quote(name)}")
            self.con.execute(f"CREATE TABLE {quote(name)} ({quote('__time')} TIMESTAMP)")
        return table

    def _declare(self, name: str, table: _Table, columns: Iterable[str]) -> None:
        for column in columns:
            if column not in table.kinds:
                table.kinds[column] = None
                self.con.execute(f"ALTER TABLE {quote(name)} ADD COLUMN {quote(column)} VARCHAR")

    def ensure(self, name: str, columns: Iterable[str] = ()) -> None:
        """Make the table known (queryable while empty) and declare columns."""
        with self.lock:
            self._declare(name, self._table(name), columns)

    def delete(self, name: str, intervals: Sequence[tuple[int, int]] | None) -> int:
        """Delete rows in ``intervals`` (all rows when None); returns how many went."""
        with self.lock:
            table = self._tables.get(name)
            if table is None:
                return 0
            self.sync(name)
            gone = self._delete(name, table, intervals)
            table.version += 1
            return gone

    def _delete(self, name: str, table: _Table, intervals: Sequence[tuple[int, int]] | None) -> int:
        if intervals is None:
            where = ""
        else:
            ms = "epoch_ms(" + quote("__time") + ")"
            terms = [f"({ms} >= {int(s)} AND {ms} < {int(e)})" for s, e in intervals]
            if not terms:
                return 0
            where = " WHERE " + " OR ".join(terms)
        (gone,) = self.con.execute(f"DELETE FROM {quote(name)}{where}").fetchone() or (0,)
        table.rows -= gone
        if table.rows == 0:
            table.last_ms = None
        return gone

    def drop(self, name: str) -> None:
        """Forget one table."""
        with self.lock:
            self.sync(name)  # staged events reach it (and their jobs' counts) first
            if self._tables.pop(name, None) is not None:
                self.con.execute(f"DROP TABLE IF EXISTS {quote(name)}")

    # --- writes from SQL -------------------------------------------------------------------------

    def insert_select(
        self,
        name: str,
        select: str,
        params: Sequence[Any] = (),
        *,
        keep: str = "all",
        intervals: Sequence[tuple[int, int]] = (),
    ) -> int:
        """Store the rows of a DuckDB ``select`` (a ``__time`` TIMESTAMP column and any others)
        after the existing rows that survive: ``keep`` is ``all`` (append), ``outside`` (drop
        rows inside ``intervals``: replace) or ``none`` (replace all). BOOLEAN and TIMESTAMP
        are stored as BIGINT (epoch ms), nested values as JSON, NaN as NULL. Returns how many
        rows went in."""
        with self.lock:
            self.sync(name)
            table = self._table(name)
            described = self.con.execute(f"DESCRIBE {select}", list(params)).fetchall()
            values = ["CAST(" + quote("__time") + " AS TIMESTAMP) AS " + quote("__time")]
            for column, duck_type, *_ in described:
                if column == "__time":
                    continue
                kind, value = _stored(quote(column), str(duck_type))
                self._declare(name, table, [column])
                old = table.kinds[column]
                if kind is not None and _merge(old, kind) != old:
                    table.kinds[column] = new = _merge(old, kind)
                    if (old or "VARCHAR") != new:
                        self.con.execute(
                            f"ALTER TABLE {quote(name)} ALTER {quote(column)} TYPE {new}"
                        )
                values.append(f"{value} AS {quote(column)}")
            staged = "__polaris_staged"
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT {', '.join(values)} "
                f"FROM ({select}) ORDER BY 1",
                list(params),
            )
            try:
                count, first, last = self.con.execute(
                    f"SELECT count(*), min(epoch_ms({quote('__time')})), "
                    f"max(epoch_ms({quote('__time')})) FROM {staged}"
                ).fetchone() or (0, None, None)
                if keep != "all":
                    self._delete(name, table, None if keep == "none" else intervals)
                self.con.execute(f"INSERT INTO {quote(name)} BY NAME SELECT * FROM {staged}")
            finally:
                self.con.execute(f"DROP TABLE IF EXISTS {staged}")
            self._loaded(name, table, int(count), first, last)
            table.version += 1
            return int(count)

    def _loaded(
        self, name: str, table: _Table, count: int, first: int | None, last: int | None
    ) -> None:
        """Book-keeping after ``count`` rows from ``first`` to ``last`` (epoch ms) went in."""
        if not count or first is None or last is None:
            return
        if table.last_ms is not None and first < table.last_ms:
            # Keep the table in time order, as Druid scans segments (stable: rowid).
            self.con.execute(
                f"CREATE OR REPLACE TABLE {quote(name)} AS SELECT * FROM {quote(name)} "
                f"ORDER BY {quote('__time')}, rowid"
            )
        table.last_ms = last if table.last_ms is None else max(last, table.last_ms)
        table.rows += count


INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UHUGEINT"}
INTEGER_TYPES |= {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_STORED_AS: dict[str, tuple[str, str]] = {
    # DuckDB type → (stored kind, the stored value of {0})
    **dict.fromkeys((*INTEGER_TYPES, "BOOLEAN"), ("BIGINT", "CAST({0} AS BIGINT)")),
    "DATE": ("BIGINT", "epoch_ms(CAST({0} AS TIMESTAMP))"),
    "DOUBLE": ("DOUBLE", "CASE WHEN isfinite({0}) THEN {0} END"),
    "FLOAT": ("DOUBLE", "CASE WHEN isfinite({0}) THEN CAST({0} AS DOUBLE) END"),
    "DECIMAL": ("DOUBLE", "CAST({0} AS DOUBLE)"),
    "VARCHAR": ("VARCHAR", "{0}"),
    "JSON": ("JSON", "{0}"),
}


def base_type(duck_type: str) -> str:
    """A DuckDB type's name without its parameters, upper case: ``DECIMAL(18,3)`` → ``DECIMAL``."""
    return duck_type.split("(")[0].strip().upper()


def _stored(column: str, duck_type: str) -> tuple[str | None, str]:
    """The stored kind of a DuckDB result column (None: only NULLs) and its stored value."""
    base = base_type(duck_type)
    if base == '"NULL"':
        return None, "NULL"
    if base.startswith("TIMESTAMP"):
        return "BIGINT", f"epoch_ms({column})"
    if sketch_field(duck_type) is not None:  # kept as is: queries merge stored sketches
        return duck_type, column
    if base.endswith("[]") or base in ("STRUCT", "MAP", "LIST", "UNION"):
        return "JSON", f"to_json({column})"
    if base in _STORED_AS:
        kind, value = _STORED_AS[base]
        return kind, value.format(column)
    return "VARCHAR", f"CAST({column} AS VARCHAR)"


def _merge(old: str | None, new: str) -> str:
    if old is None or old == new:
        return new
    field = sketch_field(old)
    if field is not None and field == sketch_field(new):
        return f"STRUCT({field} VARCHAR[])"  # one sketch kind over values of two types
    if {old, new} == {"BIGINT", "DOUBLE"}:
        return "DOUBLE"
    return "VARCHAR"


def quote(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
