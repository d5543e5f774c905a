"""What a ``REPLACE ... OVERWRITE WHERE`` SQL statement overwrites, for the create-time check
that the overwritten range lines up with its ``PARTITIONED BY`` (polaris-api.md §3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_polaris.testing.dataplane.errors import EvalError, ExpressionError, SqlError
from airflow_provider_polaris.testing.dataplane.plans import plan_sql
from airflow_provider_polaris.testing.dataplane.timeutil import GRANULARITY_PERIODS

_BY_PERIOD = {period: name for name, period in GRANULARITY_PERIODS.items()}


def sql_overwrite(spec: Mapping[str, Any]) -> tuple[list[tuple[int, int]], str] | None:
    """``(intervals in epoch ms, Polaris granularity name)`` of a SQL job's ``REPLACE ...
    OVERWRITE WHERE``; None for INSERT, OVERWRITE ALL, or a statement that can't be planned
    (the job then fails when it starts, with the planner's error)."""
    try:
        plan = plan_sql(spec, None)
    except (ExpressionError, SqlError, EvalError, ValueError):
        return None
    if plan.mode != "replace":
        return None
    raw = str(plan.statement.partitioned_by or "")
    granularity = raw.lower() if raw.lower() in GRANULARITY_PERIODS or raw == "ALL" else None
    granularity = granularity or _BY_PERIOD.get(raw.upper(), raw)
    return list(plan.intervals), granularity
