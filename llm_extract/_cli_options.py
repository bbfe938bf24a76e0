"""Click options shared by the command-line modules, made from ``Settings`` (one source of truth).

Each setting's option takes its help, choices and type from the ``Settings`` field it sets, so the
main CLI and the ``scale`` commands cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from llm_extract._config import Settings, choices

if TYPE_CHECKING:
    from llm_extract.cost import Pricing

__all__ = ["F", "pricing", "setting"]

F = TypeVar("F", bound=Callable[..., Any])


def setting(name: str, **extra: Any) -> Callable[[F], F]:
    """A click option for the setting ``name``: its help, choices and type come from ``Settings``."""
    field = next(f for f in dataclasses.fields(Settings) if f.name == name)
    allowed = choices().get(name)
    extra.setdefault("type", click.Choice(allowed) if allowed else None)
    help_text = f"{field.metadata['help'].rstrip('.')} (LLM_EXTRACT_{name.upper()})."
    return click.option(f"--{name.replace('_', '-')}", help=help_text, **extra)


def pricing(price_input: float | None, price_output: float | None) -> Pricing | None:
    """The prices ``--price-input`` and ``--price-output`` give (None when neither is given)."""
    if price_input is None and price_output is None:
        return None
    from llm_extract.cost import Pricing

    return Pricing(input_per_mtok=price_input or 0.0, output_per_mtok=price_output or 0.0)
