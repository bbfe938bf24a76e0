"""Settings resolve in one place: explicit argument, then ``LLM_EXTRACT_*`` variable, then default."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from llm_extract.errors import ConfigError

__all__ = ["DEFAULT_LOCAL_MODEL", "Settings", "resolve_settings"]

DEFAULT_LOCAL_MODEL = "smollm2-135m-instruct"
EndpointKind = Literal["embedded", "openai", "openai-compatible"]


@dataclass(frozen=True)
class Settings:
    """Every knob of an extraction run, after resolution."""

    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    model_path: Path | None = None
    prompt: str = "news@v4"  # prompts.DEFAULT_PROMPT (tests/test_prompts.py checks they agree)
    strategy: Literal["auto", "single", "decomposed", "rules"] = "auto"
    grounding: Literal["auto", "aligned", "constrained"] = "auto"
    unmatched: Literal["flag", "drop"] = "flag"
    fuzzy_threshold: float = 90.0
    max_reasks: int = 2
    transport_retries: int = 4
    timeout: float = 120.0
    temperature: float = 0.0
    max_tokens: int = 1024
    n_ctx: int = 4096
    threads: int | None = None
    # Long documents are split into chunks of at most this many characters (None: fit the context).
    chunk_chars: int | None = None
    chunk_overlap: int = 400
    # Client-side limits per minute (None: unlimited); a 429's Retry-After pauses every request.
    rpm: float | None = None
    tpm: float | None = None
    cache_dir: Path | None = None
    # A hard limit: longer documents are refused with a clear error rather than chunked for hours.
    max_chars: int = 2_000_000
    prices: Path | None = None

    @property
    def endpoint(self) -> EndpointKind:
        """Which kind of endpoint these settings select."""
        if self.base_url:
            return "openai-compatible"
        if self.api_key:
            return "openai"
        return "embedded"

    def __repr__(self) -> str:
        # Never print the key, even in a traceback's locals or a debug log.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["api_key"] = "***" if self.api_key else None
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


_CHOICES: dict[str, tuple[str, ...]] = {
    "strategy": ("auto", "single", "decomposed", "rules"),
    "grounding": ("auto", "aligned", "constrained"),
    "unmatched": ("flag", "drop"),
}


_PATHS = ("model_path", "cache_dir", "prices")


def resolve_settings(**arguments: Any) -> Settings:
    """Build ``Settings``: a non-None argument wins, then ``LLM_EXTRACT_<NAME>``, then the default.

    The API key also falls back to ``OPENAI_API_KEY``, as the openai client does.
    """
    values: dict[str, Any] = {}
    for f in fields(Settings):
        value = arguments.pop(f.name, None)
        if value is None:
            value = os.environ.get(f"LLM_EXTRACT_{f.name.upper()}") or None
            if value is None and f.name == "api_key":
                value = os.environ.get("OPENAI_API_KEY") or None
            if value is not None:
                value = _coerce(f.name, f.type, value)
        if value is not None:
            if f.name in _CHOICES and value not in _CHOICES[f.name]:
                raise ConfigError(f"{f.name} must be one of {', '.join(_CHOICES[f.name])}, not {value!r}")
            values[f.name] = Path(value) if f.name in _PATHS else value
    if arguments:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(arguments))}")
    return Settings(**values)


def _coerce(name: str, annotation: Any, raw: str) -> Any:
    kind = str(annotation)
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"LLM_EXTRACT_{name.upper()}={raw!r} is not a number") from exc
    return raw
