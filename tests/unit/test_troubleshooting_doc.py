"""docs/troubleshooting.md stays true: every error text it lists still occurs in the code.

The page's markup (documented at its top): each entry's heading is the message in a code span,
`````#### ``text`` `````, with ``…`` for the variable parts. Headings written
`````#### Airflow: ``text`` ````` are Airflow's own messages and are looked up in the installed
Airflow package instead of ours. Every literal piece between two ``…`` that is at least
``MIN_PIECE`` characters long must occur in the sources.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE = REPO_ROOT / "docs" / "troubleshooting.md"
PACKAGE = REPO_ROOT / "airflow_provider_polaris"
MIN_PIECE = 6
_EDGE = " :;,.'\"`()"
ENTRY = re.compile(r"^#{3,4} (?P<airflow>Airflow: )?(?P<ticks>`+) ?(?P<text>.+?) ?(?P=ticks)\s*$")
# Adjacent string literals across lines ("a "\n "b", "a "\n f"b", "a " +\n "b"): the closing
# quote, the line break and the next opening quote go, so a message split over literals reads
# as one text. A quote inside a literal (if_running='fail' ") is never followed by a line break.
_LITERAL_JOIN = re.compile(r"[\"'][ \t]*(?:\+[ \t]*)?(?:#[^\n]*)?\n\s*(?:\+\s*)?[rbfRBF]{0,2}[\"']")


def entries(text: str) -> list[tuple[bool, str]]:
    """``(is_airflow_message, text)`` for every entry heading of the page."""
    found = []
    for line in text.splitlines():
        match = ENTRY.match(line)
        if match:
            found.append((bool(match.group("airflow")), match.group("text")))
    return found


def pieces(message: str) -> list[str]:
    """The literal parts of a listed text that are long enough to be searched for.

    Punctuation and quotes at a piece's ends go: the page may write ``'…'`` for a ``{name!r}``
    and ``(…)`` or ``: …`` around a variable part the code formats separately.
    """
    stripped = (part.strip(_EDGE) for part in message.split("…"))
    return [part for part in stripped if len(part) >= MIN_PIECE]


def _searchable(source: str) -> str:
    """The source three ways: as written, with adjacent literals joined, and with escapes read."""
    joined = _LITERAL_JOIN.sub("", source)
    unescaped = joined.replace("\\'", "'").replace('\\"', '"').replace("{{", "{").replace("}}", "}")
    return "\n".join((source, joined, unescaped))


def _sources(root: Path, skip: tuple[str, ...] = ()) -> str:
    files = sorted(p for p in root.rglob("*.py") if not any(s in p.parts for s in skip))
    return _searchable("\n".join(p.read_text(encoding="utf-8") for p in files))


@cache
def package_source() -> str:
    return _sources(PACKAGE)


@cache
def airflow_source() -> str:
    import airflow

    root = Path(airflow.__file__).parent
    return _sources(root, skip=("providers", "tests", "migrations", "example_dags", "www", "ui"))


def missing(listed: list[tuple[bool, str]]) -> list[str]:
    """Listed texts with a piece that no longer occurs in the code."""
    out = []
    for is_airflow, message in listed:
        haystack = airflow_source() if is_airflow else package_source()
        gone = [piece for piece in pieces(message) if piece not in haystack]
        if gone or not pieces(message):
            out.append(f"{message!r}: not found {gone or 'any piece of 6+ characters'}")
    return out


def test_page_lists_many_texts() -> None:
    listed = entries(PAGE.read_text(encoding="utf-8"))
    assert len(listed) >= 60, len(listed)
    texts = [text for _, text in listed]
    assert len(texts) == len(set(texts)), "an error text is listed twice"


def test_every_listed_text_occurs_in_the_code() -> None:
    problems = missing(entries(PAGE.read_text(encoding="utf-8")))
    assert not problems, "docs/troubleshooting.md lists texts the code no longer has:\n" + (
        "\n".join(problems)
    )


@pytest.mark.parametrize(
    "bogus",
    [
        "Polaris rejected the frobnicator of Airflow connection … (418 I'm a teapot)",
        "Invalid Polaris … spec: the flux capacitor is …",
    ],
)
def test_a_text_the_code_does_not_have_is_reported(bogus: str) -> None:
    page = PAGE.read_text(encoding="utf-8") + f"\n#### ``{bogus}``\n"
    problems = missing(entries(page))
    assert len(problems) == 1 and bogus in problems[0]


def test_a_text_split_over_adjacent_literals_is_found() -> None:
    # hooks/errors.py writes this one over two literals: "... the operator's if_exists
    # option where it has one, or read the resource again " + f"(Airflow connection {conn})."
    assert not missing([(False, "use the operator's if_exists option where it has one, or read")])


def test_every_entry_has_a_cause_and_a_fix() -> None:
    sections = re.split(r"^#{3,4} ", PAGE.read_text(encoding="utf-8"), flags=re.M)
    lacking = []
    for section in sections[1:]:
        heading, _, body = section.partition("\n")
        if ENTRY.match("#### " + heading) and not ("**Cause**" in body and "**Fix**" in body):
            lacking.append(heading)
    assert not lacking, lacking


def test_index_links_the_page() -> None:
    index = (REPO_ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "(troubleshooting.md)" in index
