"""Render a ``Corpus`` as one standalone HTML page: entity index, timeline, claim pairs, filters.

The page is a Jinja2 template (``templates/corpus.html.j2``, autoescaped) with its CSS and script
inline, so it opens from disk with no network. The corpus goes in as one JSON block (Jinja's
``tojson`` escapes ``<``, ``>``, ``&`` and quotes, so no text from the data can end the block or
start a tag), and the script builds every row with ``textContent``: names, quotes and titles from the
data are never parsed as HTML. Rows are drawn a page at a time (``PAGE`` in the script), so a corpus
of 10,000 documents costs one JSON parse and never draws more than a page of rows.

Compact rows (arrays, not objects) and short mention contexts keep the page small; the layout of
each array is written next to the code that builds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llm_extract.corpus import Corpus
from llm_extract.report import _html
from llm_extract.schema import Evidence, Extraction

__all__ = ["corpus_page_data", "render_corpus_html"]


def render_corpus_html(corpus: Corpus, *, title: str = "llm-extract corpus", context: int = 60) -> str:
    """The standalone corpus page (``context``: characters of text shown around each mention)."""
    data = corpus_page_data(corpus, context=context)
    return _html("corpus.html.j2", title=title, data=data, counts=data["counts"])


def _snippet(text: str | None, evidence: Evidence, context: int) -> list[str]:
    """[before, quote, after]: the quote with up to ``context`` characters around it, one line."""
    if text is None or evidence.start is None or evidence.end is None or evidence.end > len(text):
        return ["", evidence.quote, ""]
    lo = max(0, evidence.start - context)
    hi = min(len(text), evidence.end + context)
    before = text[lo : evidence.start].rsplit("\n", 1)[-1]
    after = text[evidence.end : hi].split("\n", 1)[0]
    return [
        ("…" if lo > 0 and "\n" not in text[lo : evidence.start] else "") + before,
        text[evidence.start : evidence.end],
        after + ("…" if hi < len(text) else ""),
    ]


def corpus_page_data(corpus: Corpus, *, context: int = 60, mentions_per_member: int = 3) -> dict[str, Any]:
    """The JSON the page reads: documents, entities, members, timeline, claim pairs, filter choices."""
    docs: list[list[Any]] = []
    doc_index: dict[str, int] = {}
    texts: dict[str, str | None] = {}
    extractions: dict[str, Extraction] = {}
    for r in corpus.results:
        doc_index[r.document_id] = len(docs)
        # [id, title, published, status]
        docs.append(
            [
                r.document_id,
                (r.document.title if r.document else None) or "",
                str(r.document.published) if r.document and r.document.published else "",
                r.status,
            ]
        )
        texts[r.document_id] = r.document.text if r.document else None
        if r.extraction is not None:
            extractions[r.document_id] = r.extraction
    entities, members, entity_index = _entities(
        corpus, doc_index, texts, extractions, context, mentions_per_member
    )
    timeline = _timeline(corpus, doc_index, texts, entity_index, context)
    pairs = _pairs(corpus, doc_index, entity_index)
    return {
        "docs": docs,
        "entities": entities,
        "members": members,
        "timeline": timeline,
        "pairs": pairs,
        "kinds": sorted({e[2] for e in entities}),
        "types": sorted({t[4] for t in timeline}),
        "counts": {
            "documents": len(docs),
            "failed": sum(1 for d in docs if d[3] != "ok"),
            "entities": len(entities),
            "linked": sum(1 for e in entities if e[3] > 1),
            "events": len(timeline),
            "pairs": len(pairs),
        },
    }


def _entities(
    corpus: Corpus,
    doc_index: dict[str, int],
    texts: dict[str, str | None],
    extractions: dict[str, Extraction],
    context: int,
    per_member: int,
) -> tuple[list[list[Any]], list[list[Any]], dict[str, int]]:
    """Entity rows, member rows and entity id -> row index."""
    actors = {(doc, a.id): a for doc, e in extractions.items() for a in e.actors}
    entities: list[list[Any]] = []
    members: list[list[Any]] = []
    index: dict[str, int] = {}
    for entity in corpus.entities():
        index[entity.id] = len(entities)
        member_rows = []
        mention_total = 0
        for m in entity.members:
            actor = actors.get((m.document_id, m.actor_id))
            mentions = actor.mentions if actor else []
            mention_total += len(mentions)
            snippets = [_snippet(texts.get(m.document_id), e, context) for e in mentions[:per_member]]
            member_rows.append(len(members))
            # [doc, actor id, name, kind, score, rule, evidence, mention count, snippets, aliases]
            members.append(
                [
                    doc_index[m.document_id],
                    m.actor_id,
                    m.name,
                    m.kind,
                    m.score,
                    m.rule,
                    m.evidence,
                    len(mentions),
                    snippets,
                    list(actor.aliases) if actor else [],
                ]
            )
        # [id, name, kind, documents, mentions, member rows]
        entities.append(
            [entity.id, entity.name, entity.kind, len(entity.documents), mention_total, member_rows]
        )
    return entities, members, index


def _timeline(
    corpus: Corpus,
    doc_index: dict[str, int],
    texts: dict[str, str | None],
    entity_index: dict[str, int],
    context: int,
) -> list[list[Any]]:
    """Timeline rows, oldest first."""
    rows: list[list[Any]] = []
    for t in corpus.timeline():
        e = t.event
        participants = [[name, entity_index.get(entity, -1), role] for name, entity, role in t.participants]
        # [doc, event id, date value, precision, type, status, trigger snippet, summary, participants, start]
        rows.append(
            [
                doc_index[t.document_id],
                e.id,
                t.value,
                t.precision,
                e.type,
                e.status,
                _snippet(texts.get(t.document_id), e.trigger, context),
                e.summary,
                participants,
                t.start.isoformat(),
            ]
        )
    return rows


def _pairs(corpus: Corpus, doc_index: dict[str, int], entity_index: dict[str, int]) -> list[list[Any]]:
    """Claim pair rows, best first."""
    rows: list[list[Any]] = []
    for p in corpus.claim_pairs():
        sides: Sequence[Any] = [
            # [doc, claim id, claimant, claimant entity row or -1, polarity, hedged, quote, statement]
            [
                doc_index[side.document_id],
                side.claim.id,
                side.claimant,
                entity_index.get(side.claimant_key, -1),
                side.claim.polarity,
                side.claim.hedged,
                side.claim.evidence.quote,
                side.claim.statement,
            ]
            for side in (p.assertion, p.denial)
        ]
        # [similarity, reason, shared stems, assertion side, denial side]
        rows.append([p.similarity, p.reason, list(p.shared), sides[0], sides[1]])
    return rows
