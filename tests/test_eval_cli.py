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
    result = CliRunner().invoke(main, ["eval", "--fixtures", str(FIXTURES), *args])
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
