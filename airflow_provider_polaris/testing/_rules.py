"""Enumerations, name rules, time-interval rules and query parameters of the Polaris API
(polaris-api.md §3-§7).

Replace intervals must line up with the partitioning (§3), 400 otherwise: a batch job in
``replace`` mode checks its ``target.intervals`` against the job's ``partitionedBy``, else the
target table's ``partitioningGranularity``, else ``day`` (what ``createTableIfNotExists`` gives
a new table). A SQL ``REPLACE ... OVERWRITE WHERE`` checks the range it overwrites against its
own ``PARTITIONED BY``. The wording follows Druid's MSQ engine, which runs Polaris' batch and
SQL ingestion.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ._clock import iso
from ._errors import bad

JOB_TYPES = frozenset({"batch", "streaming", "sql", "delete_data", "drop_table", "restore_data"})
DELETION_JOB_TYPES = frozenset({"delete_data", "drop_table", "restore_data"})
PARTITIONED_BY = frozenset(
    [
        "second",
        "minute",
        "five_minute",
        "ten_minute",
        "fifteen_minute",
        "thirty_minute",
        "hour",
        "six_hour",
        "eight_hour",
        "day",
        "month",
        "quarter",
        "year",
        "all",
    ]
)
TABLE_PARTITIONING = PARTITIONED_BY | {"week"}
TIME_RESOLUTION = frozenset(
    [
        "millisecond",
        "second",
        "minute",
        "fifteen_minute",
        "thirty_minute",
        "hour",
        "day",
        "week",
        "month",
        "quarter",
        "year",
        "all",
    ]
)
INPUT_DATA_TYPES = frozenset(
    [
        "string",
        "long",
        "double",
        "float",
        "bigint",
        "timestamp",
        "json",
        "complex<json>",
        "ipAddress",
        "ipPrefix",
        "geo",
        "HLLSketch",
        "thetaSketch",
        "quantilesDoublesSketch",
        "longStringPair",
        "doubleArray",
        "floatArray",
        "longArray",
        "stringArray",
        "ingest_timeseries",
        "varchar",
        "variance",
    ]
)
FORMATS = frozenset(
    [
        "nd-json",
        "csv",
        "tsv",
        "parquet",
        "orc",
        "avro_ocf",
        "avro_stream",
        "protobuf",
        "kafka",
        "kinesis",
    ]
)
COMPRESSIONS = frozenset(["none", "bz2", "gz", "sz", "xz", "zstd"])
BATCH_SOURCES = frozenset({"uploaded", "table", "s3", "azure", "inline"})
STREAMING_CONNECTION_TYPES = frozenset({"kafka", "confluent", "kinesis", "push_streaming"})
EXECUTION_STATUSES = frozenset(
    ["pending", "running", "completed", "idle", "canceled", "failed", "suspended", "unknown"]
)
DESIRED_STATUSES = frozenset({"running", "canceled", "suspended"})
HEALTH_STATUSES = frozenset({"ok", "warn", "error"})
TERMINAL = frozenset({"completed", "failed", "canceled"})
JOB_SORT_COLUMNS = frozenset(
    [
        "created_by_user_name",
        "created_date_time",
        "execution_status",
        "last_updated_date_time",
        "source_name",
        "source_type",
        "target_table_name",
        "type",
        "source_connection_name",
        "source_table_name",
    ]
)
FILE_SORT_COLUMNS = frozenset(
    [
        "compression_format",
        "data_format",
        "digest_algo",
        "digest_hash",
        "name",
        "size_bytes",
        "uploaded_by_user_name",
        "uploaded_on_dt",
    ]
)
MAX_INT = 2147483647

_CONNECTION_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def check_enum(value: Any, allowed: frozenset[str], target: str) -> str:
    """``value`` if it is one of ``allowed``, else 400 naming ``target``."""
    if not isinstance(value, str) or value not in allowed:
        raise bad(
            f"Invalid value {value!r} for {target}; allowed: {', '.join(sorted(allowed))}", target
        )
    return value


def check_named(item: Any, where: str, message: str) -> None:
    """A list item must be an object with a non-empty string ``name``."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise bad(message, f"{where}.name")


def check_connection_name(name: Any, target: str = "name") -> str:
    """Connection names: 1-64 ASCII letters, digits, ``.``, ``_`` or ``-``."""
    if not isinstance(name, str) or not _CONNECTION_NAME.fullmatch(name):
        raise bad(
            "Connection name must be 1-64 characters of ASCII letters, digits, '.', '_' or '-'",
            target,
        )
    return name


def _is_emoji_or_surrogate(ch: str) -> bool:
    code = ord(ch)
    return 0xD800 <= code <= 0xDFFF or 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF


def check_table_name(name: Any, target: str = "name") -> str:
    """Table names: 1-255 characters; no edge spaces, leading ``.``, ``/``, controls or emoji."""
    if not isinstance(name, str) or not name:
        raise bad("Table name must be a non-empty string", target)
    if len(name) > 255:
        raise bad("Table name must be at most 255 characters", target)
    if name != name.strip():
        raise bad("Table name must not have leading or trailing spaces", target)
    if name.startswith("."):
        raise bad("Table name must not start with '.'", target)
    if "/" in name:
        raise bad("Table name must not contain '/'", target)
    for ch in name:
        if ord(ch) < 32 or ord(ch) == 127 or _is_emoji_or_surrogate(ch):
            raise bad("Table name must not contain control characters or emoji", target)
    return name


def parse_interval(value: Any, target: str) -> tuple[datetime, datetime]:
    """An ISO-8601 interval (``start/end``, ``start/PERIOD`` or ``PERIOD/end``, as Druid reads
    them); 400 naming ``target`` when malformed or empty."""
    from .dataplane.errors import EvalError
    from .dataplane.timeutil import parse_interval as parse_millis
    from .dataplane.timeutil import to_datetime

    try:
        start_ms, end_ms = parse_millis(value)
        start, end = to_datetime(start_ms), to_datetime(end_ms)
    except (ValueError, TypeError, EvalError):
        raise bad(
            f"Invalid interval {value!r}: expected 'start/end' (or 'start/PERIOD', "
            "'PERIOD/end') in ISO-8601",
            target,
        ) from None
    if end <= start:
        raise bad(f"Invalid interval {value!r}: end must be after start", target)
    return start, end


_MINUTE_STEPS = {
    "minute": 1,
    "five_minute": 5,
    "ten_minute": 10,
    "fifteen_minute": 15,
    "thirty_minute": 30,
}
_HOUR_STEPS = {"hour": 1, "six_hour": 6, "eight_hour": 8}


def is_aligned(moment: datetime, granularity: str) -> bool:
    """Whether ``moment`` starts a time chunk of ``granularity`` (UTC)."""
    if granularity == "all":
        return False
    if moment.microsecond:
        return False
    if granularity == "second":
        return True
    if moment.second:
        return False
    if granularity in _MINUTE_STEPS:
        return moment.minute % _MINUTE_STEPS[granularity] == 0
    if moment.minute:
        return False
    if granularity in _HOUR_STEPS:
        return moment.hour % _HOUR_STEPS[granularity] == 0
    if moment.hour:
        return False
    if granularity == "day":
        return True
    if granularity == "week":
        return moment.weekday() == 0
    if moment.day != 1:
        return False
    if granularity == "month":
        return True
    if granularity == "quarter":
        return moment.month in (1, 4, 7, 10)
    return moment.month == 1  # year


DEFAULT_PARTITIONING = "day"  # what createTableIfNotExists gives a new table


def _bounded(ms: int) -> bool:
    """Whether an OVERWRITE range's end is a time, not an open end (the data plane's "all time")."""
    from .dataplane.timeutil import ALL_TIME

    return ALL_TIME[0] < ms < ALL_TIME[1]


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
        bounds = [ms for ms in (start_ms, end_ms) if _bounded(ms)]
        moments = [datetime.fromtimestamp(ms / 1000, timezone.utc) for ms in bounds]
        if not all(is_aligned(moment, granularity) for moment in moments):
            text = "/".join(_iso(ms) for ms in (start_ms, end_ms))
            raise _misaligned(text, granularity, "the query's PARTITIONED BY", "query")


def _iso(ms: int) -> str:
    if not _bounded(ms):
        return "-inf" if ms < 0 else "+inf"
    return str(iso(ms / 1000))


def check_bool(body: dict[str, Any], key: str, target: str | None = None) -> bool:
    """Optional boolean field (default false); 400 for any other JSON type."""
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad(f"{key} must be a boolean", target or key)
    return value


def check_str_list(value: Any, target: str, *, allow_empty: bool = False) -> list[str]:
    """A list of strings; 400 naming ``target`` otherwise."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad(f"{target} must be a list of strings", target)
    if not value and not allow_empty:
        raise bad(f"{target} must not be empty", target)
    return value


_SORT_ORDERS = frozenset({"ASC", "DESC"})


class Params:
    """A request's query parameters (each key with all its values): the last value of a key
    wins, a repeatable key keeps them all, and every check names the parameter."""

    def __init__(self, values: Mapping[str, Sequence[str]]) -> None:
        self._values = values

    def one(self, key: str) -> str | None:
        """The key's last value, or None."""
        values = self._values.get(key)
        return values[-1] if values else None

    def many(self, key: str, allowed: frozenset[str] | None = None) -> set[str]:
        """Every value of a repeatable key, each one of ``allowed`` when given."""
        values = set(self._values.get(key, ()))
        if allowed is not None:
            for value in values:
                check_enum(value, allowed, key)
        return values

    def integer(self, key: str, default: int, low: int, high: int | None = None) -> int:
        """An integer within ``low`` and ``high`` (inclusive), ``default`` when absent."""
        raw = self.one(key)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise bad(f"{key} must be an integer", key) from None
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f">= {low}"
            raise bad(f"{key} must be {bounds}", key)
        return value

    def descending(self, default: str) -> bool:
        """Whether ``sortOrder`` (case-insensitive ASC or DESC, ``default`` when absent) is DESC."""
        order = (self.one("sortOrder") or default).upper()
        check_enum(order, _SORT_ORDERS, "sortOrder")
        return order == "DESC"
