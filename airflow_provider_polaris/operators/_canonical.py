"""The canonical form of a job request: how a retry recognises the job its own request created.

Polaris echoes a job's request back (``GET /jobs/{id}``, nested ``spec``) normalised: it fills in
defaults the request left out (``ingestionMode: append``, ``maxParseExceptions: 2147483647``,
``filterExpression: null``, ``mappings: []``, ``target.intervals: []``, ``flattenSpec: {}``,
streaming ``readFromPoint``/rejection periods, false flags...), and shows generated SQL in
``query`` for non-SQL jobs. The canonical form removes exactly those server-added defaults, from
both sides alike, and keeps everything a user can mean: every source field (files, URIs,
prefixes, objects, pattern, inline data, schema, format settings), mappings, the filter, the
target, intervals, mode and every flag that differs from its default. Two requests that load
different inputs therefore never compare equal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timezone
from typing import Any

from airflow_provider_polaris.models.jobs import JOB_RESPONSE_FIELDS
from airflow_provider_polaris.operators._intervals import interval_ends

Path = tuple[str, ...]

# Fields of a job response that are not part of the request (polaris-api.md, JobResponse).
# (a SQL job's ``query`` is its request; other jobs' generated ``query`` is dropped below)
_RESPONSE_ONLY = JOB_RESPONSE_FIELDS - {"query"}
# Non-empty values Polaris fills in when a request leaves the field out (polaris-api.md §3 and
# the SDK's documented defaults). ``"*"`` stands for any list item.
_DEFAULTS: dict[Path, Any] = {
    ("ingestionMode",): "append",
    ("maxParseExceptions",): 2147483647,
    ("readFromPoint",): "latest",
    ("lateMessageRejectionPeriod",): "P30D",
    ("earlyMessageRejectionPeriod",): "P2000D",
    ("upsertVersionColumn",): "__time",
    ("target", "type"): "table",
    ("source", "formatSettings", "delimiter"): ",",
    ("source", "formatSettings", "listDelimiter"): "\u0001",
    ("source", "formatSettings", "skipHeaderRows"): 0,
}
# An explicit ``false`` that means something other than "absent" (absent: Polaris infers it).
_FALSE_IS_MEANINGFUL = frozenset({("mappings", "*", "isAggregation")})
# Lists whose order carries no meaning.
_UNORDERED = frozenset(
    {
        ("target", "intervals"),
        ("source", "uris"),
        ("source", "prefixes"),
        ("source", "objects"),
        ("source", "fileList"),
    }
)
_INTERVALS = frozenset({("target", "intervals", "*"), ("source", "interval"), ("interval",)})
# Fields Polaris may derive when the request leaves them out: ignored on the job's side only
# when this request has none (the table's partitioning, the generated SQL of a non-SQL job, the
# target a SQL statement names, an inferred aggregation flag).
_SERVER_DERIVED: tuple[Path, ...] = (
    ("partitionedBy",),
    ("query",),
    ("target",),
    ("mappings", "*", "isAggregation"),
)


def request_of(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request part of a job document: its nested ``spec``, or the document itself."""
    nested = doc.get("spec")
    return nested if isinstance(nested, Mapping) else doc


def canonical_request(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical request of a create body or a job document (see the module docstring)."""
    out = _canon(request_of(doc), ())
    return out if isinstance(out, dict) else {}


def canonical_json(doc: Mapping[str, Any]) -> str:
    """Canonical JSON text (sorted keys) of a request or job document."""
    return _dump(canonical_request(doc))


def request_hash(doc: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON: names a request without storing its (large) body."""
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def same_whole_request(job: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Whether ``job`` is what submitting ``body`` creates: equal canonical requests."""
    ours, theirs = canonical_request(body), canonical_request(job)
    for path in _SERVER_DERIVED:
        _drop_where_absent(theirs, ours, path)
    return _dump(theirs) == _dump(ours)


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _canon(value: Any, path: Path) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not path and key in _RESPONSE_ONLY:
                continue
            sub = (*path, str(key))
            canon = _canon(item, sub)
            if not _is_default(sub, canon):
                out[str(key)] = canon
        return out
    if isinstance(value, list | tuple):
        items = [_canon(item, (*path, "*")) for item in value]
        return sorted(items, key=_dump) if path in _UNORDERED else items
    if isinstance(value, str):
        if path in _INTERVALS:
            return _interval(value)
        return value.strip() if path == ("query",) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 5.0 and 5 are the same JSON number
    return value


def _is_default(path: Path, value: Any) -> bool:
    if value is None or (isinstance(value, list | dict) and not value):
        return True
    if value is False:
        return path not in _FALSE_IS_MEANINGFUL
    default = _DEFAULTS.get(path, _MISSING)
    return default is not _MISSING and type(value) is type(default) and value == default


_MISSING = object()


def _drop_where_absent(theirs: Any, ours: Any, path: Path) -> None:
    """Remove ``path`` from ``theirs`` wherever ``ours`` has nothing there."""
    if not path or not isinstance(theirs, dict):
        return
    head, rest = path[0], path[1:]
    if head == "*":
        return
    if not rest:
        if not isinstance(ours, dict) or head not in ours:
            theirs.pop(head, None)
        return
    child, mine = theirs.get(head), ours.get(head) if isinstance(ours, dict) else None
    if rest[0] == "*" and isinstance(child, list) and isinstance(mine, list):
        for theirs_item, our_item in zip(child, mine, strict=False):
            _drop_where_absent(theirs_item, our_item, rest[1:])
    else:
        _drop_where_absent(child, mine, rest)


def _interval(text: str) -> str:
    """``start/end`` as UTC instants (``2024-01-01/2024-01-02`` equals
    ``2024-01-01T00:00:00.000Z/2024-01-02T00:00:00Z``); anything else unchanged."""
    ends = interval_ends(text)
    return "/".join(e.astimezone(timezone.utc).isoformat() for e in ends) if ends else text
