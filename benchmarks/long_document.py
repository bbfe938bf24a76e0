"""How the ``rules`` strategy scales with document length: seconds per document from 100k to 2M characters.

    python benchmarks/long_document.py            # the table
    python benchmarks/long_document.py --check    # exit 1 unless 2,000,000 characters take under 10 s

The text is the eval fixtures' articles, repeated, with every capitalized name made unique per copy
(so a long document names thousands of distinct actors, as an archive dump would, instead of the
same 170 again and again). The baseline is the 100,000-character document, measured in the same
run: a linear pipeline keeps seconds per million characters flat across the rows.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm_extract import Extractor, load_fixtures  # noqa: E402

SIZES = (100_000, 250_000, 500_000, 1_000_000, 2_000_000)
TARGET_CHARS, TARGET_SECONDS = 2_000_000, 10.0
_NAME = re.compile(r"\b([A-Z][a-z]{3,})\b")
_SYLLABLES = ("ka", "ro", "mi", "ten", "sol", "var", "ne", "lu", "dor", "pe")


def _suffix(n: int) -> str:
    letters = []
    while True:
        n, digit = divmod(n, len(_SYLLABLES))
        letters.append(_SYLLABLES[digit])
        if not n:
            return "".join(letters)


def long_text(chars: int) -> str:
    """``chars`` characters of news copy whose names change from one copy of the articles to the next."""
    articles = "\n\n".join(f.text for f in load_fixtures(ROOT / "evals" / "fixtures"))
    parts, size, copy = [], 0, 0
    while size < chars:
        suffix = _suffix(copy)
        part = _NAME.sub(lambda m, s=suffix: m.group(1) + s, articles)
        parts.append(part)
        size += len(part) + 2
        copy += 1
    return "\n\n".join(parts)[:chars]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help=f"exit 1 unless {TARGET_CHARS:,} chars < 10 s")
    args = parser.parse_args()
    extractor = Extractor(strategy="rules")
    extractor.extract("Warm-up: Kim Jong Un met Vladimir Putin on Monday, state media said.")
    print(f"{'characters':>12} {'seconds':>8} {'s per M chars':>14} {'vs 100k':>8} {'actors':>7} {'events':>7}")
    baseline = None
    worst = 0.0
    for chars in SIZES:
        text = long_text(chars)
        started = time.perf_counter()
        result = extractor.extract(text)
        seconds = time.perf_counter() - started
        per_million = seconds / (chars / 1e6)
        baseline = baseline or per_million
        if chars == TARGET_CHARS:
            worst = seconds
        print(
            f"{chars:>12,} {seconds:>8.2f} {per_million:>14.2f} {per_million / baseline:>7.2f}x "
            f"{len(result.actors):>7,} {len(result.events):>7,}"
        )
    print(f"target: {TARGET_CHARS:,} characters in under {TARGET_SECONDS:.0f} s: {'met' if worst < TARGET_SECONDS else 'MISSED'}")
    return 1 if args.check and worst >= TARGET_SECONDS else 0


if __name__ == "__main__":
    sys.exit(main())
