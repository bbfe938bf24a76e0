"""Set the committed eval baselines from the cassettes (no model runs): ``evals/baselines/<split>/<prompt>``.

    python scripts/baselines.py            # replay every (prompt, split) run and write its baseline
    python scripts/baselines.py --check    # exit 1, writing nothing, when a baseline differs

Tests never write files; after a deliberate change to the pipeline or a prompt (cassettes recorded
again with ``pytest tests/test_eval_cassettes.py --record-mode=rewrite``), run this, then
``python scripts/gendocs.py`` to carry the numbers into the docs, and say why in the CHANGELOG.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("PYDANTIC_ERRORS_INCLUDE_URL", "0")  # as the test suite, so replays match
os.environ["LLM_EXTRACT_TRANSPORT_RETRIES"] = "0"  # a request missing from a cassette fails at once

from support.eval_replay import BASELINES, RUNS, replay  # noqa: E402

from llm_extract import Baseline, make_baseline  # noqa: E402
from llm_extract.report import eval_markdown  # noqa: E402

_NOTE = (
    "> Written by `python scripts/baselines.py` from the cassettes recorded on the embedded model:\n"
    "> tokens and scores are the model's; times are the replay's, not the model's.\n\n"
)


def main(argv: list[str] | None = None) -> int:
    """Replay each run; write (or, with --check, compare) its baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on any difference")
    args = parser.parse_args(argv)
    stale = []
    for prompt, split in RUNS:
        report = replay(prompt, split, "http://127.0.0.1:9/v1")
        path = BASELINES / split / f"{prompt}.json"
        made = make_baseline(report)
        if path.exists():
            old = Baseline.model_validate_json(path.read_text(encoding="utf-8"))
            if (old.f1, old.fields) == (made.f1, made.fields):
                made = make_baseline(report, created=old.created)
            if old.model_dump(exclude={"created"}) == made.model_dump(exclude={"created"}):
                print(f"{split:4} {prompt}: unchanged")
                continue
        stale.append(f"{split} {prompt}")
        if args.check:
            print(f"{split:4} {prompt}: differs from {path.relative_to(ROOT)}")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(made.model_dump_json(indent=2) + "\n", encoding="utf-8")
        path.with_suffix(".md").write_text(_NOTE + eval_markdown(report), encoding="utf-8")
        print(f"{split:4} {prompt}: wrote {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
