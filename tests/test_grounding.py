"""Tests for llm_extract.grounding and llm_extract.segment; offsets were counted by hand."""

from __future__ import annotations

import pytest
from rapidfuzz import fuzz

from llm_extract.grounding import FUZZY_MIN_CHARS, FUZZY_THRESHOLD, align, find_all, fold, verify
from llm_extract.schema import Evidence
from llm_extract.segment import sentences

# "Officials said ... pause." is 77 characters long.
FIRST = "Officials said the talks would resume next week in Geneva after a long pause."
ARTICLE = FIRST + " Markets rose."
ONE_WORD_CHANGED = "Officials said the talks would restart next week in Geneva after a long pause."


# --- exact ---------------------------------------------------------------------------------------


def test_exact_match_offsets() -> None:
    text = "Kim Jong Un met Vladimir Putin in Moscow."
    ev = align("Vladimir Putin", text)
    assert (ev.start, ev.end, ev.alignment, ev.score) == (16, 30, "exact", 100.0)
    assert ev.grounded is True


def test_exact_match_is_first_occurrence() -> None:
    ev = align("Putin", "Putin met Kim, then Putin left.")
    assert (ev.start, ev.end, ev.alignment) == (0, 5, "exact")


# --- normalized ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quote", "text", "start", "end"),
    [
        # Curly quotes in the text, straight in the quote, and the other way round.
        ('the "final" offer', "Kim said the “final” offer stands.", 9, 26),
        ("the “final” offer", 'Kim said the "final" offer stands.', 9, 26),
        ("Kim's aide", "Kim’s aide spoke.", 0, 10),
        # En dash and em dash against a hyphen.
        ("Moscow-Pyongyang", "a Moscow–Pyongyang pact", 2, 18),
        ("SEOUL - The agency", "SEOUL — The agency said", 0, 18),
        # Case.
        ("foreign ministry", "The FOREIGN MINISTRY said", 4, 20),
        # Whitespace runs (spaces, tabs) and CRLF collapse to one space.
        ("talks in Geneva", "talks  in\t\tGeneva", 0, 17),
        ("a b", "a\r\nb", 0, 4),
        ("met Putin in", "Kim met\r\n  Putin in Moscow", 4, 19),
    ],
)
def test_normalized_match(quote: str, text: str, start: int, end: int) -> None:
    ev = align(quote, text)
    assert (ev.start, ev.end, ev.alignment) == (start, end, "normalized")
    assert ev.score == 100.0
    assert verify(ev, text)


def test_crlf_span_covers_both_characters() -> None:
    text = "a\r\nb"
    ev = align("a b", text)
    assert text[ev.start : ev.end] == "a\r\nb"


@pytest.mark.parametrize("quote", ['"talks will resume"', "“talks will resume”", "'talks will resume'"])
def test_quote_wrapped_in_quote_marks(quote: str) -> None:
    text = "Officials said talks will resume."
    ev = align(quote, text)
    assert (ev.start, ev.end, ev.alignment) == (15, 32, "normalized")
    assert text[ev.start : ev.end] == "talks will resume"


def test_nfd_text_matched_by_nfc_quote() -> None:
    text = "Jose\u0301 Mari\u0301a said"
    ev = align("José María", text)
    assert ev.alignment == "normalized"
    assert (ev.start, ev.end) == (0, 12)
    # The span ends after the combining acute of "María"'s i and includes every mark.
    assert text[ev.start : ev.end] == "Jose\u0301 Mari\u0301a"


def test_nfd_combining_mark_at_end_of_match_is_included() -> None:
    text = "Mr. Jose\u0301 spoke"
    ev = align("josé", text)
    assert (ev.start, ev.end) == (4, 9)
    assert text[ev.end - 1] == "\u0301"


def test_emoji_before_match_keeps_original_offsets() -> None:
    text = "\U0001f389\U0001f389 Kim said “we will win” today"
    ev = align('"we will win"', text)
    assert ev.alignment == "normalized"
    assert (ev.start, ev.end) == (13, 24)
    assert text[ev.start : ev.end] == "we will win"
    exact = align("Kim said", text)
    assert (exact.start, exact.end, exact.alignment) == (3, 11, "exact")


def test_sharp_s_folds_to_ss() -> None:
    text = "Die Straße ist lang."
    ev = align("STRASSE", text)
    assert (ev.start, ev.end, ev.alignment) == (4, 10, "normalized")
    assert text[ev.start : ev.end] == "Straße"


# --- fuzzy ---------------------------------------------------------------------------------------


def test_one_word_changed_aligns_fuzzy() -> None:
    ev = align(ONE_WORD_CHANGED, ARTICLE)
    assert ev.alignment == "fuzzy"
    assert FUZZY_THRESHOLD <= ev.score < 100.0
    assert (ev.start, ev.end) == (0, 77)
    assert ARTICLE[ev.start : ev.end] == FIRST
    assert ev.grounded is True
    assert verify(ev, ARTICLE) is True


def test_fuzzy_threshold_argument_is_respected() -> None:
    ev = align(ONE_WORD_CHANGED, ARTICLE, fuzzy_threshold=99.5)
    assert ev.alignment == "unmatched"
    assert (ev.start, ev.end) == (None, None)


def test_different_sentence_is_unmatched() -> None:
    ev = align("The central bank cut interest rates by half a point on Thursday.", ARTICLE)
    assert ev.alignment == "unmatched"
    assert ev.start is None
    assert ev.end is None
    assert ev.grounded is False
    assert ev.score == 0.0
    assert verify(ev, ARTICLE) is False


def test_short_approximate_quote_is_not_fuzzy() -> None:
    text = "Kim Jong Un met Putin."
    quote = "Kim Jong Um"
    # Precondition: it would pass the fuzzy threshold if it were long enough.
    assert len(quote) < FUZZY_MIN_CHARS
    assert fuzz.partial_ratio(fold(quote).text, fold(text).text) >= FUZZY_THRESHOLD
    ev = align(quote, text)
    assert ev.alignment == "unmatched"
    assert (ev.start, ev.end) == (None, None)


# --- window --------------------------------------------------------------------------------------

# "Kim met Putin." is 0..14; "Putin met Xi" is 22..34; the text is 35 characters long.
WINDOWED = "Kim met Putin. Later, Putin met Xi."


def test_window_excludes_match_outside_it() -> None:
    ev = align("Kim met", WINDOWED, window=(15, 35))
    assert ev.alignment == "unmatched"
    assert align("Kim met", WINDOWED).alignment == "exact"


def test_window_finds_exact_match_inside_it() -> None:
    ev = align("Putin met Xi", WINDOWED, window=(15, 35))
    assert (ev.start, ev.end, ev.alignment) == (22, 34, "exact")


def test_window_picks_the_occurrence_inside_it() -> None:
    assert (align("Putin", WINDOWED).start, align("Putin", WINDOWED).end) == (8, 13)
    ev = align("Putin", WINDOWED, window=(15, 35))
    assert (ev.start, ev.end) == (22, 27)
    folded = align("PUTIN", WINDOWED, window=(15, 35))
    assert (folded.start, folded.end, folded.alignment) == (22, 27, "normalized")


def test_window_rejects_quote_crossing_its_edge() -> None:
    assert align("Putin. Later", WINDOWED, window=(0, 14)).alignment == "unmatched"
    assert align("PUTIN. LATER", WINDOWED, window=(0, 14)).alignment == "unmatched"
    assert align("PUTIN. LATER", WINDOWED).alignment == "normalized"


def test_window_restricts_fuzzy_tier() -> None:
    text = "Markets rose. " + FIRST  # FIRST occupies 14..91
    assert align(ONE_WORD_CHANGED, text, window=(0, 13)).alignment == "unmatched"
    ev = align(ONE_WORD_CHANGED, text, window=(14, 91))
    assert (ev.start, ev.end, ev.alignment) == (14, 91, "fuzzy")


# --- empty quotes, find_all ----------------------------------------------------------------------


@pytest.mark.parametrize("quote", ["", "   ", "\n\t", '""', "“ ”"])
def test_empty_or_blank_quote_is_unmatched(quote: str) -> None:
    ev = align(quote, "Kim met Putin.")
    assert ev.alignment == "unmatched"
    assert (ev.start, ev.end) == (None, None)


def test_find_all_returns_every_occurrence() -> None:
    assert find_all("Kim", "Kim met KIM; later kim left.") == [(0, 3), (8, 11), (19, 22)]


def test_find_all_with_nfd_text() -> None:
    assert find_all("José", "Jose\u0301 and JOSE\u0301") == [(0, 5), (10, 15)]


def test_find_all_without_matches_or_needle() -> None:
    assert find_all("Xi", "Kim met Putin.") == []
    assert find_all("", "Kim met Putin.") == []
    assert find_all('"  "', "Kim met Putin.") == []


# --- verify --------------------------------------------------------------------------------------


def test_verify_accepts_correct_exact_evidence() -> None:
    ev = Evidence(quote="Putin", start=8, end=13, alignment="exact", score=100.0)
    assert verify(ev, "Kim met Putin.") is True


@pytest.mark.parametrize(
    ("evidence", "text"),
    [
        pytest.param(
            Evidence(quote="Putin", start=0, end=5, alignment="exact", score=100.0),
            "Kim met Putin.",
            id="exact",
        ),
        pytest.param(
            Evidence(quote="PUTIN", start=4, end=7, alignment="normalized", score=100.0),
            "Kim met Putin.",
            id="normalized",
        ),
        pytest.param(
            Evidence(quote="Putin.", start=8, end=40, alignment="exact", score=100.0),
            "Kim met Putin.",
            id="past-the-end",
        ),
        pytest.param(
            Evidence(quote=ONE_WORD_CHANGED, start=78, end=91, alignment="fuzzy", score=95.0),
            ARTICLE,
            id="fuzzy",
        ),
    ],
)
def test_verify_rejects_tampered_offsets(evidence: Evidence, text: str) -> None:
    assert verify(evidence, text) is False


# --- invariant -----------------------------------------------------------------------------------

INVARIANT_CASES = [
    ("Vladimir Putin", "Kim Jong Un met Vladimir Putin in Moscow."),
    ('the "final" offer', "Kim said the “final” offer stands."),
    ("Moscow-Pyongyang", "a Moscow–Pyongyang pact"),
    ("foreign ministry", "The FOREIGN MINISTRY said"),
    ("a b", "a\r\nb"),
    ("José María", "Jose\u0301 Mari\u0301a said"),
    ('"we will win"', "\U0001f389\U0001f389 Kim said “we will win” today"),
    ("STRASSE", "Die Straße ist lang."),
    (ONE_WORD_CHANGED, ARTICLE),
    ("Officials said the talks would resume next week", ARTICLE),
    ("The central bank cut interest rates by half a point.", ARTICLE),
    ("Kim Jong Um", "Kim Jong Un met Putin."),
    ("  Putin  ", "Kim met Putin."),
    ("“Seoul”", "SEOUL, Sept. 17 — The agency said"),
    ("sept. 17 - the agency", "SEOUL, Sept. 17 — The agency said"),
    ("", "Kim met Putin."),
    ("the agency said\nthat", "The  agency said\r\n\r\nthat it would"),
]


@pytest.mark.parametrize(("quote", "text"), INVARIANT_CASES)
def test_aligned_evidence_verifies(quote: str, text: str) -> None:
    ev = align(quote, text)
    if ev.alignment == "unmatched":
        assert (ev.start, ev.end, ev.grounded) == (None, None, False)
        return
    assert ev.start is not None
    assert ev.end is not None
    assert 0 <= ev.start <= ev.end <= len(text)
    assert verify(ev, text) is True
    if ev.alignment == "exact":
        assert text[ev.start : ev.end] == quote


def test_invariant_cases_cover_every_status() -> None:
    statuses = {align(q, t).alignment for q, t in INVARIANT_CASES}
    assert statuses == {"exact", "normalized", "fuzzy", "unmatched"}


# --- segment.sentences ---------------------------------------------------------------------------


def texts(text: str) -> list[str]:
    return [s.text for s in sentences(text)]


def test_abbreviations_do_not_split() -> None:
    text = "Mr. Kim arrived on Sept. 17 to meet the U.S. State Department. Talks began."
    assert texts(text) == [
        "Mr. Kim arrived on Sept. 17 to meet the U.S. State Department.",
        "Talks began.",
    ]


def test_question_and_exclamation_marks_split() -> None:
    assert texts("Is it over? Yes! It is.") == ["Is it over?", "Yes!", "It is."]


def test_closing_quotes_stay_with_sentence() -> None:
    text = 'He said "we will win." Then he left. She asked: “Why?” Nobody knew.'
    assert texts(text) == ['He said "we will win."', "Then he left.", "She asked: “Why?”", "Nobody knew."]


def test_each_line_break_ends_a_sentence() -> None:
    text = "North Korea sends troops\nSEOUL, Sept. 17 (Yonhap) -- The agency said\r\n\r\nIt was new"
    assert texts(text) == [
        "North Korea sends troops",
        "SEOUL, Sept. 17 (Yonhap) -- The agency said",
        "It was new",
    ]


def test_lowercase_continuation_does_not_split() -> None:
    assert texts("The talks ended at 5 p.m. on Monday. Kim left.") == [
        "The talks ended at 5 p.m. on Monday.",
        "Kim left.",
    ]


def test_sentence_offsets_index_the_original_text() -> None:
    text = "  Mr. Kim spoke.  Then\tPutin did!\r\nHeadline\n\n  Sept. 17 was the day. “Fine,” he said. "
    spans = sentences(text)
    assert [s.text for s in spans] == [
        "Mr. Kim spoke.",
        "Then\tPutin did!",
        "Headline",
        "Sept. 17 was the day.",
        "“Fine,” he said.",
    ]
    assert (spans[0].start, spans[0].end) == (2, 16)
    end = 0
    for s in spans:
        assert text[s.start : s.end] == s.text
        assert s.start >= end
        end = s.end


def test_empty_text_has_no_sentences() -> None:
    assert sentences("") == []
    assert sentences(" \n\n ") == []


def test_fuzzy_rejects_a_quote_that_pads_a_real_sentence_with_invented_text() -> None:
    text = "Kim met Putin in Moscow."
    quote = "Kim met Putin in Moscow. He also promised to invade Japan tomorrow with tanks."
    evidence = align(quote, text)
    assert evidence.alignment == "unmatched"
    assert not evidence.grounded
