"""Can the embedded model type actor names better than the rules do? A probe on the eval fixtures.

Every actor candidate the rules find whose name matches a gold actor's (the pairs the eval scores
for ``actors.kind``) is typed four ways, and each is scored against the gold kind:

* ``rules``: the rules' kind hint (``other`` when they have none), what the ``rules`` strategy says;
* ``always person``: the majority answer, a floor for any classifier here;
* ``model, one name``: the model asked one name at a time, with the sentence it first appears in
  and the kind definitions, the answer an enum of the actor kinds;
* ``model, person?``: the model asked whether the name is a person's (true/false), scored on the
  person-or-not split.

The model is the embedded SmolLM2 server (or ``--base-url``). Prints one table; writes nothing.

    .venv/bin/python benchmarks/kind_probe.py [--base-url URL --model NAME]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, create_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llm_extract.backends import LocalServer  # noqa: E402
from llm_extract.candidates import actor_candidates  # noqa: E402
from llm_extract.client import CallStats, ModelClient  # noqa: E402
from llm_extract.evaluate import _norm_name  # noqa: E402
from llm_extract.fixtures import load_fixtures  # noqa: E402
from llm_extract.schema import ActorKind  # noqa: E402
from llm_extract.segment import sentences  # noqa: E402

_KIND = create_model("Kind", kind=(ActorKind, ...))
_PERSON = create_model("IsPerson", answer=(bool, ...))
_DEFINITIONS = """person: a human being, named by a personal name
organization: a company, party, union, agency, charity or other organization
government: a ministry, court, embassy, army, council or other state body
country: a country or state
media: a news agency, newspaper or broadcaster
group: an unnamed collective, such as protesters
other: anything else"""
_SYSTEM = {"role": "system", "content": "You classify names found in news articles."}


def _pairs(fixtures_dir: Path) -> list[tuple[str, str, str, str | None]]:
    """(name, sentence, gold kind, rules' hint) for every candidate that matches a gold actor by name."""
    pairs: list[tuple[str, str, str, str | None]] = []
    for fixture in load_fixtures(fixtures_dir):
        spans = sentences(fixture.text)
        gold = {_norm_name(n): a.kind for a in fixture.gold.actors for n in (a.name, *a.aliases)}
        for candidate in actor_candidates(fixture.text, spans):
            names = (candidate.name, *candidate.aliases)
            kind = next((gold[_norm_name(n)] for n in names if _norm_name(n) in gold), None)
            if kind is None:
                continue
            first = candidate.spans[0][0]
            sentence = next(s for s in spans if s.start <= first < s.end)
            pairs.append((candidate.name, sentence.text.strip(), kind, candidate.kind))
    return pairs


def main() -> None:
    """Run the probe and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=ROOT / "evals" / "fixtures")
    parser.add_argument("--base-url", help="an OpenAI-compatible endpoint (default: the embedded model)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args()

    pairs = _pairs(args.fixtures)
    server = None if args.base_url else LocalServer()
    base_url = args.base_url or server.start()  # type: ignore[union-attr]
    client = ModelClient(base_url=base_url, model=args.model, api_key="not-needed")
    stats = CallStats()
    started = time.perf_counter()
    right: collections.Counter[str] = collections.Counter()
    asked_person: collections.Counter[tuple[bool, bool]] = collections.Counter()
    answers: collections.Counter[str] = collections.Counter()

    def ask(model: type[BaseModel], question: str) -> Any:
        messages = [_SYSTEM, {"role": "user", "content": question}]
        return client.ask(model, messages, stats=stats, max_reasks=1)

    try:
        for name, sentence, gold, hint in pairs:
            where = f"Sentence: {sentence}\n\n"
            kind = ask(
                _KIND, f'{where}What is "{name}" in this sentence? Answer with its kind:\n{_DEFINITIONS}'
            ).kind
            person = ask(
                _PERSON, f'{where}Is "{name}" the name of a person (a human being)? Answer true or false.'
            ).answer
            answers[kind] += 1
            right["rules"] += (hint or "other") == gold
            right["always person"] += gold == "person"
            right["model, one name"] += kind == gold
            right["model, person?"] += person == (gold == "person")
            right["rules, person?"] += (hint == "person") == (gold == "person")
            asked_person[(gold == "person", person)] += 1
    finally:
        client.close()
        if server is not None:
            server.stop()

    n = len(pairs)
    people = sum(1 for *_, gold, _ in pairs if gold == "person")
    print(f"# kind probe: {n} candidates matching a gold actor ({people} people), model {args.model}")
    seconds = time.perf_counter() - started
    print(f"# {stats.model_calls} model calls, {stats.usage.total_tokens:,} tokens, {seconds:.0f} s")
    print()
    print("| typed by | accuracy |")
    print("|---|---:|")
    for label in ("rules", "always person", "model, one name"):
        print(f"| {label} (kind, 7 classes) | {100 * right[label] / n:.1f} % |")
    for label in ("rules, person?", "model, person?"):
        print(f"| {label} (person or not) | {100 * right[label] / n:.1f} % |")
    print()
    print("model, one name, answers:", ", ".join(f"{k} {v}" for k, v in answers.most_common()))
    yes_people = asked_person[(True, True)] / max(1, people)
    yes_others = asked_person[(False, True)] / max(1, n - people)
    print(
        f"model, person?: yes for {100 * yes_people:.0f} % of people, {100 * yes_others:.0f} % of the others"
    )


if __name__ == "__main__":
    main()
