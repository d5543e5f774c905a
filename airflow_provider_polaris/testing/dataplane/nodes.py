"""Syntax tree of expressions and statements.

Nodes are frozen dataclasses, so two parses of the same expression compare equal: GROUP BY and
ORDER BY match select items by structural equality.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

AGGREGATES = frozenset(
    {
        "COUNT",
        "SUM",
        "MIN",
        "MAX",
        "AVG",
        "LATEST",
        "EARLIEST",
        "LATEST_BY",
        "EARLIEST_BY",
        "ANY_VALUE",
        "APPROX_COUNT_DISTINCT",
        "APPROX_COUNT_DISTINCT_DS_HLL",
        "APPROX_COUNT_DISTINCT_DS_THETA",
    }
)


@dataclass(frozen=True)
class Literal:
    """A constant (None for NULL; Timestamp for TIMESTAMP '...')."""

    value: Any


@dataclass(frozen=True)
class Column:
    """A column or input-field reference."""

    name: str


@dataclass(frozen=True)
class Param:
    """A ``?`` placeholder (0-based position)."""

    index: int


@dataclass(frozen=True)
class Star:
    """``*`` in ``COUNT(*)`` or ``SELECT *``."""


@dataclass(frozen=True)
class Unary:
    """``-x``, ``+x`` or ``NOT x``."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    """Arithmetic, comparison, ``||``, ``AND`` and ``OR``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class IsNull:
    """``x IS [NOT] NULL`` (also ``IS [NOT] TRUE/FALSE`` via ``value``)."""

    operand: Node
    negated: bool
    value: Any = None


@dataclass(frozen=True)
class InList:
    """``x [NOT] IN (a, b, ...)``."""

    operand: Node
    items: tuple[Node, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    """``x [NOT] LIKE pattern [ESCAPE c]``."""

    operand: Node
    pattern: Node
    negated: bool
    escape: Node | None = None


@dataclass(frozen=True)
class Between:
    """``x [NOT] BETWEEN low AND high``."""

    operand: Node
    low: Node
    high: Node
    negated: bool


@dataclass(frozen=True)
class Case:
    """Searched or simple ``CASE``; a simple CASE is stored with ``subject`` set."""

    subject: Node | None
    whens: tuple[tuple[Node, Node], ...]
    default: Node | None


@dataclass(frozen=True)
class Cast:
    """``CAST(x AS type)``; ``type_name`` upper-cased, e.g. ``BIGINT``."""

    operand: Node
    type_name: str


@dataclass(frozen=True)
class Call:
    """A function call; ``name`` upper-cased. ``FLOOR(x TO HOUR)`` becomes ``FLOOR`` with a
    string literal second argument and ``to_unit`` set."""

    name: str
    args: tuple[Node, ...]
    distinct: bool = False
    to_unit: bool = False

    @property
    def is_aggregate(self) -> bool:
        """True for aggregate functions (COUNT, SUM, ...)."""
        return self.name in AGGREGATES


Node: TypeAlias = (
    Literal
    | Column
    | Param
    | Star
    | Unary
    | Binary
    | IsNull
    | InList
    | Like
    | Between
    | Case
    | Cast
    | Call
)


def children(node: Node) -> Iterator[Node]:
    """The direct sub-expressions of a node."""
    if isinstance(node, Unary):
        yield node.operand
    elif isinstance(node, Binary):
        yield node.left
        yield node.right
    elif isinstance(node, (IsNull, Cast)):
        yield node.operand
    elif isinstance(node, InList):
        yield node.operand
        yield from node.items
    elif isinstance(node, Like):
        yield node.operand
        yield node.pattern
        if node.escape is not None:
            yield node.escape
    elif isinstance(node, Between):
        yield from (node.operand, node.low, node.high)
    elif isinstance(node, Case):
        if node.subject is not None:
            yield node.subject
        for when, then in node.whens:
            yield when
            yield then
        if node.default is not None:
            yield node.default
    elif isinstance(node, Call):
        yield from node.args


def contains_aggregate(node: Node) -> bool:
    """True when an aggregate call appears anywhere in the expression."""
    if isinstance(node, Call) and node.is_aggregate:
        return True
    return any(contains_aggregate(child) for child in children(node))


def column_names(node: Node) -> set[str]:
    """Every column the expression references."""
    if isinstance(node, Column):
        return {node.name}
    names: set[str] = set()
    for child in children(node):
        names |= column_names(child)
    return names


@dataclass(frozen=True)
class SelectItem:
    """One output column: an expression and its name (alias or derived)."""

    expr: Node
    alias: str | None


@dataclass(frozen=True)
class OrderItem:
    """One ORDER BY key."""

    expr: Node
    descending: bool


@dataclass(frozen=True)
class TableSource:
    """``FROM "table"``."""

    name: str


@dataclass(frozen=True)
class ExternalSource:
    """``FROM TABLE(POLARIS_SOURCE('<json>'))``: a Polaris source spec (uploaded/inline/...)."""

    spec: dict[str, Any] = field(hash=False, compare=False)
    text: str = ""


@dataclass(frozen=True)
class Select:
    """A SELECT statement."""

    items: tuple[SelectItem, ...]
    source: TableSource | ExternalSource | None
    where: Node | None = None
    group_by: tuple[Node, ...] | None = None
    having: Node | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int = 0
    distinct: bool = False


@dataclass(frozen=True)
class Insert:
    """``INSERT INTO`` / ``REPLACE INTO`` with ``OVERWRITE`` (``overwrite`` is ``"all"``, a WHERE
    expression, or None for INSERT)."""

    table: str
    select: Select
    replace: bool
    overwrite: Node | str | None
    partitioned_by: str | None
    clustered_by: tuple[Node, ...] = ()
