"""Countries, their capitals and their demonyms, from the ``countryinfo`` dataset (no hand-kept dict).

``countryinfo`` (on PyPI) carries, for about 250 countries and territories, the usual English short
name ("North Korea"), other spellings ("Democratic People's Republic of Korea", "Czechia", "USA"),
the capital ("Pyongyang") and the demonym ("North Korean"). News writes a country by any of these,
and its capital for its government ("Pyongyang said"): ``country`` maps every form to the short name,
``capital_of`` a capital to its country, ``demonym_of`` an adjective of nationality to its country.

Two-letter codes are ambiguous in running text ("TV" is Tuvalu's): they count only written with
full stops ("U.S.", "U.K."); three-letter codes count in capitals ("USA").
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = ["capital_of", "country", "demonym_of"]


def _key(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", plain.replace("’", "'").replace("'", "")).split())


@functools.cache
def _tables() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    import countryinfo  # the dataset: loaded on first use (about 10 ms)

    countries: dict[str, tuple[int, str]] = {}
    capitals: dict[str, tuple[int, str]] = {}
    demonyms: dict[str, tuple[int, str]] = {}

    def put(table: dict[str, tuple[int, str]], form: str, name: str, population: int) -> None:
        # Shared forms ("American": the United States and two territories) go to the larger country.
        key = _key(form)
        if key and (key not in table or table[key][0] < population):
            table[key] = (population, name)

    for entry in countryinfo.all_countries():
        info = entry.info()
        name = info.get("name")
        if not name:
            continue
        population = int(info.get("population") or 0)
        codes = {str(v).upper() for v in (info.get("ISO") or {}).values()}
        for form in [name, *(info.get("altSpellings") or [])]:
            if len(form) == 2 and form.isalpha():
                put(countries, ".".join(form.upper()) + ".", name, population)  # "UK" as "U.K."
                if form.upper() not in codes:
                    put(countries, form, name, population)  # "UK": not an ISO code, so not ambiguous
                continue
            put(countries, form, name, population)
            if form.startswith("Great "):
                put(countries, form.removeprefix("Great "), name, population)  # "Britain"
        for code in codes:
            if len(code) == 2 and code.isalpha():
                put(countries, ".".join(code) + ".", name, population)  # "U.S."
        listed: str | list[str] = info.get("capital") or []
        for capital in [listed] if isinstance(listed, str) else listed:
            for form in {capital, capital.split(" D.C.")[0], capital.split(",")[0]}:
                put(capitals, form, name, population)
        if demonym := info.get("demonym"):
            put(demonyms, demonym, name, population)
    return tuple({k: v for k, (_, v) in table.items()} for table in (countries, capitals, demonyms))  # type: ignore[return-value]


def country(name: str) -> str | None:
    """The country's short name if ``name`` names one ("Czechia" -> "Czech Republic"), else None."""
    key = _key(name)
    if len(key) <= 3 and not (name.isupper() or "." in name):
        return None  # "us", "uk" in lower case are words; codes are capitals or dotted
    return _tables()[0].get(key)


def capital_of(name: str) -> str | None:
    """The country whose capital ``name`` is ("Pyongyang" -> "North Korea"), else None."""
    return _tables()[1].get(_key(name))


def demonym_of(word: str) -> str | None:
    """The country of an adjective of nationality ("Russian" -> "Russia"; "North Korean" too)."""
    return _tables()[2].get(_key(word))
