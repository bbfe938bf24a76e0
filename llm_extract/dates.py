"""Resolve date expressions in news text against the article's publication date."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from dateutil.relativedelta import relativedelta

__all__ = ["DatePrecision", "ResolvedDate", "find_dates", "resolve_date"]

DatePrecision = Literal["day", "month", "year"]


@dataclass(frozen=True)
class ResolvedDate:
    """A date expression found in text, resolved against the publication date."""

    expression: str
    start: int
    end: int
    value: str
    precision: DatePrecision
    relative: bool


# (ISO value, precision, relative); a handler returns None to reject a regex match.
_Value = tuple[str, DatePrecision, bool]
_Handler = Callable[[re.Match[str], date | None, bool], _Value | None]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_NUMBERS |= {"seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_DAY_OFFSETS = {"today": 0, "tonight": 0, "yesterday": -1, "tomorrow": 1}

# Prepositions are matched (they make a bare month or year credible) but kept out of the expression;
# modifiers such as "last" or "mid-" change the meaning, so they stay in.
_PREP = r"(?:(?P<pre>in|since|by|until|from|during|before|after)\s+)?"
_MONTH = (
    r"(?P<mon>january|february|march|april|may|june|july|august|september|october|november|december"
    r"|(?:jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?)(?!\w)"
)
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_DAY = r"(?P<day>[0-3]?[0-9])(?![0-9])(?:st|nd|rd|th)?"
# A range such as "February 15-17" resolves to its first day but the expression spans all of it.
_RANGE = r"(?:\s*[-\u2013\u2014]\s*[0-3]?[0-9](?![0-9])(?:st|nd|rd|th)?)?(?!\w)"
_YEAR = r"(?:,?\s+(?P<year>[12][0-9]{3})(?![0-9]))?"
# "last year's" or "Monday's" is the same date; the possessive is matched but left out of the expression.
_POSSESSIVE = r"\b(?:['\u2019]s\b)?"
_NUMBER = r"[0-9]{1,4}|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _group(m: re.Match[str], name: str) -> str:
    # Not every pattern defines every group; normalise whitespace so "the  previous" == "the previous".
    return " ".join((m.groupdict().get(name) or "").casefold().split())


def _month_number(m: re.Match[str], lenient: bool) -> int | None:
    token = m["mon"]
    # Months are proper nouns in news copy; a lower-case "may" or "march" is a verb.
    if not lenient and not token[0].isupper():
        return None
    prefix = token.casefold()[:3]
    return _MONTHS.index(prefix) + 1 if prefix in _MONTHS else None


def _iso(m: re.Match[str], published: date | None, lenient: bool) -> _Value | None:
    return date(int(m["year"]), int(m["mon"]), int(m["day"])).isoformat(), "day", False


def _month_day(m: re.Match[str], published: date | None, lenient: bool) -> _Value | None:
    month = _month_number(m, lenient)
    if month is None:
        return None
    if m["year"]:
        return date(int(m["year"]), month, int(m["day"])).isoformat(), "day", False
    if published is None:
        return None
    # A yearless "Sept. 17" takes the publication year, even near New Year: guessing is worse than a rule.
    return date(published.year, month, int(m["day"])).isoformat(), "day", True


def _month(m: re.Match[str], published: date | None, lenient: bool) -> _Value | None:
    month = _month_number(m, lenient)
    if month is None:
        return None
    if m["year"]:
        return f"{int(m['year']):04d}-{month:02d}", "month", False
    mod = _group(m, "mod")
    # A bare month name ("May") is only a date with a preposition or modifier in front of it.
    if published is None or not (lenient or mod or m["pre"]):
        return None
    # "in/this/early January" is the publication year even when January is still ahead: the sentence
    # tense that would tell past from future is not available here.
    year = published.year
    if mod == "last" and month >= published.month:
        year -= 1
    elif mod == "next" and month <= published.month:
        year += 1
    return f"{year:04d}-{month:02d}", "month", True


def _year(m: re.Match[str], published: date | None, lenient: bool) -> _Value | None:
    # A bare four-digit number is too often a count ("2022 people"), so require context.
    if not (lenient or m["pre"] or m["mod"]):
        return None
    return m["year"], "year", False


def _day_word(m: re.Match[str], published: date | None, lenient: bool) -> _Value | None:
    offset = _DAY_OFFSETS.get(_group(m, "core"))
    if published is None or offset is None:
        return None
    return (published + timedelta(days=offset)).isoformat(), "day", True


def _weekday(m: re.Match[str], published: date | None, lenient: bool) -> _Value | None:
    name = _group(m, "wd")
    if published is None or name not in _WEEKDAYS:
        return None
    target, today = _WEEKDAYS.index(name), published.weekday()
    mod = _group(m, "mod")
    if mod in ("last", "past"):
        delta = -((today - target - 1) % 7 + 1)
    elif mod in ("next", "coming"):
        delta = (target - today - 1) % 7 + 1
    elif mod == "this":
        delta = target - today  # the named day of the publication's Monday-to-Sunday week
    elif _future(m):
        # "will meet on Monday", "runs from Wednesday to Friday": the next such day (GUIDELINES, Dates).
        delta = (target - today) % 7
    else:
        # News convention: a bare weekday is the most recent one, the publication day included.
        delta = -((today - target) % 7)
    return (published + timedelta(days=delta)).isoformat(), "day", True


# Words before a weekday, in its clause, that put it ahead: a future or a schedule, or a range.
_AHEAD = re.compile(
    r"\b(?:will|shall|'ll|is\s+(?:due|set|scheduled|expected)\s+to|are\s+(?:due|set|scheduled|expected)\s+to|"
    r"plans?\s+to|planned|scheduled|upcoming|next|runs?|opens?|starts?|begins?)\b[^.;!?]*$",
    re.IGNORECASE,
)
_RANGE_START = re.compile(r"\bfrom\s+$", re.IGNORECASE)
_PAST = re.compile(
    r"\b(?:was|were|had|did|ran|opened|started|began|ended|held|met)\b[^.;!?]*$", re.IGNORECASE
)


def _future(m: re.Match[str]) -> bool:
    """Whether the clause a weekday sits in speaks of the future ("will meet on Monday", "from ... to")."""
    before = m.string[max(0, m.start() - 120) : m.start()]
    clause = re.split(r"[.;!?\n]", before)[-1]
    if _RANGE_START.search(clause) and not _PAST.search(clause):
        return True
    ahead = _AHEAD.search(clause)
    return ahead is not None and not _PAST.search(clause[ahead.start() :])


def _period(m: re.Match[str], published: date | None, lenient: bool) -> _Value | None:
    if published is None:
        return None
    mod = _group(m, "mod")
    step = -1 if mod in ("last", "the previous") else 1 if mod in ("next", "the following") else 0
    unit = _group(m, "unit")
    if unit == "week":
        # Week precision does not exist in DatePrecision; a week is approximated by its Monday.
        monday = published - timedelta(days=published.weekday())
        return (monday + timedelta(weeks=step)).isoformat(), "day", True
    if unit == "month":
        return (published + relativedelta(months=step)).strftime("%Y-%m"), "month", True
    return f"{published.year + step:04d}", "year", True


def _count(m: re.Match[str], published: date | None, lenient: bool) -> _Value | None:
    raw, unit = _group(m, "n"), _group(m, "unit")
    n = int(raw) if raw.isdigit() else _NUMBERS.get(raw)
    if published is None or n is None:
        return None
    if m["ago"]:
        n = -n
    elif not m["fut"] or unit not in ("day", "week"):
        # "the first time in 10 years" is a duration, not a date, so only "in N days/weeks" is future.
        return None
    moved = published + relativedelta(
        days=n if unit == "day" else 0,
        weeks=n if unit == "week" else 0,
        months=n if unit == "month" else 0,
        years=n if unit == "year" else 0,
    )
    if unit == "year":
        return f"{moved.year:04d}", "year", True
    if unit == "month":
        return moved.strftime("%Y-%m"), "month", True
    return moved.isoformat(), "day", True


_PATTERNS: tuple[tuple[re.Pattern[str], _Handler], ...] = (
    (_compile(r"\b(?P<core>(?P<year>[0-9]{4})-(?P<mon>[0-9]{2})-(?P<day>[0-9]{2}))(?![0-9])"), _iso),
    (_compile(rf"\b(?P<core>(?:{_WEEKDAY},?\s+)?{_MONTH}\s+{_DAY}{_RANGE}{_YEAR})"), _month_day),
    (_compile(rf"\b(?P<core>{_DAY}{_RANGE}\s+(?:of\s+)?{_MONTH}{_YEAR})"), _month_day),
    (
        _compile(rf"\b{_PREP}(?P<core>(?:(?P<mod>last|next|this|early|late|mid)(?:\s+|-))?{_MONTH}{_YEAR})"),
        _month,
    ),
    (
        _compile(
            rf"\b{_PREP}(?P<core>(?:(?P<mod>early|late|mid)(?:\s+|-))?(?P<year>(?:19|20)[0-9]{{2}}))"
            r"(?!\w|-[0-9]|[.,][0-9]|%)"
        ),
        _year,
    ),
    (_compile(r"\b(?P<core>today|tonight|yesterday|tomorrow)" + _POSSESSIVE), _day_word),
    (
        _compile(
            rf"\b(?:on\s+)?(?P<core>(?:(?P<mod>last|past|next|coming|this)\s+)?(?P<wd>{_WEEKDAY}))"
            + _POSSESSIVE
        ),
        _weekday,
    ),
    (
        _compile(
            r"\b(?P<core>(?P<mod>last|next|(?:(?:earlier|later)\s+)?this|the\s+previous|the\s+following)"
            r"\s+(?P<unit>week|month|year))" + _POSSESSIVE
        ),
        _period,
    ),
    (
        _compile(
            rf"\b(?P<core>(?:(?P<fut>in)\s+)?(?P<n>{_NUMBER})\s+(?P<unit>day|week|month|year)s?(?P<ago>\s+ago)?)\b"
        ),
        _count,
    ),
)


def _scan(text: str, published: date | None, lenient: bool) -> Iterator[tuple[tuple[int, int], ResolvedDate]]:
    # Yields every accepted candidate, overlapping or not, with the span including any preposition.
    for pattern, handler in _PATTERNS:
        for m in pattern.finditer(text):
            try:
                resolved = handler(m, published, lenient)
            except (ValueError, OverflowError):  # impossible dates, arithmetic past year 1 or 9999
                continue
            if resolved is not None:
                start, end = m.span("core")
                yield m.span(), ResolvedDate(text[start:end], start, end, *resolved)


def find_dates(text: str, published: date | None) -> list[ResolvedDate]:
    """All date expressions in text, in order of appearance, resolved against published."""
    candidates = sorted((r for _, r in _scan(text, published, False)), key=lambda r: (r.start, -r.end))
    chosen: list[ResolvedDate] = []
    for candidate in candidates:
        # Sorted by start then longest first, so the first candidate at a position is the one to keep.
        if not chosen or candidate.start >= chosen[-1].end:
            chosen.append(candidate)
    return chosen


def resolve_date(expression: str, published: date | None) -> ResolvedDate | None:
    """Resolve one expression (offsets 0..len); None if not a date or it needs a missing publication date."""
    stripped = expression.strip()
    lead = len(expression) - len(expression.lstrip())
    wanted = (lead, lead + len(stripped))
    # The caller vouches that this is a date, so bare "May" or "2022" is accepted here.
    for full, found in _scan(expression, published, True):
        if stripped and wanted in (full, (found.start, found.end)):
            return ResolvedDate(expression, 0, len(expression), found.value, found.precision, found.relative)
    return None
