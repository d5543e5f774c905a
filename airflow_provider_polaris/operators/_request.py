"""Request options the job operators add to a validated spec (no Airflow state, no I/O)."""

from __future__ import annotations

from typing import Any

from airflow_provider_polaris._compat import AirflowFailException


def check_max_parse_exceptions(value: Any) -> int | None:
    """Validate ``max_parse_exceptions``: an int >= 0 or ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"max_parse_exceptions must be an int >= 0 or None, got {value!r}; 0 fails the job "
            "on the first unparseable row."
        )
    return value


def place_max_parse_exceptions(body: dict[str, Any], limit: int | None) -> dict[str, Any]:
    """Put ``max_parse_exceptions`` where the job type reads it: ``maxParseExceptions`` for
    batch and streaming jobs, ``context.maxParseExceptions`` for SQL (the SQL ingestion query
    context). Fails for other job types and when the spec already sets another value."""
    if limit is None:
        return body
    kind = body.get("type")
    if kind == "sql":
        holder: dict[str, Any] = dict(body.get("context") or {})
        body["context"] = holder
    elif kind in ("batch", "streaming"):
        holder = body
    else:
        raise AirflowFailException(
            f"max_parse_exceptions applies to batch, streaming and sql jobs, not a {kind!r} "
            "job: remove max_parse_exceptions from the operator."
        )
    if holder.get("maxParseExceptions", limit) != limit:
        where = "context.maxParseExceptions" if kind == "sql" else "maxParseExceptions"
        raise AirflowFailException(
            f"max_parse_exceptions={limit} contradicts {where}="
            f"{holder['maxParseExceptions']} in the job spec: set only one of them."
        )
    holder["maxParseExceptions"] = limit
    return body
