"""Property tests: any job, connection, secrets or table spec either validates and round-trips,
or raises the project's ``PolarisSpecError`` with a field path for every problem; never
another exception.

Specs are drawn by mutating the documented examples (tests/unit/models/fixtures): values
replaced by any JSON (NaN and ±Infinity included), keys added (known names, their snake_case
spellings, typos, anything) or removed, at any depth. Deterministic: ``derandomize=True``.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic.alias_generators import to_camel, to_snake

from airflow_provider_polaris.models import (
    PolarisSpecError,
    parse_connection_secrets,
    parse_connection_spec,
    parse_job_spec,
    parse_table_spec,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _examples(name: str) -> list[dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((FIXTURES / name).read_text())
    return list(data.values())


JOBS = _examples("jobs.json")
TABLES = _examples("tables.json")
CONNECTIONS = _examples("connections.json")
SECRETS = _examples("secrets.json")


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _walk(child)


def _pools(examples: list[dict[str, Any]]) -> tuple[list[str], list[Any]]:
    keys: set[str] = set()
    leaves: list[Any] = []
    for example in examples:
        for node in _walk(example):
            if isinstance(node, dict):
                keys.update(node)
            elif not isinstance(node, list) and node not in leaves:
                leaves.append(node)
    names = sorted(keys | {to_snake(k) for k in keys} | {k[:-1] for k in keys if len(k) > 2})
    return names, leaves


SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn, examples: list[dict[str, Any]]) -> dict[str, Any]:
    """One example with 0-3 random edits anywhere in it."""
    names, leaves = _pools(examples)
    doc: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(examples)))
    values = ANY_JSON | st.sampled_from(leaves)
    keys = st.sampled_from(names) | st.text(min_size=1, max_size=8)
    for _ in range(draw(st.integers(0, 3))):
        containers = [n for n in _walk(doc) if isinstance(n, (dict, list))]
        node = draw(st.sampled_from(containers))
        op = draw(st.sampled_from(("set", "delete", "add")))
        if isinstance(node, dict):
            if op == "add" or not node:
                node[draw(keys)] = draw(values)
            elif op == "delete":
                del node[draw(st.sampled_from(sorted(node)))]
            else:
                node[draw(st.sampled_from(sorted(node)))] = draw(values)
        elif op == "add" or not node:
            node.append(draw(values))
        else:
            index = draw(st.integers(0, len(node) - 1))
            if op == "delete":
                del node[index]
            else:
                node[index] = draw(values)
    return doc


def _has_non_finite(node: Any) -> bool:
    return any(isinstance(n, float) and not math.isfinite(n) for n in _walk(node))


def check(parse: Callable[[Any], Any], doc: dict[str, Any]) -> None:
    """Validates and round-trips keeping every top-level field, or a PolarisSpecError with
    a path for each problem. Any other exception fails the test."""
    try:
        model = parse(doc)
    except PolarisSpecError as exc:
        assert exc.errors, exc
        assert all(path for path in exc.paths), exc.errors
        return
    assert not _has_non_finite(doc), "NaN/Infinity must be rejected"
    body = model.to_api()
    assert parse(body).to_api() == body
    # Known fields go out camelCase; unknown (allowed) ones exactly as given.
    lost = [
        k
        for k, v in doc.items()
        if v is not None and k != "secrets" and k not in body and to_camel(k) not in body
    ]
    assert not lost, lost


@SETTINGS
@given(mutated(JOBS))
def test_job_specs(doc: dict[str, Any]) -> None:
    check(parse_job_spec, doc)


@SETTINGS
@given(mutated(TABLES))
def test_table_specs(doc: dict[str, Any]) -> None:
    check(parse_table_spec, doc)


@SETTINGS
@given(mutated(CONNECTIONS))
def test_connection_specs(doc: dict[str, Any]) -> None:
    check(parse_connection_spec, doc)


@SETTINGS
@given(mutated(SECRETS))
def test_secrets(doc: dict[str, Any]) -> None:
    check(parse_connection_secrets, doc)


@SETTINGS
@given(mutated(JOBS))
def test_job_specs_with_every_unknown_field_allowed(doc: dict[str, Any]) -> None:
    check(lambda d: parse_job_spec(d, allow_unknown_fields=True), doc)
