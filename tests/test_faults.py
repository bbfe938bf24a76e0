"""Fault injection: a batch against an endpoint that fails a fifth of its requests, in every way it can.

The server's per-request log is the ground truth: which document each request was for, what fault it
got, and whether its messages grew (a re-ask) or stayed the same (a transport retry).
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from fault_server import FAULT_KINDS, REPLY_FAULTS, TRANSPORT_FAULTS, ChatRecord, FaultyOpenAI  # noqa: E402

from llm_extract import BatchResult, Document, Extractor, extract_batch  # noqa: E402

N_DOCS = 240
TRANSPORT_RETRIES = 4
MAX_REASKS = 2
MARKER = re.compile(r"Report (\d{4})\.")
R = TypeVar("R")


def _documents(n: int) -> list[Document]:
    return [
        Document(
            id=f"doc{i:04d}", text=f"Report {i:04d}. Officials met in Seoul on Monday, the ministry said."
        )
        for i in range(n)
    ]


def _doc_id(body: dict[str, Any]) -> str:
    """The document a request was for, from the unique marker its messages carry."""
    found = set(MARKER.findall(json.dumps(body.get("messages"))))
    assert len(found) == 1, f"a request must name exactly one document, not {sorted(found)}"
    return f"doc{found.pop()}"


def _by_document(log: list[ChatRecord]) -> dict[str, list[ChatRecord]]:
    # Arrival order is send order per document: its requests go one after another.
    per_doc: dict[str, list[ChatRecord]] = defaultdict(list)
    for record in log:
        per_doc[_doc_id(record.body)].append(record)
    return per_doc


def _within(seconds: float, run: Callable[[], R]) -> R:
    """``run()`` in a daemon thread, failing the test instead of hanging it if it takes too long."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(("ok", run()))
        except BaseException as exc:  # noqa: BLE001 (handed to the test thread)
            outcome.append(("raised", exc))

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"the batch did not finish within {seconds} s (a hang)"
    status, value = outcome[0]
    if status == "raised":
        raise value
    return value  # type: ignore[no-any-return]


def _extractor(
    base_url: str, *, transport_retries: int = TRANSPORT_RETRIES, max_reasks: int = MAX_REASKS
) -> Extractor:
    return Extractor(
        base_url=base_url,
        model="fake",
        strategy="single",
        timeout=0.5,
        transport_retries=transport_retries,
        max_reasks=max_reasks,
    )


def _run(fake: FaultyOpenAI, docs: list[Document], **options: Any) -> list[BatchResult]:
    extractor = _extractor(fake.base_url, **options)
    return _within(120, lambda: list(extract_batch(docs, extractor=extractor, concurrency=16, cache=False)))


def _messages(record: ChatRecord) -> list[Any]:
    return list(record.body["messages"])


def _check_sequence(doc_id: str, records: list[ChatRecord]) -> Counter[str]:
    """Assert how one document's requests follow each other; count transport retries and re-asks."""
    counts: Counter[str] = Counter()
    for before, after in itertools.pairwise(records):
        assert before.fault != "ok", f"{doc_id}: a request followed a valid answer"
        old, new = _messages(before), _messages(after)
        grown = len(new) > len(old) and new[: len(old)] == old
        if before.fault in TRANSPORT_FAULTS:
            # Retried below the model: the very same request, the fault never shown to it.
            assert new == old, f"{doc_id}: a {before.fault} fault was not retried identically"
            counts["transport_retries"] += 1
        elif before.fault == "schema":
            assert grown, f"{doc_id}: an invalid answer was not re-asked"
            counts["reasks"] += 1
        else:
            # A torn or empty answer has nothing to show the model: sent again as it was, or re-asked.
            assert new == old or grown, f"{doc_id}: messages changed after {before.fault}, not grew"
            counts["reasks" if grown else "resends"] += 1
    return counts


def test_a_batch_survives_a_fifth_of_requests_failing() -> None:
    docs = _documents(N_DOCS)
    ids = [d.id for d in docs]
    with FaultyOpenAI(rate=0.2, seed=20240601) as fake:
        results = _run(fake, docs)
        log = list(fake.log)
        injected = Counter(fake.injected)

    # Every input yields exactly one result.
    out = [r.document_id for r in results]
    assert sorted(out) == ids
    assert len(set(out)) == len(out)
    assert all(r.document_id == r.document.id for r in results if r.document is not None)

    per_doc = _by_document(log)
    assert set(per_doc) == set(ids)  # every document reached the server; nothing else did
    # Faults really were spread over every kind, at about the rate asked for.
    assert set(injected) == {*FAULT_KINDS, "ok"}
    assert 0.12 <= 1 - injected["ok"] / len(log) <= 0.28

    bound = (TRANSPORT_RETRIES + 1) * (MAX_REASKS + 1)
    counts: Counter[str] = Counter()
    for result in results:
        records = per_doc[result.document_id]
        assert len(records) <= bound, f"{result.document_id}: {len(records)} requests, bound {bound}"
        mine = _check_sequence(result.document_id, records)
        counts += mine
        last = records[-1].fault
        if result.status == "ok":
            assert last == "ok"
            assert result.extraction is not None
            # The client's own count of transport retries agrees with what the server saw (a torn or
            # empty answer sent again may count as one too, depending on which layer resent it).
            counted = result.extraction.metadata.transport_retries
            assert mine["transport_retries"] <= counted <= mine["transport_retries"] + mine["resends"]
        else:
            assert result.error is not None
            assert result.error.type in ("TransportError", "ModelOutputError"), result.error
            if result.error.type == "TransportError":
                assert last in TRANSPORT_FAULTS
                assert result.error.retryable
                tail = records[-(TRANSPORT_RETRIES + 1) :]
                assert all(rec.fault in TRANSPORT_FAULTS for rec in tail)  # the retry budget was spent
            else:
                assert last in REPLY_FAULTS
    # The model never saw a transport fault: no request carries one of the injected error bodies.
    assert not [rec for rec in log if "injected fault" in json.dumps(rec.body)]

    errors = Counter(r.error.type for r in results if r.error is not None)
    lost = len(set(ids) - set(out))
    faults = {k: injected[k] for k in FAULT_KINDS}
    print(
        f"\nfaults: documents in={len(ids)} out={len(results)} lost={lost} "
        f"ok={sum(r.status == 'ok' for r in results)} errors={dict(errors)} requests={len(log)} "
        f"faults={faults} transport_retries={counts['transport_retries']} re-asks={counts['reasks']} "
        f"resends_after_reply_faults={counts['resends']}"
    )
    assert lost == 0
    assert counts["transport_retries"] > 0
    assert counts["reasks"] > 0


def _first_request_of_each_document(kind: str) -> Callable[[dict[str, Any]], str]:
    seen: set[str] = set()

    def decide(body: dict[str, Any]) -> str:
        doc_id = _doc_id(body)
        if doc_id in seen:
            return "ok"
        seen.add(doc_id)
        return kind

    return decide


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_one_fault_per_document_is_recovered(kind: str) -> None:
    docs = _documents(8)
    with FaultyOpenAI(decide=_first_request_of_each_document(kind)) as fake:
        results = _run(fake, docs)
        per_doc = _by_document(list(fake.log))
    assert sorted(r.document_id for r in results) == [d.id for d in docs]
    for result in results:
        first, *rest = per_doc[result.document_id]
        assert first.fault == kind
        assert result.status == "ok", result.error
        assert [rec.fault for rec in rest] == ["ok"]  # one more request, and it was enough
        same = _messages(rest[0]) == _messages(first)
        if kind in TRANSPORT_FAULTS:
            assert same  # retried below the model, unseen by it
            assert result.extraction is not None
            assert result.extraction.metadata.transport_retries == 1
        elif kind == "schema":
            assert not same  # re-asked with the validation error


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_fault_that_persists_ends_as_a_named_error_after_the_budget(kind: str) -> None:
    retries, reasks = 2, 2
    docs = _documents(4)
    with FaultyOpenAI(rates={kind: 1.0}) as fake:
        results = _run(fake, docs, transport_retries=retries, max_reasks=reasks)
        per_doc = _by_document(list(fake.log))
    assert sorted(r.document_id for r in results) == [d.id for d in docs]
    for result in results:
        records = per_doc[result.document_id]
        assert result.status == "error"
        assert result.error is not None
        if kind in TRANSPORT_FAULTS or kind == "truncated":
            # The response never got to the model's turn: a transport failure, worth trying again later.
            assert (result.error.type, result.error.retryable) == ("TransportError", True)
            assert len(records) == retries + 1
            assert all(_messages(rec) == _messages(records[0]) for rec in records)
        elif kind == "schema":
            assert (result.error.type, result.error.retryable) == ("ModelOutputError", False)
            assert result.error.raw_output  # the invalid answer is kept for the user
            assert len(records) == reasks + 1
            lengths = [len(_messages(rec)) for rec in records]
            assert lengths == sorted(set(lengths))  # every request a re-ask of the one before
        else:  # empty: either layer may own it, but its budget must be spent before giving up
            assert result.error.type in ("TransportError", "ModelOutputError")
            assert len(records) == (retries + 1 if result.error.type == "TransportError" else reasks + 1)
