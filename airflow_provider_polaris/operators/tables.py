"""Create or update Polaris tables (``/v1/projects/{project}/tables``).

Polaris has no DELETE for tables: drop a table or delete its data with the maintenance jobs
(``drop_table``, ``delete_data``) through the jobs operators; see ``docs/setup-operators.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.operators._base import PolarisCreateOperator

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context
    from airflow_provider_polaris.models.tables import TableSpec

_NOT_COMPARED = frozenset({"name", "version"})


def _columns(schema: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(schema, list):
        return {}
    return {c["name"]: c for c in schema if isinstance(c, Mapping) and "name" in c}


def table_differences(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> list[str]:
    """Readable differences between a desired table spec and the table Polaris has.

    Only settings the spec sets are compared (Polaris fills in defaults); the schema is compared
    column by column: columns missing in Polaris, different data types or column types, and
    columns Polaris has that the spec leaves out (except ``__``-prefixed system columns such as
    ``__time``, which Polaris may add itself).
    """
    lines: list[str] = []
    for key, want in desired.items():
        if key in _NOT_COMPARED:
            continue
        have = existing.get(key)
        if key == "schema":
            have_cols = _columns(have)
            for name, col in _columns(want).items():
                other = have_cols.get(name)
                if other is None:
                    lines.append(f"schema: column {name!r} is missing in Polaris")
                    continue
                for attr in ("dataType", "type"):
                    if attr in col and col[attr] != other.get(attr):
                        lines.append(
                            f"schema: column {name!r} {attr} is {other.get(attr)!r} in Polaris, "
                            f"spec wants {col[attr]!r}"
                        )
            wanted = _columns(want)
            for name in have_cols:
                if name not in wanted and not name.startswith("__"):
                    lines.append(f"schema: column {name!r} is in Polaris but not in the spec")
        elif want != have:
            lines.append(f"{key}: Polaris has {json.dumps(have)}, spec wants {json.dumps(want)}")
    return lines


class PolarisCreateTableOperator(PolarisCreateOperator):
    """Create a Polaris table (``POST /tables``), idempotently.

    :param table: the table spec (dict or ``TableSpec``): ``name``, ``type`` (``detail`` |
        ``aggregate``), ``schemaMode`` (``strict`` | ``flexible``), ``schema`` (columns; aggregate
        tables mark each as ``dimension`` or ``measure``), ``partitioningGranularity``,
        ``timeResolution``, ``queryGranularity``, ``clusteringColumns``, ``storagePolicy``...
        snake_case keys work too. Templated (``.json`` files are rendered as templates).
    :param if_exists: on a 409 (the name exists): ``ignore`` (default) reads the table and logs
        every difference from the spec; ``update`` PUTs the spec with the table's current
        ``version`` (re-reading and retrying once if another writer changed it meanwhile), and
        sends nothing when the table already matches the spec (``"unchanged"``, the version
        stays); ``fail`` fails the task.
    :param allow_unknown_fields: fields the provider doesn't know are errors (a misspelled key
        would be ignored by Polaris); ``True`` sends every unknown field as given, a list sends
        the listed dotted paths (``["storagePolicy.someNewField"]``), each with a warning.
    :return: (XCom) ``{"name", "action": "created"|"exists"|"updated"|"unchanged", "version",
        "availability", "differences"}``.

    The spec is validated before any request (field names, data types, partitioning, time
    resolution, detail vs aggregate rules).
    """

    resource = "table"
    template_fields: Sequence[str] = ("table",)
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers = {"table": "json"}

    def __init__(
        self,
        *,
        table: Mapping[str, Any] | TableSpec | str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_polaris.client import PolarisConflictError
        from airflow_provider_polaris.models.errors import PolarisSpecError
        from airflow_provider_polaris.models.tables import parse_table_spec

        try:
            table = json.loads(self.table) if isinstance(self.table, str) else self.table
        except ValueError as exc:
            raise AirflowFailException(f"table is not valid JSON: {exc}") from None
        try:
            spec = parse_table_spec(table, allow_unknown_fields=self.allow_unknown_fields)
        except PolarisSpecError as exc:
            raise AirflowFailException(str(exc)) from None
        desired = spec.to_api()
        desired.pop("version", None)
        name = spec.name
        client = self.hook.get_client()
        try:
            created = client.tables.create(desired)
        except PolarisConflictError:
            self.refuse_existing(name)
            if self.if_exists == "update":
                return self._update(client, name, desired)
            existing = client.tables.get(name)
            differences = table_differences(desired, existing)
            self.log_existing(name, differences)
            return self._result(existing, name, "exists", differences)
        self.log.info("Created Polaris %s table %r", spec.type, name)
        return self._result(created, name, "created", [])

    def _update(self, client: Any, name: str, desired: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_polaris.client import PolarisConflictError

        for attempt in (1, 2):
            existing = client.tables.get(name)
            differences = table_differences(desired, existing)
            if not differences:
                # A PUT would only bump the version (and fail on a busy table): send nothing.
                self.log.info("Polaris table %r already matches the spec; not updated", name)
                return self._result(existing, name, "unchanged", [])
            body = {**desired, "version": existing.get("version", 0)}
            try:
                updated = client.tables.update(name, body)
            except PolarisConflictError:
                if attempt == 2:
                    raise AirflowFailException(
                        f"Polaris table {name!r} changed again while it was being updated "
                        "(version conflict twice); retry later"
                    ) from None
                self.log.warning(
                    "Polaris table %r changed since it was read (stale version %s); re-reading",
                    name,
                    body["version"],
                )
                continue
            self.log.info(
                "Updated Polaris table %r (version %s -> %s)%s",
                name,
                body["version"],
                updated.get("version"),
                ":\n  " + "\n  ".join(differences) if differences else "",
            )
            return self._result(updated, name, "updated", differences)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _result(
        table: Mapping[str, Any], name: str, action: str, differences: list[str]
    ) -> dict[str, Any]:
        return {
            "name": name,
            "action": action,
            "version": table.get("version"),
            "availability": table.get("availability"),
            "differences": differences,
        }
