"""Lineage of the job operators: Asset events on success, and OpenLineage facets.

Assets (docs/lineage.md): the table's URI needs the organization and project, which come from the
Airflow connection; the connection is read only at run time, never at parse time. So an operator
declares an ``AssetAlias`` outlet (known at parse time) and, once its job **completed**, adds the
event for ``polaris://{org}/{project_id}/{table}`` through that alias, with ``job_id``,
``rows_persisted`` and ``interval`` as the event's extra. DAGs scheduled on that Asset run.

OpenLineage: ``openlineage_facets`` builds ``OperatorLineage`` from what the task already knows
(the job document, the ``/metrics`` totals it logged) plus ``GET /tables/{name}`` for the schema
facet. Airflow calls it only when the OpenLineage provider is installed; it never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_polaris.operators._canonical import request_of
from airflow_provider_polaris.outcomes import JobState

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context

_NAME = r'("(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_SQL_TARGET = re.compile(r"\b(?:INSERT|REPLACE)\s+INTO\s+" + _NAME, re.IGNORECASE)
_SQL_SOURCE = re.compile(r"\b(?:FROM|JOIN)\s+" + _NAME, re.IGNORECASE)


def _unquote_sql(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def sql_tables(sql: str) -> tuple[str | None, list[str]]:
    """The table an ``INSERT``/``REPLACE INTO`` writes and the tables it reads (``FROM``/``JOIN``
    of plain or quoted names; ``TABLE(EXTERN(...))`` sources are not tables and are skipped)."""
    target = _SQL_TARGET.search(sql)
    written = _unquote_sql(target.group(1)) if target else None
    sources: list[str] = []
    for match in _SQL_SOURCE.finditer(sql):
        name = _unquote_sql(match.group(1))
        if name.upper() != "TABLE" and name != written and name not in sources:
            sources.append(name)
    return written, sources


def written_table(job: Mapping[str, Any]) -> str | None:
    """The table a job writes: ``target.tableName``, or the SQL statement's target."""
    table = JobState(job).target_table
    query = request_of(job).get("query")
    if table is None and isinstance(query, str):
        table = sql_tables(query)[0]
    return table


def source_tables(job: Mapping[str, Any]) -> list[str]:
    """The Polaris tables a job reads: a ``table`` source, or the SQL statement's sources."""
    spec = request_of(job)
    source = spec.get("source")
    if isinstance(source, Mapping) and source.get("type") == "table":
        name = source.get("tableName")
        return [name] if isinstance(name, str) else []
    query = spec.get("query")
    if isinstance(query, str) and JobState(job).job_type == "sql":
        return sql_tables(query)[1]
    return []


def project_of(hook: Any) -> tuple[str, str]:
    """``(org, project_id)`` of the hook's connection, as the Asset URI spells them."""
    from airflow_provider_polaris.assets import org_of

    config = hook.get_config()
    return org_of(config), config.project_id.lower()


def event_interval(job: Mapping[str, Any], context: Context) -> str | None:
    """The interval the job wrote: its replace intervals, else the run's data interval."""
    target = request_of(job).get("target")
    intervals = target.get("intervals") if isinstance(target, Mapping) else None
    if isinstance(intervals, list) and intervals:
        return ",".join(str(i) for i in intervals)
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        return None
    return f"{start.isoformat()}/{end.isoformat()}"


def emit_table_event(
    op: Any, context: Context, job: Mapping[str, Any], totals: Mapping[str, Any] | None
) -> None:
    """Add the Asset event of the table ``job`` wrote through the task's alias (completed jobs
    only; the caller checks). Best effort: a failure is logged, the task still succeeds."""
    from airflow_provider_polaris._compat import Asset, AssetAlias, asset_alias_registered
    from airflow_provider_polaris.assets import table_uri

    alias = getattr(op, "polaris_asset_alias", None)
    table = written_table(job)
    if alias is None or table is None:
        return
    try:
        org, project = project_of(op.hook)
        uri = table_uri(org, project, table)
        if not asset_alias_registered(alias):
            op.log.warning(
                "No Dataset event for %s: alias %r is not in the metadata DB (Airflow 2.11 "
                "records alias events only for DAGs the DAG processor synced; dag.test() of an "
                "unsynced DAG does not)",
                uri,
                alias,
            )
            return
        rows = (totals or {}).get("numRowsPersisted")
        extra = {"job_id": JobState(job).job_id, "rows_persisted": rows}
        extra["interval"] = event_interval(job, context)
        context["outlet_events"][AssetAlias(alias)].add(Asset(uri), extra=extra)
        op.log.info("Asset event for %s (alias %s): %s", uri, alias, extra)
    except Exception as exc:  # lineage must never fail a job that succeeded
        op.log.warning("Could not emit the Asset event for table %r: %s", table, exc)


def _input_names(op: Any, job: Mapping[str, Any], org: str, project: str) -> list[tuple[str, str]]:
    """``(namespace, name)`` of every input: uploaded files, object-store URIs, the stream of a
    Kafka/Kinesis connection (one ``GET /connections/{name}``), the source tables."""
    namespace = f"polaris://{org}"
    source = request_of(job).get("source")
    source = source if isinstance(source, Mapping) else {}
    found = [(namespace, f"{project}/files/{name}") for name in source.get("fileList") or []]
    for key in ("uris", "prefixes", "objects"):
        for uri in source.get(key) or []:
            scheme, _, rest = str(uri).partition("://")
            bucket, _, path = rest.partition("/")
            found.append((f"{scheme}://{bucket}", path) if rest else (namespace, str(uri)))
    conn_name = source.get("connectionName")
    if isinstance(conn_name, str) and source.get("type") in ("connection", "kafka", "kinesis"):
        found.extend(_stream_of(op, conn_name))
    found.extend((namespace, f"{project}/{table}") for table in source_tables(job))
    return found


def _stream_of(op: Any, conn_name: str) -> list[tuple[str, str]]:
    conn = op.hook.get_client().connections.get(conn_name)
    if conn.get("topicName"):
        servers = str(conn.get("bootstrapServers") or "").split(",")[0]
        return [(f"kafka://{servers}", str(conn["topicName"]))]
    if conn.get("stream"):
        return [(f"kinesis://{conn.get('awsEndpoint') or ''}", str(conn["stream"]))]
    return []


def openlineage_facets(op: Any) -> Any:
    """``OperatorLineage`` for the job the task ran (empty before a job completed); never
    raises: an error is logged and an empty lineage returned."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    job = getattr(op, "lineage_job", None)
    if not job:
        return OperatorLineage()
    try:
        return _build_lineage(op, job, getattr(op, "lineage_totals", None))
    except Exception as exc:
        op.log.warning("Could not build the OpenLineage facets of the Polaris job: %s", exc)
        return OperatorLineage()


def _build_lineage(op: Any, job: Mapping[str, Any], totals: Mapping[str, Any] | None) -> Any:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import (
        external_query_run,
        output_statistics_output_dataset,
        schema_dataset,
    )

    org, project = project_of(op.hook)
    inputs = [InputDataset(ns, name) for ns, name in _input_names(op, job, org, project)]
    outputs: list[Any] = []
    table = written_table(job)
    if table is not None:
        facets: dict[str, Any] = {}
        doc = op.hook.get_client().tables.get(table)
        columns = [c for c in doc.get("schema") or [] if isinstance(c, Mapping)]
        fields = [
            schema_dataset.SchemaDatasetFacetFields(name=str(c["name"]), type=c.get("dataType"))
            for c in columns
        ]
        facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=fields)
        stats: dict[str, Any] = {}
        rows = (totals or {}).get("numRowsPersisted")
        if isinstance(rows, int):
            stats["outputStatistics"] = (
                output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows)
            )
        outputs.append(
            OutputDataset(
                f"polaris://{org}", f"{project}/{table}", facets=facets, outputFacets=stats
            )
        )
    job_id = JobState(job).job_id or ""
    run = {"externalQuery": external_query_run.ExternalQueryRunFacet(job_id, f"polaris://{org}")}
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run)
