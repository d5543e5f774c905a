"""Replace intervals must line up with the partitioning (polaris-api.md §3): 400 otherwise.

A batch job in ``replace`` mode checks its ``target.intervals`` against the job's
``partitionedBy``, else the target table's ``partitioningGranularity``, else ``day`` (what
``createTableIfNotExists`` gives a new table). A SQL ``REPLACE ... OVERWRITE WHERE`` checks the
range it overwrites against its own ``PARTITIONED BY``. The wording follows Druid's MSQ engine,
which runs Polaris' batch and SQL ingestion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from ._clock import iso
from ._errors import bad
from ._rules import is_aligned, parse_interval

DEFAULT_PARTITIONING = "day"  # what createTableIfNotExists gives a new table
_UNBOUNDED_MS = (-(10**15), 10**15)  # past these an OVERWRITE bound is open-ended


def _misaligned(interval: str, granularity: str, origin: str, target: str) -> Exception:
    setting = "PARTITIONED BY" if target == "query" else "partitionedBy"
    return bad(
        f"OVERWRITE WHERE clause identified interval [{interval}] which is not aligned with "
        f"PARTITIONED BY granularity [{granularity}] ({origin}); replace whole "
        f"{granularity} time chunks or choose a finer {setting}",
        target,
    )


def check_batch_replace(spec: Mapping[str, Any], table: Mapping[str, Any] | None) -> None:
    """400 when a replace-mode batch job's interval is not aligned with its partitioning."""
    intervals = (spec.get("target") or {}).get("intervals") or []
    if spec.get("type") != "batch" or spec.get("ingestionMode") != "replace" or not intervals:
        return
    if spec.get("partitionedBy"):
        granularity, origin = str(spec["partitionedBy"]), "the job's partitionedBy"
    elif table is not None:
        granularity = str(table.get("partitioningGranularity") or DEFAULT_PARTITIONING)
        origin = f"partitioningGranularity of table {table.get('name')}"
    else:
        granularity = DEFAULT_PARTITIONING
        origin = "the default partitioning of a table createTableIfNotExists creates"
    for i, interval in enumerate(intervals):
        start, end = parse_interval(interval, f"target.intervals[{i}]")
        if not (is_aligned(start, granularity) and is_aligned(end, granularity)):
            raise _misaligned(interval, granularity, origin, f"target.intervals[{i}]")


def check_sql_replace(
    spec: Mapping[str, Any],
    overwrite: Callable[[Mapping[str, Any]], tuple[list[tuple[int, int]], str] | None],
) -> None:
    """400 when a SQL job's ``OVERWRITE WHERE`` range is not aligned with ``PARTITIONED BY``."""
    if spec.get("type") != "sql":
        return
    found = overwrite(spec)
    if found is None:
        return
    ranges, granularity = found
    for start_ms, end_ms in ranges:
        bounds = [ms for ms in (start_ms, end_ms) if _UNBOUNDED_MS[0] < ms < _UNBOUNDED_MS[1]]
        moments = [datetime.fromtimestamp(ms / 1000, timezone.utc) for ms in bounds]
        if not all(is_aligned(moment, granularity) for moment in moments):
            text = "/".join(_iso(ms) for ms in (start_ms, end_ms))
            raise _misaligned(text, granularity, "the query's PARTITIONED BY", "query")


def _iso(ms: int) -> str:
    if not _UNBOUNDED_MS[0] < ms < _UNBOUNDED_MS[1]:
        return "-inf" if ms < 0 else "+inf"
    return str(iso(ms / 1000))
