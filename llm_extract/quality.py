"""Warnings about input the extractor reads badly: said once, recorded in ``RunMetadata.warnings``.

* **Not English.** The rules read English (lemminflect's English lexicon, English cue words). A text
  in which fewer than 40 % of the words are English words gets a warning, not silently poor output.
* **HTML in plain text.** Markup in a ``.txt`` or JSONL text is read as words and offsets; a ``.html``
  file is reduced to its text first (``documents.html_to_text``).
* **No publication date.** Relative dates ("on Monday", "last year") resolve against it; without it
  they stay unresolved.

A URL given as input is refused where input is read (``documents.load_documents``): llm-extract reads
files, and fetches nothing.
"""

from __future__ import annotations

import re
from datetime import date

from llm_extract.dates import resolve_date
from llm_extract.morphology import lemmas
from llm_extract.schema import Document

__all__ = ["input_warnings"]

_LOWER_WORD = re.compile(r"\b[^\W\d_A-Z][^\W\d_]*\b")
_MARKUP = re.compile(
    r"</?(?:p|div|span|br|a|html|body|table|tr|td|li|ul|h[1-6])\b[^>]*>|&(?:nbsp|amp|quot);", re.I
)
_RELATIVE = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|"
    r"last\s+(?:week|month|year)|next\s+(?:week|month|year))\b",
    re.IGNORECASE,
)
_ANY_DAY = date(2000, 1, 1)
_ENGLISH_SHARE = 0.4
_SAMPLE = 20_000  # characters read to judge the language


def input_warnings(document: Document) -> list[str]:
    """Why extraction from ``document`` may be poor, as short sentences (empty when nothing is wrong)."""
    found = []
    words = _LOWER_WORD.findall(document.text[:_SAMPLE])
    if len(words) >= 12:
        english = sum(bool(lemmas(w)) for w in words) / len(words)
        if english < _ENGLISH_SHARE:
            found.append(
                f"the text does not look like English ({english:.0%} of its words are English words): "
                "the rules read English, so expect few and poor items"
            )
    if len(_MARKUP.findall(document.text[:_SAMPLE])) >= 2:
        found.append("the text contains HTML markup: give it as a .html file so the markup is removed")
    if document.published is None:
        relative = [m.group() for m in _RELATIVE.finditer(document.text) if resolve_date(m.group(), _ANY_DAY)]
        if relative:
            found.append(
                f"no publication date, so relative dates ({relative[0]!r} and {len(relative) - 1} more) "
                "stay unresolved: pass --published or a 'published' field"
            )
    return found
