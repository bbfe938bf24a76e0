"""What tokens cost: a price per model (US dollars per million tokens), built in or configured.

Resolution, first match wins: explicit ``Pricing`` passed by the caller; the price file named by the
``prices`` setting (``LLM_EXTRACT_PRICES``: JSON ``{"model": {"input": 0.15, "output": 0.6}}``);
the built-in table below (exact model name, then the longest table name the model starts with, so
dated snapshots such as ``gpt-4o-mini-2024-07-18`` find their family); the embedded model and the
``rules`` strategy cost nothing; anything else is unknown (``None``), never guessed.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from llm_extract.errors import ConfigError
from llm_extract.schema import Usage

__all__ = ["PRICES", "PRICES_AS_OF", "Pricing", "load_prices", "pricing_for"]


class Pricing(BaseModel):
    """US dollars per million prompt and completion tokens."""

    input_per_mtok: float = Field(ge=0, validation_alias="input")
    output_per_mtok: float = Field(ge=0, validation_alias="output")

    model_config = {"populate_by_name": True}

    def cost(self, usage: Usage) -> float:
        """Dollars spent on ``usage``."""
        spent = usage.prompt_tokens * self.input_per_mtok + usage.completion_tokens * self.output_per_mtok
        return spent / 1e6


PRICES_AS_OF = "2025-06"  # OpenAI's public list prices then; check your provider's current prices
PRICES: dict[str, Pricing] = {
    "gpt-4o-mini": Pricing(input_per_mtok=0.15, output_per_mtok=0.60),
    "gpt-4o": Pricing(input_per_mtok=2.50, output_per_mtok=10.00),
    "gpt-4.1": Pricing(input_per_mtok=2.00, output_per_mtok=8.00),
    "gpt-4.1-mini": Pricing(input_per_mtok=0.40, output_per_mtok=1.60),
    "gpt-4.1-nano": Pricing(input_per_mtok=0.10, output_per_mtok=0.40),
}
_FREE = Pricing(input_per_mtok=0.0, output_per_mtok=0.0)


def load_prices(path: str | Path) -> dict[str, Pricing]:
    """Read a price file: a JSON object of model name to ``{"input": ..., "output": ...}``."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object of model name to prices")
        return {str(model): Pricing.model_validate(value) for model, value in raw.items()}
    except (OSError, ValueError, ValidationError) as exc:
        raise ConfigError(f"price file {path}: {exc}") from exc


def pricing_for(
    model: str, *, endpoint: str, prices: str | Path | None = None, explicit: Pricing | None = None
) -> Pricing | None:
    """The pricing that applies to ``model`` at ``endpoint``, or None when it is unknown."""
    if explicit is not None:
        return explicit
    if endpoint in ("embedded", "none"):
        return _FREE
    table = {**PRICES, **(load_prices(prices) if prices else {})}
    if model in table:
        return table[model]
    family = max((name for name in table if model.startswith(name)), key=len, default=None)
    return table[family] if family else None
