"""``PolarisSpecError``: one readable error for every bad spec, with wire field paths.

Pydantic's ``ValidationError`` names Python locations, includes discriminator tags in them and
echoes input values (which may be secrets). Everything the models raise is converted here into
``PolarisSpecError``: a list of ``(field_path, message)`` pairs where the path is the camelCase
wire path (``mappings[2].expression``) and the message says what to change.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

# Discriminated unions tag their variants with this prefix (see ``_base.TaggedBy``) so that the
# tag, which pydantic puts into an error's location, can be told apart from a field name.
TAG_PREFIX = "\x00tag:"
# Error type raised by a discriminated union when the tag is missing or unknown.
UNION_TAG_ERROR = "polaris_union_tag"


class SpecIssue(ValueError):
    """Raised inside validators: one or more ``(relative_path, message)`` problems.

    ``relative_path`` is relative to the model or field that raised (``""`` means that place
    itself); the converter prefixes it with the location pydantic reports.
    """

    def __init__(self, *issues: tuple[str, str]) -> None:
        self.issues: list[tuple[str, str]] = list(issues)
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in self.issues))


class UnknownFieldIssue(SpecIssue):
    """Raised for keys a model doesn't know; their paths go to ``PolarisSpecError.unknown_fields``
    so ``allow_unknown_fields`` can let them through."""


class PolarisSpecError(ValueError):
    """A Polaris spec (job, connection, secrets or table) is invalid; raised before any request.

    ``errors`` holds ``(field_path, message)`` pairs; ``field_path`` is the camelCase wire path
    (``""`` for the whole spec). Secret values are never part of the message.
    ``unknown_fields`` lists the paths of the problems that are unknown keys.
    """

    def __init__(
        self,
        errors: Sequence[tuple[str, str]],
        kind: str = "job",
        *,
        unknown_fields: Sequence[str] = (),
    ) -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        self.kind = kind
        self.unknown_fields: list[str] = list(unknown_fields)
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"Invalid Polaris {self.kind} spec"
        unknown = set(self.unknown_fields)
        lines = [
            (f"`{path}`: {message}" if path in unknown else f"{path}: {message}")
            if path
            else message
            for path, message in self.errors
        ]
        if len(lines) == 1:
            text = f"{head}: {lines[0]}"
        else:
            text = f"{head} ({len(lines)} problems):\n" + "\n".join(f"  - {ln}" for ln in lines)
        if unknown:
            listed = ", ".join(f'"{p}"' for p in self.unknown_fields)
            text += (
                "\nIf a field is newer than this provider, send it as given with "
                f"allow_unknown_fields=[{listed}]."
            )
        return text

    @property
    def paths(self) -> list[str]:
        """The field paths of all problems, in order."""
        return [path for path, _ in self.errors]


def join_path(*parts: str | int) -> str:
    """Join path parts into ``a.b[2].c`` form; empty parts are skipped."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part:
            out = f"{out}{part}" if part.startswith("[") or not out else f"{out}.{part}"
    return out


def _location(loc: Iterable[int | str]) -> list[str | int]:
    # Drop union tags; input given in snake_case is reported under its camelCase wire name.
    return [
        to_camel(p) if isinstance(p, str) else p
        for p in loc
        if not (isinstance(p, str) and p.startswith(TAG_PREFIX))
    ]


def _closest(value: Any, expected: str) -> str | None:
    """The allowed value closest to a misspelled one (``"strng"`` → ``"string"``)."""
    if not isinstance(value, str):
        return None
    allowed = re.findall(r"'((?:[^'\\]|\\.)*)'", expected)
    found = difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
    if not found:
        lowered = {a.lower(): a for a in allowed}
        return lowered.get(value.lower())
    return found[0]


def _message(err: Mapping[str, Any], show_input: bool) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        best = _closest(value, expected) if show_input else None
        if best is not None:
            return f"{value!r} is not allowed; did you mean {best!r}? (one of {expected})"
        got = f" (got {value!r})" if show_input and isinstance(value, (str, int, float)) else ""
        return f"must be one of {expected}{got}"
    if kind == UNION_TAG_ERROR:
        field = ctx.get("field", "type")
        tag = value.get(field) if isinstance(value, Mapping) else None
        allowed = ctx.get("allowed", "")
        if tag is None:
            return f'"{field}" is required; use one of {allowed}'
        if not isinstance(tag, str):
            # Never echo a non-string tag: a malformed secrets object may hold a credential there.
            return f'"{field}" must be a string, one of {allowed} (got {type(tag).__name__})'
        shown = f"{tag!r} is" if show_input else "this is"
        return f"{shown} not a known {ctx.get('what', field)}; use one of {allowed}"
    if kind in ("value_error", "assertion_error") and ctx.get("error") is not None:
        return str(ctx["error"])
    return str(err.get("msg", "invalid value"))


def spec_error_from(
    exc: ValidationError, kind: str, *, show_input: bool = True
) -> PolarisSpecError:
    """Convert a pydantic ``ValidationError`` into a ``PolarisSpecError`` with wire paths.

    ``show_input=False`` keeps offending values out of the messages (used for secrets; paths
    under ``secrets`` never show values either).
    """
    problems: list[tuple[str, str]] = []
    unknown: list[str] = []
    for err in exc.errors(include_url=False):
        loc = _location(err["loc"])
        issue = (err.get("ctx") or {}).get("error")
        if isinstance(issue, SpecIssue):
            found = [(join_path(*loc, rel), msg) for rel, msg in issue.issues]
            problems.extend(found)
            if isinstance(issue, UnknownFieldIssue):
                unknown.extend(path for path, _ in found)
            continue
        reveal = show_input and "secrets" not in loc
        if err["type"] == UNION_TAG_ERROR:
            # The discriminator is the field to fix: "type", "source.type", "...format".
            loc = [*loc, (err.get("ctx") or {}).get("field", "type")]
        problems.append((join_path(*loc), _message(err, reveal)))
    return PolarisSpecError(problems, kind, unknown_fields=unknown)
