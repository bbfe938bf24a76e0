"""Reliability of ``run_batch`` against an endpoint that fails a share of its requests in every way.

    python benchmarks/faults.py [--docs 2000] [--rate 0.2] [--concurrency 32] [--seed 1]
                                [--timeout 0.5] [--stall 1.0] [--latency 0.0]

The ``FaultyServer`` (benchmarks/fault_server.py) runs in-process, in its own thread, and answers
``--rate`` of the chat requests with faults spread evenly over 429, 500, 503, connection reset, stall,
truncated body, schema-violating arguments and empty choices. The batch writes a JSONL file; the
summary line counts its lines against the input (lost must be 0), the faults injected by kind, the
transport retries and re-asks the server saw (a retry repeats a request's messages, a re-ask extends
them), the error records by type and the wall time. Exits 1 if a document was lost or duplicated.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from fault_server import FAULT_KINDS, TRANSPORT_FAULTS, ChatRecord, FaultyOpenAI  # noqa: E402

from llm_extract import BatchResult, Document, Extractor  # noqa: E402
from llm_extract.output import run_batch  # noqa: E402

MARKER = re.compile(r"Report (\d{5})\.")


def documents(n: int) -> list[Document]:
    """``n`` short distinct documents, each naming itself with a marker the server log can find."""
    return [
        Document(
            id=f"doc{i:05d}", text=f"Report {i:05d}. Officials met in Seoul on Monday, the ministry said."
        )
        for i in range(n)
    ]


def by_document(log: list[ChatRecord]) -> dict[str, list[ChatRecord]]:
    """The requests of each document id, in arrival order (a document's requests go one at a time)."""
    per_doc: dict[str, list[ChatRecord]] = defaultdict(list)
    for record in log:
        found = MARKER.findall(json.dumps(record.body.get("messages")))
        per_doc[f"doc{found[0]}" if found else "?"].append(record)
    return per_doc


def follow_ups(per_doc: dict[str, list[ChatRecord]]) -> Counter[str]:
    """How each document's requests followed each other: transport retries, re-asks, other resends."""
    counts: Counter[str] = Counter()
    for records in per_doc.values():
        counts["max_requests_per_doc"] = max(counts["max_requests_per_doc"], len(records))
        for before, after in itertools.pairwise(records):
            old, new = before.body["messages"], after.body["messages"]
            if new == old:
                counts["transport_retries" if before.fault in TRANSPORT_FAULTS else "resends"] += 1
            elif len(new) > len(old) and new[: len(old)] == old:
                counts["reasks"] += 1
            else:
                counts["changed"] += 1  # neither a retry nor a re-ask: should never happen
    return counts


def main(argv: list[str] | None = None) -> int:
    """Run the batch and print the summary line; 1 if any document was lost or duplicated."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=0.2, help="share of chat requests that fail")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=0.5, help="client timeout, seconds")
    parser.add_argument("--stall", type=float, default=1.0, help="how long a stalled request hangs")
    parser.add_argument("--latency", type=float, default=0.0, help="server latency per answer")
    parser.add_argument("--transport-retries", type=int, default=4)
    parser.add_argument("--max-reasks", type=int, default=2)
    args = parser.parse_args(argv)

    docs = documents(args.docs)
    with (
        tempfile.TemporaryDirectory() as tmp,
        FaultyOpenAI(args.latency, rate=args.rate, stall=args.stall, seed=args.seed) as fake,
    ):
        out = Path(tmp) / "out.jsonl"
        extractor = Extractor(
            base_url=fake.base_url,
            model="fake",
            strategy="single",
            timeout=args.timeout,
            transport_retries=args.transport_retries,
            max_reasks=args.max_reasks,
        )
        started = time.perf_counter()
        summary = run_batch(docs, out, extractor=extractor, concurrency=args.concurrency, cache=False)
        wall = time.perf_counter() - started
        results = [BatchResult.model_validate_json(line) for line in out.read_bytes().splitlines()]
        log = list(fake.log)
        injected = Counter(fake.injected)

    ids = [d.id for d in docs]
    written = Counter(r.document_id for r in results)
    lost = len(set(ids) - set(written))
    duplicated = sum(n - 1 for n in written.values() if n > 1)
    errors = Counter(r.error.type for r in results if r.error is not None)
    per_doc = by_document(log)
    seen = follow_ups(per_doc)
    # What each failed document's last answer was: the fault that ended it.
    causes = Counter(
        f"{r.error.type}<-{per_doc[r.document_id][-1].fault}" for r in results if r.error is not None
    )
    client_retries = sum(r.extraction.metadata.transport_retries for r in results if r.extraction is not None)
    faults = {kind: injected[kind] for kind in FAULT_KINDS}
    share = 1 - injected["ok"] / len(log) if log else 0.0
    bound = (args.transport_retries + 1) * (args.max_reasks + 1)
    print(
        f"faults benchmark: documents in={len(ids)} out={len(results)} lost={lost} duplicated={duplicated} "
        f"ok={summary.ok} errors={dict(errors)} ended_by={dict(causes)} | "
        f"requests={len(log)} faulted={share:.1%} "
        f"injected={faults} | transport_retries={seen['transport_retries']} "
        f"(client counted {client_retries} on ok docs) re-asks={seen['reasks']} "
        f"resends_after_reply_faults={seen['resends']} other_changes={seen['changed']} "
        f"max_requests_per_doc={seen['max_requests_per_doc']} (bound {bound}) | "
        f"concurrency={args.concurrency} timeout={args.timeout}s wall={wall:.1f}s "
        f"({len(ids) / wall:.0f} docs/s)"
    )
    return 1 if lost or duplicated or len(results) != len(ids) else 0


if __name__ == "__main__":
    sys.exit(main())
