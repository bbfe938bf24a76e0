"""The Corpus object, its timeline and claim pairs, and the standalone corpus page."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from corpus_helpers import HOSTILE, gold, hostile_results, write_jsonl

from llm_extract.cli import main
from llm_extract.corpus import Corpus
from llm_extract.counterclaims import ClaimRef, claim_pairs, is_denial, stems
from llm_extract.report.corpus_page import corpus_page_data, render_corpus_html
from llm_extract.schema import Claim, Evidence


def test_timeline_is_ordered_and_keeps_only_resolved_dates() -> None:
    corpus = Corpus(gold())
    timeline = corpus.timeline()
    assert [t.start for t in timeline] == sorted(t.start for t in timeline)
    dated = sum(1 for r in gold() if r.extraction for e in r.extraction.events if e.date and e.date.value)
    assert len(timeline) == dated
    visit = next(
        t for t in timeline if t.document_id == "diplo-kozhemyako-arms-denial" and t.event.id == "E1"
    )
    assert (visit.value, visit.precision, str(visit.start)) == ("2023-11-14", "day", "2023-11-14")
    # Participants carry their entity: the Pyongyang visit's target is the corpus-wide North Korea.
    north_korea = corpus.linking.entity_by_key()["diplo-kozhemyako-arms-denial#A3"]
    assert ("North Korea", north_korea.id, "target") in visit.participants
    assert len(north_korea.documents) == 4


def test_claim_pairs_find_denials_across_claimants() -> None:
    pairs = Corpus(gold()).claim_pairs()
    assert pairs
    assert all(p.assertion.claimant_key != p.denial.claimant_key for p in pairs)
    assert all(is_denial(p.denial.claim) and not is_denial(p.assertion.claim) for p in pairs)
    # The US accuses North Korea of supplying arms to Russia; North Korea denies it, in another article.
    assert any(
        p.assertion.claimant == "United States"
        and p.denial.claimant == "North Korea"
        and p.assertion.document_id != p.denial.document_id
        for p in pairs
    )
    hesse = [p for p in pairs if p.denial.document_id == "pol-hesse-hospital-election"]
    assert any(p.denial.claimant == "Jürgen Müller" and p.assertion.claimant == "Ayşe Yıldız" for p in hesse)


def test_claim_pairs_need_shared_content_and_different_claimants() -> None:
    def ref(doc: str, cid: str, statement: str, who: str, polarity: str = "asserted") -> ClaimRef:
        claim = Claim(id=cid, statement=statement, polarity=polarity, evidence=Evidence(quote=statement))  # type: ignore[arg-type]
        return ClaimRef(doc, claim, who, who)

    refs = [
        ref("d1", "C1", "Acme supplied rifles to the rebels.", "police"),
        ref("d2", "C1", "Acme never supplied rifles to the rebels.", "acme", "denied"),
        ref("d2", "C2", "Acme never supplied rifles to the rebels.", "police", "denied"),  # same claimant
        ref("d3", "C1", "The weather was never better.", "mayor", "denied"),  # nothing in common
    ]
    pairs = claim_pairs(refs)
    assert [(p.assertion.key, p.denial.key) for p in pairs] == [("d1#C1", "d2#C1")]
    assert pairs[0].shared == tuple(sorted(stems("Acme supplied rifles rebels")))
    assert stems("supplied") == stems("supplying")


def test_page_escapes_everything_from_the_data() -> None:
    page = render_corpus_html(Corpus(hostile_results()), title="<b>corpus</b>")
    assert "<title>&lt;b&gt;corpus&lt;/b&gt;</title>" in page
    assert "<script>window.pwned" not in page
    assert "<img src=x" not in page
    # One data block, parsed back to exactly what went in.
    block = re.search(r'<script type="application/json" id="corpus-data">(.*?)</script>', page, re.S)
    assert block is not None
    assert page.count("</script>") == 2
    data = json.loads(block.group(1))
    assert data["docs"][0][1] == HOSTILE
    assert data["pairs"]
    assert data["pairs"][0][3][6] == "Acme had shipped rifles to Borduria"


def test_page_data_links_entities_to_mentions_in_context() -> None:
    data = corpus_page_data(Corpus(gold()))
    north_korea = next(e for e in data["entities"] if e[1] == "North Korea")
    assert north_korea[3] == 4
    snippets = [s for m in north_korea[5] for s in data["members"][m][8]]
    assert any(s[1] == "Pyongyang" for s in snippets)
    assert all(len(s[0]) <= 61 for s in snippets)
    assert data["counts"]["documents"] == len(gold())
    assert [t[9] for t in data["timeline"]] == sorted(t[9] for t in data["timeline"])


def test_corpus_command_writes_the_page(tmp_path: Path) -> None:
    results = write_jsonl(tmp_path / "results.jsonl", gold()[:8], extra_lines=("not json",))
    out = tmp_path / "corpus.html"
    ran = CliRunner().invoke(main, ["corpus", str(results), "--out", str(out), "--title", "Eight"])
    assert ran.exit_code == 0, ran.output
    assert "9 document(s)" in ran.output
    page = out.read_text(encoding="utf-8")
    assert "<title>Eight</title>" in page
    assert "1 failed" in page
    assert "http://" not in page
    assert "https://" not in page
    missing = CliRunner().invoke(main, ["corpus", str(results), "--out", str(tmp_path / "no" / "x.html")])
    assert missing.exit_code != 0
