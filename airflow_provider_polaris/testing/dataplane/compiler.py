"""Compile expression trees into Python closures: the one implementation of SQL evaluation.

Walking a tree with ``isinstance`` dispatch for every row cost tens of microseconds per
streaming event; a closure tree built once per expression costs a few. Every closure takes
``(row, group)``: ``group`` is None for row context (mappings, WHERE) and the group's rows for
aggregate context, where aggregate calls see every row and everything else sees ``row`` (the
group's first row).

Compiling never raises: what can only be rejected while evaluating (an aggregate outside a
group, an unbound ``?``, a node that isn't an expression) becomes a closure that raises when it
runs, so an expression that is never evaluated never fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.aggregates import aggregate
from airflow_provider_polaris.testing.dataplane.errors import ExpressionError
from airflow_provider_polaris.testing.dataplane.functions import (
    FUNCTIONS,
    function_caller,
    unary_caller,
)
from airflow_provider_polaris.testing.dataplane.operators import arithmetic, like_regex
from airflow_provider_polaris.testing.dataplane.timeutil import Timestamp
from airflow_provider_polaris.testing.dataplane.values import (
    cast,
    compare,
    to_number,
    to_string,
    truth,
)

Row = Mapping[str, Any]
Group = Sequence[Row] | None
RowFn = Callable[[Row, Group], Any]

_COMPARISONS: dict[str, Callable[[int], bool]] = {
    "=": lambda order: order == 0,
    "<>": lambda order: order != 0,
    "<": lambda order: order < 0,
    "<=": lambda order: order <= 0,
    ">": lambda order: order > 0,
    ">=": lambda order: order >= 0,
}


def compile_node(node: n.Node, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    """A function computing ``node`` for ``(row, group)``; ``params`` bind ``?`` and ``now_ms``
    answers CURRENT_TIMESTAMP."""
    compiler = _COMPILERS.get(type(node))
    if compiler is None:
        return _raiser(f"'{type(node).__name__}' is not allowed here")
    return compiler(node, params, now_ms)


def _raiser(message: str) -> RowFn:
    def fail(row: Row, group: Group) -> Any:
        raise ExpressionError(message)

    return fail


def _literal(node: n.Literal, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    value = node.value
    return lambda row, group: value


def _column(node: n.Column, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    name = node.name
    return lambda row, group: row.get(name)


def _param(node: n.Param, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    if node.index >= len(params):
        return _raiser(f"No value bound for parameter {node.index + 1}")
    value = params[node.index]
    return lambda row, group: value


def _unary(node: n.Unary, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    operand = compile_node(node.operand, params, now_ms)
    if node.op == "NOT":

        def negate(row: Row, group: Group) -> Any:
            flag = truth(operand(row, group))
            return None if flag is None else not flag

        return negate

    def minus(row: Row, group: Group) -> Any:
        number = to_number(operand(row, group))
        return None if number is None else -number

    return minus


def _binary(node: n.Binary, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    op = node.op
    left = compile_node(node.left, params, now_ms)
    right = compile_node(node.right, params, now_ms)
    if op == "AND":

        def both(row: Row, group: Group) -> Any:
            a = truth(left(row, group))
            if a is False:  # short-circuit exactly where three-valued logic allows it
                return False
            b = truth(right(row, group))
            return False if b is False else (None if a is None or b is None else True)

        return both
    if op == "OR":

        def either(row: Row, group: Group) -> Any:
            a = truth(left(row, group))
            if a is True:
                return True
            b = truth(right(row, group))
            return True if b is True else (None if a is None or b is None else False)

        return either
    if op == "||":

        def concat(row: Row, group: Group) -> Any:
            a, b = left(row, group), right(row, group)
            if a is None or b is None:
                return None
            return (to_string(a) or "") + (to_string(b) or "")

        return concat
    test = _COMPARISONS.get(op)
    if test is not None:

        def comparison(row: Row, group: Group) -> Any:
            order = compare(left(row, group), right(row, group))
            return None if order is None else test(order)

        return comparison
    return lambda row, group: arithmetic(op, left(row, group), right(row, group))


def _call(node: n.Call, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    name = node.name
    if node.is_aggregate:
        return _aggregate_call(node, params, now_ms)
    if name == "CURRENT_TIMESTAMP":
        return lambda row, group: Timestamp(now_ms())
    if name == "CURRENT_DATE":
        return lambda row, group: cast(Timestamp(now_ms()), "DATE")
    if name not in FUNCTIONS:  # validate() reports unknown names before anything runs
        return _raiser(f"No match found for function signature {name}")
    unary = unary_caller(name) if len(node.args) == 1 else None
    if unary is not None:
        (arg,) = node.args
        if isinstance(arg, n.Column):  # the common mapping shape: FUNC("field")
            field = arg.name
            return lambda row, group: unary(row.get(field))
        only = compile_node(arg, params, now_ms)
        return lambda row, group: unary(only(row, group))
    caller = function_caller(name)
    args = [compile_node(arg, params, now_ms) for arg in node.args]
    return lambda row, group: caller([arg(row, group) for arg in args])


def _aggregate_call(node: n.Call, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    compiled = {id(arg): compile_node(arg, params, now_ms) for arg in node.args}
    message = f"Aggregate {node.name} is not allowed here"

    def argument(arg: n.Node, row: Row) -> Any:
        return compiled[id(arg)](row, None)

    def combine(row: Row, group: Group) -> Any:
        if group is None:
            raise ExpressionError(message)
        return aggregate(node, group, argument)

    return combine


def _is_null(node: n.IsNull, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    operand = compile_node(node.operand, params, now_ms)
    wanted, negated = node.value, node.negated
    if wanted is None:
        return lambda row, group: (operand(row, group) is None) != negated
    return lambda row, group: (truth(operand(row, group)) is wanted) != negated


def _in_list(node: n.InList, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    operand = compile_node(node.operand, params, now_ms)
    items = [compile_node(item, params, now_ms) for item in node.items]
    negated = node.negated

    def member(row: Row, group: Group) -> Any:
        value = operand(row, group)
        if value is None:
            return None
        saw_null = False
        for item in items:
            order = compare(value, item(row, group))
            if order == 0:
                return not negated
            saw_null = saw_null or order is None
        return None if saw_null else negated

    return member


def _like(node: n.Like, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    operand = compile_node(node.operand, params, now_ms)
    pattern = compile_node(node.pattern, params, now_ms)
    escape = None if node.escape is None else compile_node(node.escape, params, now_ms)
    negated = node.negated

    def like(row: Row, group: Group) -> Any:
        value, text = operand(row, group), pattern(row, group)
        mark = None if escape is None else escape(row, group)
        if value is None or text is None:
            return None
        matched = like_regex(str(text), mark).fullmatch(to_string(value) or "") is not None
        return matched != negated

    return like


def _between(node: n.Between, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    operand = compile_node(node.operand, params, now_ms)
    low = compile_node(node.low, params, now_ms)
    high = compile_node(node.high, params, now_ms)
    negated = node.negated

    def between(row: Row, group: Group) -> Any:
        value = operand(row, group)
        above, below = compare(value, low(row, group)), compare(value, high(row, group))
        if above is None or below is None:
            return None
        return (above >= 0 and below <= 0) != negated

    return between


def _case(node: n.Case, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    subject = None if node.subject is None else compile_node(node.subject, params, now_ms)
    whens = [
        (compile_node(when, params, now_ms), compile_node(then, params, now_ms))
        for when, then in node.whens
    ]
    default = None if node.default is None else compile_node(node.default, params, now_ms)

    def case(row: Row, group: Group) -> Any:
        value = None if subject is None else subject(row, group)
        for when, then in whens:
            tested = when(row, group)
            hit = compare(value, tested) == 0 if subject is not None else truth(tested)
            if hit:
                return then(row, group)
        return None if default is None else default(row, group)

    return case


def _cast(node: n.Cast, params: Sequence[Any], now_ms: Callable[[], int]) -> RowFn:
    operand = compile_node(node.operand, params, now_ms)
    type_name = node.type_name
    return lambda row, group: cast(operand(row, group), type_name)


_COMPILERS: dict[type, Callable[[Any, Sequence[Any], Callable[[], int]], RowFn]] = {
    n.Literal: _literal,
    n.Column: _column,
    n.Param: _param,
    n.Unary: _unary,
    n.Binary: _binary,
    n.Call: _call,
    n.IsNull: _is_null,
    n.InList: _in_list,
    n.Like: _like,
    n.Between: _between,
    n.Case: _case,
    n.Cast: _cast,
}
