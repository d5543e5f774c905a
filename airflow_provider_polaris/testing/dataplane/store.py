"""Table rows held in memory.

Copy-on-write: a table's row list is never mutated after it is stored; every write builds a new
list and swaps it in with one dict assignment. A reader (a query, a table-to-table snapshot) that
took the old list keeps a consistent view, which is all the atomicity a single event loop needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_polaris.testing.dataplane.timeutil import in_intervals

Row = Mapping[str, Any]


class TableStore:
    """Rows and known column names per table; ``__time`` is always the first column."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Row, ...]] = {}
        self._columns: dict[str, tuple[str, ...]] = {}

    def clear(self) -> None:
        """Forget every table."""
        self._rows = {}
        self._columns = {}

    def exists(self, name: str) -> bool:
        """True when the table has been created or written (even with zero rows)."""
        return name in self._rows

    def rows(self, name: str) -> tuple[Row, ...]:
        """An immutable snapshot of the table's rows (empty when unknown)."""
        return self._rows.get(name, ())

    def columns(self, name: str) -> tuple[str, ...]:
        """The table's columns, ``__time`` first."""
        return self._columns.get(name, ("__time",))

    def ensure(self, name: str, columns: Iterable[str] = ()) -> None:
        """Make the table known (queryable while empty) and declare columns."""
        self._rows.setdefault(name, ())
        self._columns[name] = _merge(self.columns(name), columns)

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
        old = self._rows.get(name, ())
        if keep == "none":
            survivors: tuple[Row, ...] = ()
        elif keep == "outside":
            survivors = tuple(r for r in old if not in_intervals(r["__time"], list(intervals)))
        else:
            survivors = old
        # Druid stores segments in time order; keeping rows sorted makes scans predictable.
        merged = sorted((*survivors, *rows), key=lambda row: row["__time"])
        self._columns[name] = _merge(self.columns(name), columns)
        self._rows[name] = tuple(merged)

    def delete(self, name: str, intervals: Sequence[tuple[int, int]] | None) -> int:
        """Delete rows in ``intervals`` (all rows when None); returns how many went."""
        old = self._rows.get(name, ())
        if intervals is None:
            kept: tuple[Row, ...] = ()
        else:
            kept = tuple(r for r in old if not in_intervals(r["__time"], list(intervals)))
        if name in self._rows:
            self._rows[name] = kept
        return len(old) - len(kept)

    def drop(self, name: str) -> None:
        """Forget one table."""
        self._rows.pop(name, None)
        self._columns.pop(name, None)


def _merge(existing: Iterable[str], extra: Iterable[str]) -> tuple[str, ...]:
    names = dict.fromkeys(["__time", *existing, *extra])
    return tuple(names)
