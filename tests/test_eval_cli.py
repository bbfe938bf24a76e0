"""`llm-extract eval` over predictions made elsewhere: gates, reports, baselines and bad arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from test_evaluate import META

from llm_extract import Baseline, EvalReport, Extraction, load_fixtures
from llm_extract.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "evals" / "fixtures"


def _predictions(tmp_path: Path, keep_claims: bool = True) -> Path:
    """Gold labels as predictions (scores 1.0), optionally with every claim dropped (claims score 0)."""
    lines = []
    for fixture in load_fixtures(FIXTURES):
        gold = fixture.gold
        lines.append(
            Extraction(
                document_id=fixture.id,
                metadata=META,
                actors=gold.actors,
                events=gold.events,
                claims=gold.claims if keep_claims else [],
            ).model_dump_json()
        )
    path = tmp_path / "predictions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _eval(*args: str) -> tuple[int, str]:
    # The dev split: the files directly in evals/fixtures, which _predictions covers.
    result = CliRunner().invoke(main, ["eval", "--fixtures", str(FIXTURES), "--split", "dev", *args])
    return result.exit_code, result.output


def test_gold_predictions_pass_every_gate_and_write_reports(tmp_path: Path) -> None:
    predictions = _predictions(tmp_path)
    code, output = _eval(
        "--predictions",
        str(predictions),
        "--min-f1",
        "actors=1",
        "--min-f1",
        "claims.partial=1",
        "--json",
        str(tmp_path / "r.json"),
        "--markdown",
        str(tmp_path / "r.md"),
        "--report",
        str(tmp_path / "r.html"),
        "--write-baseline",
        str(tmp_path / "baseline.json"),
    )
    assert code == 0, output
    assert "100.0" in output
    assert "rules floor" in output
    report = EvalReport.model_validate_json((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert all(report.f1(t) == 1.0 for t in ("actors", "events", "claims"))
    assert len(report.documents) == len(list(FIXTURES.glob("*.yaml")))
    assert "| actors |" in (tmp_path / "r.md").read_text(encoding="utf-8")
    assert (tmp_path / "r.html").read_text(encoding="utf-8").count('<section class="doc"') == len(
        report.documents
    )
    baseline = Baseline.model_validate_json((tmp_path / "baseline.json").read_text(encoding="utf-8"))
    assert baseline.f1["claims"]["strict"].value == 1.0


def test_a_missed_gate_exits_one(tmp_path: Path) -> None:
    predictions = _predictions(tmp_path, keep_claims=False)
    code, output = _eval(
        "--predictions", str(predictions), "--min-f1", "actors=0.9", "--min-f1", "claims=0.1"
    )
    assert code == 1
    assert "gate failed" in output
    assert "claims strict F1 0.000 < 0.100" in output
    assert "actors" not in output.split("gate failed")[1]


def test_a_drop_below_the_baseline_exits_one(tmp_path: Path) -> None:
    full = _predictions(tmp_path)
    assert _eval("--predictions", str(full), "--write-baseline", str(tmp_path / "b.json"))[0] == 0
    worse = _predictions(tmp_path, keep_claims=False)
    code, output = _eval("--predictions", str(worse), "--baseline", str(tmp_path / "b.json"))
    assert code == 1
    assert "claims strict F1 fell to 0.000" in output


@pytest.mark.parametrize("gate", ["actors", "actors=high", "people=0.5", "actors.loose=0.5", "claims=1.5"])
def test_bad_gates_are_usage_errors(gate: str, tmp_path: Path) -> None:
    code, output = _eval("--predictions", str(_predictions(tmp_path)), "--min-f1", gate)
    assert code == 2
    assert "--min-f1" in output or "TYPE" in output or "threshold" in output


def test_bad_predictions_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"document_id": "x"}\n', encoding="utf-8")
    code, output = _eval("--predictions", str(bad))
    assert code == 1
    assert "cannot read predictions" in output
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text(
        Extraction(document_id="nope", metadata=META).model_dump_json() + "\n", encoding="utf-8"
    )
    code, output = _eval("--predictions", str(unknown))
    assert code == 1
    assert "no gold: nope" in output


def test_fixture_problems_stop_the_eval(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("text: hello\ngold: {actors: [{id: A1, name: X, mentions: [Y]}]}\n")
    result = CliRunner().invoke(
        main, ["eval", "--fixtures", str(tmp_path), "--predictions", str(_predictions(tmp_path))]
    )
    assert result.exit_code == 1
    assert "quote 'Y' occurs 0 times" in result.output


# --- splits, saved reports, the cache and the terminal ---------------------------------------------------


@pytest.fixture
def splits(tmp_path: Path) -> Path:
    """Two dev fixtures and two test fixtures (the smallest of each), in the layout of evals/fixtures."""
    directory = tmp_path / "fixtures"
    (directory / "test").mkdir(parents=True)
    for source, target in ((FIXTURES, directory), (FIXTURES / "test", directory / "test")):
        for path in sorted(source.glob("*.yaml"), key=lambda p: p.stat().st_size)[:2]:
            (target / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return directory


def _rules_eval(splits: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["eval", "--fixtures", str(splits), "--strategy", "rules", *args], env=env
    )
    return result.exit_code, result.output


def test_eval_scores_every_split_by_default_and_each_on_its_own(splits: Path, tmp_path: Path) -> None:
    code, output = _rules_eval(splits, "--json", str(tmp_path / "all.json"), env={"COLUMNS": "170"})
    assert code == 0, output
    titles = [line.strip() for line in output.splitlines() if line.strip().startswith("llm-extract eval")]
    assert [t.split(" · ")[1] for t in titles] == ["dev split", "test split", "dev + test"]
    report = EvalReport.model_validate_json((tmp_path / "all.json").read_text(encoding="utf-8"))
    assert report.split == "all"
    assert [(p.split, len(p.documents)) for p in report.parts] == [("dev", 2), ("test", 2)]
    assert [d.split for d in report.documents] == ["dev", "dev", "test", "test"]
    code, output = _rules_eval(splits, "--split", "test", "--json", str(tmp_path / "test.json"))
    assert code == 0, output
    alone = EvalReport.model_validate_json((tmp_path / "test.json").read_text(encoding="utf-8"))
    assert alone.split == "test"
    assert alone.parts == []
    part = report.for_split("test")
    assert part is not None
    assert alone.f1("events") == part.f1("events")


def test_reports_and_gates_come_from_a_saved_json_without_a_model_run(
    splits: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = tmp_path / "eval.json"
    assert _rules_eval(splits, "--json", str(saved))[0] == 0

    def no_model(*_: object, **__: object) -> None:
        raise AssertionError("--from-json must not make an extractor")

    from llm_extract.extract import Extractor

    monkeypatch.setattr(Extractor, "__init__", no_model)
    out = tmp_path / "out"
    code, output = _eval_saved(
        saved,
        "--report",
        f"{out}.html",
        "--markdown",
        f"{out}.md",
        "--write-baseline",
        f"{out}.baseline.json",
    )
    assert code == 0, output
    markdown = (tmp_path / "out.md").read_text(encoding="utf-8")
    assert "## By split" in markdown
    assert "| test | 2 |" in markdown
    html = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert 'id="splits"' in html
    assert html.count('<section class="doc"') == 4
    baseline = Baseline.model_validate_json((tmp_path / "out.baseline.json").read_text(encoding="utf-8"))
    assert baseline.split == "all"
    # Gates from the saved report: a threshold no rules run reaches, and a baseline of another split.
    code, output = _eval_saved(saved, "--min-f1", "events=0.99")
    assert code == 1
    assert "gate failed" in output
    assert "events strict F1" in output
    code, output = _eval_saved(saved, "--split", "dev", "--write-baseline", str(tmp_path / "dev.json"))
    assert code == 0, output
    assert Baseline.model_validate_json((tmp_path / "dev.json").read_text(encoding="utf-8")).split == "dev"
    assert _eval_saved(saved, "--baseline", str(tmp_path / "dev.json"))[0] == 0  # gated on its dev part
    code, output = _eval_saved(saved, "--split", "test", "--baseline", str(tmp_path / "dev.json"))
    assert code == 1
    assert "the baseline was made on the dev split, this run scored test" in output


def _eval_saved(saved: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["eval", "--from-json", str(saved), *args])
    return result.exit_code, result.output


def test_a_saved_json_runs_nothing_else(splits: Path, tmp_path: Path) -> None:
    saved = tmp_path / "eval.json"
    assert _rules_eval(splits, "--split", "dev", "--json", str(saved))[0] == 0
    code, output = _eval_saved(saved, "--model", "gpt-4o-mini")
    assert code == 2
    assert "runs nothing: drop --model" in output
    code, output = _eval_saved(saved, "--split", "test")
    assert code == 2
    assert "holds no test split" in output
    (tmp_path / "not-a-report.json").write_text("{}", encoding="utf-8")
    code, output = _eval_saved(tmp_path / "not-a-report.json")
    assert code == 2
    assert "not a report saved with --json" in output


def test_a_second_eval_is_answered_from_the_cache(splits: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_extract.extract import Extractor

    calls: list[str] = []
    real = Extractor.aextract

    async def counting(self: Extractor, document: object, **options: object) -> Extraction:
        calls.append(str(getattr(document, "id", "")))
        return await real(self, document, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(Extractor, "aextract", counting)
    assert _rules_eval(splits)[0] == 0
    assert len(calls) == 4
    assert _rules_eval(splits, "--markdown", "/dev/null")[0] == 0  # e.g. again for a report: no extraction
    assert len(calls) == 4
    assert _rules_eval(splits, "--split", "dev", "--no-cache")[0] == 0
    assert len(calls) == 6


@pytest.mark.parametrize("columns", [60, 80, 100, 120, 170])
def test_the_eval_table_fits_the_terminal(columns: int, splits: Path, tmp_path: Path) -> None:
    saved = tmp_path / "eval.json"
    assert _rules_eval(splits, "--split", "dev", "--json", str(saved))[0] == 0
    result = CliRunner().invoke(main, ["eval", "--from-json", str(saved)], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= columns
    text = "\n".join(lines)
    assert "strict F1" in text  # the score itself is never dropped
    assert "events.participants" in text
    assert ("macro F1" in text) == (columns >= 140)  # the least telling columns go first
    assert ("missed" in text) == (columns >= 120)
    assert ("candidate recall" in text.replace("\n", " ")) == (columns >= 100)
