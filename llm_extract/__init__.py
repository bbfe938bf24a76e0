"""llm-extract: grounded, typed records of actors, events and claims from news articles.

The public names are attributes of this package, imported on first use (PEP 562): ``import
llm_extract`` loads none of the heavy libraries (scipy, numpy, rich, jinja2, openai, instructor), so
the CLI starts quickly and a ``rules`` extraction never pays for the model client. ``from
llm_extract import X`` works for every name in ``__all__``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, for type checkers and editors; at run time see __getattr__
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
    from llm_extract.harness import (
        Baseline,
        compare_baseline,
        make_baseline,
        rule_floor,
        run_compare,
        run_eval,
    )
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
    from llm_extract.schema import (
        Actor,
        Claim,
        Document,
        Event,
        EventDate,
        Evidence,
        Extraction,
        Participant,
    )
    from llm_extract.tables import to_tables

    __version__: str

# Where each public name lives: the module is imported the first time the name is asked for.
_LOCATIONS: dict[str, str] = {
    **dict.fromkeys(["Settings"], "_config"),
    **dict.fromkeys(
        ["BatchResult", "BatchSummary", "ErrorRecord", "aextract_batch", "extract_batch"], "batch"
    ),
    **dict.fromkeys(["ResultCache"], "cache"),
    **dict.fromkeys(["Comparison", "prompt_diff"], "compare"),
    **dict.fromkeys(["Corpus"], "corpus"),
    **dict.fromkeys(["Pricing"], "cost"),
    **dict.fromkeys(["load_documents"], "documents"),
    **dict.fromkeys(
        [
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
        ],
        "errors",
    ),
    **dict.fromkeys(["EvalReport", "MatchConfig", "evaluate"], "evaluate"),
    **dict.fromkeys(["Extractor", "extract"], "extract"),
    **dict.fromkeys(["Fixture", "GoldLabels", "check_fixtures", "load_fixtures"], "fixtures"),
    **dict.fromkeys(
        ["Baseline", "compare_baseline", "make_baseline", "rule_floor", "run_compare", "run_eval"], "harness"
    ),
    **dict.fromkeys(["link_actors"], "linking"),
    **dict.fromkeys(["run_batch"], "output"),
    **dict.fromkeys(["Prompt", "list_prompts", "load_prompt"], "prompts"),
    **dict.fromkeys(
        [
            "compare_html",
            "compare_markdown",
            "compare_table",
            "eval_html",
            "eval_markdown",
            "eval_table",
            "render_html",
        ],
        "report",
    ),
    **dict.fromkeys(
        ["Actor", "Claim", "Document", "Event", "EventDate", "Evidence", "Extraction", "Participant"],
        "schema",
    ),
    **dict.fromkeys(["to_tables"], "tables"),
}

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


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562) and keep the name here for the next."""
    if name == "__version__":
        value: Any = _version()
    elif (module := _LOCATIONS.get(name)) is not None:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """The package's module type: a submodule named like a public function does not replace it.

    Importing ``llm_extract.extract`` binds the submodule as the package's attribute ``extract``,
    over the function ``extract`` (likewise ``evaluate``); the function is kept instead, as an
    eager ``from llm_extract.extract import extract`` here would have left it.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        submodule = isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}"
        if submodule and name in _LOCATIONS:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _version() -> str:
    """The installed distribution's version: defined once, in pyproject.toml."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llm-extract")
    except PackageNotFoundError:  # a source tree on sys.path without an install
        return "0+unknown"
