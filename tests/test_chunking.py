"""Tests for llm_extract.chunking: planning invariants (examples and properties) and merging."""

from __future__ import annotations

import bisect
import itertools
import re

import pytest
from conftest import META
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_extract.chunking import MIN_CHUNK_CHARS, Chunk, merge_chunks, plan_chunks
from llm_extract.grounding import verify
from llm_extract.schema import Actor, Claim, Event, Evidence, Extraction, Participant
from llm_extract.segment import sentences

PARAGRAPHS = [
    "GENEVA (Wire Service) - Delegations from eleven Mediterranean states opened three days of talks on "
    "Monday over a proposed regional fisheries pact, the first such meeting since negotiations collapsed in "
    "acrimony two years ago. The talks, hosted by the Swiss government at the Palais des Nations, are meant "
    "to settle catch quotas for bluefin tuna and swordfish before the spring season begins. Officials "
    'cautioned that a final text was unlikely this week. "We are not here to sign anything," said Elena '
    'Marchetti, the Italian deputy minister for agriculture, as she arrived. "We are here to find out '
    'whether there is still something to sign."',
    "The previous round ended in March 2022 after Greece and Turkey traded accusations over patrol vessels "
    "in disputed waters. Since then, scientists at the International Council for the Exploration of the Sea "
    "have warned that several stocks are close to collapse. Their latest assessment, published in "
    "September, estimated that the eastern Atlantic swordfish population had fallen by 18 percent in five "
    "years. Environmental groups say the figure understates the damage because it excludes illegal catches, "
    "which they believe account for as much as a third of the total landed at some ports.",
    "Mr. Yusuf Demir, who leads the Turkish delegation, told reporters that Ankara wanted quotas based on "
    "historical catches rather than on coastline length. That formula would favour fleets that expanded "
    "quickly in the 2000s, including Turkey's. Greek officials reject it. A spokeswoman for the Greek "
    "Ministry of Rural Development said on Sunday that any deal must reward countries that had already cut "
    "their fleets. She did not say whether Athens would walk out if the Turkish proposal stayed on the table.",
    "The European Union, which negotiates on behalf of its member states in most fisheries matters, has "
    "tried to position itself as a broker. Its chief negotiator, Anders Lindqvist, met separately with the "
    "Greek and Turkish teams on Monday morning. According to two diplomats briefed on the meetings, he "
    "proposed a compromise that would phase in new quotas over six years. Neither delegation has publicly "
    "responded. Lindqvist declined to comment on the substance of the talks but said the atmosphere was "
    '"better than expected."',
    "Outside the conference centre, about two hundred fishermen from Sicily, Crete and the Turkish Aegean "
    'coast staged a protest, banging on plastic crates and holding banners that read "No quotas without '
    'us." Many said they had travelled overnight by bus. Giorgos Papadakis, a trawler captain from '
    'Heraklion, said small boats had been squeezed out of earlier negotiations. "They talk about tonnes and '
    'percentages," he said. "We talk about whether our sons will still have a job." Police said the '
    "demonstration was peaceful and that no arrests had been made.",
    "The stakes are considerable. Fishing employs roughly 180,000 people directly across the Mediterranean, "
    "according to figures from the Food and Agriculture Organization, and many more in processing and "
    "retail. In some coastal towns in southern Italy and western Turkey, it remains the largest private "
    "employer. Economists warn that a prolonged stalemate could push smaller operators into bankruptcy, "
    "because banks are reluctant to lend against boats whose future catch is uncertain. Several "
    "cooperatives in Apulia have already sold vessels to buyers in North Africa.",
    "Tunisia and Morocco, which are not bound by EU rules, have complicated the picture. Both countries "
    "have expanded their tuna fleets with foreign investment, and their delegations arrived in Geneva "
    "asking for a larger share of any new quota. A Moroccan official, speaking on condition of anonymity "
    "because he was not authorised to brief the press, said Rabat would accept lower quotas only if the "
    "richer states paid for monitoring equipment on its boats. The EU has offered technical assistance but "
    "has not committed to a figure.",
    "Enforcement is the other sticking point. Under the draft text circulated last month, every vessel "
    "longer than twelve metres would carry a satellite tracker and file electronic logbooks within "
    "twenty-four hours of landing a catch. Inspectors from any signatory state could board vessels flagged "
    "to another signatory in international waters. Turkey has objected to the boarding provision, which it "
    'says infringes on its sovereignty. Greece has insisted that without it the pact would be "a piece of '
    'paper."',
    "Marchetti, the Italian minister, said on Monday afternoon that Rome supported the boarding clause but "
    "could accept a narrower version limited to vessels suspected of violations. She added that Italy would "
    "contribute five patrol boats to a joint inspection fleet if a deal were reached. The offer was "
    "welcomed by the Greek delegation, according to a statement released in the evening. Turkish officials "
    "did not respond to requests for comment. A second round of bilateral meetings is scheduled for "
    "Tuesday.",
    "Environmental campaigners were sceptical that the talks would produce meaningful limits. Sofia "
    "Almeida, who directs the Lisbon-based group Blue Commons, said previous agreements had set quotas far "
    'above what scientists recommended. "Every time, the politicians split the difference between the '
    'science and the industry, and every time the fish lose," she said. Her group is calling for a '
    "complete moratorium on bluefin fishing in the spawning grounds around the Balearic Islands for at least "
    "three years.",
    "Industry representatives counter that a moratorium would hand the market to fleets that ignore the "
    "rules altogether. The Federation of Mediterranean Fishing Cooperatives, which represents about 4,000 "
    "boat owners, said in a statement that it supported stronger enforcement but opposed further cuts. It "
    "argued that illegal fishing, not licensed fleets, was the main threat to the stocks. The federation "
    "has asked to be given observer status at the talks, a request the Swiss hosts said they were "
    "considering.",
    "Behind the quota dispute lies a longer argument about who pays for the decline. Fleet owners in "
    "Spain and France received generous decommissioning grants during the last round of EU cuts, while "
    "their counterparts in Greece and Croatia say they were offered less and later. A study commissioned by "
    "the European Parliament last year found that payments per scrapped vessel varied by a factor of four "
    "between member states. Lawmakers from the southern states have cited the study in calling for a new "
    "fund tied to any Mediterranean agreement.",
    "Climate change adds a further complication. Warmer waters have pushed some species north and east, "
    "so that fish once caught mainly off North Africa now turn up in the Adriatic and the Aegean. "
    "Researchers at the University of Split reported in June that sea surface temperatures in the eastern "
    "basin had risen by about 1.5 degrees Celsius since the 1980s. Quota systems built on historical "
    "catches, critics argue, assume that the fish will stay where they used to be, which they no longer do.",
    "For the Swiss hosts, the talks are a test of a more active diplomatic role. Switzerland has no "
    "coastline on the Mediterranean and no fishing fleet there, which officials in Bern say makes it a "
    "credible neutral venue. The foreign ministry has assigned a team of six mediators to the talks, led "
    "by the veteran diplomat Claudine Roux. Ms. Roux, who previously chaired water-sharing negotiations "
    'in Central Asia, said on Monday that her aim was "to keep everyone in the room until Wednesday."',
    "Tuesday's schedule includes a closed session on data sharing. Several delegations have complained "
    "that catch statistics reported by their neighbours are incomplete or late, making it impossible to "
    "check compliance. The draft text would require each state to publish monthly landings by species and "
    "port. Cyprus and Malta have said they support the proposal in principle but want a transition period "
    "for smaller ports that still rely on paper records. Officials said the session could run late into "
    "the evening.",
    "Not everyone in Geneva is pessimistic. A senior official from the Food and Agriculture Organization, "
    "which provides technical support to the talks, noted that a similar agreement on Atlantic bluefin in "
    '2006 was widely dismissed at the time but later helped the stock recover. "People forget how bad '
    'things looked then," the official said. "Recovery is possible if the rules are enforced for long '
    'enough. The question is whether governments have the patience."',
    "Back in the harbours, the mood is more anxious than hopeful. In the Sicilian port of Mazara del Vallo, "
    "once home to one of Italy's largest fleets, fewer than half of the trawlers registered a decade ago "
    "are still working. Harbour master Salvatore Lo Presti said many younger crew members had left for jobs "
    'in northern Italy or Germany. "If Geneva gives us another cut without help, there will be nobody '
    'left to obey the rules," he said by telephone on Monday.',
    "Shipping and tourism interests are watching as well. Cruise operators, whose vessels share the same "
    "crowded ports, have lobbied against rules that would reserve berths for inspection boats during the "
    "summer. The Cruise Lines International Association said in a letter to the Swiss hosts that it "
    'supported sustainable fishing but warned against "measures that shift the burden onto unrelated '
    'sectors." Port authorities in Piraeus and Valencia said they had not been consulted on the draft and '
    "asked for a seat at the table in any follow-up technical working group.",
    "The talks are due to end on Wednesday with a joint communique. Diplomats said the most likely outcome "
    'was an agreement to keep negotiating, possibly with a deadline set for the autumn. "Nobody wants to go '
    'home and explain why the fishermen are protesting again," one European diplomat said. "But nobody '
    'wants to be the one who gave away the quota either." A further session, at ministerial level, has been '
    "pencilled in for October in Valletta, Malta.",
]
NEWS = "\n\n".join(PARAGRAPHS) + "\n"


# --- helpers -------------------------------------------------------------------------------------


def inside_sentence(text: str) -> list[bool]:
    """inside[p]: position p (a cut before text[p]) falls strictly inside a sentence."""
    inside = [False] * (len(text) + 1)
    for span in sentences(text):
        for p in range(span.start + 1, span.end):
            inside[p] = True
    return inside


def sentence_starts(text: str) -> set[int]:
    return {span.start for span in sentences(text)}


def in_paragraph_break(text: str, p: int) -> bool:
    lo, hi = p, p
    while lo > 0 and text[lo - 1].isspace():
        lo -= 1
    while hi < len(text) and text[hi].isspace():
        hi += 1
    return "\n" in text[lo:hi]


def check_invariants(text: str, max_chars: int, overlap: int) -> list[Chunk]:
    chunks = plan_chunks(text, max_chars, overlap)
    n = len(text)
    assert chunks
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[0].start == 0
    assert chunks[-1].end == n
    if n <= max_chars:
        assert chunks == [Chunk(0, 0, n)]
        return chunks
    inside = inside_sentence(text)
    starts = sorted(sentence_starts(text))

    def any_start_in(lo: int, hi: int) -> bool:  # a sentence start in (lo, hi]
        return bisect.bisect_right(starts, hi) > bisect.bisect_right(starts, lo)

    for c in chunks:
        assert 0 < c.end - c.start <= max_chars
    for prev, nxt in itertools.pairwise(chunks):
        assert prev.start < nxt.start <= prev.end  # progress, and overlapping or touching
        assert prev.end < nxt.end
        # The end is not inside a sentence if any position of the window allowed that.
        if inside[prev.end]:
            floor = chunks[prev.index - 1].end if prev.index else 0
            assert all(inside[p] for p in range(max(floor, prev.start) + 1, prev.start + max_chars + 1))
        # The next start is a sentence start if the previous chunk had one to offer.
        if not any_start_in(nxt.start - 1, nxt.start):
            assert not any_start_in(prev.start, prev.end)
        # At least `overlap` characters of overlap whenever a sentence start allowed it.
        if any_start_in(prev.start, prev.end - overlap):
            assert prev.end - nxt.start >= overlap
    # The point of the overlap: a sentence that fits in a chunk lies wholly inside one. Ends increase
    # with starts, so the last chunk starting at or before the sentence is the one to check.
    chunk_starts = [c.start for c in chunks]
    for span in sentences(text):
        if span.end - span.start <= max_chars:
            candidate = chunks[bisect.bisect_right(chunk_starts, span.start) - 1]
            assert span.end <= candidate.end, span
    return chunks


# --- plan_chunks: examples -----------------------------------------------------------------------


def test_news_text_is_long_enough() -> None:
    assert 9_000 <= len(NEWS) <= 11_000
    assert all(len(p) < 1_000 for p in PARAGRAPHS)


@pytest.mark.parametrize("text", ["", "Short.", NEWS[:800]])
def test_short_text_is_one_chunk(text: str) -> None:
    assert plan_chunks(text, 800, 100) == [Chunk(0, 0, len(text))]


def test_text_of_exactly_max_chars_is_one_chunk() -> None:
    assert plan_chunks(NEWS, len(NEWS), 0) == [Chunk(0, 0, len(NEWS))]
    assert len(plan_chunks(NEWS, len(NEWS) - 1, 0)) == 2


def test_news_cuts_at_paragraph_breaks_and_starts_at_sentences() -> None:
    chunks = check_invariants(NEWS, 2_000, 400)
    assert 6 <= len(chunks) <= 9
    starts = sentence_starts(NEWS)
    for prev, nxt in itertools.pairwise(chunks):
        # Paragraphs are under 1,000 characters, so the second half of every window holds a break.
        assert in_paragraph_break(NEWS, prev.end), NEWS[prev.end - 40 : prev.end + 10]
        assert nxt.start in starts
        assert prev.end - nxt.start >= 400
        # Whole sentences of overlap: no more than one extra sentence beyond the 400 asked for.
        assert prev.end - nxt.start < 400 + max(s.end - s.start for s in sentences(NEWS)) + 3


@pytest.mark.parametrize(
    ("max_chars", "overlap"), [(200, 0), (200, 99), (500, 100), (1_200, 400), (3_000, 0)]
)
def test_news_invariants(max_chars: int, overlap: int) -> None:
    check_invariants(NEWS, max_chars, overlap)


def test_zero_overlap_touches_at_sentence_starts() -> None:
    chunks = check_invariants(NEWS, 1_500, 0)
    starts = sentence_starts(NEWS)
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.start == prev.end
        assert nxt.start in starts


def test_falls_back_to_whitespace_without_sentence_breaks() -> None:
    text = " ".join(f"word{i:04d}" for i in range(300))  # no terminal punctuation at all
    chunks = check_invariants(text, 400, 100)
    for prev, nxt in itertools.pairwise(chunks):
        assert text[prev.end - 1] == " "
        assert text[nxt.start - 1] == " "
        assert text[nxt.start] == "w"
        assert prev.end - nxt.start >= 100


def test_hard_cut_without_whitespace() -> None:
    text = "x" * 1_000
    chunks = check_invariants(text, 300, 50)
    assert [(c.start, c.end) for c in chunks] == [(0, 300), (250, 550), (500, 800), (750, 1_000)]


def test_long_sentence_is_cut_at_whitespace_then_resumes_at_sentences() -> None:
    long_sentence = "The ministry said " + " ".join(["very"] * 150) + " long."
    text = "First short sentence here. " * 10 + long_sentence + " Then a normal one follows."
    check_invariants(text, 400, 100)


@pytest.mark.parametrize(
    ("max_chars", "overlap"), [(199, 0), (0, 0), (200, -1), (200, 100), (1_000, 500), (1_000, 2_000)]
)
def test_bad_arguments_raise(max_chars: int, overlap: int) -> None:
    with pytest.raises(ValueError, match=r"max_chars|overlap_chars"):
        plan_chunks(NEWS, max_chars, overlap)


def test_bad_arguments_raise_even_for_short_text() -> None:
    with pytest.raises(ValueError, match="overlap_chars"):
        plan_chunks("Short.", 800)  # the default overlap of 400 needs max_chars >= 802


# --- plan_chunks: properties ---------------------------------------------------------------------

_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
_SENTENCE = st.builds(
    lambda first, rest, end: " ".join([first.capitalize(), *rest]) + end,
    _WORDS,
    st.lists(_WORDS, max_size=25),
    st.sampled_from([".", "?", "!", '."', ""]),
)
# Abbreviations, initials, a word longer than any window, and whitespace runs between sentences.
_ODD = st.sampled_from(["Mr. Smith said so.", "U.S. officials met.", "J. Doe left.", "y" * 260, "   \t "])
_PARAGRAPH = st.lists(st.one_of(_SENTENCE, _ODD), min_size=1, max_size=8).map(" ".join)
_TEXT = st.builds(
    lambda paragraphs, separator: separator.join(paragraphs),
    st.lists(_PARAGRAPH, min_size=1, max_size=8),
    st.sampled_from(["\n\n", "\n", " \n  \n", " "]),
)


@st.composite
def _sizes(draw: st.DrawFn) -> tuple[int, int]:
    max_chars = draw(st.integers(MIN_CHUNK_CHARS, 1_500))
    overlap = draw(st.integers(0, max_chars // 2 - 1))
    return max_chars, overlap


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT, _sizes())
def test_plan_invariants_hold_for_random_texts(text: str, sizes: tuple[int, int]) -> None:
    max_chars, overlap = sizes
    check_invariants(text, max_chars, overlap)


@settings(max_examples=150, deadline=None)
@given(st.text(st.sampled_from("ab .\n"), max_size=3_000), _sizes())
def test_plan_invariants_hold_for_arbitrary_character_soup(text: str, sizes: tuple[int, int]) -> None:
    max_chars, overlap = sizes
    check_invariants(text, max_chars, overlap)


@settings(max_examples=100, deadline=None)
@given(st.integers(200, 5_000), st.integers(200, 1_000), st.data())
def test_plan_terminates_with_bounded_chunk_count(n: int, max_chars: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, max_chars // 2 - 1))
    chunks = check_invariants(("Word. " * n)[:n], max_chars, overlap)
    # Every chunk after the first adds more than max_chars // 2 - overlap new characters, give or take
    # one sentence ("Word. " is 6 characters), so the count is bounded.
    assert len(chunks) <= 1 + n // max(1, max_chars // 2 - overlap - 6)


# --- merge_chunks --------------------------------------------------------------------------------

MERGE_TEXT = (
    "Acme Corp said on Monday it would close its plant in Dover. "
    "Chief executive Jane Holt blamed rising energy costs. "
    "The Dockers Union called the decision a betrayal. "
    "Union leader Sam Brook said members would strike. "
    "Acme's shares fell 4 percent in early trading. "
    "Analysts said the closure had been expected for months. "
    "The Port of Dover authority said it was studying the plan. "
    "Holt said Acme would offer retraining to all 300 workers. "
    "Brook rejected the offer as too little, too late. "
    "A strike vote is planned for next week. "
    "Local lawmakers urged both sides to return to talks. "
    "The government declined to comment on the dispute."
)
OVERLAP_SENTENCE = "Analysts said the closure had been expected for months."


def ev(chunk_text: str, quote: str) -> Evidence:
    at = chunk_text.find(quote)
    assert at >= 0, quote
    return Evidence(quote=quote, start=at, end=at + len(quote), alignment="exact", score=100.0)


def merge_fixture() -> tuple[list[Chunk], list[tuple[Chunk, list[Actor], list[Event], list[Claim]]]]:
    chunks = plan_chunks(MERGE_TEXT, 420, 150)
    assert len(chunks) == 2
    first, second = chunks
    at = MERGE_TEXT.index(OVERLAP_SENTENCE)
    # The overlap sentence lies in both chunks: both report the claim in it.
    assert second.start <= at
    assert at + len(OVERLAP_SENTENCE) <= first.end
    # The "shares fell" event and one "Acme's" mention are in the overlap too: both chunks report them.
    assert second.start <= MERGE_TEXT.index("Acme's shares")
    t1 = MERGE_TEXT[first.start : first.end]
    t2 = MERGE_TEXT[second.start : second.end]

    part1 = (
        first,
        [
            Actor(
                id="A1",
                name="Acme Corp",
                kind="organization",
                mentions=[ev(t1, "Acme Corp"), ev(t1, "Acme's")],
            ),
            Actor(
                id="A2",
                name="Jane Holt",
                kind="person",
                title="Chief executive",
                mentions=[ev(t1, "Jane Holt")],
            ),
            Actor(id="A3", name="Dockers Union", kind="organization", mentions=[ev(t1, "The Dockers Union")]),
            # Named by surname here; chunk two's longer "Sam Brook" contains it and wins as the name.
            Actor(
                id="A4", name="Brook", aliases=["Sam Brook"], kind="person", mentions=[ev(t1, "Sam Brook")]
            ),
            Actor(id="A5", name="Analysts", kind="group", mentions=[ev(t1, "Analysts")]),
        ],
        [
            Event(
                id="E1",
                type="economic",
                trigger=ev(t1, "close"),
                participants=[Participant(actor_id="A1", role="agent")],
            ),
            Event(
                id="E2",
                type="economic",
                trigger=ev(t1, "shares fell"),
                participants=[Participant(actor_id="A1")],
            ),
            Event(id="E3", type="protest", trigger=ev(t1, "strike"), status="planned"),
        ],
        [
            Claim(
                id="C1",
                statement="Energy costs caused the closure.",
                claimant="A2",
                evidence=ev(t1, "blamed rising energy costs"),
            ),
            Claim(
                id="C2",
                statement="The closure was expected.",
                claimant="A5",
                evidence=ev(t1, "the closure had been expected for months"),
            ),
            Claim(
                id="C3", statement="Unmatched claim from chunk one.", evidence=Evidence(quote="never said")
            ),
        ],
    )
    part2 = (
        second,
        [
            # Chunk two knows Acme only as "Acme" (alias "Acme Corp"): the same actor as chunk one's A1.
            Actor(
                id="A1",
                name="Acme",
                kind="other",
                aliases=["Acme Corp"],
                mentions=[ev(t2, "Acme's"), ev(t2, "Acme would")],
            ),
            Actor(id="A2", name="Analysts", kind="other", mentions=[ev(t2, "Analysts")]),
            Actor(
                id="A3",
                name="Holt",
                aliases=["Jane Holt"],
                kind="person",
                title="CEO",
                mentions=[ev(t2, "Holt said")],
            ),
            Actor(id="A4", name="Sam Brook", kind="person", mentions=[ev(t2, "Brook rejected")]),
            Actor(
                id="A5",
                name="the Port of Dover authority",
                kind="government",
                mentions=[ev(t2, "The Port of Dover authority")],
            ),
            Actor(id="A6", name="The government", kind="government", mentions=[ev(t2, "The government")]),
        ],
        [
            # "shares fell" again (it is in the overlap): a more specific role for Acme, one more actor.
            Event(
                id="E1",
                type="economic",
                trigger=ev(t2, "shares fell"),
                participants=[Participant(actor_id="A1", role="target"), Participant(actor_id="A2")],
            ),
            Event(
                id="E2",
                type="economic",
                trigger=ev(t2, "retraining"),
                participants=[Participant(actor_id="A1", role="agent"), Participant(actor_id="A3")],
            ),
            Event(id="E3", type="protest", trigger=ev(t2, "strike vote"), status="planned"),
        ],
        [
            Claim(
                id="C1",
                statement="Analysts expected the closure.",
                claimant="A2",
                evidence=ev(t2, "the closure had been expected for months"),
            ),
            Claim(
                id="C2",
                statement="The offer is insufficient.",
                claimant="A4",
                evidence=ev(t2, "too little, too late"),
            ),
        ],
    )
    return chunks, [part1, part2]


def test_merge_fixture_evidence_is_chunk_relative() -> None:
    chunks, parts = merge_fixture()
    for chunk, actors, events, claims in parts:
        chunk_text = MERGE_TEXT[chunk.start : chunk.end]
        evidence = [m for a in actors for m in a.mentions] + [e.trigger for e in events]
        evidence += [c.evidence for c in claims if c.evidence.grounded]
        assert all(verify(e, chunk_text) for e in evidence)
    # Chunk two starts well into the text, so unshifted offsets would not verify against it.
    assert chunks[1].start > 100


def test_merge_counts_ids_and_references() -> None:
    _, parts = merge_fixture()
    actors, events, claims = merge_chunks(MERGE_TEXT, parts)
    # Actors: Acme, Holt, Dockers Union, Brook, Analysts (one each across chunks), Port authority, government.
    assert [a.name for a in actors] == [
        "Acme Corp",
        "Jane Holt",
        "Dockers Union",
        "Sam Brook",
        "Analysts",
        "the Port of Dover authority",
        "The government",
    ]
    assert [a.id for a in actors] == [f"A{i}" for i in range(1, 8)]
    # Events: close, shares fell (once), strike, retraining, strike vote.
    assert [e.trigger.quote for e in events] == [
        "close",
        "strike",
        "shares fell",
        "retraining",
        "strike vote",
    ]
    assert [e.id for e in events] == [f"E{i}" for i in range(1, 6)]
    # Claims: energy costs, expected (once), too little; the unmatched one goes last.
    assert [c.evidence.quote for c in claims] == [
        "blamed rising energy costs",
        "the closure had been expected for months",
        "too little, too late",
        "never said",
    ]
    assert [c.id for c in claims] == ["C1", "C2", "C3", "C4"]
    Extraction(document_id="d", actors=actors, events=events, claims=claims, metadata=META)


def test_merge_shifts_every_evidence_to_full_text_offsets() -> None:
    _, parts = merge_fixture()
    actors, events, claims = merge_chunks(MERGE_TEXT, parts)
    evidence = [m for a in actors for m in a.mentions] + [e.trigger for e in events]
    evidence += [c.evidence for c in claims if c.evidence.grounded]
    assert len(evidence) == 19
    for e in evidence:
        assert e.start is not None
        assert e.end is not None
        assert MERGE_TEXT[e.start : e.end] == e.quote
        assert verify(e, MERGE_TEXT)
    assert claims[-1].evidence == Evidence(quote="never said")  # unmatched: no offsets to shift


def test_merge_unites_actors_across_chunks() -> None:
    _, parts = merge_fixture()
    actors, _, _ = merge_chunks(MERGE_TEXT, parts)
    acme, holt, _, brook, analysts, port, government = actors
    # "Acme's" at the same offsets is reported by both chunks: kept once.
    assert [(m.quote, m.start) for m in acme.mentions] == [
        ("Acme Corp", 0),
        ("Acme's", MERGE_TEXT.index("Acme's")),
        ("Acme would", MERGE_TEXT.index("Acme would")),
    ]
    assert acme.aliases == ["Acme"]
    assert acme.kind == "organization"
    # Chunk two's "Holt" names "Jane Holt" as an alias; the first title seen wins.
    assert (holt.name, holt.aliases, holt.title) == ("Jane Holt", ["Holt"], "Chief executive")
    assert [m.quote for m in holt.mentions] == ["Jane Holt", "Holt said"]
    assert (brook.name, brook.aliases) == ("Sam Brook", ["Brook"])
    assert analysts.kind == "group"
    assert len(analysts.mentions) == 1
    assert (port.aliases, government.aliases) == ([], [])


def test_merge_remaps_participants_and_claimants() -> None:
    _, parts = merge_fixture()
    actors, events, claims = merge_chunks(MERGE_TEXT, parts)
    by_name = {a.name: a.id for a in actors}
    close, strike, shares, retraining, vote = events
    assert close.participants == [Participant(actor_id=by_name["Acme Corp"], role="agent")]
    # Chunk one said "participant", chunk two "target" for the same actor: one entry, the specific role.
    assert shares.participants == [
        Participant(actor_id=by_name["Acme Corp"], role="target"),
        Participant(actor_id=by_name["Analysts"]),
    ]
    assert retraining.participants == [
        Participant(actor_id=by_name["Acme Corp"], role="agent"),
        Participant(actor_id=by_name["Jane Holt"]),
    ]
    assert strike.participants == vote.participants == []
    assert [c.claimant for c in claims] == [
        by_name["Jane Holt"],
        by_name["Analysts"],
        by_name["Sam Brook"],
        None,
    ]
    # The first report of the duplicated claim is the one kept.
    assert claims[1].statement == "The closure was expected."


def test_merge_of_one_chunk_only_renumbers() -> None:
    text = "Bob met Alice. Alice thanked Bob."
    chunk = Chunk(0, 0, len(text))
    actors = [
        Actor(id="x", name="Alice", mentions=[ev(text, "Alice")]),
        Actor(id="y", name="Bob", mentions=[ev(text, "Bob")]),
    ]
    events = [
        Event(
            id="e",
            trigger=ev(text, "met"),
            participants=[Participant(actor_id="y"), Participant(actor_id="x")],
        )
    ]
    out_actors, out_events, out_claims = merge_chunks(text, [(chunk, actors, events, [])])
    assert [(a.id, a.name) for a in out_actors] == [("A1", "Bob"), ("A2", "Alice")]
    assert out_events[0].participants == [Participant(actor_id="A1"), Participant(actor_id="A2")]
    assert out_claims == []


def test_merge_normalizes_names() -> None:
    text = "The U.S. State Department spoke. The US state department's envoy left."
    chunk = Chunk(0, 0, len(text))
    actors = [
        Actor(id="a", name="The U.S. State Department", mentions=[ev(text, "The U.S. State Department")]),
        Actor(id="b", name="u.s. state department’s", mentions=[ev(text, "US state department")]),
    ]
    out, _, _ = merge_chunks(text, [(chunk, actors, [], [])])
    assert len(out) == 1
    assert out[0].aliases == []  # the second name normalizes to the first: not an alias


def test_merge_rejects_unknown_reference_and_out_of_chunk_offsets() -> None:
    text = "Bob met Alice." * 30
    chunk = Chunk(1, 200, 300)
    bad_participant = Event(
        id="e", trigger=ev(text[200:300], "met"), participants=[Participant(actor_id="zz")]
    )
    with pytest.raises(ValueError, match="'zz'"):
        merge_chunks(text, [(chunk, [], [bad_participant], [])])
    absolute = Actor(
        id="a", name="Bob", mentions=[Evidence(quote="Bob", start=280, end=283, alignment="exact", score=100)]
    )
    with pytest.raises(ValueError, match="outside the chunk text"):
        merge_chunks(text, [(chunk, [absolute], [], [])])
    with pytest.raises(ValueError, match="outside the text"):
        merge_chunks(text, [(Chunk(0, 0, len(text) + 1), [], [], [])])


def test_merge_keeps_every_unmatched_item() -> None:
    text = "Nothing here matches."
    chunks = [Chunk(0, 0, len(text)), Chunk(1, 0, len(text))]
    claim = Claim(id="c", statement="s", evidence=Evidence(quote="absent"))
    event = Event(id="e", trigger=Evidence(quote="absent"))
    _, events, claims = merge_chunks(text, [(c, [], [event], [claim]) for c in chunks])
    assert [e.id for e in events] == ["E1", "E2"]
    assert [c.id for c in claims] == ["C1", "C2"]


def test_news_chunks_feed_merge_end_to_end() -> None:
    # Every chunk reports every occurrence of "Marchetti" in it; the merge keeps each occurrence once.
    chunks = plan_chunks(NEWS, 2_000, 400)
    parts = []
    for chunk in chunks:
        chunk_text = NEWS[chunk.start : chunk.end]
        mentions = [
            Evidence(quote="Marchetti", start=m.start(), end=m.end(), alignment="exact", score=100.0)
            for m in re.finditer("Marchetti", chunk_text)
        ]
        actors = [Actor(id="A1", name="Marchetti", kind="person", mentions=mentions)] if mentions else []
        parts.append((chunk, actors, [], []))
    actors, _, _ = merge_chunks(NEWS, parts)
    assert len(actors) == 1
    assert [m.start for m in actors[0].mentions] == [m.start() for m in re.finditer("Marchetti", NEWS)]


def test_a_one_word_name_in_a_later_chunk_is_the_known_person_it_belongs_to() -> None:
    from llm_extract.chunking import adopt_known
    from llm_extract.schema import Actor

    known = (
        Actor(id="K1", name="Ingrid Brekke", kind="person"),
        Actor(id="K2", name="Sam Okafor", kind="person"),
        Actor(id="K3", name="Margaret Okafor", kind="person"),
    )
    later = [
        Actor(id="A1", name="Brekke", kind="person"),
        Actor(id="A2", name="Okafor", kind="person"),  # two known Okafors: left alone
        Actor(id="A3", name="Havbris", kind="organization"),
    ]
    adopted = adopt_known(later, known)
    assert (adopted[0].name, adopted[0].aliases) == ("Ingrid Brekke", ["Brekke"])
    assert adopted[1].name == "Okafor"
    assert adopted[2].name == "Havbris"


def test_a_role_or_a_bodys_first_word_in_a_later_chunk_is_the_known_body_it_stands_for() -> None:
    from llm_extract.chunking import adopt_known
    from llm_extract.schema import Actor

    known = (
        Actor(id="K1", name="Energy Ministry", kind="government"),
        Actor(id="K2", name="Idroalpi SpA", kind="organization"),
        Actor(id="K3", name="United Russia", kind="organization"),
        Actor(id="K4", name="Russia", kind="country"),
    )
    later = [
        Actor(id="A1", name="the ministry", kind="government"),
        Actor(id="A2", name="Idroalpi", kind="organization"),
        Actor(id="A3", name="Russia", kind="country"),  # a country is not "United Russia"
        Actor(id="A4", name="the company", kind="organization"),  # two known organizations: no telling which
    ]
    names = [a.name for a in adopt_known(later, known)]
    assert names == ["Energy Ministry", "Idroalpi SpA", "Russia", "the company"]
