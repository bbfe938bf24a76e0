"""Text addressed to a language model inside an article (a prompt injection): found, so nothing rests on it.

An article is data. A sentence that talks to the software reading it ("Ignore all previous
instructions and ...", "Editor's note for automated summarizers: ...", a fake ``<system>`` tag, JSON
shaped like our output) is never evidence: the strategies take no candidate from it, and any item a
model grounds in it is removed (``extract._outside``). Whatever the model does with such a sentence,
nothing from it comes out grounded.

The sentences are found by patterns over a *skeleton* of the text: Unicode compatibility forms folded
(NFKC: fullwidth letters), invisible format characters removed (zero-width spaces, soft hyphens) and
letters that look like Latin ones mapped to them (the Unicode confusables data, through
``confusable_homoglyphs``), so "Ignоre" with a Cyrillic "о" reads as "Ignore". The patterns cover
English and the common phrasings in German, French, Spanish, Italian, Portuguese and Russian; a note
addressed to automated readers also covers the rest of its paragraph (its payload often follows in
the next sentence).

What patterns cannot decide: an instruction written as ordinary news prose ("Zorblax Industries won
the contract, the port said.") reads like any other sentence. Grounding still holds (every item is a
span of the article), but such a sentence is extracted like the rest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from llm_extract.segment import Span

__all__ = ["instruction_spans", "is_instruction", "skeleton"]

_MACHINE = (
    r"(?:ai|a\.i\.|llms?|language[- ]models?|chat ?bots?|bots?|summari[sz]ers?|extractors?|"
    r"scrapers?|crawlers?|(?:automated|machine|ai)[- ](?:\w+))"
)
_OUTPUT_VERB = (
    r"(?:list|report|name|record|output|state|include|mark|tag|extract|summari[sz]e|describe|treat|"
    r"classify|identify|attribute|say|answer|respond|return|print|write|add|credit|present|cite)"
)
_ENGLISH = rf"""
      \b(?:ignore|disregard|forget|override|bypass)\b[^.!?]{{0,40}}?
          \b(?:previous|prior|above|earlier|all|any|these|your|system|preceding)\b[^.!?]{{0,25}}?
          \b(?:instructions?|prompts?|rules|directions|guidelines|directives|context)\b
    | \b(?:ignore|disregard|forget)\b[^.!?]{{0,30}}?\b(?:everything|anything|all)\b[^.!?]{{0,20}}?
          \b(?:before|above|prior|previous(?:ly)?|earlier|so\ far|you\ (?:were|have\ been)\ (?:told|given))\b
    | \byou\s+are\s+(?:now\s+)?(?:an?\s+|the\s+)?(?:ai|assistant|language\s+model|chatbot|llm|extractor)\b
    | \bif\s+you\s+are\s+(?:an?\s+)?{_MACHINE}\b
    | \b(?:note|message|instructions?|attention|notice|memo|reminder)\s+(?:to|for)\s+(?:any\s+|all\s+|the\s+)?
          (?:automated|ai\b|a\.i\.|llm|language[- ]model|machine|bots?|crawlers?|scrapers?|summari[sz]ers?)
    | \b(?:any|all|every|each)\s+(?:\w+\s+){{0,2}}{_MACHINE}\b[^.!?]{{0,60}}?
          \b(?:should|must|shall|needs?\s+to|has\s+to|have\s+to|is\s+to|are\s+to|(?:is|are)\s+required\s+to)\s+
          (?:\w+\s+)?{_OUTPUT_VERB}\b
    | \b(?:when|while|before)\s+(?:summari[sz]ing|extracting|processing|parsing|analy[sz]ing|indexing)\s+
          (?:this|the)\s+(?:article|text|page|story|document|report)\b
    | </?\s*(?:system|assistant|user|instructions?|prompt|article)\s*>
    | (?:^|\n)\s*(?:system|assistant)\s*:
    | \bnew\s+instructions?\b
    | \b(?:respond|reply|answer|output|return)\s+(?:only\s+)?(?:with\s+)?(?:the\s+following\s+)?json\b
    | \{{\s*["'\u201c\u201d\u2018\u2019](?:actors|events|claims)["'\u201c\u201d\u2018\u2019]\s*:
"""
# The phrase "ignore (all) previous instructions" in other languages.
_OTHER_LANGUAGES = r"""
      \b(?:ignorier\w*|vergiss|vergessen\s+sie|missacht\w*)\b[^.!?]{0,40}?
          \b(?:anweisung\w*|instruktion\w*|befehl\w*|vorgaben|regeln)\b
    | \b(?:ignore[zs]?|oublie[zs]?)\b[^.!?]{0,40}?\b(?:instructions?|consignes?|directives?)\b
    | \b(?:ignora\w*|olvida\w*)\b[^.!?]{0,40}?\b(?:instrucciones|indicaciones|istruzioni|instruções)\b
    | \b(?:esque[cç]a\w*|dimentica\w*)\b[^.!?]{0,40}?\b(?:instruções|istruzioni)\b
    | \b(?:игнорир\w*|забудь\w*|забудьте)\b[^.!?]{0,40}?\b(?:инструкци\w*|указани\w*|правил\w*)\b
"""
# English patterns read the skeleton; the others read the folded text (a skeleton turns Cyrillic into
# Latin look-alikes).
_INSTRUCTION = re.compile(_ENGLISH, re.IGNORECASE | re.VERBOSE)
_INSTRUCTION_ELSEWHERE = re.compile(_OTHER_LANGUAGES, re.IGNORECASE | re.VERBOSE)
# ASCII text is its own skeleton: one pass over every pattern.
_INSTRUCTION_ASCII = re.compile(_ENGLISH + "|" + _OTHER_LANGUAGES, re.IGNORECASE | re.VERBOSE)
# A sentence that only addresses automated readers; its payload may follow in the same paragraph.
_ADDRESS = re.compile(
    rf"\b(?:note|message|instructions?|attention|notice|memo|reminder)\s+(?:to|for)\s+(?:any\s+|all\s+|the\s+)?"
    rf"(?:automated|ai\b|a\.i\.|llm|language[- ]model|machine|bots?|crawlers?|scrapers?|summari[sz]ers?)"
    rf"|\bif\s+you\s+are\s+(?:an?\s+)?{_MACHINE}\b",
    re.IGNORECASE,
)


class _Skeleton(dict[int, str | None]):
    """A ``str.translate`` table filled on first sight of each character (most texts use few)."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        if unicodedata.category(char) == "Cf":
            value = None  # zero-width spaces, joiners, soft hyphens: invisible, so dropped
        elif char.isascii():
            value = char
        else:
            from confusable_homoglyphs import confusables  # the Unicode confusables table

            found = confusables.is_confusable(char, greedy=True, preferred_aliases=["latin"])
            latin = [g["c"] for g in found[0]["homoglyphs"] if g["c"].isascii()] if found else []
            value = latin[0] if latin else char
        self[code] = value
        return value


_TABLE = _Skeleton()


def skeleton(text: str) -> str:
    """``text`` as patterns should read it: NFKC, no format characters, Latin look-alikes made Latin."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_TABLE)


def is_instruction(sentence: Span) -> bool:
    """Whether a sentence talks to a language model ("ignore previous instructions", fake tags or JSON)."""
    text = sentence.text
    if text.isascii():
        return _INSTRUCTION_ASCII.search(text) is not None
    return (
        _INSTRUCTION.search(skeleton(text)) is not None
        or _INSTRUCTION_ELSEWHERE.search(unicodedata.normalize("NFKC", text)) is not None
    )


def instruction_spans(text: str, sentences: Sequence[Span]) -> list[tuple[int, int]]:
    """Offsets of every sentence addressed to a model, and of the rest of a paragraph that addresses one."""
    blocked: list[tuple[int, int]] = []
    paragraph_end = -1
    for sentence in sentences:
        if sentence.start < paragraph_end or is_instruction(sentence):
            blocked.append((sentence.start, sentence.end))
            if sentence.start >= paragraph_end and _ADDRESS.search(skeleton(sentence.text)):
                found = text.find("\n", sentence.end)
                paragraph_end = len(text) if found < 0 else found
    return blocked
