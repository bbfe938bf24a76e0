"""The ORACLE endpoint (tests/support/oracle.py): it finds the fixture and chunk, answers each tool shape
with the gold labels, refuses what it cannot answer, and its noise is deterministic and of the asked type.

These tests check the oracle, not the pipeline's scores: the pipeline is only used to send it real
requests.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ROOT
from support.oracle import DEVIATIONS, FixtureIndex, Noise, Oracle, OracleError, normalize_name

from llm_extract.chunking import plan_chunks
from llm_extract.extract import Extractor
from llm_extract.fixtures import load_fixture
from llm_extract.schema import Event, Evidence, Extraction, RunMetadata

DEV = ROOT / "evals" / "fixtures"
GDANSK = load_fixture(DEV / "biz-gdansk-port-strike.yaml")
KINDS = ["person", "organization", "government", "country", "media", "group", "other"]


def _article(text: str, title: str | None = GDANSK.title) -> str:
    """The system message as the prompt renders it: the article between its tag lines."""
    head = f"{title}\n" if title else ""
    return f"You are a careful news analyst.\n<article>\n{head}{text}\n</article>"


def _body(tool: str, parameters: dict[str, Any], user: str, system: str | None = None) -> dict[str, Any]:
    return {
        "model": "oracle",
        "max_tokens": 4096,
        "messages": [
            {"role": "system", "content": system or _article(GDANSK.text)},
            {"role": "user", "content": user},
        ],
        "tools": [{"type": "function", "function": {"name": tool, "parameters": parameters}}],
        "tool_choice": {"type": "function", "function": {"name": tool}},
    }


def _arguments(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])  # type: ignore[no-any-return]


def _post(base_url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        base_url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle([DEV], keep_requests=True) as server:
        yield server


def _extract(oracle: Oracle, **settings: Any) -> Extraction:
    oracle.reset()
    extractor = Extractor(
        base_url=oracle.base_url, api_key="oracle", model="oracle", max_tokens=16384, **settings
    )
    with extractor:
        return extractor.extract(GDANSK.document)


@pytest.fixture(scope="module")
def aligned_body(oracle: Oracle) -> dict[str, Any]:
    """A real single/aligned request for the Gdańsk fixture, as the pipeline sends it."""
    _extract(oracle, strategy="single", grounding="aligned")
    assert oracle.requests is not None
    return oracle.requests[0]


# --- recognising the article -------------------------------------------------------------------------


def test_locates_the_fixture_and_a_chunk_offset_from_the_article_text() -> None:
    index = FixtureIndex([GDANSK, load_fixture(DEV / "biz-quillon-layoffs.yaml")])
    whole = index.locate(f"{GDANSK.title}\n{GDANSK.text}")
    assert (whole.fixture.id, whole.start, whole.end, whole.whole) == (GDANSK.id, 0, len(GDANSK.text), True)
    chunk = index.locate(f"{GDANSK.title}\n{GDANSK.text[120:900]}")
    assert (chunk.fixture.id, chunk.start, chunk.end, chunk.whole) == (GDANSK.id, 120, 900, False)
    with pytest.raises(OracleError, match="does not know this article") as caught:
        index.locate("A wholly different article about nothing in the fixtures.")
    assert caught.value.status == 404


def test_undoes_the_prompt_filter_on_article_tags() -> None:
    # The prompt rewrites "</article>" inside an article as "</ article>"; offsets still index the original.
    fixture = GDANSK.model_copy(
        update={"text": GDANSK.text.replace("cargo handling", "cargo </article> handling")}
    )
    index = FixtureIndex([fixture])
    at = fixture.text.index("</article>")
    shown = fixture.text[at - 50 : at + 300].replace("</article>", "</ article>")
    located = index.locate(f"{fixture.title}\n{shown}")
    assert (located.start, located.end) == (at - 50, at + 300)


def test_every_chunk_of_a_chunked_document_is_recognised(oracle: Oracle) -> None:
    _extract(oracle, strategy="single", grounding="aligned", chunk_chars=800, chunk_overlap=200)
    planned = [(c.start, c.end) for c in plan_chunks(GDANSK.text, 800, 200)]
    assert len(planned) > 2
    assert [(s.start, s.end) for s in oracle.log] == planned
    assert {s.fixture_id for s in oracle.log} == {GDANSK.id}


def test_fixtures_from_several_directories() -> None:
    test_split = ROOT / "evals" / "fixtures" / "test"
    both = Oracle([DEV, test_split, DEV])  # a repeated directory is read once
    ids = [f.id for f in both.index.fixtures]
    assert GDANSK.id in ids
    assert len(ids) == len(set(ids)) > 16


# --- answering each tool shape -------------------------------------------------------------------------


def test_aligned_answer_quotes_the_exact_gold_spans(oracle: Oracle) -> None:
    out = _extract(oracle, strategy="single", grounding="aligned")
    (served,) = oracle.log
    assert served.tool == "DraftExtraction"
    assert served.finish_reason == "tool_calls"
    for sent in served.quotes:
        assert sent.span is not None
        assert GDANSK.text[sent.span[0] : sent.span[1]] == sent.quote
    kinds = [q.kind for q in served.quotes]
    assert kinds.count("trigger") == len(GDANSK.gold.events)
    assert kinds.count("claim") == len(GDANSK.gold.claims)
    # Names and kinds come back as the gold has them; ids are renumbered in text order.
    assert {(a.name, a.kind) for a in out.actors} == {(a.name, a.kind) for a in GDANSK.gold.actors}
    out_names = {a.id: a.name for a in out.actors}
    gold_names = {a.id: a.name for a in GDANSK.gold.actors}
    assert sorted(
        (c.evidence.quote, out_names.get(c.claimant or ""), c.polarity) for c in out.claims
    ) == sorted((c.evidence.quote, gold_names.get(c.claimant or ""), c.polarity) for c in GDANSK.gold.claims)
    assert served.prompt_tokens > 500
    assert served.completion_tokens > 500


def test_constrained_answer_names_the_sentence_holding_each_gold_span(oracle: Oracle) -> None:
    _extract(oracle, strategy="single", grounding="constrained")
    assert oracle.requests is not None
    body = oracle.requests[0]
    listing = body["messages"][0]["content"].split("Sentences by id:\n", 1)[1]
    sentences = dict(line.split(": ", 1) for line in listing.splitlines())
    answer = _arguments(oracle.answer(body))
    gold_claims = {c.id: c for c in GDANSK.gold.claims}
    for claim in answer["claims"]:
        assert claim["sentence"] in sentences
        assert claim["quote"] == gold_claims[claim["id"]].evidence.quote
        evidence = " ".join(claim["quote"].split())
        assert evidence[:25] in sentences[claim["sentence"]]
    gold_events = {e.id: e for e in GDANSK.gold.events}
    for event in answer["events"]:
        assert event["trigger"] == gold_events[event["id"]].trigger.quote
        assert event["trigger"] in sentences[event["sentence"]]


def test_actor_kinds_are_the_gold_kinds_matched_by_name_or_alias(oracle: Oracle) -> None:
    parameters = {
        "properties": {k: {"enum": KINDS, "type": "string"} for k in ("A1", "A2", "A3", "A4")},
        "required": ["A1", "A2", "A3", "A4"],
        "type": "object",
    }
    user = "For each id, answer what kind of actor it is.\nA1: Łukasz Wróbel\nA2: Hundreds\nA3: BPWU\nA4: the union"
    answer = _arguments(oracle.answer(_body("ActorKinds", parameters, user)))
    assert answer == {"A1": "person", "A2": "other", "A3": "organization", "A4": "organization"}


def _sentence_question(sentence: str, names: dict[str, str], previous: str | None = None) -> str:
    lines = [f"Previous sentence: {previous}"] if previous else []
    lines += [f"Sentence: {sentence}", "", "Names in these sentences:"]
    lines += [f"{k} = {v}" for k, v in names.items()]
    return "\n".join([*lines, "author = the journalist who wrote the article"])


SENTENCE_SCHEMA = {
    "properties": {
        "speaker": {"enum": ["author", "A5", "A6"], "type": "string"},
        "polarity": {"enum": ["asserted", "denied"], "type": "string"},
        "hedged": {"type": "boolean"},
        "event_type": {"enum": ["economic", "other"], "type": "string"},
        "status": {
            "enum": ["occurred", "planned", "reported-alleged", "hypothetical", "denied"],
            "type": "string",
        },
    },
    "required": ["speaker", "polarity", "hedged", "event_type", "status"],
    "type": "object",
}


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "He also accused the company of bringing in agency staff to break the stoppage.",
            {
                "speaker": "A5",
                "polarity": "asserted",
                "hedged": False,
                "event_type": "economic",
                "status": "denied",
            },
        ),
        (
            "“No overtime rate has been cut,” Nordhavn Terminals said in a statement.",
            {
                "speaker": "A6",
                "polarity": "denied",
                "hedged": False,
                "event_type": "other",
                "status": "occurred",
            },
        ),
        (
            "The stoppage is the most serious test yet for Nordhavn, which took over the Gdańsk terminal last "
            "year, and its outcome is likely to shape pay talks at other Baltic terminals.",
            {
                "speaker": "author",
                "polarity": "asserted",
                "hedged": False,
                "event_type": "economic",
                "status": "occurred",
            },
        ),
    ],
)
def test_sentence_answer_maps_the_gold_claimant_to_a_listed_id(
    oracle: Oracle, sentence: str, expected: dict[str, Any]
) -> None:
    user = _sentence_question(sentence, {"A5": "Wróbel", "A6": "Nordhavn Terminals"})
    assert _arguments(oracle.answer(_body("SentenceAnswer", SENTENCE_SCHEMA, user))) == expected


def test_unknown_tool_is_refused_with_http_400_naming_it(oracle: Oracle) -> None:
    body = _body("MysteryTool", {"properties": {"x": {"type": "string"}}, "type": "object"}, "hi")
    status, payload = _post(oracle.base_url, body)
    assert status == 400
    assert "MysteryTool" in payload["error"]["message"]
    assert "DraftExtraction" in payload["error"]["message"]  # it says what it does answer


def test_a_required_field_the_oracle_cannot_fill_is_refused_naming_it(
    oracle: Oracle, aligned_body: dict[str, Any]
) -> None:
    body = json.loads(json.dumps(aligned_body))
    event = body["tools"][0]["function"]["parameters"]["$defs"]["DraftEvent"]
    event["properties"]["certainty"] = {"type": "number"}
    event["required"].append("certainty")
    status, payload = _post(oracle.base_url, body)
    assert status == 400
    assert "events.certainty" in payload["error"]["message"]


def test_models_route_and_unknown_routes(oracle: Oracle) -> None:
    with urllib.request.urlopen(oracle.base_url + "/models", timeout=10) as response:
        assert json.loads(response.read())["data"][0]["id"] == "oracle"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(oracle.base_url + "/nothing", timeout=10)
    assert caught.value.code == 404


def test_max_tokens_is_honoured_like_a_real_server(oracle: Oracle, aligned_body: dict[str, Any]) -> None:
    response = oracle.answer({**aligned_body, "max_tokens": 50})
    assert response["choices"][0]["finish_reason"] == "length"
    assert response["usage"]["completion_tokens"] == 50
    lenient = Oracle([GDANSK], honour_max_tokens=False).answer({**aligned_body, "max_tokens": 50})
    assert lenient["choices"][0]["finish_reason"] == "tool_calls"
    assert lenient["usage"]["completion_tokens"] > 50


def test_grounding_check_flags_evidence_away_from_the_gold_span(oracle: Oracle) -> None:
    _extract(oracle, strategy="single", grounding="aligned")
    gold = next(e for e in GDANSK.gold.events if e.trigger.quote == "cut")
    elsewhere = GDANSK.text.index("has been cut") + len("has been ")

    def with_trigger(start: int | None) -> Extraction:
        if start is None:
            trigger = Evidence(quote="cut")
        else:
            trigger = Evidence(quote="cut", start=start, end=start + 3, alignment="exact", score=100.0)
        event = Event(id="E1", type="economic", trigger=trigger)
        meta = RunMetadata(
            prompt_name="news", prompt_version="v4", prompt_hash="h", model="oracle",
            endpoint="openai-compatible", strategy="single", grounding="aligned",
        )  # fmt: skip
        return Extraction(document_id=GDANSK.id, events=[event], metadata=meta)

    assert oracle.grounding_check(with_trigger(gold.trigger.start)).precision == 1.0
    wrong = oracle.grounding_check(with_trigger(elsewhere))
    assert (wrong.grounded, wrong.supported) == (1, 0)
    assert "cut" in wrong.unsupported[0]
    assert oracle.grounding_check(with_trigger(None)).grounded == 0


# --- the noisy oracle ---------------------------------------------------------------------------------


def _noisy(
    deviation: str, body: dict[str, Any], *, rate: float = 1.0, seed: int = 7
) -> tuple[dict[str, Any], Oracle]:
    server = Oracle([GDANSK], noise=Noise(deviation, rate, seed), honour_max_tokens=False)
    return server.answer(body), server


def _clean(body: dict[str, Any]) -> dict[str, Any]:
    return _arguments(Oracle([GDANSK], honour_max_tokens=False).answer(body))


def _quotes(arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, quote) of every quote of a DraftExtraction answer, in answer order."""
    out = [("mention", m) for a in arguments["actors"] for m in a.get("mentions", [])]
    out += [("trigger", e["trigger"]) for e in arguments["events"] if "trigger" in e]
    out += [("claim", c["quote"]) for c in arguments["claims"] if "quote" in c]
    return out


def _fold(text: str) -> str:
    return normalize_name(text.replace("\u2026", " "))


def _check_quotes(deviation: str, old: str, new: str) -> bool:
    text = GDANSK.text
    checks = {
        "quote-case": lambda: new.casefold() == old.casefold(),
        "quote-whitespace": lambda: new.split() == old.split(),
        "quote-typography": lambda: _fold(new) == _fold(old),
        "quote-truncated": lambda: old.startswith(new) and len(new) < len(old),
        "quote-extended": lambda: old in new and len(new) > len(old) and new in text,
        "quote-paraphrased": lambda: new != old,
        "quote-ellipsis": lambda: "\u2026" in new,
        "quote-other-sentence": lambda: new in text and new != old,
        "quote-invented": lambda: _fold(new) not in _fold(text),
    }
    return checks[deviation]()


QUOTE_DEVIATIONS = [d for d in DEVIATIONS if d.startswith("quote-")]


@pytest.mark.parametrize("deviation", QUOTE_DEVIATIONS)
def test_quote_deviations_change_quotes_the_asked_way(deviation: str, aligned_body: dict[str, Any]) -> None:
    response, server = _noisy(deviation, aligned_body)
    clean, noisy = _quotes(_clean(aligned_body)), _quotes(_arguments(response))
    assert len(clean) == len(noisy)
    changed = [(old, new) for (_, old), (_, new) in zip(clean, noisy, strict=True) if old != new]
    assert len(changed) > len(clean) // 2  # at rate 1 nearly every quote deviates
    for old, new in changed:
        assert _check_quotes(deviation, old, new), (deviation, old, new)
    assert all(note.startswith(deviation) for note in server.log[0].notes)
    # The log keeps what was sent and the gold span it stood for.
    assert {q.quote for q in server.log[0].quotes} >= {new for _, new in changed}


def test_reference_and_item_deviations(aligned_body: dict[str, Any]) -> None:
    clean = _clean(aligned_body)
    actor_ids = {a["id"] for a in clean["actors"]}

    def refs(arguments: dict[str, Any]) -> list[str | None]:
        return [p["actor_id"] for e in arguments["events"] for p in e["participants"]] + [
            c["claimant"] for c in arguments["claims"]
        ]

    unknown = _arguments(_noisy("id-unknown", aligned_body)[0])
    assert all(r is None or r not in actor_ids for r in refs(unknown))
    wrong = _arguments(_noisy("id-wrong", aligned_body)[0])
    changed = [(a, b) for a, b in zip(refs(clean), refs(wrong), strict=True) if a != b]
    assert changed
    assert all(b in actor_ids for _, b in changed)
    invented = _arguments(_noisy("actor-invented", aligned_body)[0])
    extra = invented["actors"][len(clean["actors"]) :]
    assert len(extra) == len(clean["actors"])
    assert all(_fold(a["name"]) not in _fold(GDANSK.text) for a in extra)
    twice = _arguments(_noisy("item-duplicated", aligned_body)[0])
    for key in ("actors", "events", "claims"):
        assert len(twice[key]) == 2 * len(clean[key])
        assert len({i["id"] for i in twice[key]}) == len(twice[key])  # duplicates get fresh ids


def test_field_deviations(aligned_body: dict[str, Any]) -> None:
    clean = _clean(aligned_body)
    missing = _arguments(_noisy("field-missing", aligned_body)[0])
    for key in ("actors", "events", "claims"):
        for before, after in zip(clean[key], missing[key], strict=True):
            assert set(after) < set(before)
    extra = _arguments(_noisy("field-extra", aligned_body)[0])
    for key in ("actors", "events", "claims"):
        for before, after in zip(clean[key], extra[key], strict=True):
            assert set(after) > set(before)


def test_json_deviations(aligned_body: dict[str, Any]) -> None:
    clean = _clean(aligned_body)
    prose = _noisy("json-prose", aligned_body)[0]["choices"][0]["message"]
    arguments = prose["tool_calls"][0]["function"]["arguments"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(arguments)
    assert json.loads(re.search(r"```json\n(.*)\n```", arguments, re.DOTALL).group(1)) == clean  # type: ignore[union-attr]
    content = _noisy("json-content", aligned_body)[0]["choices"][0]
    assert "tool_calls" not in content["message"]
    assert content["finish_reason"] == "stop"
    assert (
        json.loads(re.search(r"```json\n(.*)\n```", content["message"]["content"], re.DOTALL).group(1))
        == clean
    )  # type: ignore[union-attr]


def test_decomposed_answers_deviate_too(oracle: Oracle) -> None:
    user = _sentence_question(
        "He also accused the company of bringing in agency staff to break the stoppage.",
        {"A5": "Wróbel", "A6": "Nordhavn Terminals"},
    )
    body = _body("SentenceAnswer", SENTENCE_SCHEMA, user)
    unknown = _arguments(_noisy("id-unknown", body)[0])
    assert unknown["speaker"] not in SENTENCE_SCHEMA["properties"]["speaker"]["enum"]
    wrong = _arguments(_noisy("id-wrong", body)[0])
    assert wrong["speaker"] in {"author", "A6"}
    missing = _arguments(_noisy("field-missing", body)[0])
    assert len(missing) == len(SENTENCE_SCHEMA["properties"]) - 1


@pytest.mark.parametrize("deviation", list(DEVIATIONS))
def test_noise_is_deterministic_and_seeded(deviation: str, aligned_body: dict[str, Any]) -> None:
    first = _noisy(deviation, aligned_body, rate=0.5)[0]
    again = _noisy(deviation, aligned_body, rate=0.5)[0]
    assert first == again
    # One coin per request for the JSON wrappers: enough seeds that all agreeing is ~1e-5 likely.
    others = [_noisy(deviation, aligned_body, rate=0.5, seed=seed)[0] for seed in range(8, 26)]
    assert any(other != first for other in others)


def test_rate_zero_is_the_clean_oracle_and_a_re_ask_is_answered_cleanly(aligned_body: dict[str, Any]) -> None:
    clean = _clean(aligned_body)
    assert _arguments(_noisy("quote-case", aligned_body, rate=0.0)[0]) == clean
    reask = {
        **aligned_body,
        "messages": [
            *aligned_body["messages"],
            {"role": "assistant", "content": None},
            {"role": "user", "content": "Validation Error found: fix it"},
        ],
    }
    assert _arguments(_noisy("quote-case", reask)[0]) == clean
    redraw = Oracle([GDANSK], noise=Noise("quote-case", 1.0, 7, reask="redraw"), honour_max_tokens=False)
    assert _arguments(redraw.answer(reask)) != clean


def test_noise_rejects_unknown_deviations_and_rates() -> None:
    with pytest.raises(ValueError, match="unknown deviation"):
        Noise("quote-sideways", 0.1)
    with pytest.raises(ValueError, match="rate"):
        Noise("quote-case", 1.5)
