"""The public surface of llm_extract and the import layering that keeps the core modules pure."""

from __future__ import annotations

import ast
import inspect
import tomllib
from pathlib import Path

import pytest

import llm_extract
from llm_extract import errors

PACKAGE = Path(llm_extract.__file__).resolve().parent
ROOT = PACKAGE.parent

# Written out by hand from llm_extract/__init__.py: a new public name must be added here on purpose.
PUBLIC_NAMES = {
    "Actor",
    "Comparison",
    # The corpus layer (docs/corpus.md): tables, cross-document linking, the Corpus object.
    "Corpus",
    "link_actors",
    "to_tables",
    "compare_html",
    "compare_markdown",
    "compare_table",
    "prompt_diff",
    "render_html",
    "run_compare",
    "BatchResult",
    "BatchSummary",
    "ErrorRecord",
    "ResultCache",
    "aextract_batch",
    "extract_batch",
    "run_batch",
    "BackendError",
    "Baseline",
    "EvalReport",
    "Fixture",
    "FixtureError",
    "GoldLabels",
    "MatchConfig",
    "Pricing",
    "check_fixtures",
    "compare_baseline",
    "evaluate",
    "load_fixtures",
    "make_baseline",
    "eval_html",
    "eval_markdown",
    "eval_table",
    "rule_floor",
    "run_eval",
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
    "OutputError",
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
}

ERROR_NAMES = {
    "BackendError",
    "FixtureError",
    "ConfigError",
    "ExtractError",
    "InputError",
    "ModelOutputError",
    "OutputError",
    "PromptError",
    "PromptNotFoundError",
    "PromptRenderError",
    "PromptValidationError",
    "TransportError",
}


def test_all_is_exactly_the_public_names() -> None:
    assert len(llm_extract.__all__) == len(set(llm_extract.__all__)), "duplicate names in __all__"
    assert set(llm_extract.__all__) == PUBLIC_NAMES


@pytest.mark.parametrize("name", sorted(PUBLIC_NAMES - {"__version__"}))
def test_public_name_is_importable_and_documented(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from llm_extract import {name}", namespace)
    obj = namespace[name]
    assert obj is getattr(llm_extract, name)
    doc = obj.__doc__
    assert isinstance(doc, str)
    assert doc.strip()
    # A dataclass without a docstring gets its signature as __doc__; that does not count.
    assert not doc.startswith(f"{name}(")
    # Classes and functions must document themselves, not inherit the docs of a builtin or base.
    if inspect.isclass(obj):
        assert "__doc__" in vars(obj)


def test_version_matches_pyproject() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    assert isinstance(llm_extract.__version__, str)
    assert llm_extract.__version__ == project["version"]


def test_error_names_match_errors_module() -> None:
    assert set(errors.__all__) == ERROR_NAMES
    assert ERROR_NAMES <= PUBLIC_NAMES


@pytest.mark.parametrize("name", sorted(ERROR_NAMES))
def test_every_error_derives_from_extract_error(name: str) -> None:
    error = getattr(errors, name)
    assert inspect.isclass(error)
    assert issubclass(error, errors.ExtractError)
    assert issubclass(error, Exception)
    assert error.__doc__
    assert error is getattr(llm_extract, name)


def test_error_str_includes_context() -> None:
    exc = errors.InputError("bad input", document_id="d1", prompt="news@v1", attempts=2, raw_output="x" * 400)
    text = str(exc)
    assert text.startswith("bad input [document=d1, prompt=news@v1, attempts=2]\nraw output: ")
    assert text.endswith("…")
    assert exc.raw_output == "x" * 400


# --- import layering -----------------------------------------------------------------------------

# Records, text work, scoring, fixtures and reports stay pure: they never reach a model, so they can be
# used and tested with no endpoint (docs/architecture.md).
PURE_MODULES = [
    "schema.py",
    "grounding.py",
    "dates.py",
    "segment.py",
    "errors.py",
    "fixtures.py",
    "evaluate.py",
    "report/__init__.py",
    "report/corpus_page.py",
    "chunking.py",
    "cost.py",
    "compare.py",
    "injection.py",
    "filters.py",
    "stats.py",
]
FORBIDDEN_IN_PURE = (
    "llm_extract.client",
    "llm_extract.backends",
    "llm_extract.endpoints",
    "llm_extract.extract",
    "llm_extract.harness",
    "llm_extract.batch",
    "llm_extract.output",
    "llm_extract.resume",
    "llm_extract.scale",
    "llm_extract.strategies",
    "llm_extract.cli",
    "llm_extract.corpus_cli",
    "openai",
    "instructor",
)
# The strategies plan, ask and assemble: they are handed an ``ask`` and never open an endpoint.
STRATEGY_MODULES = sorted(p.name for p in (Path(llm_extract.__file__).parent / "strategies").glob("*.py"))
FORBIDDEN_IN_STRATEGIES = (
    "llm_extract.client",
    "llm_extract.backends",
    "llm_extract.endpoints",
    "llm_extract.extract",
    "llm_extract.batch",
    "llm_extract.harness",
    "llm_extract.cli",
    "openai",
    "instructor",
)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` imports anywhere (top level, functions, TYPE_CHECKING), fully qualified."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            # "from llm_extract import client" imports the submodule llm_extract.client.
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def is_under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_import_parser_sees_real_imports() -> None:
    # The layering tests below would pass vacuously if the parser missed imports.
    assert {"openai", "instructor"} <= imports_of(PACKAGE / "client.py")
    assert "llm_extract.backends.local" in imports_of(PACKAGE / "endpoints.py")
    assert "llm_extract.backends.LocalServer" in imports_of(PACKAGE / "cli.py")
    assert "llm_extract.schema" in imports_of(PACKAGE / "grounding.py")


def test_import_parser_resolves_relative_and_nested_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "llm_extract"
    pkg.mkdir()
    (pkg / "sample.py").write_text(
        "from . import cli\nfrom .backends import local\ndef f():\n    import openai\n", encoding="utf-8"
    )
    found = imports_of(pkg / "sample.py", root=tmp_path)
    assert {"llm_extract.cli", "llm_extract.backends", "llm_extract.backends.local", "openai"} <= found


@pytest.mark.parametrize("filename", PURE_MODULES)
def test_pure_modules_do_not_import_io_layers(filename: str) -> None:
    path = PACKAGE / filename
    assert path.is_file()
    bad = sorted(m for m in imports_of(path) for p in FORBIDDEN_IN_PURE if is_under(m, p))
    assert bad == [], f"{filename} imports {bad}"


@pytest.mark.parametrize("filename", STRATEGY_MODULES)
def test_strategies_never_open_an_endpoint(filename: str) -> None:
    bad = sorted(
        m
        for m in imports_of(PACKAGE / "strategies" / filename)
        for p in FORBIDDEN_IN_STRATEGIES
        if is_under(m, p)
    )
    assert bad == [], f"strategies/{filename} imports {bad}"


def test_no_module_imports_cli() -> None:
    # The CLI modules import each other (cli adds the corpus and scale commands); nothing else does.
    clis = {"llm_extract.cli", "llm_extract.corpus_cli", "llm_extract.scale.cli"}
    modules = sorted(p for p in PACKAGE.rglob("*.py") if module_name(p) not in clis)
    assert len(modules) >= 10
    offenders = sorted(
        str(p.relative_to(ROOT)) for p in modules if any(is_under(m, c) for m in imports_of(p) for c in clis)
    )
    assert offenders == []


def test_the_core_never_imports_ray() -> None:
    # Ray is the scale extra's (llm_extract/scale/); the core runs without it installed.
    core = sorted(p for p in PACKAGE.rglob("*.py") if "scale" not in p.relative_to(PACKAGE).parts)
    assert len(core) >= 30
    offenders = sorted(
        str(p.relative_to(ROOT)) for p in core if any(is_under(m, "ray") for m in imports_of(p))
    )
    assert offenders == []
