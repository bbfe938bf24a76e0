"""Start-up: what `import llm_extract`, `llm-extract --help` and a rules extraction load (timings: benchmarks/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import EXAMPLES, ROOT

HEAVY = ("scipy", "numpy", "rich", "jinja2", "openai", "instructor")


def _loaded_after(code: str) -> dict[str, list[str]]:
    """Run ``code`` in a fresh interpreter; which of the heavy libraries (and client modules) it loaded."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        ours = sorted(m for m in sys.modules if m.startswith("llm_extract."))
        print(json.dumps({{"heavy": heavy, "ours": ours}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_importing_the_package_loads_none_of_the_heavy_libraries() -> None:
    loaded = _loaded_after("import llm_extract")
    assert loaded["heavy"] == []
    assert loaded["ours"] == []  # every public name is imported on first use


def test_records_and_settings_come_without_the_heavy_libraries() -> None:
    loaded = _loaded_after("from llm_extract import Extraction, Document, Settings, EvalReport, ExtractError")
    assert loaded["heavy"] == []


def test_help_loads_none_of_the_heavy_libraries() -> None:
    loaded = _loaded_after(
        """
        from llm_extract.cli import main
        try:
            main(["--help"])
        except SystemExit as exit:
            assert exit.code == 0
        """
    )
    assert loaded["heavy"] == []
    assert "llm_extract.client" not in loaded["ours"]


def test_a_rules_extraction_needs_no_model_client_and_no_scipy() -> None:
    article = EXAMPLES / "choe_russia_trip.txt"
    loaded = _loaded_after(
        f"""
        from llm_extract.cli import main
        try:
            main(["extract", {str(article)!r}, "--strategy", "rules", "--no-cache"])
        except SystemExit as exit:
            assert exit.code == 0, exit.code
        """
    )
    assert not {"openai", "instructor", "scipy"} & set(loaded["heavy"])
    assert "llm_extract.client" not in loaded["ours"]


@pytest.mark.parametrize("name", ["extract", "evaluate"])
def test_a_public_function_named_like_its_module_stays_the_function(name: str) -> None:
    # Importing the submodule binds it on the package under the same name; the function must win.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import llm_extract.{name}, llm_extract, types\n"
            f"from llm_extract import {name}\n"
            f"print(callable({name}) and not isinstance({name}, types.ModuleType), "
            f"llm_extract.{name} is {name})",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    assert loaded.stdout.split() == ["True", "True"]
