"""Unknown fields, the ``allow_unknown_fields`` escape hatch, and NaN/Infinity checks.

Every spec model rejects keys it doesn't know (see ``PolarisModel._reject_unknown_fields``): a
misspelled key sent to Polaris is silently ignored, so the job runs with a default the user did
not choose. Fields newer than the provider can still be sent with ``allow_unknown_fields``:
``True`` (every unknown field) or a list of dotted wire paths (``["source.someNewField"]``).
Allowed fields are taken out of the input, the rest is validated strictly, and then they are put
back into the parsed models, so ``to_api()`` sends them exactly as given.
"""

from __future__ import annotations

import copy
import difflib
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

log = logging.getLogger(__name__)

AllowUnknownFields: TypeAlias = bool | Sequence[str]
"""``False`` (default: unknown fields are errors), ``True`` (send every unknown field as
given) or the dotted wire paths of the unknown fields to send (``["source.someNewField"]``)."""


def check_allow_unknown_fields(value: Any) -> bool | list[str]:
    """``allow_unknown_fields`` as given to an operator: a bool or a list of dotted paths."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(
            "allow_unknown_fields must be True, False or a list of dotted field paths such as "
            f'["source.someNewField"], got {type(value).__name__}'
        )
    paths = list(value)
    if not all(isinstance(p, str) and p for p in paths):
        raise ValueError(
            'allow_unknown_fields must list dotted field paths such as ["source.someNewField"]'
        )
    return paths


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+|\*)?\]")


def suggest(key: str, known: Iterable[str]) -> str | None:
    """The known field closest to ``key`` (``readFromPont`` → ``readFromPoint``), if any."""
    candidates = sorted(set(known))
    for probe in dict.fromkeys((key, to_camel(key))):
        found = difflib.get_close_matches(probe, candidates, n=1, cutoff=0.6)
        if found:
            return found[0]
    lowered = {c.lower(): c for c in candidates}
    return lowered.get(key.lower().replace("_", ""))


def unknown_field_message(key: Any, what: str, known: Sequence[str]) -> str:
    """``unknown field of a streaming job; did you mean `readFromPoint`?`` (or the known list)."""
    best = suggest(key, known) if isinstance(key, str) else None
    if best is not None:
        return f"unknown field of {what}; did you mean `{best}`?"
    listed = ", ".join(f"`{k}`" for k in sorted(known))
    return f"unknown field of {what}; known fields: {listed}"


def _segments(path: str) -> list[str | int | None]:
    """``a.b[2].c`` → ``["a", "b", 2, "c"]``; ``[]`` or ``[*]`` → ``None`` (any item)."""
    out: list[str | int | None] = []
    for match in _SEGMENT.finditer(path):
        name, index = match.groups()
        if name is not None:
            out.append(name)
        else:
            out.append(int(index) if index and index != "*" else None)
    return out


def path_allowed(path: str, allow: AllowUnknownFields) -> bool:
    """Whether the unknown field at ``path`` may be sent. A listed path matches with or without
    list indices: ``mappings.note`` and ``mappings[*].note`` allow ``mappings[3].note``."""
    if isinstance(allow, bool):
        return allow
    actual = _segments(path)
    return any(_matches(actual, _segments(pattern)) for pattern in allow)


def _matches(actual: list[str | int | None], wanted: list[str | int | None]) -> bool:
    i = j = 0
    while i < len(actual) and j < len(wanted):
        a, w = actual[i], wanted[j]
        if isinstance(a, int):
            if w is None or w == a:
                i, j = i + 1, j + 1
            elif isinstance(w, str):
                i += 1  # "mappings.note": the pattern left the index out
            else:
                return False
        elif isinstance(w, str) and (w == a or to_camel(w) == a):
            i, j = i + 1, j + 1
        else:
            return False
    return i == len(actual) and j == len(wanted)


def _child(node: Any, part: str | int) -> Any:
    if isinstance(part, int):
        return node[part] if isinstance(node, list) and part < len(node) else None
    if isinstance(node, dict):
        for key in node:
            if key == part or (isinstance(key, str) and to_camel(key) == part):
                return node[key]
    return None


def take_fields(data: dict[str, Any], paths: Sequence[str]) -> tuple[dict[str, Any], list[Any]]:
    """A deep copy of ``data`` without the fields at ``paths``, and the removed values."""
    if not paths:
        return data, []
    data = copy.deepcopy(data)
    values: list[Any] = []
    for path in paths:
        *parents, last = _segments(path)
        node: Any = data
        for part in parents:
            node = _child(node, part) if part is not None else None
        values.append(node.pop(last) if isinstance(node, dict) and last in node else None)
    return data, values


def _model_child(node: Any, part: str | int) -> Any:
    if isinstance(part, int):
        return node[part] if isinstance(node, list) and part < len(node) else None
    if isinstance(node, BaseModel):
        for name, field in type(node).model_fields.items():
            if part in (name, field.alias):
                return getattr(node, name)
        return (node.__pydantic_extra__ or {}).get(part)
    return None


def put_fields(model: BaseModel, paths: Sequence[str], values: Sequence[Any]) -> None:
    """Put the fields taken by ``take_fields`` back into the parsed models, as extras."""
    for path, value in zip(paths, values, strict=True):
        *parents, last = _segments(path)
        node: Any = model
        for part in parents:
            node = _model_child(node, part) if part is not None else None
        if isinstance(node, BaseModel) and isinstance(last, str):
            if node.__pydantic_extra__ is None:
                node.__pydantic_extra__ = {}
            node.__pydantic_extra__[last] = value
            node.__pydantic_fields_set__.add(last)
            log.warning("sending unknown field `%s` as given (allow_unknown_fields)", path)


def non_finite_paths(value: Any, path: str = "") -> list[str]:
    """Wire paths of every NaN or ±Infinity in ``value`` (JSON can't carry them; pydantic
    would send ``null``)."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            found += non_finite_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found += non_finite_paths(item, f"{path}[{i}]")
    return found


NON_FINITE_MESSAGE = (
    "NaN and Infinity are not valid JSON numbers; use a finite number, null, or a string"
)
