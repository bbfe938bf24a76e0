"""``rules``: the decomposed pipeline with no model at all; every answer comes from the rules.

Milliseconds per article, and the floor every evaluation reports beside the model: a model is only
credited with what it adds over these rules. Unknown actor kinds are ``other``; the speaker is the
one the attribution's syntax names, else the first actor named in the sentence; polarity, hedging and
status follow the cue words.
"""

from __future__ import annotations

from llm_extract.schema import StrategyName
from llm_extract.strategies.decomposed import Decomposed

__all__ = ["Rules"]


class Rules(Decomposed):
    """Decomposed with no questions: the plan is the answer."""

    name: StrategyName = "rules"
    asks_model = False
