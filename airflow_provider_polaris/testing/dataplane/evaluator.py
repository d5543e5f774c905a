"""Evaluate expression trees against a row (or a group of rows, for aggregates).

``arithmetic`` and ``like_regex`` are re-exported from :mod:`.operators` for older imports.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.aggregates import check_aggregate
from airflow_provider_polaris.testing.dataplane.compiler import RowFn, compile_node
from airflow_provider_polaris.testing.dataplane.errors import ExpressionError
from airflow_provider_polaris.testing.dataplane.functions import FUNCTIONS
from airflow_provider_polaris.testing.dataplane.operators import arithmetic, like_regex
from airflow_provider_polaris.testing.dataplane.values import truth

Row = Mapping[str, Any]
_EMPTY: Row = {}
__all__ = ["Evaluator", "arithmetic", "is_true", "like_regex", "validate"]


def validate(node: n.Node, *, allow_aggregates: bool, where: str = "expression") -> None:
    """Check function names, arities and aggregate placement before any row is evaluated."""
    if isinstance(node, n.Call):
        if node.is_aggregate:
            if not allow_aggregates:
                raise ExpressionError(f"Aggregate functions are not allowed in {where}")
            check_aggregate(node)
            return
        function = FUNCTIONS.get(node.name)
        if function is None and node.name not in ("CURRENT_TIMESTAMP", "CURRENT_DATE"):
            raise ExpressionError(f"No match found for function signature {node.name}")
        if function is not None and not (function.min_args <= len(node.args) <= function.max_args):
            raise ExpressionError(f"Invalid number of arguments to function '{node.name}'")
    if isinstance(node, n.Star):
        raise ExpressionError("'*' is only allowed in COUNT(*) and SELECT *")
    for child in n.children(node):
        validate(child, allow_aggregates=allow_aggregates, where=where)


class Evaluator:
    """Evaluates expressions with SQL three-valued logic.

    ``params`` binds ``?`` placeholders; ``now_ms`` answers CURRENT_TIMESTAMP. Each distinct
    node is compiled to a closure on first use (:mod:`.compiler`) and reused for every row.
    """

    def __init__(self, params: Sequence[Any] = (), now_ms: Callable[[], int] | None = None) -> None:
        self.params = list(params)
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        # Keyed by id(): hashing a frozen dataclass tree walks the whole tree on every lookup.
        # The node is kept in the value so its id can't be reused while cached.
        self._compiled: dict[int, tuple[n.Node, RowFn]] = {}

    def compiled(self, node: n.Node) -> RowFn:
        """The closure for ``node`` (compiled on first use)."""
        entry = self._compiled.get(id(node))
        if entry is None:
            entry = (node, compile_node(node, self.params, self.now_ms))
            self._compiled[id(node)] = entry
        return entry[1]

    def row(self, node: n.Node, row: Row) -> Any:
        """Evaluate a non-aggregate expression on one row."""
        return self.compiled(node)(row, None)

    def group(self, node: n.Node, rows: Sequence[Row]) -> Any:
        """Evaluate an expression over a group: aggregates see every row, the rest the first."""
        return self.compiled(node)(rows[0] if rows else _EMPTY, rows)


def is_true(value: Any) -> bool:
    """WHERE/HAVING/filter semantics: only TRUE passes (NULL and FALSE don't)."""
    return truth(value) is True
