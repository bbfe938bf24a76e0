"""The exception tree: every error llm-extract raises derives from ``ExtractError``.

::

    ExtractError                  base; carries document_id, prompt, attempts, raw_output
    ├── ConfigError               a setting is invalid or a required file is missing
    ├── InputError                a document is empty, undecodable, too large or malformed
    │   └── FixtureError          an eval fixture file is malformed or its gold quotes are not in its text
    ├── PromptError               a prompt file cannot be used
    │   ├── PromptNotFoundError   no file for "name@version"
    │   ├── PromptValidationError unknown keys, bad Jinja2 syntax, undeclared variables
    │   └── PromptRenderError     a template variable was missing at render time
    ├── BackendError              the embedded llama.cpp server failed to start or died
    ├── TransportError            the endpoint failed (timeout, connection, 429, 5xx) after retries
    ├── ModelOutputError          the model's output stayed invalid after every re-ask
    └── OutputError               an output file is locked by another run, cannot be written, or is
                                  not an llm-extract results file (--resume)

Errors are raised ``from`` their cause; messages never include API keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # schema does not import errors; the annotation alone needs it
    from llm_extract.schema import Usage

__all__ = [
    "BackendError",
    "ConfigError",
    "ExtractError",
    "FixtureError",
    "InputError",
    "ModelOutputError",
    "OutputError",
    "PromptError",
    "PromptNotFoundError",
    "PromptRenderError",
    "PromptValidationError",
    "TransportError",
]

# Raw model output is kept whole on the exception but shortened in the message so logs stay readable.
_RAW_PREVIEW = 300


class ExtractError(Exception):
    """Base class of every llm-extract error."""

    def __init__(
        self,
        message: str,
        *,
        document_id: str | None = None,
        prompt: str | None = None,
        attempts: int | None = None,
        raw_output: str | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.document_id = document_id
        self.prompt = prompt
        self.attempts = attempts
        self.raw_output = raw_output
        # Tokens already spent on the failed document: failures cost money too.
        self.usage = usage

    def __str__(self) -> str:
        context = [
            f"{key}={value}"
            for key, value in (
                ("document", self.document_id),
                ("prompt", self.prompt),
                ("attempts", self.attempts),
            )
            if value is not None
        ]
        text = self.message + (f" [{', '.join(context)}]" if context else "")
        if self.raw_output:
            preview = self.raw_output[:_RAW_PREVIEW]
            ellipsis = "…" if len(self.raw_output) > _RAW_PREVIEW else ""
            text += f"\nraw output: {preview!r}{ellipsis}"
        return text


class ConfigError(ExtractError):
    """A setting is invalid or a required file (model, prompt directory) is missing."""


class InputError(ExtractError):
    """A document cannot be processed: empty, undecodable, too large or malformed."""


class FixtureError(InputError):
    """An eval fixture file is malformed, or a gold quote is not found at its offsets."""


class PromptError(ExtractError):
    """A prompt file cannot be used."""


class PromptNotFoundError(PromptError):
    """No prompt file exists for the requested ``name@version``."""


class PromptValidationError(PromptError):
    """A prompt file has unknown keys, invalid Jinja2 or undeclared template variables."""


class PromptRenderError(PromptError):
    """A template variable was missing when the prompt was rendered."""


class BackendError(ExtractError):
    """The embedded llama.cpp server failed to start, answer or stop."""


class TransportError(ExtractError):
    """The endpoint failed (timeout, connection error, HTTP 429 or 5xx) after every transport retry."""


class ModelOutputError(ExtractError):
    """The model's output stayed invalid (unparseable or failing validation) after every re-ask."""


class OutputError(ExtractError):
    """An output file cannot be used: locked by another run, unwritable, or not ours to resume.

    Locked: another llm-extract run writes it. Unwritable: no permission, a read-only directory, a full
    disk. Not ours: ``--resume`` found lines that are not llm-extract results of this schema version.
    """
