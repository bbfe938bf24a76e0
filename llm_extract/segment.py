"""Split text into sentences with character offsets into the original string."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Span", "sentences"]

# Abbreviations that end with a period but rarely end a sentence in news copy.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof gen lt col maj capt sgt adm gov sen rep rev st mt ft jr sr inc corp ltd co
    jan feb mar apr jun jul aug sep sept oct nov dec no vs etc approx dept est u.s u.n u.k e.u
    a.m p.m i.e e.g""".split()
)
# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
_NEXT_STARTS_SENTENCE = re.compile(r"\s+[\"'“‘(\[]?[A-Z0-9\u00C0-\u024F]")
_PARAGRAPH = re.compile(r"\n\s*")


@dataclass(frozen=True)
class Span:
    """A piece of the original text and its offsets."""

    start: int
    end: int
    text: str


def _is_abbreviation(text: str, dot: int) -> bool:
    # Only the tail before the dot: searching all of text[:dot] made long texts quadratic.
    word = re.search(r"([A-Za-z][A-Za-z.]*)$", text[max(0, dot - 64) : dot])
    if word is None:
        return False
    token = word.group(1).lower().rstrip(".")
    # Single capital initials ("Kim J. Un", "U.S.") are not sentence ends either.
    return token in _ABBREVIATIONS or (len(token) == 1 and text[dot - 1].isupper())


def sentences(text: str) -> list[Span]:
    """Sentences of ``text`` in order; every line break also ends a sentence (headlines, datelines)."""
    spans: list[Span] = []
    for block_start, block_end in _blocks(text):
        start = block_start
        for m in _BOUNDARY.finditer(text, block_start, block_end):
            if (
                m.group().startswith(".")
                and len(m.group().rstrip("\"'”’)]")) == 1
                and _is_abbreviation(text, m.start())
            ):
                continue
            if not _NEXT_STARTS_SENTENCE.match(text, m.end(), block_end):
                continue
            _add(spans, text, start, m.end())
            start = m.end()
        _add(spans, text, start, block_end)
    return spans


def _blocks(text: str) -> list[tuple[int, int]]:
    blocks, start = [], 0
    for m in _PARAGRAPH.finditer(text):
        blocks.append((start, m.start()))
        start = m.end()
    blocks.append((start, len(text)))
    return blocks


def _add(spans: list[Span], text: str, start: int, end: int) -> None:
    # Trim surrounding whitespace so the span is the sentence itself.
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append(Span(start, end, text[start:end]))
