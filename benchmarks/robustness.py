"""Robustness: what the pipeline keeps when the ORACLE's perfect answers deviate the way real models do.

The noisy oracle (``tests/support/oracle.py``, ``Noise``) perturbs each answer with one deviation type
at a time, each eligible place (a quote, an id reference, an item, a response) at the given rate, with
a seeded generator (deterministic; a re-ask gets a fresh draw). Per deviation and rate this prints:

* ``verified``: the share of evidence reported as grounded that the text holds at its offsets
  (``grounding.verify``: the quote is there, at its alignment status). Target: 1.00 in every row:
  nothing unfounded is reported as grounded.
* ``ground``: stricter, the share that also stands for the item it is evidence of: the span overlaps
  the gold span the quote was sent for (a mention: names that actor; an invented quote supports
  nothing). A quote from another sentence is real text for the wrong item: no string matching can
  tell, so that deviation's row stays below 1.00 here while ``verified`` holds.
* ``bad``: how many grounded pieces of evidence were not supported;
* strict and partial F1 per type (actors / events / claims) that the pipeline keeps;
* ``err``: documents that failed (no extraction at all);
* ``reasks``: re-asks sent (requests carrying a validation error back to the model; this includes
  those of failed documents, which ``RunMetadata.attempts - model_calls`` cannot show), HTTP
  requests (``req/doc``, re-asks included) and tokens per document.

The first row (``none``) is the clean oracle: every other row is read against it.

Usage::

    .venv/bin/python benchmarks/robustness.py                             # dev fixtures, single+aligned
    .venv/bin/python benchmarks/robustness.py --strategy single+constrained --rates 0.3
    .venv/bin/python benchmarks/robustness.py --deviations quote-truncated,id-unknown --examples 5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.oracle import DEVIATIONS, GroundingCheck, Noise, Oracle  # noqa: E402

from llm_extract.evaluate import MatchConfig  # noqa: E402
from llm_extract.fixtures import load_fixtures  # noqa: E402
from llm_extract.grounding import verify  # noqa: E402
from llm_extract.harness import run_eval  # noqa: E402

TYPES = ("actors", "events", "claims")
STRATEGIES: dict[str, dict[str, Any]] = {
    "guided": {"strategy": "guided", "prompt": "news@v5"},
    "single+aligned": {"strategy": "single", "grounding": "aligned", "prompt": "news@v5"},
    "single+constrained": {"strategy": "single", "grounding": "constrained", "prompt": "news@v5"},
    "decomposed": {"strategy": "decomposed"},
}


@dataclass
class Row:
    """One deviation at one rate."""

    strategy: str
    deviation: str
    rate: float
    docs: int
    errors: int
    grounded: int
    unsupported: int
    precision: float | None
    verified: float | None
    strict: dict[str, float]
    partial: dict[str, float]
    reasks: int
    calls: int
    tokens: int
    seconds: float
    examples: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def run_row(oracle: Oracle, strategy: str, fixtures: list[Any], noise: Noise | None, max_tokens: int) -> Row:
    """Evaluate one noise setting over the fixtures."""
    oracle.noise = noise
    oracle.reset()
    started = time.perf_counter()
    report = run_eval(
        fixtures=fixtures,
        base_url=oracle.base_url,
        api_key="oracle",
        model="oracle",
        cache=False,
        floor=False,
        max_tokens=max_tokens,
        config=MatchConfig(bootstrap_resamples=100),
        **STRATEGIES[strategy],
    )
    check = GroundingCheck()
    held = found = 0
    for doc in report.documents:
        if doc.predicted is not None:
            check = check + oracle.grounding_check(doc.predicted)
            p = doc.predicted
            evidence = [m for a in p.actors for m in a.mentions] + [e.trigger for e in p.events]
            evidence += [c.evidence for c in p.claims]
            grounded = [e for e in evidence if e.grounded]
            found += len(grounded)
            held += sum(verify(e, doc.text) for e in grounded)
    first_messages = min((s.messages for s in oracle.log), default=0)
    return Row(
        strategy=strategy,
        deviation=noise.deviation if noise else "none",
        rate=noise.rate if noise else 0.0,
        docs=len(report.documents),
        errors=report.errors,
        grounded=check.grounded,
        unsupported=len(check.unsupported),
        precision=check.precision,
        verified=held / found if found else None,
        strict={t: report.f1(t) for t in TYPES},
        partial={t: report.f1(t, "partial") for t in TYPES},
        reasks=sum(1 for s in oracle.log if s.messages > first_messages),
        calls=len(oracle.log),
        tokens=report.usage.total_tokens,
        seconds=time.perf_counter() - started,
        examples=check.unsupported,
        failures=[
            f"{d.id}: {(d.error or '').splitlines()[0][:160]}"
            for d in report.documents
            if d.error is not None
        ],
    )


def _f(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def print_table(rows: list[Row], examples: int) -> None:
    """The deviation table."""
    header = (
        f"{'strategy':18} {'deviation':21} {'rate':>4}  {'verified':>8} {'ground':>6} {'bad':>4}  "
        f"{'strict F1 act/evt/clm':^23}  {'partial F1 act/evt/clm':^23}  {'err':>3} {'reasks':>6} "
        f"{'req/doc':>9} {'tok/doc':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        strict = " ".join(_f(r.strict[t]) for t in TYPES)
        partial = " ".join(_f(r.partial[t]) for t in TYPES)
        flag = "" if r.verified is None or r.verified >= 1.0 else "  < unfounded evidence"
        print(
            f"{r.strategy:18} {r.deviation:21} {r.rate:4.2f}  {_f(r.verified):>8} {_f(r.precision):>6} {r.unsupported:4}  "
            f"{strict:23}  {partial:23}  {r.errors:3} {r.reasks:6} {r.calls / r.docs:9.2f} "
            f"{r.tokens / r.docs:8.0f}{flag}"
        )
    if examples:
        for r in rows:
            if r.examples or r.failures:
                print(f"\n{r.strategy} {r.deviation} @ {r.rate}:")
                for line in r.examples[:examples]:
                    print(f"  unsupported: {line}")
                for line in r.failures[:examples]:
                    print(f"  failed: {line}")


def main(argv: list[str] | None = None) -> int:
    """Run every deviation at every rate and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--strategy", default="single+aligned", help=f"comma-separated: {', '.join(STRATEGIES)}"
    )
    parser.add_argument("--fixtures", type=Path, default=ROOT / "evals" / "fixtures")
    parser.add_argument("--limit", type=int, default=0, help="only the first N fixtures (0: all)")
    parser.add_argument("--deviations", default=",".join(DEVIATIONS), help="comma-separated")
    parser.add_argument("--rates", default="0.1,0.3", help="comma-separated rates in [0, 1]")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument(
        "--reask",
        choices=("fix", "redraw"),
        default="fix",
        help="how the noisy model answers a re-ask: perfectly (fix) or perturbed again (redraw)",
    )
    parser.add_argument("--max-tokens", type=int, default=16384, help="so that a complete answer fits")
    parser.add_argument(
        "--examples", type=int, default=0, metavar="N", help="print N unsupported items per row"
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    fixtures = load_fixtures(args.fixtures)
    if args.limit:
        fixtures = fixtures[: args.limit]
    rates = [float(r) for r in args.rates.split(",") if r]
    deviations = [d for d in args.deviations.split(",") if d]
    rows: list[Row] = []
    with Oracle([args.fixtures]) as oracle:
        for strategy in args.strategy.split(","):
            rows.append(run_row(oracle, strategy, fixtures, None, args.max_tokens))
            for name in deviations:
                for rate in rates:
                    noise = Noise(name, rate, args.seed, args.reask)
                    rows.append(run_row(oracle, strategy, fixtures, noise, args.max_tokens))
    print(
        f"NOISY ORACLE on {len(fixtures)} fixtures of {args.fixtures.relative_to(ROOT)} "
        f"(seed {args.seed}, re-asks answered: {args.reask}, max_tokens {args.max_tokens}): "
        "verified must be 1.000 in every row.\n"
    )
    print_table(rows, args.examples)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
