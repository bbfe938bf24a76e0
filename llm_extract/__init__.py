"""llm-extract: grounded, typed records of actors, events and claims from news articles."""

from llm_extract._config import Settings
from llm_extract.documents import load_documents
from llm_extract.errors import (
    BackendError,
    ConfigError,
    ExtractError,
    InputError,
    ModelOutputError,
    PromptError,
    PromptNotFoundError,
    PromptRenderError,
    PromptValidationError,
    TransportError,
)
from llm_extract.extract import Extractor, extract
from llm_extract.prompts import Prompt, list_prompts, load_prompt
from llm_extract.schema import Actor, Claim, Document, Event, EventDate, Evidence, Extraction, Participant

__version__ = "0.1.0"

__all__ = [
    "Actor",
    "BackendError",
    "Claim",
    "ConfigError",
    "Document",
    "Event",
    "EventDate",
    "Evidence",
    "ExtractError",
    "Extraction",
    "Extractor",
    "InputError",
    "ModelOutputError",
    "Participant",
    "Prompt",
    "PromptError",
    "PromptNotFoundError",
    "PromptRenderError",
    "PromptValidationError",
    "Settings",
    "TransportError",
    "__version__",
    "extract",
    "list_prompts",
    "load_documents",
    "load_prompt",
]
