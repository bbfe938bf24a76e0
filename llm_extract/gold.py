"""Gold labels as results: a fixture's hand-made actors, events and claims in a ``BatchResult``.

So that the corpus tools (tables, linker, corpus view) can be run on what a perfect extractor would
return, e.g. to look at the corpus view of the eval fixtures or to build synthetic benchmark data.
"""

from __future__ import annotations

from collections.abc import Iterable

from llm_extract.fixtures import Fixture
from llm_extract.schema import BatchResult, Extraction, RunMetadata

__all__ = ["GOLD_METADATA", "gold_results"]

# What made these "extractions": no model, no prompt; the labels were written by hand.
GOLD_METADATA = RunMetadata(
    prompt_name="gold",
    prompt_version="labels",
    prompt_hash="",
    model="gold labels",
    endpoint="none",
    strategy="rules",
    grounding="aligned",
)


def gold_results(fixtures: Iterable[Fixture]) -> list[BatchResult]:
    """One ``ok`` result per fixture, carrying its document and its gold labels as the extraction."""
    return [
        BatchResult(
            document_id=f.id,
            status="ok",
            document=f.document,
            extraction=Extraction(
                document_id=f.id,
                actors=f.gold.actors,
                events=f.gold.events,
                claims=f.gold.claims,
                metadata=GOLD_METADATA,
            ),
        )
        for f in fixtures
    ]
