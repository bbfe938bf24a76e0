"""A capable model's answer grounded by ``strategies.drafts``: where a claim's quote may be found."""

from __future__ import annotations

from llm_extract.strategies.drafts import Grounder, _claim_evidence

TEXT = (
    "Growers blamed the frost on a late warm spell. The ministry rejected that suggestion, saying the "
    "frost losses were within the normal range. Prices rose on Monday."
)


def _evidence(statement: str, quote: str) -> tuple[str | None, bool]:
    found = _claim_evidence(Grounder(TEXT, threshold=90.0), statement, quote, None)
    return found.alignment, found.grounded


def test_a_short_quote_is_grounded_when_its_sentence_fits_the_statement() -> None:
    # "rejected that suggestion" shares no word with the statement; its sentence does.
    assert _evidence("The frost losses were within the normal range.", "rejected that suggestion") == (
        "exact",
        True,
    )


def test_a_quote_from_another_sentence_is_no_evidence() -> None:
    assert _evidence("The frost losses were within the normal range.", "Prices rose on Monday") == (
        "unmatched",
        False,
    )


def test_a_short_form_of_a_name_takes_an_occurrence_no_other_actor_stands_in() -> None:
    text = (
        "North Korea's foreign ministry called the report a fabrication. China stayed quiet. "
        "Its foreign ministry said the treaty was a matter for two sovereign states."
    )
    grounder = Grounder(text, threshold=90.0)
    north = grounder.find("North Korea's foreign ministry")
    found = grounder.short_form("foreign ministry", ["China's foreign ministry"], [north])
    assert (found.start, found.grounded) == (text.rindex("foreign ministry"), True)
    # Not a form of the name: nothing is grounded.
    assert not grounder.short_form("the treaty", ["China's foreign ministry"], [north]).grounded
