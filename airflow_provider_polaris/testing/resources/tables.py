"""Tables (polaris-api.md §5): validation of their payloads, their requests and routes.

How a table looks to everyone (availability, rows and segments from the data plane) and how
a new one is stored are in ``_core.py``: jobs create tables too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._core import StateCore
from .._errors import bad, conflict, found
from .._http import RouteTable, collection, json_body, json_response, principal, query_lists
from .._rules import (
    INPUT_DATA_TYPES,
    TABLE_PARTITIONING,
    TIME_RESOLUTION,
    Params,
    check_enum,
    check_named,
    check_str_list,
    check_table_name,
    parse_interval,
)


def _check_schema(table_type: str, schema: Any) -> list[dict[str, Any]]:
    if schema is None:
        return []
    if not isinstance(schema, list):
        raise bad("schema must be a list", "schema")
    seen: set[str] = set()
    for i, column in enumerate(schema):
        where = f"schema[{i}]"
        check_named(column, where, "Each column needs a name")
        if column["name"] in seen:
            raise bad(f"Duplicate column {column['name']!r}", f"{where}.name")
        seen.add(column["name"])
        check_enum(column.get("dataType"), INPUT_DATA_TYPES, f"{where}.dataType")
        if table_type == "aggregate" and column["name"] != "__time":
            column.setdefault("type", "dimension")
            check_enum(column["type"], frozenset({"dimension", "measure"}), f"{where}.type")
    return schema


def validate_table(body: Any, *, creating: bool) -> dict[str, Any]:
    """Check a TablePayload; fill the documented defaults when ``creating``."""
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object")
    table = dict(body)
    check_table_name(table.get("name"))
    table_type = check_enum(table.get("type"), frozenset({"detail", "aggregate"}), "type")
    table["schemaMode"] = check_enum(
        table.get("schemaMode") or "strict", frozenset({"strict", "flexible"}), "schemaMode"
    )
    granularity = check_enum(
        table.get("partitioningGranularity") or "day", TABLE_PARTITIONING, "partitioningGranularity"
    )
    if creating and granularity == "week":
        raise bad("week partitioning is deprecated for new tables", "partitioningGranularity")
    table["partitioningGranularity"] = granularity
    if table_type == "aggregate":
        table["timeResolution"] = check_enum(
            table.get("timeResolution") or "millisecond", TIME_RESOLUTION, "timeResolution"
        )
    elif table.get("timeResolution") is not None:
        raise bad("timeResolution applies to aggregate tables only", "timeResolution")
    description = table.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 1000):
        raise bad("description must be a string of at most 1000 characters", "description")
    if table.get("clusteringColumns") is not None:
        check_str_list(table["clusteringColumns"], "clusteringColumns", allow_empty=True)
    table["schema"] = _check_schema(table_type, table.get("schema"))
    if not creating:
        version = table.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise bad("version is required when updating a table", "version")
    return table


class TablesApi(StateCore):
    """Table requests."""

    def create_table(self, body: Any, principal: dict[str, str]) -> dict[str, Any]:
        """POST /tables."""
        with self.lock:
            table = validate_table(body, creating=True)
            if table["name"] in self.tables:
                raise conflict(f"A table with name [{table['name']}] already exists", "name")
            return self._render_table(self._store_table(table, principal, self.clock.now()))

    def _table(self, name: str) -> dict[str, Any]:
        return found(self.tables, name, "Table", "tableName")

    def get_table(self, name: str) -> dict[str, Any]:
        """GET /tables/{name}."""
        with self.lock:
            self._advance_all()
            return self._render_table(self._table(name))

    def table_rows(self, name: str) -> list[dict[str, Any]]:
        """Rows the data plane holds for a table (control surface)."""
        with self.lock:
            self._advance_all()
            return list(self.dataplane.table_rows(name))

    def list_tables(self, params: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """GET /tables with the documented filters: ``partitioningGranularity`` (repeatable)
        and ``segmentCount`` (tables with exactly that many segments)."""
        with self.lock:
            self._advance_all()
            query = Params(params)
            wanted = query.many("partitioningGranularity", TABLE_PARTITIONING)
            segments = None
            if query.one("segmentCount") is not None:
                segments = query.integer("segmentCount", 0, 0)
            summaries = [
                self._render_table(t, summary=True)
                for t in self.tables.values()
                if not wanted or t["partitioningGranularity"] in wanted
            ]
            return {
                "values": [
                    t for t in summaries if segments is None or t["segmentCount"] == segments
                ]
            }

    def list_unused_segments(
        self, name: str, params: Mapping[str, Sequence[str]]
    ) -> dict[str, Any]:
        """GET /tables/{name}/unusedSegments: one page after the ``lastSegmentId`` cursor.

        The emulator keeps no unused segments (its data plane holds rows, not segment
        versions), so every page is empty; the table and the parameters are still checked.
        """
        with self.lock:
            self._table(name)
            query = Params(params)
            interval = query.one("interval")
            if interval is not None:
                parse_interval(interval, "interval")
            query.integer("limit", 100, 1)
            query.descending("ASC")
            return {"values": []}

    def update_table(self, name: str, body: Any, principal: dict[str, str]) -> dict[str, Any]:
        """PUT /tables/{name}: optimistic locking on ``version``; columns change only when empty."""
        with self.lock:
            current = self._table(name)
            if isinstance(body, dict):
                body = {"name": name, **body}
            table = validate_table(body, creating=False)
            self._check_update(name, current, table)
            return self._render_table(
                self._store_table(table, principal, self.clock.now(), current)
            )

    def _check_update(self, name: str, current: dict[str, Any], table: dict[str, Any]) -> None:
        """Same name, current version, same type; typed columns kept while there is data."""
        if table["name"] != name:
            raise bad("Table names can't change", "name")
        if table["version"] != current["version"]:
            raise conflict(
                f"Table {name} was modified: version {table['version']} is stale "
                f"(current {current['version']})",
                "version",
                code="Conflict",
            )
        if table["type"] != current["type"]:
            raise bad("The table type can't change", "type")
        new_types = {c["name"]: c["dataType"] for c in table["schema"]}
        changed = [
            c["name"] for c in current["schema"] if new_types.get(c["name"]) != c["dataType"]
        ]
        if changed and self.dataplane.has_table_data(name):
            raise bad(
                f"Columns {', '.join(changed)} can't be changed or removed "
                "while the table has data",
                "schema",
            )


async def _table(state: TablesApi, request: Request) -> Response:
    name = request.path_params["name"]
    if request.method == "GET":
        return json_response(state.get_table(name))
    return json_response(state.update_table(name, await json_body(request), principal(request)))


async def _unused_segments(state: TablesApi, request: Request) -> Response:
    name = request.path_params["name"]
    return json_response(state.list_unused_segments(name, query_lists(request)))


# ``/tables``, one table and its unused segments. (paths under the project)
ROUTES: RouteTable[TablesApi] = [
    ("/tables", collection(TablesApi.list_tables, TablesApi.create_table, "name"), ["GET", "POST"]),
    ("/tables/{name}", _table, ["GET", "PUT"]),
    ("/tables/{name}/unusedSegments", _unused_segments, ["GET"]),
]
