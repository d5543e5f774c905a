"""End to end on both lines: the flagship rollup emits the Asset (2.11: Dataset) event of its
table, and the consumer DAG scheduled on that Asset becomes due.

What is checked, honestly: the producer runs for real (``dag.test()`` against the emulator); the
event row is read from the metadata DB (``AssetEvent``/``DatasetEvent``) with its URI and extra;
the consumer is in the DB with its Asset schedule (on 3.3 ``dag.test()`` syncs the whole DAGs
folder; on 2.11 we sync the consumer as the DAG processor would), unpaused as a user would, and
then Airflow's own scheduler query ``DagModel.dags_needing_dagruns`` -- the query the scheduler
loop uses to decide which DAGs get a new run -- returns it. No scheduler process runs, so the
consumer's run itself is not created here; ``test_consumer_reads_the_event_extra`` runs the
consumer's task with ``dag.test()`` separately.

The DAGs run in a fresh pytest process (``test_in_a_fresh_process`` starts it): the consumer's
Asset URI depends on the emulator's address, and an earlier test of the session that parsed the
DAGs folder with another address leaves a stale serialized consumer behind on 3.3.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_polaris._compat import AIRFLOW_V_3_0_PLUS
from airflow_provider_polaris.assets import table_uri
from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.demo import seed_source_table

pytestmark = pytest.mark.dagtest

LOGICAL_DATE = datetime(2026, 1, 1, 11, tzinfo=timezone.utc)


def _seed(emulator: Any) -> None:
    config = PolarisConfig(
        project_id=emulator.project_id, base_url=emulator.base_url, api_key=emulator.api_key
    )
    with PolarisClient(config) as client:
        seed_source_table(client)


def _rollup_uri(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    org = urlsplit(emulator.base_url).netloc
    monkeypatch.setenv("POLARIS_ORG", org)
    monkeypatch.setenv("POLARIS_PROJECT_ID", emulator.project_id)
    monkeypatch.setenv("POLARIS_EXAMPLE_POLL_INTERVAL", "0.05")
    return table_uri(org, emulator.project_id, "events_hourly")


def _events(uri: str) -> list[Any]:
    """The extras of every event of ``uri`` in the metadata DB, oldest first."""
    from airflow.utils.session import create_session

    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.asset import AssetEvent, AssetModel

        with create_session() as session:
            rows = (
                session.query(AssetEvent)
                .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                .filter(AssetModel.uri == uri)
                .order_by(AssetEvent.id)
                .all()
            )
            return [dict(r.extra) for r in rows]
    from airflow.models.dataset import DatasetEvent, DatasetModel

    with create_session() as session:
        rows = (
            session.query(DatasetEvent)
            .join(DatasetModel, DatasetModel.id == DatasetEvent.dataset_id)
            .filter(DatasetModel.uri == uri)
        )
        return [dict(r.extra) for r in rows.all()]


def _sync_and_unpause(dag: Any) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    if not AIRFLOW_V_3_0_PLUS:
        dag.sync_to_db()
    with create_session() as session:
        model = session.get(DagModel, dag.dag_id)
        assert model is not None, f"{dag.dag_id} is not in the metadata DB"
        model.is_paused = False


def _clear_queue() -> None:
    """Forget the consumer's queued events (earlier tests of the session rolled up the same
    table of the same emulator project): the check below sees this test's event only."""
    from airflow.utils.session import create_session

    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.asset import AssetDagRunQueue as Queue
    else:
        from airflow.models.dataset import DatasetDagRunQueue as Queue
    with create_session() as session:
        session.query(Queue).filter(Queue.target_dag_id == "polaris_rollup_consumer").delete()


def _due_dag_ids() -> set[str]:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query, _ = DagModel.dags_needing_dagruns(session)
        return {model.dag_id for model in query}


_FRESH = "POLARIS_TEST_FRESH_PROCESS"


def test_in_a_fresh_process() -> None:
    """Runs the test below in a new interpreter with its own metadata DB."""
    if os.environ.get(_FRESH):
        pytest.skip("the outer test")
    inner = (
        f"{Path(__file__)}::test_rollup_emits_its_tables_asset_event_and_the_consumer_becomes_due"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            inner,
        ],
        env={**os.environ, _FRESH: "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout, done.stdout[-2000:]


def test_rollup_emits_its_tables_asset_event_and_the_consumer_becomes_due(
    polaris_emulator: Any, dag_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not os.environ.get(_FRESH):
        pytest.skip("runs in the fresh process started by test_in_a_fresh_process")
    uri = _rollup_uri(polaris_emulator, monkeypatch)
    _seed(polaris_emulator)
    consumer = dag_runner.load("polaris_rollup_consumer.py", "polaris_rollup_consumer")
    if not AIRFLOW_V_3_0_PLUS:
        _sync_and_unpause(consumer)
    _clear_queue()
    assert "polaris_rollup_consumer" not in _due_dag_ids()
    before = len(_events(uri))

    producer = dag_runner.load("polaris_hourly_rollup.py", "polaris_hourly_rollup")
    if not AIRFLOW_V_3_0_PLUS:  # as the DAG processor would (registers the outlet alias)
        producer.sync_to_db()
    run = dag_runner.run(producer, LOGICAL_DATE)
    assert str(run.state) in ("success", "DagRunState.SUCCESS"), run.state

    events = _events(uri)[before:]
    assert len(events) == 1, events  # one event, for this run's job
    (extra,) = events
    assert extra["interval"] == "2026-01-01T10:00:00Z/2026-01-01T11:00:00Z"
    config = PolarisConfig(
        project_id=polaris_emulator.project_id,
        base_url=polaris_emulator.base_url,
        api_key=polaris_emulator.api_key,
    )
    with PolarisClient(config) as client:  # the event names the job that wrote the table
        job = client.jobs.get(extra["job_id"])
    assert job["executionStatus"] == "completed" and job["target"]["tableName"] == "events_hourly"
    assert extra["rows_persisted"] == len(polaris_emulator.table_rows("events_hourly"))

    if AIRFLOW_V_3_0_PLUS:
        _sync_and_unpause(consumer)
    assert "polaris_rollup_consumer" in _due_dag_ids()
