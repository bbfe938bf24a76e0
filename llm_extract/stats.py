"""What one document's model calls cost: tokens, requests, re-asks and transport retries.

Its own module so that the extractor can count without importing the model client (``client``
imports ``openai`` and ``instructor``): a ``rules`` extraction never loads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_extract.schema import Usage

__all__ = ["CallStats"]


@dataclass
class CallStats:
    """Counters for one document: tokens, requests, re-asks, transport retries."""

    usage: Usage = field(default_factory=Usage)
    model_calls: int = 0
    attempts: int = 0
    transport_retries: int = 0
