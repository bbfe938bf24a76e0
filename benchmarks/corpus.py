"""Corpus scaling: export and link N synthetic documents' results, N = 1,000 ... 10,000.

    .venv/bin/python benchmarks/corpus.py                    # 1000, 2000, 5000, 10000
    .venv/bin/python benchmarks/corpus.py --sizes 1000,4000 --no-browser

Each size runs in a fresh subprocess (so peak memory is that size's own) and measures: reading the
JSONL into a ``Corpus``, linking actors (``link_actors``), building the eight tables, writing each
format, finding claim pairs, rendering the corpus page, and (with Chromium) loading that page until it
is ready. It prints one row per size and the growth from the smallest to the largest size next to
the linear ideal (10x for 1,000 -> 10,000).

The synthetic results are the 49 linking-eval fixtures' gold labels, copied with new document ids.
So that the number of entities grows with the corpus, as it does in news, each copy keeps about half
its actors' names (the recurring countries, leaders and agencies) and renames the rest to new people
and organizations drawn from a population that grows with N (a few are drawn often, most rarely).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1000, 2000, 5000, 10000)
GIVEN = (
    "Anna Boris Chen Dara Elif Farid Greta Hugo Ines Jonas "
    "Kofi Lena Mateo Nadia Omar Priya Rafael Sofia Tomas Yara"
).split()
SYLLABLES = "ba ko ri mu se ta lo ve ni da go pe".split()
ORG_WORDS = "Northern United Atlantic Harbour Central Eastern Metro Alpine Coastal National".split()
ORG_KINDS = "Holdings Logistics Bank Energy Union Council Partners Telecom Foods Institute".split()


def _family(n: int) -> str:
    """A made-up family name, distinct for each n (three syllables in base 12)."""
    a, b, c = n % 12, n // 12 % 12, n // 144 % 12
    return (SYLLABLES[a] + SYLLABLES[b] + SYLLABLES[c]).capitalize() + ("" if n < 1728 else str(n // 1728))


def _synthetic_name(n: int, kind: str) -> str:
    if kind == "person":
        return f"{GIVEN[n % len(GIVEN)]} {_family(n // len(GIVEN))}"
    return (
        f"{ORG_WORDS[n % len(ORG_WORDS)]} {_family(n // len(ORG_WORDS))} {ORG_KINDS[n // 7 % len(ORG_KINDS)]}"
    )


def synthetic_results(n: int, seed: int = 20) -> list[Any]:
    """``n`` ok results built from the fixtures' gold labels (see the module docstring)."""
    sys.path.insert(0, str(ROOT))
    from llm_extract.fixtures import load_fixtures
    from llm_extract.gold import gold_results

    base = gold_results(
        [
            f
            for d in ("evals/fixtures", "evals/fixtures/test", "evals/linking/articles")
            for f in load_fixtures(ROOT / d)
        ]
    )
    rng = random.Random(seed)
    population = 3 * n  # distinct renamed entities grow with the corpus
    out = []
    for i in range(n):
        template = base[i % len(base)]
        assert template.extraction is not None
        assert template.document is not None
        doc_id = f"syn-{i:05d}-{template.document_id}"
        actors = []
        for actor in template.extraction.actors:
            if actor.kind in ("person", "organization") and rng.random() < 0.5:
                who = int(population * rng.random() ** 2)  # a few often, most rarely
                actor = actor.model_copy(update={"name": _synthetic_name(who, actor.kind), "aliases": []})
            actors.append(actor)
        extraction = template.extraction.model_copy(update={"document_id": doc_id, "actors": actors})
        document = template.document.model_copy(update={"id": doc_id})
        out.append(
            template.model_copy(
                update={"document_id": doc_id, "document": document, "extraction": extraction}
            )
        )
    return out


def _timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _browser_load(page_path: Path) -> tuple[float, float] | None:
    """Seconds to the page's ready flag in headless Chromium, and to redraw after a filter; None without."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        started = time.perf_counter()
        page.goto(page_path.as_uri())
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=120_000)
        elapsed = time.perf_counter() - started
        # Filtering the whole index must also stay interactive: type a name, wait for the redraw.
        started = time.perf_counter()
        page.fill("#f-actor", "zz-no-such-name")
        page.wait_for_function("document.querySelectorAll('#rows-entities tr[data-index]').length === 0")
        filtered = time.perf_counter() - started
        browser.close()
    return round(elapsed, 3), round(filtered, 3)


def measure(n: int, browser: bool) -> dict[str, Any]:
    """Every measurement for one size (run in its own process)."""
    sys.path.insert(0, str(ROOT))
    from llm_extract.corpus import Corpus
    from llm_extract.export import FORMATS, write_tables
    from llm_extract.report.corpus_page import render_corpus_html

    results = synthetic_results(n)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        jsonl = work / "results.jsonl"
        jsonl.write_text("".join(r.model_dump_json() + "\n" for r in results), encoding="utf-8")
        del results
        corpus, read_s = _timed(lambda: Corpus.from_jsonl(jsonl))
        linking, link_s = _timed(lambda: corpus.linking)
        tables, tables_s = _timed(corpus.to_tables)
        rows = sum(t.num_rows for t in tables.values())
        write_s = {}
        for fmt in FORMATS:
            _, write_s[fmt] = _timed(lambda fmt=fmt: write_tables(tables, work / f"out.{fmt}", fmt))
        pairs, pairs_s = _timed(corpus.claim_pairs)
        page, html_s = _timed(lambda: render_corpus_html(corpus))
        page_path = work / "corpus.html"
        page_path.write_text(page, encoding="utf-8")
        load = _browser_load(page_path) if browser else None
        return {
            "documents": n,
            "actors": linking.stats["actors"],
            "entities": linking.stats["entities"],
            "compared_pairs": linking.stats.get("compared_pairs", 0),
            "rows": rows,
            "read_s": read_s,
            "link_s": link_s,
            "tables_s": tables_s,
            "write_s": write_s,
            "rows_per_s": {fmt: rows / (tables_s + s) for fmt, s in write_s.items()},
            "claim_pairs": len(pairs),
            "pairs_s": pairs_s,
            "html_s": html_s,
            "html_mb": len(page.encode("utf-8")) / 1e6,
            "browser_ready_s": load[0] if load else None,
            "browser_filter_s": load[1] if load else None,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }


def _table(rows: list[dict[str, Any]]) -> str:
    columns = [
        "documents",
        "actors",
        "entities",
        "compared pairs",
        "link s",
        "tables s",
        "rows",
        *(f"rows/s {fmt}" for fmt in ("parquet", "csv", "sqlite", "duckdb")),
        "claim pairs s",
        "page s",
        "page MB",
        "browser ready s",
        "filter s",
        "peak RSS MB",
    ]
    head = "| " + " | ".join(columns) + " |"
    lines = [head, "|" + "---:|" * (head.count("|") - 1)]
    for r in rows:
        rate = r["rows_per_s"]
        ready = "–" if r["browser_ready_s"] is None else f"{r['browser_ready_s']:.2f}"
        filtered = "–" if r["browser_filter_s"] is None else f"{r['browser_filter_s']:.2f}"
        cells = [
            f"{r['documents']:,}",
            f"{r['actors']:,}",
            f"{r['entities']:,}",
            f"{r['compared_pairs']:,}",
            f"{r['link_s']:.2f}",
            f"{r['tables_s']:.2f}",
            f"{r['rows']:,}",
            *(f"{rate[fmt]:,.0f}" for fmt in ("parquet", "csv", "sqlite", "duckdb")),
            f"{r['pairs_s']:.2f}",
            f"{r['html_s']:.2f}",
            f"{r['html_mb']:.1f}",
            ready,
            filtered,
            f"{r['peak_rss_mb']:,.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _growth(rows: list[dict[str, Any]]) -> str:
    first, last = rows[0], rows[-1]
    ideal = last["documents"] / first["documents"]
    parts = [
        f"growth {first['documents']:,} -> {last['documents']:,} documents (linear would be {ideal:.1f}x):"
    ]
    for label, key in (
        ("link time", "link_s"),
        ("table build", "tables_s"),
        ("claim pairs", "pairs_s"),
        ("page render", "html_s"),
        ("compared pairs", "compared_pairs"),
        ("page size", "html_mb"),
        ("peak RSS", "peak_rss_mb"),
    ):
        if first[key]:
            parts.append(f"  {label}: {last[key] / first[key]:.1f}x")
    return "\n".join(parts)


def main() -> None:
    """Run every size in a subprocess and print the scaling table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated document counts")
    parser.add_argument("--no-browser", action="store_true", help="skip loading the page in Chromium")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, browser=not args.no_browser)))
        return
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        command = [sys.executable, __file__, "--one", str(n)] + (["--no-browser"] if args.no_browser else [])
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"{n:,} documents measured", file=sys.stderr)
    print(_table(rows))
    print()
    print(_growth(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
