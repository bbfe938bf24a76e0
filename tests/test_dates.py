"""Tests for llm_extract.dates; expected values were read off a calendar, not computed."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from llm_extract.dates import ResolvedDate, find_dates, resolve_date

# Tuesday 17 September 2024. September 2024 starts on a Sunday, so Monday is the 16th.
PUB = date(2024, 9, 17)


def values(text: str, published: date | None = PUB) -> list[tuple[str, str, str]]:
    return [(r.expression, r.value, r.precision) for r in find_dates(text, published)]


def assert_offsets(text: str, found: list[ResolvedDate]) -> None:
    end = 0
    for r in found:
        assert text[r.start : r.end] == r.expression
        assert r.start >= end  # in order and never overlapping
        end = r.end


@pytest.mark.parametrize(
    ("sentence", "expression", "value", "precision", "relative"),
    [
        # Absolute dates.
        ("It was signed on 2024-09-17 in Moscow.", "2024-09-17", "2024-09-17", "day", False),
        ("It was signed on September 17, 2024.", "September 17, 2024", "2024-09-17", "day", False),
        ("It was signed on Sept. 17, 2024.", "Sept. 17, 2024", "2024-09-17", "day", False),
        ("It was signed on 17 September 2024.", "17 September 2024", "2024-09-17", "day", False),
        ("It was signed on the 3rd of March 2021.", "3rd of March 2021", "2021-03-03", "day", False),
        ("SEOUL, Sept. 17 — The agency said", "Sept. 17", "2024-09-17", "day", True),
        ("The vote is set for Feb. 15.", "Feb. 15", "2024-02-15", "day", True),
        ("They met September 3.", "September 3", "2024-09-03", "day", True),
        ("The games ran February 15-17 in Sochi.", "February 15-17", "2024-02-15", "day", True),
        ("It opened on Monday, Sept. 16, 2024.", "Monday, Sept. 16, 2024", "2024-09-16", "day", False),
        ("Prices rose in June 2024.", "June 2024", "2024-06", "month", False),
        ("in January she travelled to Moscow", "January", "2024-01", "month", True),
        ("after signing a treaty in June.", "June", "2024-06", "month", True),
        ("Talks have stalled since March.", "March", "2024-03", "month", True),
        ("He visited last May.", "last May", "2024-05", "month", True),
        ("He visited last September.", "last September", "2023-09", "month", True),
        ("He will visit next January.", "next January", "2025-01", "month", True),
        ("It happened in early January.", "early January", "2024-01", "month", True),
        ("The plant closed in 2022.", "2022", "2022", "year", False),
        ("Sanctions tightened in mid-2022.", "mid-2022", "2022", "year", False),
        ("It will open by late 2025.", "late 2025", "2025", "year", False),
        ("It has grown since 2019, officials said.", "2019", "2019", "year", False),
        # Relative to the publication date.
        ("The agency reported on Tuesday that", "Tuesday", "2024-09-17", "day", True),
        ("she left Pyongyang on Monday.", "Monday", "2024-09-16", "day", True),
        ("The ship sank on Saturday.", "Saturday", "2024-09-14", "day", True),
        ("The ship sank Wednesday.", "Wednesday", "2024-09-11", "day", True),
        ("Protests began last Friday.", "last Friday", "2024-09-13", "day", True),
        ("Protests began last Tuesday.", "last Tuesday", "2024-09-10", "day", True),
        ("The summit opens next Tuesday.", "next Tuesday", "2024-09-24", "day", True),
        ("The summit opens next Wednesday.", "next Wednesday", "2024-09-18", "day", True),
        ("The summit opens this Friday.", "this Friday", "2024-09-20", "day", True),
        ("The minister said today that", "today", "2024-09-17", "day", True),
        ("The minister said yesterday that", "yesterday", "2024-09-16", "day", True),
        ("The minister will speak tomorrow.", "tomorrow", "2024-09-18", "day", True),
        ("Talks were held this week.", "this week", "2024-09-16", "day", True),
        ("Talks were held last week.", "last week", "2024-09-09", "day", True),
        ("Talks will be held next week.", "next week", "2024-09-23", "day", True),
        ("Exports fell last month.", "last month", "2024-08", "month", True),
        ("Exports will fall next month.", "next month", "2024-10", "month", True),
        ("Exports fell earlier this month.", "earlier this month", "2024-09", "month", True),
        ("Exports fell last year.", "last year", "2023", "year", True),
        ("Compared with last year's figures", "last year", "2023", "year", True),
        ("Elections are due next year.", "next year", "2025", "year", True),
        ("It will expand later this year.", "later this year", "2024", "year", True),
        ("It had shrunk the previous year.", "the previous year", "2023", "year", True),
        ("It recovered the following year.", "the following year", "2025", "year", True),
        ("The drone hit 3 days ago.", "3 days ago", "2024-09-14", "day", True),
        ("The drone hit two weeks ago.", "two weeks ago", "2024-09-03", "day", True),
        ("The drone hit three weeks ago.", "three weeks ago", "2024-08-27", "day", True),
        ("The deal was struck a year ago.", "a year ago", "2023", "year", True),
        ("The deal was struck six months ago.", "six months ago", "2024-03", "month", True),
        ("The vote takes place in 5 days.", "in 5 days", "2024-09-22", "day", True),
    ],
)
def test_single_expression(
    sentence: str, expression: str, value: str, precision: str, relative: bool
) -> None:
    found = find_dates(sentence, PUB)
    assert len(found) == 1, found
    r = found[0]
    assert (r.expression, r.value, r.precision, r.relative) == (expression, value, precision, relative)
    assert sentence[r.start : r.end] == expression


def test_paragraph_offsets_and_order() -> None:
    text = (
        "SEOUL, Sept. 17 — The agency reported on Tuesday that Choe had left for Russia on Monday. "
        "It is her second visit of the year; in January she went to Moscow. The two signed a treaty "
        "in June, a year after talks began in mid-2023, and more talks are planned next month."
    )
    found = find_dates(text, PUB)
    assert_offsets(text, found)
    assert [(r.expression, r.value) for r in found] == [
        ("Sept. 17", "2024-09-17"),
        ("Tuesday", "2024-09-17"),
        ("Monday", "2024-09-16"),
        ("January", "2024-01"),
        ("June", "2024-06"),
        ("mid-2023", "2023"),
        ("next month", "2024-10"),
    ]


def test_crlf_text() -> None:
    text = "Line one.\r\nThe talks ended on Monday.\r\nA deal came on Sept. 17, 2024.\r\n"
    found = find_dates(text, PUB)
    assert_offsets(text, found)
    assert [(r.expression, r.value) for r in found] == [
        ("Monday", "2024-09-16"),
        ("Sept. 17, 2024", "2024-09-17"),
    ]


def test_combining_characters_before_date() -> None:
    text = unicodedata.normalize("NFD", "José 😀 said on Monday that ") + "Jose\u0301 arrived last Friday."
    assert "\u0301" in text
    found = find_dates(text, PUB)
    assert_offsets(text, found)
    assert [(r.expression, r.value) for r in found] == [
        ("Monday", "2024-09-16"),
        ("last Friday", "2024-09-13"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "The talks may 5 times fail.",
        "May I ask a question?",
        "It may rain; officials may resign.",
        "They march 3 miles a day.",
        "Some 2022 people attended.",
        "the first time in 10 years",
        "for 3 days",
        "the 2022-23 season",
        "Feb. 30",
    ],
)
def test_not_dates(text: str) -> None:
    assert find_dates(text, PUB) == []


def test_may_as_month_with_context() -> None:
    assert values("It happened in May.") == [("May", "2024-05", "month")]
    assert values("It happened on May 5.") == [("May 5", "2024-05-05", "day")]
    assert values("May I ask about May 2023?") == [("May 2023", "2023-05", "month")]


def test_published_none_skips_relative_expressions() -> None:
    text = "On Monday, after talks on Sept. 17, 2024, and in 2022, it was announced last year in June."
    found = find_dates(text, None)
    assert_offsets(text, found)
    assert values(text, None) == [("Sept. 17, 2024", "2024-09-17", "day"), ("2022", "2022", "year")]
    assert all(not r.relative for r in found)
    assert values("SEOUL, Sept. 17 — talks", None) == []


def test_january_publication_last_month_is_previous_december() -> None:
    # Friday 3 January 2025.
    published = date(2025, 1, 3)
    assert values("Prices rose last month.", published) == [("last month", "2024-12", "month")]
    assert values("Prices rose last year.", published) == [("last year", "2024", "year")]
    assert values("It happened yesterday.", published) == [("yesterday", "2025-01-02", "day")]
    assert values("It happened last Monday.", published) == [("last Monday", "2024-12-30", "day")]
    assert values("It happened last December.", published) == [("last December", "2024-12", "month")]


def test_longest_match_wins() -> None:
    assert values("It ended in June 2024.") == [("June 2024", "2024-06", "month")]
    assert values("It ended on Monday, Sept. 16.") == [("Monday, Sept. 16", "2024-09-16", "day")]
    assert values("It ended earlier this year.") == [("earlier this year", "2024", "year")]


@pytest.mark.parametrize(
    ("expression", "value", "precision", "relative"),
    [
        ("on Monday", "2024-09-16", "day", True),
        ("Monday", "2024-09-16", "day", True),
        ("next Tuesday", "2024-09-24", "day", True),
        ("in January", "2024-01", "month", True),
        ("June", "2024-06", "month", True),
        ("2022", "2022", "year", False),
        ("mid-2022", "2022", "year", False),
        ("last year's", "2023", "year", True),
        ("  yesterday ", "2024-09-16", "day", True),
        ("September 17, 2024", "2024-09-17", "day", False),
    ],
)
def test_resolve_date(expression: str, value: str, precision: str, relative: bool) -> None:
    r = resolve_date(expression, PUB)
    assert r is not None
    assert (r.expression, r.start, r.end) == (expression, 0, len(expression))
    assert (r.value, r.precision, r.relative) == (value, precision, relative)


@pytest.mark.parametrize("expression", ["", "   ", "hello", "3 days", "Monday and Tuesday", "Feb. 30, 2024"])
def test_resolve_date_rejects_non_dates(expression: str) -> None:
    assert resolve_date(expression, PUB) is None


def test_resolve_date_without_publication_date() -> None:
    assert resolve_date("last year", None) is None
    assert resolve_date("Sept. 17", None) is None
    r = resolve_date("17 September 2024", None)
    assert r is not None
    assert (r.value, r.relative) == ("2024-09-17", False)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\r\n",
        "😀" * 50,
        "\u0301" * 10,
        "9999 years ago",
        "in 99999 days",
        "Sept. 99",
        "ſeptember 5",
        "frıday",
    ],
)
@pytest.mark.parametrize("published", [None, PUB, date(1, 1, 1), date(9999, 12, 31)])
def test_never_raises(text: str, published: date | None) -> None:
    assert_offsets(text, find_dates(text, published))
    resolve_date(text, published)
