"""SQL text helpers of the control plane: comments out, literals kept (polaris-api.md §3).

Polaris (Druid SQL) accepts ``--`` line comments and ``/* */`` block comments anywhere a space
may stand, including before ``INSERT`` and between ``INSERT`` and ``INTO``. The create-job check
looks for the statement's leading keywords with a regular expression, so it first turns every
comment into a space; string literals and quoted identifiers are kept as they are, so a ``--``
inside ``'a--b'`` or ``"x/*y"`` is not a comment.
"""

from __future__ import annotations

import re

_PIECES = re.compile(
    r"""
    (?P<string>'(?:[^']|'')*'?)
  | (?P<quoted>"(?:[^"]|"")*"?)
  | (?P<line>--[^\n]*)
  | (?P<block>/\*.*?(?:\*/|\Z))
    """,
    re.VERBOSE | re.DOTALL,
)


def without_comments(query: str) -> str:
    """``query`` with each SQL comment replaced by one space (an unclosed block comment runs to
    the end of the text, as Druid's parser reads it)."""

    def keep_or_blank(match: re.Match[str]) -> str:
        return " " if match.lastgroup in ("line", "block") else match.group()

    return _PIECES.sub(keep_or_blank, query)
