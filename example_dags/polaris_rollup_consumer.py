"""Runs whenever the hourly rollup (``polaris_hourly_rollup``) rewrote ``events_hourly``.

Data-aware scheduling: the rollup's job operator emits an Asset event (a Dataset event on Airflow
2.11) for ``polaris://{org}/{project_id}/events_hourly`` once its job **completed**; this DAG is
scheduled on that Asset, so Airflow starts it after each successful rollup. The event's extra
carries ``job_id``, ``rows_persisted`` and ``interval`` (the hour the rollup replaced): this DAG
reads them from ``triggering_asset_events`` and logs them. See docs/lineage.md.

Set ``POLARIS_ORG`` (your organization; for a connection given as a base URL such as the
emulator's, that URL's ``host:port``) and ``POLARIS_PROJECT_ID`` in the environment of the DAG
processor, or write them into ``ROLLUP_ASSET`` below.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from airflow_provider_polaris.assets import polaris_asset

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.decorators import task  # type: ignore[no-redef]

ROLLUP_ASSET = polaris_asset(
    os.environ.get("POLARIS_ORG", "myorg"),
    os.environ.get("POLARIS_PROJECT_ID", "00000000-0000-0000-0000-000000000000"),
    "events_hourly",
)

with DAG(
    dag_id="polaris_rollup_consumer",
    schedule=[ROLLUP_ASSET],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["polaris", "example"],
    doc_md=__doc__,
) as dag:

    @task
    def report_rollup_events(**context: Any) -> list[dict[str, Any]]:
        """Log what the rollup jobs that triggered this run wrote (from the events' extra)."""
        events = context.get("triggering_asset_events") or context.get("triggering_dataset_events")
        seen = []
        for asset_events in (events or {}).values():
            for event in asset_events:
                print(f"{ROLLUP_ASSET.uri}: {event.extra}")
                seen.append(dict(event.extra))
        return seen

    report_rollup_events()
