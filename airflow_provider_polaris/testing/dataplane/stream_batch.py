"""Stage streamed events per job and map them on DuckDB in batches.

One DuckDB statement costs about a millisecond, more than a whole push may cost, so a push
only stages its typed events (:func:`events.parse_push`). A job's staged events are mapped
together (:func:`stream_sql.map_batch`) when:

* the staged events of all jobs pass ``bound``;
* anything reads or changes the target table (the store calls :meth:`EventBatcher.before_read`
  before queries, ``table_rows``, stats, writes, deletes and drops);
* someone reads a push's counts (:class:`events.EventsResult`) or the server shows a job's
  counts (:meth:`settle`), flushes or saves.

The counts found then go to the job through the ``on_batch`` callback its last push gave.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_polaris.testing.dataplane.events import (
    EventCounts,
    EventsResult,
    StreamPlan,
    parse_push,
)
from airflow_provider_polaris.testing.dataplane.store import TableStore
from airflow_provider_polaris.testing.dataplane.stream_sql import map_batch
from airflow_provider_polaris.testing.dataplane.timeutil import add_period

DEFAULT_BOUND = 20_000  # staged events (all jobs) that start a batch
BatchCallback = Callable[[EventCounts], None]


@dataclass
class _Staged:
    plan: StreamPlan
    items: list[bytes | dict[str, Any]] = field(default_factory=list)
    pushes: list[tuple[int, int, int]] = field(default_factory=list)  # first item, low, high
    results: list[EventsResult] = field(default_factory=list)
    on_batch: BatchCallback | None = None


class EventBatcher:
    """Staged events per streaming job (by plan key), mapped a batch at a time."""

    def __init__(
        self, store: TableStore, now_ms: Callable[[], int], bound: int = DEFAULT_BOUND
    ) -> None:
        self._store = store
        self._now_ms = now_ms
        self.bound = bound
        self._staged: dict[Hashable, _Staged] = {}
        self._running = False
        store.before_read = self.before_read

    def push(
        self,
        key: Hashable,
        plan: StreamPlan,
        lines: Sequence[bytes],
        on_batch: BatchCallback | None = None,
    ) -> EventsResult:
        """Type a push's events and stage them; bad lines are counted in ``result.parsed``."""
        result = EventsResult(lambda: self.settle_key(key))
        records: list[bytes | dict[str, Any]] = []
        if plan.error is not None:  # every event is an error
            result.parsed.skip(plan.error, len(lines))
        else:
            records = parse_push(plan, lines, result.parsed)
        if not records:
            result.settled()
            return result
        now = self._now_ms()
        low, high = add_period(now, plan.late, -1), add_period(now, plan.early)
        staged = self._staged.get(key)
        if staged is None:  # not setdefault: no throw-away _Staged on every push
            staged = self._staged[key] = _Staged(plan)
        staged.pushes.append((len(staged.items), low, high))
        staged.items += records
        staged.results.append(result)
        staged.on_batch = on_batch
        if sum(len(s.items) for s in self._staged.values()) >= self.bound:
            self.settle()
        return result

    def before_read(self, table: str) -> None:
        """Map the events staged for ``table`` (the store calls this before using it)."""
        if not self._running:
            self.settle(table)

    def settle(self, table: str | None = None) -> None:
        """Map the staged events of every job (writing into ``table`` when given)."""
        for key in list(self._staged):
            staged = self._staged.get(key)
            if staged is not None and (table is None or staged.plan.target == table):
                self.settle_key(key)

    def settle_key(self, key: Hashable) -> None:
        """Map one job's staged events now."""
        with self._store.lock:
            staged = self._staged.pop(key, None)
            if staged is None:
                return
            self._running = True
            try:
                counts = self._map(staged)
            finally:
                self._running = False
        total = EventCounts()
        for result, found in zip(staged.results, counts, strict=True):
            result.batch = found
            result.settled()
            total.add(found)
        if staged.on_batch is not None:
            staged.on_batch(total)

    def _map(self, staged: _Staged) -> list[EventCounts]:
        try:
            return map_batch(self._store, staged.plan, staged.items, staged.pushes, self._now_ms())
        except Exception as exc:  # a store failure: the events did not reach the table
            ends = [first for first, _, _ in staged.pushes[1:]] + [len(staged.items)]
            counts = [EventCounts() for _ in staged.pushes]
            for push, (first, _, _) in enumerate(staged.pushes):
                counts[push].skip(f"could not write the events: {exc}", ends[push] - first)
            return counts

    def clear(self) -> None:
        """Forget every staged event (the data plane was reset)."""
        self._staged.clear()
