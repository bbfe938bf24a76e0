"""`llm-extract compare` and `llm-extract prompts` against a fake OpenAI-compatible server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from fake_openai import FakeOpenAI  # noqa: E402

from llm_extract import Comparison  # noqa: E402
from llm_extract.cli import main  # noqa: E402

FIXTURES = ROOT / "evals" / "fixtures"


@pytest.fixture
def six_fixtures(tmp_path: Path) -> Path:
    """Six short fixtures: with six documents all worse, a sign-flip test can reach p = 2/64."""
    directory = tmp_path / "fixtures"
    directory.mkdir()
    chosen = sorted(FIXTURES.glob("*.yaml"), key=lambda p: p.stat().st_size)[:6]
    for path in chosen:
        (directory / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return directory


def test_same_answers_mean_no_difference_and_exit_zero(
    six_fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_EXTRACT_TRANSPORT_RETRIES", "0")
    with FakeOpenAI() as fake:
        args = ["compare", "news@v1", "news@v2", "--fixtures", str(six_fixtures), "--base-url", fake.base_url]
        args += [
            "--model",
            "fake",
            "--strategy",
            "decomposed",
            "--fail-if-worse",
            "--json",
            str(tmp_path / "c.json"),
        ]
        args += ["--markdown", str(tmp_path / "c.md"), "--report", str(tmp_path / "c.html")]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert fake.served > 0
    assert result.exit_code == 0, result.output
    comparison = Comparison.model_validate_json((tmp_path / "c.json").read_text(encoding="utf-8"))
    # The fake server answers both prompts alike, so nothing may differ.
    for schemes in comparison.f1.values():
        for delta in schemes.values():
            assert (delta.delta, delta.p_value) == (0.0, 1.0)
    markdown = (tmp_path / "c.md").read_text(encoding="utf-8")
    assert "## llm-extract compare: news@v1 → news@v2 (fake)" in markdown
    assert "```diff" in markdown
    assert "+version: v2" in markdown
    html = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert 'id="f1"' in html
    assert "Prompt diff" in html


def test_a_significantly_worse_b_fails_the_gate(six_fixtures: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_EXTRACT_TRANSPORT_RETRIES", "0")
    # B's endpoint fails every request: every B document is an error, every gold item a miss.
    with FakeOpenAI() as good, FakeOpenAI(faults=[(500, {})] * 10_000) as broken:
        args = ["compare", "news@v1", "--fixtures", str(six_fixtures), "--base-url", good.base_url]
        args += ["--model", "fake", "--strategy", "decomposed", "--base-url-b", broken.base_url]
        gated = CliRunner().invoke(main, [*args, "--fail-if-worse"])
        ungated = CliRunner().invoke(main, args)
        assert broken.served > 0
    assert gated.exit_code == 1, gated.output
    assert "B is significantly worse" in gated.output
    assert "actors partial F1" in gated.output
    assert ungated.exit_code == 0  # without the flag the report is printed, not enforced


def test_compare_needs_something_to_compare() -> None:
    result = CliRunner().invoke(main, ["compare", "news@v1"])
    assert result.exit_code == 2
    assert "second prompt version" in result.output


def test_prompts_commands() -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["prompts", "list"])
    assert listed.exit_code == 0
    assert [line.split("\t")[0] for line in listed.output.splitlines()][:2] == ["news@v1", "news@v2"]
    shown = runner.invoke(main, ["prompts", "show", "news@v2"])
    assert shown.exit_code == 0
    assert "version: v2" in shown.output
    diff = runner.invoke(main, ["prompts", "diff", "news@v1", "news@v2"])
    assert diff.output.startswith("--- news@v1\n+++ news@v2\n")
    same = runner.invoke(main, ["prompts", "diff", "news@v1", "news@v1"])
    assert "are the same file" in same.output
    missing = runner.invoke(main, ["prompts", "show", "news@v9"])
    assert missing.exit_code == 1
    assert "no prompt 'news@v9'" in missing.output


def test_prompts_list_marks_the_default_and_cuts_only_between_words(monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_extract import list_prompts, load_prompt
    from llm_extract._config import DEFAULT_PROMPT

    def listed() -> dict[str, str]:
        result = CliRunner().invoke(main, ["prompts", "list"])
        assert result.exit_code == 0, result.output
        return {line.split("\t")[0]: line.split("\t")[2] for line in result.output.splitlines()}

    shown = listed()
    assert list(shown) == list_prompts()
    assert [ref for ref, text in shown.items() if text.startswith("(default) ")] == [DEFAULT_PROMPT]
    for ref, text in shown.items():
        full = " ".join(load_prompt(ref).description.split())
        text = text.removeprefix("(default) ")
        if text != full:  # shortened: whole words, then an ellipsis
            assert text.endswith(" …"), text
            kept = text.removesuffix(" …")
            assert full.startswith(kept)
            assert full[len(kept)] == " ", f"{ref}: cut inside a word: {text!r}"
    # The default is the one a run would use: LLM_EXTRACT_PROMPT changes it.
    monkeypatch.setenv("LLM_EXTRACT_PROMPT", "news@v2")
    assert [ref for ref, text in listed().items() if text.startswith("(default) ")] == ["news@v2"]


def test_compare_by_split_prints_and_saves_each_split(tmp_path: Path) -> None:
    directory = tmp_path / "fixtures"
    (directory / "test").mkdir(parents=True)
    for source, target in ((FIXTURES, directory), (FIXTURES / "test", directory / "test")):
        for path in sorted(source.glob("*.yaml"), key=lambda p: p.stat().st_size)[:2]:
            (target / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    args = ["compare", "news@v1", "news@v2", "--fixtures", str(directory), "--strategy", "rules"]
    result = CliRunner().invoke(main, [*args, "--split", "all", "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    assert "llm-extract compare · dev split" in result.output
    assert "llm-extract compare · test split" in result.output
    assert "llm-extract compare · dev + test" in result.output
    comparison = Comparison.model_validate_json((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert comparison.split == "all"
    assert [p.split for p in comparison.parts] == ["dev", "test"]
    # The default is the dev split: prompts are tuned there, the test split is held out.
    result = CliRunner().invoke(main, [*args, "--json", str(tmp_path / "dev.json")])
    assert result.exit_code == 0, result.output
    dev = Comparison.model_validate_json((tmp_path / "dev.json").read_text(encoding="utf-8"))
    assert dev.split == "dev"
    assert len(dev.documents) == 2
