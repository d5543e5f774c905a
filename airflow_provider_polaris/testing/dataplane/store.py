"""Table rows held in memory.

Appends are O(batch): streaming pushes add their rows to a pending list, and the time-ordered
tuple readers get is rebuilt only when someone reads after a write (Timsort merges the sorted
base and the new rows in about one pass). Every other write (replace, delete, a batch job's
commit) builds the new row tuple first and installs it with one assignment, and a reader's
snapshot is an immutable tuple, so nobody ever sees half a write; the emulator's state lock
serialises writers and readers.

``__time`` is stored as a plain ``int`` of epoch milliseconds, not a ``Timestamp``: instances of
an int subclass are tracked by the cyclic garbage collector and keep their row dicts tracked too,
and with a million rows every full collection walked them all. Readers that want SQL types wrap
it back (``formats.as_timestamp_row``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from airflow_provider_polaris.testing.dataplane.timeutil import in_intervals

Row = Mapping[str, Any]
_BY_TIME = itemgetter("__time")
_SERIALS = itertools.count()  # tells a re-created table from the one it replaced


class _Table:
    """One table: rows in time order, rows appended since, known columns, a write counter."""

    __slots__ = ("columns", "ordered", "pending", "serial", "version")

    def __init__(self) -> None:
        self.serial = next(_SERIALS)
        self.ordered: tuple[Row, ...] = ()
        self.pending: list[Row] = []
        self.columns: dict[str, None] = {"__time": None}
        self.version = 0

    def snapshot(self) -> tuple[Row, ...]:
        if self.pending:
            rows = [*self.ordered, *self.pending]
            # Druid scans segments in time order; sort is stable, so equal times keep arrival
            # order, and on an already sorted prefix it costs about one pass.
            rows.sort(key=_BY_TIME)
            self.ordered, self.pending = tuple(rows), []
        return self.ordered

    def replace(self, rows: Iterable[Row]) -> None:
        ordered = sorted(rows, key=_BY_TIME)
        self.ordered, self.pending = tuple(ordered), []
        self.version += 1


class TableStore:
    """Rows and known column names per table; ``__time`` is always the first column."""

    def __init__(self) -> None:
        self._tables: dict[str, _Table] = {}

    def clear(self) -> None:
        """Forget every table."""
        self._tables = {}

    def exists(self, name: str) -> bool:
        """True when the table has been created or written (even with zero rows)."""
        return name in self._tables

    def rows(self, name: str) -> tuple[Row, ...]:
        """An immutable snapshot of the table's rows in time order (empty when unknown)."""
        table = self._tables.get(name)
        return () if table is None else table.snapshot()

    def count(self, name: str) -> int:
        """How many rows the table holds, without ordering them."""
        table = self._tables.get(name)
        return 0 if table is None else len(table.ordered) + len(table.pending)

    def version(self, name: str) -> int:
        """A number that changes with every write to the table (for caches of derived data)."""
        table = self._tables.get(name)
        return -1 if table is None else table.version

    def stamp(self, name: str) -> tuple[int, int, int]:
        """Changes whenever the table's rows or columns change, or it is re-created (for
        mirrors of the table, e.g. in DuckDB)."""
        table = self._tables.get(name)
        if table is None:
            return (-1, -1, 0)
        return (table.serial, table.version, len(table.columns))

    def columns(self, name: str) -> tuple[str, ...]:
        """The table's columns, ``__time`` first."""
        table = self._tables.get(name)
        return ("__time",) if table is None else tuple(table.columns)

    def _table(self, name: str) -> _Table:
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = _Table()
        return table

    def ensure(self, name: str, columns: Iterable[str] = ()) -> None:
        """Make the table known (queryable while empty) and declare columns."""
        self._table(name).columns.update(dict.fromkeys(columns))

    def append(self, name: str, rows: Sequence[Row], columns: Iterable[str] = ()) -> None:
        """Add rows at O(len(rows)) cost: they are ordered lazily, on the next read."""
        table = self._table(name)
        table.columns.update(dict.fromkeys(columns))
        table.pending.extend(rows)
        table.version += 1

    def write(
        self,
        name: str,
        rows: Sequence[Row],
        *,
        keep: str = "all",
        intervals: Sequence[tuple[int, int]] = (),
        columns: Iterable[str] = (),
    ) -> None:
        """Store ``rows`` after the existing rows that survive: ``keep`` is ``all`` (append),
        ``outside`` (drop rows inside ``intervals``: replace) or ``none`` (replace all)."""
        if keep == "all":
            self.append(name, rows, columns)
            return
        table = self._table(name)
        if keep == "none":
            survivors: Iterable[Row] = ()
        else:
            ranges = list(intervals)
            survivors = [r for r in table.snapshot() if not in_intervals(r["__time"], ranges)]
        table.columns.update(dict.fromkeys(columns))
        table.replace([*survivors, *rows])

    def delete(self, name: str, intervals: Sequence[tuple[int, int]] | None) -> int:
        """Delete rows in ``intervals`` (all rows when None); returns how many went."""
        table = self._tables.get(name)
        if table is None:
            return 0
        old = table.snapshot()
        if intervals is None:
            kept: list[Row] = []
        else:
            ranges = list(intervals)
            kept = [r for r in old if not in_intervals(r["__time"], ranges)]
        table.ordered, table.pending = tuple(kept), []
        table.version += 1
        return len(old) - len(kept)

    def drop(self, name: str) -> None:
        """Forget one table."""
        self._tables.pop(name, None)
