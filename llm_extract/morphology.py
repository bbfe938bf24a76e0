"""English word classes and inflections, from lemminflect's lexicon: what a word can be, not a word list.

lemminflect (on PyPI, with its lexicon inside the wheel) knows for each English word form its lemmas
by universal part of speech (``VERB``, ``NOUN``, ``ADJ``, ...) and each lemma's inflections by Penn
tag (``VBD`` past, ``VBN`` participle, ``VBZ`` third person, ``VBG`` gerund, ``NNS`` plural). The
candidate layer asks it whether a token can be a past-tense verb, a plural noun, a noun derived from a
verb; it never asks whether a word is about ports or elections. A word the lexicon does not know
(a name, a coinage) has no classes.

The few closed classes kept here are grammar, not domain: function words (determiners, auxiliaries,
modals), and the verb lemmas whose events are not happenings (being, having, saying, thinking).
"""

from __future__ import annotations

import functools
import marshal
import os

__all__ = [
    "AUXILIARIES",
    "DETERMINERS",
    "MODALS",
    "NOT_HAPPENINGS",
    "REPORTING",
    "is_nominalization",
    "is_plural_noun",
    "lemmas",
    "verb_forms",
]

# Function words that introduce a noun phrase.
DETERMINERS = frozenset(
    """a an the this that these those his her its their our my your some any no every each another
    several many few both all such what which""".split()
)
AUXILIARIES = frozenset("be is are was were been being am have has had having do does did".split())
MODALS = frozenset("will would shall should can could may might must".split())
# Verbs of communication and attribution: they make claims, not events.
REPORTING = frozenset(
    """say tell add note state report announce claim allege deny insist argue warn accuse confirm
    acknowledge describe call write explain reply respond comment complain predict estimate suggest
    stress emphasise emphasize assert maintain declare reiterate urge demand ask quote cite dismiss
    criticise criticize praise welcome concede admit reveal disclose""".split()
)
# Verbs of being, having, perceiving, thinking and wanting: states, not happenings.
NOT_HAPPENINGS = (
    frozenset(
        """be have do seem appear remain include contain mean need want hope fear feel think believe know
        expect consider like love hate own belong depend involve represent become look sound see hear
        understand suspect doubt wonder plan intend aim seek try continue keep let make get use help
        show suggest indicate tend remember forget find lack exist matter range stand sit lie face""".split()
    )
    | REPORTING
)
_SUFFIXES = (
    "ation",
    "ition",
    "tion",
    "sion",
    "ion",
    "ment",
    "ance",
    "ence",
    "al",
    "ure",
    "age",
    "ing",
    "ry",
    "y",
    "out",
    "up",
)


_VERB_TAGS = ("VBD", "VBN", "VBZ", "VBG", "VB")


@functools.cache
def _lexicon() -> tuple[dict[str, dict[str, tuple[str, ...]]], dict[str, dict[str, tuple[str, ...]]]]:
    """What the candidate layer asks of lemminflect, as two plain tables, built once and cached.

    ``lemmas``: every word form lemminflect knows -> its lemmas by universal part of speech (its
    ``getAllLemmas``, overrides applied). ``forms``: every verb lemma -> its forms by Penn tag (its
    ``getInflection``). lemminflect parses gzipped CSV on first use and imports numpy for its
    out-of-vocabulary rules (together about 0.4 s); a ``marshal`` copy of the two tables (plain
    dicts, tuples and strings: data, never code) loads in 0.02 s without importing lemminflect. The
    copy is keyed by lemminflect's version; any problem with it falls back to building the tables.
    """
    from importlib.metadata import version

    from llm_extract.cache import default_cache_dir

    path = default_cache_dir() / f"lemminflect-{version('lemminflect')}-tables.marshal"
    try:
        lemma_table, form_table = marshal.loads(path.read_bytes())
        if isinstance(lemma_table, dict) and isinstance(form_table, dict):
            return lemma_table, form_table
    except (OSError, ValueError, EOFError, TypeError):
        pass
    tables = _build_tables()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(marshal.dumps(tables))
        os.replace(partial, path)
    except OSError:
        pass  # a read-only cache: every run builds the tables, nothing else changes
    return tables


def _build_tables() -> tuple[dict[str, dict[str, tuple[str, ...]]], dict[str, dict[str, tuple[str, ...]]]]:
    from lemminflect import getAllLemmas, getInflection
    from lemminflect.core.Lemmatizer import Lemmatizer

    lemmatizer = Lemmatizer()
    words = {*lemmatizer._getLemmaDict(), *lemmatizer._getOverridesDict()}
    lemma_table = {w: dict(getAllLemmas(w)) for w in words}
    verbs = {v for found in lemma_table.values() for v in found.get("VERB", ())}
    form_table = {v: {tag: tuple(getInflection(v, tag)) for tag in _VERB_TAGS} for v in verbs}
    return lemma_table, form_table


@functools.lru_cache(maxsize=65536)
def lemmas(word: str) -> dict[str, tuple[str, ...]]:
    """The lemmas of ``word`` by universal part of speech (empty when the lexicon does not know it)."""
    return dict(_lexicon()[0].get(word.lower(), {}))


@functools.lru_cache(maxsize=65536)
def verb_forms(word: str) -> tuple[str, frozenset[str]]:
    """The verb lemma of ``word`` and the Penn tags it has as that verb ('' and {} if it is no verb)."""
    found = lemmas(word).get("VERB")
    if not found:
        return "", frozenset()
    lemma = found[0]
    lowered = word.lower()
    forms = _lexicon()[1].get(lemma, {})
    return lemma, frozenset(tag for tag in _VERB_TAGS if lowered in forms.get(tag, ()))


@functools.lru_cache(maxsize=65536)
def is_plural_noun(word: str) -> bool:
    """Whether ``word`` is a noun's plural ("nurses", "residents")."""
    nouns = lemmas(word).get("NOUN", ())
    return bool(nouns) and word.lower() not in {n.lower() for n in nouns}


@functools.lru_cache(maxsize=65536)
def is_nominalization(word: str) -> bool:
    """Whether ``word`` is a noun made from a verb: "the evacuation", "a walkout", "the vote".

    Either the same word is a verb too (zero derivation: "vote", "strike", "recount"), or taking a
    derivational suffix off leaves a verb ("evacuation" -> "evacuate", "clearance" -> "clear").
    """
    lowered = word.lower()
    found = lemmas(lowered)
    nouns = found.get("NOUN")
    if not nouns:
        return False
    singular = nouns[0].lower()
    if "VERB" in found or "VERB" in lemmas(singular):
        return True
    for suffix in _SUFFIXES:
        if singular.endswith(suffix) and len(singular) > len(suffix) + 2:
            stem = singular[: -len(suffix)]
            for candidate in (
                stem,
                stem + "e",
                stem + "ate",
                stem[:-1] + "e" if suffix in ("ry", "y") else stem,
                stem[:-1] if stem[-1:] == stem[-2:-1] else stem,
            ):
                if "VERB" in lemmas(candidate):
                    return True
    return False
