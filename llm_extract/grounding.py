"""Find model-reported quotes in the source text: character offsets plus an alignment status.

Tiers, tried in order (the first that succeeds wins):

1. exact: ``quote`` occurs verbatim in the text;
2. normalized: it occurs once both sides are folded: Unicode compatibility forms, accents
   (combining marks) dropped, case folded, curly quotes and dashes made ASCII, whitespace runs (CRLF
   included) collapsed, surrounding quote marks stripped;
3. fuzzy: rapidfuzz's best partial alignment on the folded strings scores at least
   ``FUZZY_THRESHOLD`` (0-100), covers at least 90 % of the quote's length (so invented padding
   around a real sentence fails) and the quote is at least ``FUZZY_MIN_CHARS`` long (short names
   would match anything);
4. unmatched: no offsets, never reported as grounded.

Offsets always index the ORIGINAL string: folding keeps a map from every folded character back to
the span of original characters it came from, so NFD text, CRLF and emoji shift nothing.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from llm_extract.schema import Evidence

__all__ = ["FUZZY_MIN_CHARS", "FUZZY_THRESHOLD", "Folded", "align", "exact", "find_all", "fold", "verify"]

# partial_ratio >= 90 accepts a dropped or changed word in a sentence-long quote but rejects a
# different sentence that shares a few names; measured on paraphrases in tests/test_grounding.py.
FUZZY_THRESHOLD = 90.0
FUZZY_MIN_CHARS = 12
# A fuzzy span must cover at least this share of the quote's length.
_MIN_COVER = 0.9

_CHAR_MAP = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
        "\u2212": "-", "\u00ad": "",
    }
)  # fmt: skip
_QUOTE_MARKS = "\"' "


@dataclass(frozen=True)
class Folded:
    """A folded string with, for each folded character, the original span it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, i: int, j: int) -> tuple[int, int]:
        """Original offsets of folded characters ``i`` to ``j`` (exclusive)."""
        return self.starts[i], self.ends[j - 1]


def fold(text: str) -> Folded:
    """Fold ``text`` for matching, keeping a map back to original offsets."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            if out and out[-1] == " ":
                ends[-1] = i + 1  # a whitespace run folds into the first space
                continue
            pieces = " "
        else:
            decomposed = unicodedata.normalize("NFKD", ch).translate(_CHAR_MAP)
            pieces = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
            if not pieces:
                if ends:  # a combining mark (NFD text) belongs to the character before it
                    ends[-1] = i + 1
                continue
        for piece in pieces:
            out.append(piece)
            starts.append(i)
            ends.append(i + 1)
    return Folded("".join(out), tuple(starts), tuple(ends))


def _fold_quote(quote: str) -> str:
    return fold(quote).text.strip(_QUOTE_MARKS)


def align(
    quote: str,
    text: str,
    *,
    fuzzy_threshold: float = FUZZY_THRESHOLD,
    window: tuple[int, int] | None = None,
    folded: Folded | None = None,
    whole_words: bool = False,
    avoid: Sequence[tuple[int, int]] = (),
) -> Evidence:
    """Locate ``quote`` in ``text`` (optionally only inside ``window``) and return its evidence.

    ``whole_words``: an exact or normalized match may not start or end inside a word ("vote" is not
    found in "votes"). ``avoid``: spans where a match is taken only if there is no other (the
    headline, which repeats the body's words; sentences addressed to a model).
    """
    lo, hi = window if window is not None else (0, len(text))
    if not quote.strip():
        return Evidence(quote=quote)
    spans = _occurrences(text, quote, lo, hi)
    if (best := _choose(spans, text, whole_words, avoid)) is not None:
        start, end = best
        return Evidence(quote=quote, start=start, end=end, alignment="exact", score=100.0)

    source = folded if folded is not None else fold(text)
    needle = _fold_quote(quote)
    if not needle:
        return Evidence(quote=quote)
    # Restrict the folded text to the window by finding the folded indices that cover it.
    # starts and ends are non-decreasing, so the window's folded bounds are two binary searches.
    first = bisect.bisect_left(source.starts, lo)
    last = bisect.bisect_right(source.ends, hi)
    haystack = source.text[first:last]

    found = [
        source.span(first + at, first + at + len(needle))
        for at in _occurrences(haystack, needle, 0, len(haystack), starts_only=True)
    ]
    if (best := _choose(found, text, whole_words, avoid)) is not None:
        start, end = best
        return Evidence(quote=quote, start=start, end=end, alignment="normalized", score=100.0)

    if len(needle) >= FUZZY_MIN_CHARS and haystack:
        hit = fuzz.partial_ratio_alignment(needle, haystack, score_cutoff=fuzzy_threshold)
        if hit is not None and hit.dest_end > hit.dest_start:
            # Trim the aligned window to whole characters that are not padding spaces.
            i, j = first + hit.dest_start, first + hit.dest_end
            while i < j and source.text[i] == " ":
                i += 1
            while j > i and source.text[j - 1] == " ":
                j -= 1
            # partial_ratio scores the shorter string inside the longer: a quote that pads a real
            # sentence with invented words would score 100 against it. Require comparable lengths.
            if j - i >= _MIN_COVER * len(needle):
                start, end = source.span(i, j)
                # The score is the reported span's own, so verify() always agrees with align().
                score = round(fuzz.partial_ratio(needle, fold(text[start:end]).text), 2)
                if score >= fuzzy_threshold:
                    return Evidence(quote=quote, start=start, end=end, alignment="fuzzy", score=score)
    return Evidence(quote=quote)


def _occurrences(haystack: str, needle: str, lo: int, hi: int, *, starts_only: bool = False) -> list[Any]:
    """Every occurrence of ``needle`` in ``haystack[lo:hi]`` (overlapping ones too), as spans or starts."""
    found: list[Any] = []
    at = haystack.find(needle, lo, hi)
    while at >= 0:
        found.append(at if starts_only else (at, at + len(needle)))
        at = haystack.find(needle, at + 1, hi)
    return found


def _choose(
    spans: Sequence[tuple[int, int]], text: str, whole_words: bool, avoid: Sequence[tuple[int, int]]
) -> tuple[int, int] | None:
    """The first acceptable span, preferring one outside ``avoid``."""
    if whole_words:
        spans = [s for s in spans if _whole(text, *s)]
    if not spans:
        return None
    outside = [s for s in spans if not any(s[0] < b and a < s[1] for a, b in avoid)]
    return (outside or list(spans))[0]


def _whole(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` neither starts nor ends inside a word."""
    inside_start = start > 0 and text[start - 1].isalnum() and text[start].isalnum()
    inside_end = end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
    return not (inside_start or inside_end)


def exact(text: str, start: int, end: int) -> Evidence:
    """Evidence for ``text[start:end]``: a span of the source, grounded by construction."""
    return Evidence(quote=text[start:end], start=start, end=end, alignment="exact", score=100.0)


def find_all(needle: str, text: str, *, folded: Folded | None = None) -> list[tuple[int, int]]:
    """Every non-overlapping occurrence of ``needle`` in ``text`` after folding, as original offsets."""
    source = folded if folded is not None else fold(text)
    target = _fold_quote(needle)
    spans: list[tuple[int, int]] = []
    if not target:
        return spans
    at = source.text.find(target)
    while at >= 0:
        spans.append(source.span(at, at + len(target)))
        at = source.text.find(target, at + len(target))
    return spans


def verify(evidence: Evidence, text: str, *, fuzzy_threshold: float = FUZZY_THRESHOLD) -> bool:
    """Re-check evidence against the text: does ``text[start:end]`` support its quote and status."""
    if evidence.alignment == "unmatched" or evidence.start is None or evidence.end is None:
        return False
    if evidence.end > len(text):
        return False
    found = text[evidence.start : evidence.end]
    if evidence.alignment == "exact":
        return found == evidence.quote
    if evidence.alignment == "normalized":
        return fold(found).text.strip(_QUOTE_MARKS) == _fold_quote(evidence.quote)
    needle, span = _fold_quote(evidence.quote), fold(found).text
    return len(span) >= _MIN_COVER * len(needle) and fuzz.partial_ratio(needle, span) >= fuzzy_threshold
