"""Synchronous SQL queries: ``POST /v1/projects/{projectId}/query/sql``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from airflow_provider_polaris.client._core import ApiCall, parse_json
from airflow_provider_polaris.client._resource import M, Resource, endpoint

JSON_RESULT_FORMATS = frozenset({"object", "array"})
RESULT_FORMATS = frozenset({"object", "array", "objectLines", "arrayLines", "csv"})


def _parse_result(result_format: str) -> Any:
    def parse(response: httpx.Response) -> Any:
        if result_format in JSON_RESULT_FORMATS:
            return parse_json(response)
        return response.text

    return parse


class QueryApi(Resource[M]):
    """Run Druid SQL against the project's tables."""

    @endpoint
    def sql(
        self,
        query: str,
        *,
        parameters: Sequence[Mapping[str, Any]] | None = None,
        result_format: str = "object",
        context: Mapping[str, Any] | None = None,
        header: bool = False,
        types_header: bool = False,
        sql_types_header: bool = False,
    ) -> ApiCall[Any]:
        """Run ``query``; ``?`` placeholders bind to ``parameters`` (``{"type", "value"}``).

        Returns parsed JSON (a list of rows) for the ``object``/``array`` formats and the raw
        text for ``objectLines``, ``arrayLines`` and ``csv``.
        """
        if result_format not in RESULT_FORMATS:
            raise ValueError(f"result_format must be one of {sorted(RESULT_FORMATS)}")
        body: dict[str, Any] = {"query": query, "resultFormat": result_format}
        if parameters:
            body["parameters"] = [dict(p) for p in parameters]
        if context:
            body["context"] = dict(context)
        if header:
            body["header"] = True
        if types_header:
            body["typesHeader"] = True
        if sql_types_header:
            body["sqlTypesHeader"] = True
        # A read-only query may be re-sent safely.
        return ApiCall(
            "POST", "/query/sql", _parse_result(result_format), json=body, idempotent=True
        )
