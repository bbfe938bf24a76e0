"""Settings resolve in one place: explicit argument, then ``LLM_EXTRACT_*`` variable, then default.

Every field carries its help text and whether it can change an extraction (``output_neutral``):
the CLI, the generated configuration docs and the cache key (``Settings.fingerprint``) all derive
from these fields, so a new setting cannot be forgotten by any of them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from llm_extract.errors import ConfigError
from llm_extract.schema import EndpointKind, GroundingMode, StrategyName

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "DEFAULT_PROMPT",
    "RECORDS_MAX_TOKENS",
    "SMALL_MAX_TOKENS",
    "Settings",
    "choices",
    "resolve_settings",
]

DEFAULT_LOCAL_MODEL = "smollm2-135m-instruct"
DEFAULT_PROMPT = "news@v5"
# Tokens a model may answer with when max_tokens is not set: a whole article's records from one call
# take about a token per character of article (measured with the oracle on the eval fixtures); the
# decomposed strategy's answers are a few ids, and the embedded model's context is 4,096 tokens.
RECORDS_MAX_TOKENS = 8192
SMALL_MAX_TOKENS = 1024


def _setting(default: Any, help: str, *, neutral: bool = False) -> Any:
    return field(default=default, metadata={"help": help, "output_neutral": neutral})


@dataclass(frozen=True)
class Settings:
    """Every knob of an extraction run, after resolution."""

    base_url: str | None = _setting(None, "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.")
    api_key: str | None = _setting(None, "API key (also read from OPENAI_API_KEY).", neutral=True)
    model: str | None = _setting(None, "Model name at the endpoint.")
    model_path: Path | None = _setting(None, "GGUF file for the embedded server (default: SmolLM2).")
    prompt: str = _setting(DEFAULT_PROMPT, "Prompt version, name@version, or a path to a prompt file.")
    strategy: Literal["auto"] | StrategyName = _setting(
        "auto", "auto: guided on an API key or base URL, decomposed on the embedded model."
    )
    grounding: Literal["auto"] | GroundingMode = _setting(
        "auto", "How quotes become offsets: aligned (search the text) or constrained (sentence ids)."
    )
    unmatched: Literal["flag", "drop"] = _setting("flag", "Keep ungrounded items flagged, or drop them.")
    fuzzy_threshold: float = _setting(90.0, "Lowest rapidfuzz score (0-100) for a fuzzy quote match.")
    max_reasks: int = _setting(2, "Re-asks after invalid model output (the validation error is sent back).")
    transport_retries: int = _setting(
        4, "Retries of a failed HTTP request (timeouts, 429, 5xx).", neutral=True
    )
    timeout: float | None = _setting(
        None,
        "Seconds per request; default 120 for remote endpoints, derived from the work for local ones.",
        neutral=True,
    )
    temperature: float = _setting(0.0, "Sampling temperature.")
    max_tokens: int | None = _setting(
        None,
        f"Longest answer in tokens; default {RECORDS_MAX_TOKENS} for whole records, {SMALL_MAX_TOKENS} else.",
    )
    n_ctx: int = _setting(4096, "Context size of the embedded server.")
    threads: int | None = _setting(None, "CPU threads of the embedded server.", neutral=True)
    chunk_chars: int | None = _setting(None, "Longest piece extracted at once (default: what fits).")
    chunk_overlap: int = _setting(400, "Characters shared by consecutive chunks.")
    rpm: float | None = _setting(None, "Requests per minute at most.", neutral=True)
    tpm: float | None = _setting(None, "Tokens per minute at most.", neutral=True)
    cache_dir: Path | None = _setting(None, "Result cache directory.", neutral=True)
    max_chars: int = _setting(2_000_000, "Longer documents are refused with a clear error.")
    prices: Path | None = _setting(None, "JSON price table (USD per million tokens by model).", neutral=True)

    @property
    def endpoint(self) -> EndpointKind:
        """Which kind of endpoint these settings select."""
        if self.base_url:
            return "openai-compatible"
        if self.api_key:
            return "openai"
        return "embedded"

    def fingerprint(self) -> str:
        """A hash of every setting that can change an extraction (credentials and speed knobs excluded)."""
        values = {
            f.name: _key_value(f.name, getattr(self, f.name))
            for f in fields(self)
            if not f.metadata["output_neutral"]
        }
        values["endpoint"] = self.endpoint
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode("utf-8")).hexdigest()

    def __repr__(self) -> str:
        # Never print the key, even in a traceback's locals or a debug log.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["api_key"] = "***" if self.api_key else None
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


def _key_value(name: str, value: Any) -> Any:
    if name == "base_url" and value:
        return str(value).split("@")[-1]  # the server, never credentials in the URL
    return str(value) if isinstance(value, Path) else value


@functools.cache
def choices() -> dict[str, tuple[str, ...]]:
    """The allowed values of every setting typed by a ``Literal`` (from the annotations themselves)."""
    hints = typing.get_type_hints(Settings)
    out = {}
    for name, hint in hints.items():
        values = _literal_values(hint)
        if values:
            out[name] = values
    return out


def _literal_values(hint: Any) -> tuple[str, ...]:
    if typing.get_origin(hint) is Literal:
        return tuple(str(v) for v in typing.get_args(hint))
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        values: tuple[str, ...] = ()
        for arg in typing.get_args(hint):
            values += _literal_values(arg)
        return values
    return ()


def _paths() -> frozenset[str]:
    hints = typing.get_type_hints(Settings)
    return frozenset(name for name, hint in hints.items() if Path in typing.get_args(hint) or hint is Path)


def resolve_settings(**arguments: Any) -> Settings:
    """Build ``Settings``: a non-None argument wins, then ``LLM_EXTRACT_<NAME>``, then the default.

    The API key also falls back to ``OPENAI_API_KEY``, as the openai client does.
    """
    values: dict[str, Any] = {}
    allowed = choices()
    paths = _paths()
    for f in fields(Settings):
        value = arguments.pop(f.name, None)
        if value is None:
            value = os.environ.get(f"LLM_EXTRACT_{f.name.upper()}") or None
            if value is None and f.name == "api_key":
                value = os.environ.get("OPENAI_API_KEY") or None
            if value is not None:
                value = _coerce(f.name, f.type, value)
        if value is not None:
            if f.name in allowed and value not in allowed[f.name]:
                raise ConfigError(f"{f.name} must be one of {', '.join(allowed[f.name])}, not {value!r}")
            values[f.name] = Path(value) if f.name in paths else value
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
