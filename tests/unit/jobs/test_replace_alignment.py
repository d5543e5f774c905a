"""Replace intervals Polaris accepts: alignment rules, and the operators' choice or refusal of a
``partitionedBy`` before the create (against the emulator, which rejects misaligned intervals)."""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, get_args

import pytest

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.client import PolarisBadRequestError, PolarisClient, PolarisConfig
from airflow_provider_polaris.models.common import PartitionedBy
from airflow_provider_polaris.operators._intervals import (
    GRANULARITIES,
    coarsest_aligned,
    interval_bounds,
    is_aligned,
)
from airflow_provider_polaris.operators.jobs import (
    PolarisBatchIngestionOperator,
    PolarisCreateJobOperator,
    PolarisSqlIngestionOperator,
    PolarisTableToTableOperator,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from job_helpers import INLINE_SOURCE, MAPPINGS, ROLLUP_MAPPINGS, batch_spec, make_context, posts

UTC = timezone.utc
HOUR = "2024-01-01T10:00:00Z/2024-01-01T11:00:00Z"


def _bounds(*intervals: str) -> list[tuple[datetime, datetime]]:
    out = [interval_bounds(i) for i in intervals]
    assert all(b is not None for b in out)
    return [b for b in out if b is not None]


def test_granularities_are_the_job_enum_finest_first_without_all() -> None:
    assert tuple(g for g in get_args(PartitionedBy) if g != "all") == GRANULARITIES


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        ([HOUR], "hour"),
        (["2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"], "day"),
        (["2024-01-01/2024-01-02"], "day"),
        (["2024-01-01T06:00:00Z/2024-01-01T12:00:00Z"], "six_hour"),
        (["2024-01-01T08:00:00Z/2024-01-01T16:00:00Z"], "eight_hour"),
        (["2024-01-01T10:15:00Z/2024-01-01T10:30:00Z"], "fifteen_minute"),
        (["2024-01-01T10:05:00Z/2024-01-01T10:10:00Z"], "five_minute"),
        (["2024-01-01T10:00:01Z/2024-01-01T10:00:02Z"], "second"),
        (["2024-04-01/2024-07-01"], "quarter"),
        (["2024-02-01/2024-03-01"], "month"),
        (["2023-01-01/2025-01-01"], "year"),
        # every interval must align: the coarsest granularity shared by all of them
        ([HOUR, "2024-01-02T00:00:00Z/2024-01-03T00:00:00Z"], "hour"),
        (["2024-01-01T10:00:00.500Z/2024-01-01T11:00:00Z"], None),
        (["2024-01-01T10:00:00+01:00/2024-01-01T11:00:00+01:00"], "hour"),
    ],
)
def test_coarsest_aligned(intervals: list[str], expected: str | None) -> None:
    assert coarsest_aligned(_bounds(*intervals)) == expected


def test_durations_are_left_to_polaris() -> None:
    assert interval_bounds("2024-01-01T10:00:00Z/PT1H") is None


def test_is_aligned_week_and_all() -> None:
    monday = datetime(2024, 1, 1, tzinfo=UTC)
    assert is_aligned(monday, "week") and not is_aligned(monday + timedelta(days=1), "week")
    assert not is_aligned(monday, "all")


# -- operators against the emulator -------------------------------------------------------------
def _client(emu: Any) -> PolarisClient:
    return PolarisClient(
        PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    )


def _spec(emu: Any, job: dict[str, Any]) -> dict[str, Any]:
    with _client(emu) as client:
        full = client.jobs.get(job["id"])
    return dict(full.get("spec", full))


def _table(emu: Any, name: str, granularity: str) -> None:
    with _client(emu) as client:
        client.tables.create(
            {
                "name": name,
                "type": "detail",
                "partitioningGranularity": granularity,
                "schema": [
                    {"name": "country", "dataType": "string"},
                    {"name": "amount", "dataType": "long"},
                ],
            }
        )
    emu.clear_request_log()


def _batch(**kwargs: Any) -> PolarisBatchIngestionOperator:
    args: dict[str, Any] = {
        "task_id": "load",
        "target_table": "events",
        "source": INLINE_SOURCE,
        "mappings": MAPPINGS,
        "ingestion_mode": "replace",
        "poll_interval": 0.05,
    }
    return PolarisBatchIngestionOperator(**{**args, **kwargs})


def test_explicit_misaligned_partitioned_by_fails_before_any_request(emu: Any) -> None:
    emu.clear_request_log()
    operator = _batch(partitioned_by="day", create_table_if_not_exists=True)
    with pytest.raises(AirflowFailException) as info:
        operator.execute(make_context())
    assert str(info.value).splitlines()[0] == (
        "PolarisBatchIngestionOperator: target.intervals[0]: interval "
        '2024-01-01T10:00:00Z/2024-01-01T11:00:00Z is not aligned with partitionedBy "day" '
        "(Polaris rejects a replace interval that does not start and end on day boundaries); "
        'use partitioned_by="hour" (partitionedBy in a job spec), the coarsest granularity that '
        "aligns every interval, or intervals on day boundaries"
    )
    assert emu.request_log() == []


def test_missing_target_without_create_fails_before_the_create(emu: Any) -> None:
    emu.clear_request_log()
    with pytest.raises(AirflowFailException) as info:
        _batch().execute(make_context())
    assert str(info.value).splitlines()[0] == (
        'target.tableName: table "events" does not exist and this job does not create it; set '
        "create_table_if_not_exists=True (createTableIfNotExists: true in a job spec), or "
        "create the table first (PolarisCreateTableOperator)"
    )
    assert posts(emu) == 0 and emu.count_requests() == 1  # the one GET /tables/events


def _choices(caplog: Any, capfd: Any) -> list[str]:
    """The "sending partitionedBy" lines the task logged (Airflow 3.3 prints them to stdout)."""
    found = [r.getMessage() for r in caplog.records if "sending partitionedBy" in r.getMessage()]
    if not found:
        printed = "".join(capfd.readouterr()).splitlines()
        found = [line for line in printed if "sending partitionedBy" in line]
    return found


def test_existing_hour_table_is_pinned_silently(emu: Any, caplog: Any, capfd: Any) -> None:
    _table(emu, "events", "hour")
    day = make_context(start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 1, 2, tzinfo=UTC))
    with caplog.at_level(logging.INFO):
        job = _batch().execute(day)
    assert job["executionStatus"] == "completed"
    assert _spec(emu, job)["partitionedBy"] == "hour"  # the table's own: aligned, nothing to say
    assert _choices(caplog, capfd) == []
    assert emu.count_requests("GET", r"/tables/events") == 1


def test_existing_day_table_gets_the_coarsest_aligned_choice_logged_once(
    emu: Any, caplog: Any, capfd: Any
) -> None:
    _table(emu, "events", "day")
    with caplog.at_level(logging.INFO):
        job = _batch(intervals=[HOUR, "2024-01-01T12:00:00Z/2024-01-01T18:00:00Z"]).execute(
            make_context()
        )
    assert job["executionStatus"] == "completed"
    assert _spec(emu, job)["partitionedBy"] == "hour"
    (line,) = _choices(caplog, capfd)
    assert (
        f"Replace interval {HOUR} is not aligned with the day partitioning of table 'events'; "
        "sending partitionedBy='hour', the coarsest granularity that aligns every interval "
        "(set partitioned_by to choose another)"
    ) in line


def test_retry_after_the_first_try_created_the_table_sends_the_same_request(emu: Any) -> None:
    """Try 1 creates the table (partitioned by hour); try 2 sees it and sends the same body."""
    seed = _batch(target_table="raw", ingestion_mode="append", create_table_if_not_exists=True)
    seed.execute(make_context())
    specs = []
    for try_number in (1, 2):
        operator = PolarisTableToTableOperator(
            task_id="rollup",
            source_table="raw",
            target_table="rollup",
            mappings=ROLLUP_MAPPINGS,
            create_table_if_not_exists=True,
            poll_interval=0.05,
        )
        specs.append(_spec(emu, operator.execute(make_context(try_number=try_number))))
    assert specs[0]["partitionedBy"] == specs[1]["partitionedBy"] == "hour"
    assert emu.table_rows("rollup")


def test_raw_spec_without_partitioned_by_is_completed_only_when_misaligned(emu: Any) -> None:
    _table(emu, "events", "day")
    spec = {**batch_spec(), "ingestionMode": "replace"}
    spec["target"] = {"type": "table", "tableName": "events", "intervals": [HOUR]}
    job = PolarisCreateJobOperator(task_id="t", job_spec=spec, poll_interval=0.05).execute(
        make_context()
    )
    assert _spec(emu, job)["partitionedBy"] == "hour"
    spec["target"] = {
        "type": "table",
        "tableName": "events",
        "intervals": ["2024-01-01/2024-01-02"],
    }
    job = PolarisCreateJobOperator(task_id="t", job_spec=spec, poll_interval=0.05).execute(
        make_context()
    )
    assert "partitionedBy" not in _spec(emu, job)  # aligned: the spec is sent as written


def test_sub_second_interval_fails_with_the_fix(emu: Any) -> None:
    _table(emu, "events", "day")
    operator = _batch(intervals=["2024-01-01T10:00:00.500Z/2024-01-01T11:00:00Z"])
    with pytest.raises(AirflowFailException, match=r"whole seconds at least"):
        operator.execute(make_context())
    assert posts(emu) == 0


def test_append_and_sql_jobs_read_no_table(emu: Any) -> None:
    _batch(ingestion_mode="append", create_table_if_not_exists=True).execute(make_context())
    PolarisSqlIngestionOperator(
        task_id="sql",
        sql='REPLACE INTO "events" OVERWRITE WHERE "__time" >= TIMESTAMP \'2024-01-01 10:00:00\' '
        "AND \"__time\" < TIMESTAMP '2024-01-01 11:00:00' "
        'SELECT "__time", "country", "amount" FROM "events" PARTITIONED BY HOUR',
        poll_interval=0.05,
    ).execute(make_context())
    assert emu.count_requests("GET", r"/tables.*") == 0
    assert posts(emu) == 2


def test_the_emulator_still_rejects_a_misaligned_interval(emu: Any) -> None:
    _table(emu, "events", "day")
    spec = {**batch_spec(), "ingestionMode": "replace"}
    spec["target"] = {"type": "table", "tableName": "events", "intervals": [HOUR]}
    with _client(emu) as client, pytest.raises(PolarisBadRequestError, match="not aligned"):
        client.jobs.create(spec)


def test_table_append_without_a_data_interval_names_source_interval(emu: Any) -> None:
    """schedule=None (an empty data interval): append needs to know which source rows to read."""
    emu.clear_request_log()
    at = datetime(2024, 1, 1, 10, tzinfo=UTC)
    operator = PolarisTableToTableOperator(
        task_id="append",
        source_table="raw",
        target_table="copy",
        mappings=ROLLUP_MAPPINGS,
        mode="append",
        poll_interval=0.05,
    )
    with pytest.raises(AirflowFailException) as info:
        operator.execute(make_context(start=at, end=at))
    assert (
        str(info.value)
        .splitlines()[0]
        .startswith(
            "PolarisTableToTableOperator: source_interval: this run's data interval "
            "(2024-01-01 10:00:00+00:00/2024-01-01 10:00:00+00:00) is empty, so the source rows to "
            "append are unknown; pass source_interval='start/end' (ISO 8601), source_interval='all'"
        )
    )
    assert emu.request_log() == []
