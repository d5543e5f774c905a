"""Tokenizer for the Druid SQL subset the emulator understands."""

from __future__ import annotations

import re
from dataclasses import dataclass

from airflow_provider_polaris.testing.dataplane.errors import ExpressionError


@dataclass(frozen=True)
class Token:
    """One lexical token; ``kind`` is ``ident``, ``qident``, ``string``, ``number``, ``op``,
    ``param`` or ``eof``. Keywords are ``ident`` tokens (SQL keywords aren't reserved here)."""

    kind: str
    value: str
    pos: int

    def is_word(self, *words: str) -> bool:
        """True when this is an unquoted identifier equal (case-insensitively) to one of words."""
        return self.kind == "ident" and self.value.upper() in words

    def is_op(self, *ops: str) -> bool:
        """True when this is one of the given operator/punctuation tokens."""
        return self.kind == "op" and self.value in ops


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+|--[^\n]*|/\*.*?\*/)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<qident>"(?:[^"]|"")*")
  | (?P<string>'(?:[^']|'')*')
  | (?P<op><>|!=|<=|>=|\|\||[-+*/%=<>(),.?;])
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[Token]:
    """Split SQL text into tokens, ending with an ``eof`` token."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            snippet = text[pos : pos + 20]
            raise ExpressionError(f"Unexpected character at position {pos}: {snippet!r}")
        kind = match.lastgroup or ""
        raw = match.group()
        if kind == "qident":
            tokens.append(Token("qident", raw[1:-1].replace('""', '"'), pos))
        elif kind == "string":
            tokens.append(Token("string", raw[1:-1].replace("''", "'"), pos))
        elif kind == "op" and raw == "?":
            tokens.append(Token("param", raw, pos))
        elif kind != "ws":
            tokens.append(Token(kind, raw, pos))
        pos = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens
