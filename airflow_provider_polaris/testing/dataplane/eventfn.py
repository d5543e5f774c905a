"""Generate one Python function per streaming job that turns a pushed event into a table row.

The general path (``events._event``) loops over input fields and mappings and calls a closure for
each; at sixty events per push and well over a thousand pushes a second those calls are most of
the cost. For the common job shape (declared ``inputSchema``, no schema discovery) this module
writes the loops out as straight-line code once per job: fields land in local variables, a
mapping that just names a field reads the variable, ``FUNC("field")`` calls the function
directly, and everything else calls its compiled closure.

Only names chosen here and ``repr()`` literals go into the generated source. The generated
function has no error handling of its own: on any exception the caller re-runs the event on the
general path, which raises the precise error (``field 'n': ...``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.functions import FUNCTIONS, unary_caller
from airflow_provider_polaris.testing.dataplane.values import truth

EventFn = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class MappingLike(Protocol):
    """What the generator needs of a compiled mapping (``events._Mapping``)."""

    @property
    def column(self) -> str: ...
    @property
    def node(self) -> n.Node: ...
    @property
    def compute(self) -> Callable[[Any, Any], Any]: ...
    @property
    def aggregate(self) -> bool: ...
    @property
    def store(self) -> Callable[[Any], Any] | None:  # None: stored as computed
        ...


def event_function(
    fields: Sequence[tuple[str, type | None, Callable[[Any], Any]]],
    condition: Callable[[Any, Any], Any] | None,
    mappings: Sequence[MappingLike],
) -> EventFn:
    """``fields`` are (name, exact class or None, converter) of the ``inputSchema``."""
    env: dict[str, Any] = {"truth": truth, "condition": condition}
    code = ["def event(record):", "    get = record.get"]
    local: dict[str, str] = {}
    for i, (name, exact, convert) in enumerate(fields):
        env[f"c{i}"], env[f"k{i}"] = convert, exact
        code.append(f"    v{i} = get({name!r})")
        if exact is None:
            code.append(f"    v{i} = c{i}(v{i})")
        else:  # NULL and values already of the declared type need no conversion
            code.append(
                f"    if v{i} is not None and v{i}.__class__ is not k{i}: v{i} = c{i}(v{i})"
            )
        local[name] = f"v{i}"
    code.append("    row = {" + ", ".join(f"{k!r}: {v}" for k, v in local.items()) + "}")
    if condition is not None:
        code.append("    if truth(condition(row, None)) is not True: return None")
    items = []
    for j, mapping in enumerate(mappings):
        env[f"m{j}"], env[f"s{j}"] = mapping.compute, mapping.store
        value = _expression(j, mapping, local, env)
        items.append(f"{mapping.column!r}: {value if mapping.store is None else f's{j}({value})'}")
    if not any(mapping.column == "__time" for mapping in mappings):
        items.append(f"'__time': {local.get('__time', 'None')}")  # the legacy push API field
    code.append("    return {" + ", ".join(items) + "}")
    exec("\n".join(code), env)  # our own generated source, see the module docstring
    function: EventFn = env["event"]
    return function


def _expression(j: int, mapping: MappingLike, local: dict[str, str], env: dict[str, Any]) -> str:
    node = mapping.node
    if mapping.aggregate:
        return f"m{j}(row, [row])"  # an aggregation sees a group of one event
    if isinstance(node, n.Column):
        return local.get(node.name, "None")
    if (
        isinstance(node, n.Call)
        and node.name in FUNCTIONS
        and len(node.args) == 1
        and isinstance(node.args[0], n.Column)
    ):
        unary = unary_caller(node.name)
        if unary is not None:
            env[f"u{j}"] = unary
            return f"u{j}({local.get(node.args[0].name, 'None')})"
    return f"m{j}(row, None)"
