"""The OpenLineage method never raises and makes no request before a job completed (real
emulator over HTTP; the operator is the provider's own, nothing is mocked)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_polaris.operators.jobs import PolarisTableToTableOperator

pytest.importorskip("airflow.providers.openlineage")


def _operator() -> PolarisTableToTableOperator:
    return PolarisTableToTableOperator(
        task_id="rollup", source_table="a", target_table="missing_table", mappings=[]
    )


def test_no_request_and_empty_lineage_before_a_job_completed(polaris_emulator: Any) -> None:
    from airflow.providers.openlineage.extractors import OperatorLineage

    polaris_emulator.clear_request_log()
    assert _operator().get_openlineage_facets_on_complete(None) == OperatorLineage()
    assert polaris_emulator.request_log() == []


def test_a_failing_lookup_is_logged_and_gives_empty_lineage(
    polaris_emulator: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow.providers.openlineage.extractors import OperatorLineage

    op = _operator()
    op.lineage_job = {"id": "j1", "type": "batch", "target": {"tableName": "missing_table"}}
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage()
    assert polaris_emulator.count_requests("GET", r"/tables/missing_table$") >= 1
    shown = caplog.text + "".join(capsys.readouterr())  # 3.x task logs go through structlog
    assert "Could not build the OpenLineage facets" in shown
