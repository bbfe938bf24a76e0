"""llm-extract: grounded, typed records of actors, events and claims from news articles."""

from llm_extract._config import Settings
from llm_extract.batch import BatchResult, BatchSummary, ErrorRecord, aextract_batch, extract_batch
from llm_extract.cache import ResultCache
from llm_extract.compare import Comparison, prompt_diff
from llm_extract.corpus import Corpus
from llm_extract.cost import Pricing
from llm_extract.documents import load_documents
from llm_extract.errors import (
    BackendError,
    ConfigError,
    ExtractError,
    FixtureError,
    InputError,
    ModelOutputError,
    OutputError,
    PromptError,
    PromptNotFoundError,
    PromptRenderError,
    PromptValidationError,
    TransportError,
)
from llm_extract.evaluate import EvalReport, MatchConfig, evaluate
from llm_extract.extract import Extractor, extract
from llm_extract.fixtures import Fixture, GoldLabels, check_fixtures, load_fixtures
from llm_extract.harness import Baseline, compare_baseline, make_baseline, rule_floor, run_compare, run_eval
from llm_extract.linking import link_actors
from llm_extract.output import run_batch
from llm_extract.prompts import Prompt, list_prompts, load_prompt
from llm_extract.report import (
    compare_html,
    compare_markdown,
    compare_table,
    eval_html,
    eval_markdown,
    eval_table,
    render_html,
)
from llm_extract.schema import Actor, Claim, Document, Event, EventDate, Evidence, Extraction, Participant
from llm_extract.tables import to_tables

__version__ = "0.1.0"

__all__ = [
    "Actor",
    "BackendError",
    "Baseline",
    "BatchResult",
    "BatchSummary",
    "Claim",
    "Comparison",
    "ConfigError",
    "Corpus",
    "Document",
    "ErrorRecord",
    "EvalReport",
    "Event",
    "EventDate",
    "Evidence",
    "ExtractError",
    "Extraction",
    "Extractor",
    "Fixture",
    "FixtureError",
    "GoldLabels",
    "InputError",
    "MatchConfig",
    "ModelOutputError",
    "OutputError",
    "Participant",
    "Pricing",
    "Prompt",
    "PromptError",
    "PromptNotFoundError",
    "PromptRenderError",
    "PromptValidationError",
    "ResultCache",
    "Settings",
    "TransportError",
    "__version__",
    "aextract_batch",
    "check_fixtures",
    "compare_baseline",
    "compare_html",
    "compare_markdown",
    "compare_table",
    "eval_html",
    "eval_markdown",
    "eval_table",
    "evaluate",
    "extract",
    "extract_batch",
    "link_actors",
    "list_prompts",
    "load_documents",
    "load_fixtures",
    "load_prompt",
    "make_baseline",
    "prompt_diff",
    "render_html",
    "rule_floor",
    "run_batch",
    "run_compare",
    "run_eval",
    "to_tables",
]
