"""Render an ``EvalReport``: a rich table for the terminal, Markdown, and a standalone HTML page.

Templates are Jinja2 files in ``report/templates/`` (autoescaped HTML; the article text is always
escaped); the page carries its own CSS and script, so it opens from disk with no network.
Jinja2 and rich are imported when a report is first rendered, not with the package.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llm_extract.compare import Comparison, Delta
from llm_extract.evaluate import FIELDS, ITEM_TYPES, DocumentEval, EvalReport, Metric
from llm_extract.schema import Actor, BatchResult, Claim, Document, Event, Evidence, Extraction

if TYPE_CHECKING:
    import jinja2
    from rich.console import Group

__all__ = [
    "Segment",
    "compare_html",
    "compare_markdown",
    "compare_table",
    "eval_html",
    "eval_markdown",
    "eval_table",
    "highlight",
    "render_html",
]


@functools.cache
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    """The HTML and the Markdown template environments, made on first use."""
    import jinja2

    html = jinja2.Environment(
        loader=jinja2.PackageLoader("llm_extract.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    markdown = jinja2.Environment(
        loader=jinja2.PackageLoader("llm_extract.report", "templates"),
        autoescape=False,  # Markdown: escaping is the table cell filter's job
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    for env in (html, markdown):
        env.filters["pct"] = _pct
        env.filters["ci"] = _ci
        env.filters["md"] = _md_cell
        env.filters["p"] = _p
        env.filters["delta"] = _delta
        env.filters["delta_ci"] = _delta_ci
        env.filters["trend"] = _trend
        env.filters["usd"] = _usd
        env.globals["floor_f1"] = _floor_f1
        env.globals["coverage"] = _coverage
    return html, markdown


def _html(template: str, **variables: Any) -> str:
    return _environments()[0].get_template(template).render(**variables)


def _markdown(template: str, **variables: Any) -> str:
    return _environments()[1].get_template(template).render(**variables)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _ci(metric: Metric) -> str:
    if metric.low is None or metric.high is None:
        return f"{_pct(metric.value)}"
    return f"{_pct(metric.value)} [{_pct(metric.low)}–{_pct(metric.high)}]"


def _floor_f1(report: EvalReport, item_type: str) -> str:
    """Strict / partial F1 of the rules floor, or a dash when the run has none."""
    if report.floor is None:
        return "–"
    f1 = report.floor.f1[item_type]
    return f"{_pct(f1['strict'])} / {_pct(f1['partial'])}"


def _coverage(report: EvalReport, item_type: str) -> str:
    """The candidates' recall of a type (the ceiling of choosing among them), or a dash."""
    if report.floor is None or item_type not in report.floor.candidate_recall:
        return "–"
    return _pct(report.floor.candidate_recall[item_type])


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _delta(d: Delta, alpha: float, markdown: bool = True) -> str:
    if d.delta is None:
        return "–"
    text = f"{100 * d.delta:+.1f}"
    return f"**{text}**" if markdown and d.significant(alpha) else text


def _delta_ci(d: Delta) -> str:
    if d.low is None or d.high is None:
        return "–"
    return f"[{100 * d.low:+.1f}, {100 * d.high:+.1f}]"


def _trend(d: Delta, alpha: float) -> str:
    if d.delta is None or not d.significant(alpha):
        return ""
    return "up" if d.delta > 0 else "down"


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.6f}"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def _md_cell(value: Any) -> str:
    """Text from data (fixture ids, errors, names) as inert Markdown: no table breaks, links, code or HTML."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class Segment:
    """A run of text covered by the same set of highlighted items."""

    text: str
    classes: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def highlight(text: str, spans: list[tuple[int, int, str, str]]) -> list[Segment]:
    """Cut ``text`` at every span boundary; each segment lists the classes and keys covering it.

    ``spans`` are ``(start, end, css_class, key)``; overlapping spans are fine (no nesting needed).
    """
    cuts = sorted({0, len(text), *(s for s, _, _, _ in spans), *(e for _, e, _, _ in spans)})
    segments = []
    for lo, hi in itertools.pairwise(cuts):
        if hi <= lo or lo < 0 or hi > len(text):
            continue
        covering = [(e - s, c, k) for s, e, c, k in spans if s <= lo and hi <= e]
        # Keys longest first, so the last one is the innermost item (what a click on it means).
        keys = list(dict.fromkeys(k for _, _, k in sorted(covering, key=lambda x: (-x[0], x[2]))))
        segments.append(Segment(text[lo:hi], sorted({c for _, c, _ in covering}), keys))
    return segments


def _spans(evidence: list[Evidence], css: str, key: str) -> list[tuple[int, int, str, str]]:
    return [(e.start, e.end, css, key) for e in evidence if e.start is not None and e.end is not None]


def _item_view(item_type: str, item: Any, names: dict[str, str]) -> dict[str, Any]:
    """What one drill-down cell shows for an actor, event or claim."""
    if item_type == "actors":
        a: Actor = item
        aliases = f" · aka {', '.join(a.aliases)}" if a.aliases else ""
        return {"id": a.id, "head": a.name, "detail": f"{a.kind}{aliases}", "grounded": a.grounded}
    if item_type == "events":
        e: Event = item
        who = ", ".join(f"{names.get(p.actor_id, p.actor_id)} ({p.role})" for p in e.participants)
        when = f" · {e.date.value or e.date.expression}" if e.date else ""
        return {
            "id": e.id,
            "head": f"“{e.trigger.quote}”",
            "detail": f"{e.type} · {e.status}{when}" + (f" · {who}" if who else ""),
            "grounded": e.grounded,
        }
    c: Claim = item
    by = names.get(c.claimant, c.claimant) if c.claimant else "author"
    hedge = " · hedged" if c.hedged else ""
    quote = c.evidence.quote if len(c.evidence.quote) <= 160 else c.evidence.quote[:157] + "…"
    return {"id": c.id, "head": f"“{quote}”", "detail": f"{by} · {c.polarity}{hedge}", "grounded": c.grounded}


def _document_view(doc: DocumentEval) -> dict[str, Any]:
    gold_names = {a.id: a.name for a in doc.gold.actors}
    pred = doc.predicted
    pred_names = {a.id: a.name for a in pred.actors} if pred else {}
    spans: list[tuple[int, int, str, str]] = []
    rows: dict[str, list[dict[str, Any]]] = {}
    for item_type in ITEM_TYPES:
        gold_items = {i.id: i for i in getattr(doc.gold, item_type)}
        pred_items = {i.id: i for i in getattr(pred, item_type)} if pred else {}
        short = item_type[:-1]
        for item in gold_items.values():
            spans += _spans(_evidence(item_type, item), f"g-{short}", f"g-{item_type}-{item.id}")
        for item in pred_items.values():
            spans += _spans(_evidence(item_type, item), f"p-{short}", f"p-{item_type}-{item.id}")
        matched_gold = {m.gold_id for m in doc.matches[item_type]}
        matched_pred = {m.predicted_id for m in doc.matches[item_type]}
        table: list[dict[str, Any]] = [
            {
                "status": "exact" if m.exact else "partial",
                "similarity": m.similarity,
                "gold": _item_view(item_type, gold_items[m.gold_id], gold_names),
                "pred": _item_view(item_type, pred_items[m.predicted_id], pred_names),
                "keys": f"g-{item_type}-{m.gold_id} p-{item_type}-{m.predicted_id}",
            }
            for m in doc.matches[item_type]
        ]
        table += [
            {
                "status": "missed",
                "gold": _item_view(item_type, g, gold_names),
                "pred": None,
                "keys": f"g-{item_type}-{i}",
            }
            for i, g in gold_items.items()
            if i not in matched_gold
        ]
        table += [
            {
                "status": "spurious",
                "gold": None,
                "pred": _item_view(item_type, p, pred_names),
                "keys": f"p-{item_type}-{i}",
            }
            for i, p in pred_items.items()
            if i not in matched_pred
        ]
        rows[item_type] = table
    return {"doc": doc, "segments": highlight(doc.text, spans), "rows": rows}


def _evidence(item_type: str, item: Any) -> list[Evidence]:
    if item_type == "actors":
        return list(item.mentions)
    return [item.trigger] if item_type == "events" else [item.evidence]


def _context(report: EvalReport) -> dict[str, Any]:
    return {"r": report, "types": ITEM_TYPES, "fields": FIELDS, "splits": _split_rows(report)}


def _split_rows(report: EvalReport) -> list[dict[str, Any]]:
    """A run over several splits: one summary row per split, then the whole (empty otherwise)."""
    if not report.parts:
        return []
    return [
        {"split": r.split or "–", "report": r, "documents": len(r.documents)} for r in [*report.parts, report]
    ]


def _split_label(split: str | None, parts: Sequence[Any]) -> str:
    """The split in a title: `` · dev split``, `` · dev + test`` for a run over several, or nothing."""
    if not split:
        return ""
    if parts:
        return " · " + " + ".join(p.split or "?" for p in parts)
    return f" · {split} split"


def eval_html(report: EvalReport) -> str:
    """A standalone HTML page: per-type bars with intervals, per-field accuracy, per-document drill-down.

    A run over several splits gets a table of each split's scores first.
    """
    documents = [_document_view(d) for d in report.documents]
    return _html("eval.html.j2", **_context(report), documents=documents)


def eval_markdown(report: EvalReport) -> str:
    """The summary tables as GitHub-flavoured Markdown (with a row per split for a run over several)."""
    return _markdown("eval.md.j2", **_context(report))


def eval_table(report: EvalReport, width: int | None = None) -> Group:
    """Rich tables for the terminal: per-type scores, per-field accuracy, and the run's cost.

    ``width`` (a terminal's columns) drops the least telling score columns until the table fits,
    keeping the type, F1 with its interval, the rules floor and the counts longest; None shows all.
    A run over several splits shows each split's scores first, then the whole run.
    """
    from rich.console import Group

    parts = [_eval_scores(p, width) for p in report.parts]
    return Group(*parts, *_eval_tables(report, width))


# Score columns: header, cell, and rank (the lowest rank is dropped last when the table must narrow).
_Column = tuple[str, Callable[[EvalReport, str], str], int]
_EVAL_COLUMNS: list[_Column] = [
    ("type", lambda r, t: t, 0),
    ("gold", lambda r, t: str(r.types[t].counts.gold), 4),
    ("pred", lambda r, t: str(r.types[t].counts.predicted), 5),
    ("strict", lambda r, t: str(r.types[t].counts.strict), 12),
    ("exact", lambda r, t: str(r.types[t].counts.exact), 13),
    ("partial", lambda r, t: str(r.types[t].counts.partial), 14),
    ("missed", lambda r, t: str(r.types[t].counts.missed), 6),
    ("spurious", lambda r, t: str(r.types[t].counts.spurious), 7),
    ("strict P", lambda r, t: _pct(r.types[t].strict.precision.value), 9),
    ("strict R", lambda r, t: _pct(r.types[t].strict.recall.value), 10),
    ("strict F1 [95% CI]", lambda r, t: _ci(r.types[t].strict.f1), 1),
    ("partial F1 [95% CI]", lambda r, t: _ci(r.types[t].partial.f1), 2),
    ("macro F1", lambda r, t: _pct(r.types[t].strict.macro_f1), 11),
    ("rules floor F1", lambda r, t: _floor_f1(r, t), 3),
    ("candidate recall", lambda r, t: _coverage(r, t), 4),
    ("grounded", lambda r, t: _pct(r.types[t].grounding_rate), 8),
]


def _fitting(rows: list[list[str]], headers: list[str], ranks: list[int], width: int | None) -> list[int]:
    """The columns (indices, in order) that fit in ``width``: the highest-ranked are dropped first."""
    keep = list(range(len(headers)))
    if width is None:
        return keep

    def needed(columns: list[int]) -> int:
        # Cells never wrap; headers are cut into lines of two words at most (_narrow_header). Each
        # column has a space of padding each side and one rule; plus the table's outer rule.
        sizes = [
            max(*(len(row[i]) for row in rows), *(len(x) for x in _narrow_header(headers[i]).split("\n"))) + 3
            for i in columns
        ]
        return sum(sizes) + 1

    for i in sorted(keep, key=lambda i: -ranks[i]):
        if needed(keep) <= width or len(keep) <= 2:
            break
        keep.remove(i)
    return keep


def _narrow_header(header: str) -> str:
    """A header on lines of at most two words ("strict F1" over "[95% CI]"): never wider than its cells."""
    words = header.split()
    return "\n".join(" ".join(words[i : i + 2]) for i in range(0, len(words), 2))


def _eval_scores(report: EvalReport, width: int | None) -> Any:
    """The per-type scores table, with the columns that fit in ``width``."""
    from rich.table import Table

    title = (
        f"llm-extract eval{_split_label(report.split, report.parts)} · {report.prompt} · {report.model} · "
        f"{len(report.documents)} documents"
    )
    headers = [c[0] for c in _EVAL_COLUMNS]
    rows = [[cell(report, t) for _, cell, _ in _EVAL_COLUMNS] for t in ITEM_TYPES]
    keep = _fitting(rows, headers, [c[2] for c in _EVAL_COLUMNS], width)
    scores = Table(title=title)
    for i in keep:
        header = headers[i] if width is None else _narrow_header(headers[i])
        scores.add_column(header, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        scores.add_row(*(row[i] for i in keep))
    return scores


def _eval_tables(report: EvalReport, width: int | None) -> list[Any]:
    from rich.table import Table

    scores = _eval_scores(report, width)
    fields = Table(title="per-field accuracy on matched pairs (%, n)")
    fields.add_column("field")
    fields.add_column("accuracy", justify="right")
    fields.add_column("n", justify="right")
    fields.add_column("rules floor", justify="right")
    for t in ITEM_TYPES:
        for name, score in report.types[t].fields.items():
            floor = _pct(report.floor.fields[t][name]) if report.floor else "–"
            fields.add_row(f"{t}.{name}", _pct(score.accuracy), str(score.total), floor)
    cost = "n/a (no pricing)" if report.cost_usd is None else f"${report.cost_usd:.4f}"
    facts = [
        f"tokens {report.usage.total_tokens:,} ({report.usage.prompt_tokens:,} in, "
        f"{report.usage.completion_tokens:,} out)",
        f"cost {cost}",
        f"model time {report.latency_s:.1f} s"
        + (f", wall {report.wall_time_s:.1f} s" if report.wall_time_s else ""),
        f"failed documents {report.errors}",
    ]
    run = Table.grid(padding=(0, 2))
    # On one line when it fits, else two facts a line.
    per_line = len(facts) if width is None or sum(len(f) + 2 for f in facts) <= width else 2
    for i in range(0, len(facts), per_line):
        run.add_row(*facts[i : i + per_line])
    return [scores, fields, run]


def compare_markdown(comparison: Comparison, *, timings: bool = True) -> str:
    """The comparison as Markdown for a pull-request comment.

    ``timings=False`` drops the one machine-dependent row, so the text reproduces exactly from cassettes.
    """
    return _markdown("compare.md.j2", c=comparison, timings=timings)


def compare_html(comparison: Comparison) -> str:
    """The comparison as a standalone HTML page."""
    return _html("compare.html.j2", c=comparison)


def compare_table(comparison: Comparison) -> Group:
    """Rich tables for the terminal: F1 and field deltas with intervals and p-values, and cost.

    A comparison over several splits shows each split's deltas first, then the whole comparison's.
    """
    from rich.console import Group
    from rich.table import Table

    a, b = comparison.a, comparison.b
    cost = Table(title="cost per document")
    for column in ("", "A", "B"):
        cost.add_column(column, justify="right")
    cost.add_row("tokens", f"{a.tokens_per_document:,.0f}", f"{b.tokens_per_document:,.0f}")
    cost.add_row("cost", _usd(a.cost_per_document), _usd(b.cost_per_document))
    cost.add_row("model time", f"{a.latency_per_document_s:.2f} s", f"{b.latency_per_document_s:.2f} s")
    cost.add_row("failed documents", str(a.errors), str(b.errors))
    return Group(*(_compare_scores(p) for p in comparison.parts), _compare_scores(comparison), cost)


def _compare_scores(comparison: Comparison) -> Any:
    from rich.table import Table

    a, b = comparison.a, comparison.b
    split = _split_label(comparison.split, comparison.parts)
    title = f"llm-extract compare{split} · A {a.prompt} ({a.model}) → B {b.prompt} ({b.model})"
    scores = Table(title=f"{title} · {len(comparison.documents)} documents")
    for column in ("score", "A", "B", "Δ (B − A)", "95% CI of Δ", "p"):
        scores.add_column(column, justify="left" if column == "score" else "right")
    rows = [(f"{t} {s} F1", d) for t, schemes in comparison.f1.items() for s, d in schemes.items()]
    rows += [(f"{t}.{n}", d) for t, fields in comparison.fields.items() for n, d in fields.items()]
    for name, d in rows:
        style = {"up": "green", "down": "red"}.get(_trend(d, comparison.alpha))
        cells = (
            _pct(d.a),
            _pct(d.b),
            _delta(d, comparison.alpha, markdown=False),
            _delta_ci(d),
            _p(d.p_value),
        )
        scores.add_row(name, *cells, style=style)
    return scores


def _where(evidence: Evidence) -> str:
    if not evidence.grounded:
        return "not found in the text"
    return f"{evidence.alignment} match at characters {evidence.start}–{evidence.end}"


def _records(extraction: Extraction) -> dict[str, list[tuple[str, str]]]:
    """What the view shows on click, per item key: ordered (field, text) pairs, shown as text."""
    names = {a.id: a.name for a in extraction.actors}
    out: dict[str, dict[str, str]] = {}  # dicts keep order here; pairs keep it through tojson
    for a in extraction.actors:
        out[f"actors-{a.id}"] = {
            "actor": f"{a.id} {a.name}",
            "kind": a.kind,
            "title": a.title or "",
            "aliases": ", ".join(a.aliases),
            "mentions": str(len(a.mentions)),
            "grounded": "yes" if a.grounded else "no",
        }
    for e in extraction.events:
        out[f"events-{e.id}"] = {
            "event": f"{e.id} “{e.trigger.quote}”",
            "type": e.type,
            "status": e.status,
            "participants": ", ".join(
                f"{names.get(p.actor_id, p.actor_id)} ({p.role})" for p in e.participants
            ),
            "date": (e.date.value or e.date.expression) if e.date else "",
            "location": e.location or "",
            "evidence": _where(e.trigger),
        }
    for c in extraction.claims:
        out[f"claims-{c.id}"] = {
            "claim": f"{c.id} {c.statement}",
            "claimant": names.get(c.claimant, c.claimant) if c.claimant else "the author",
            "polarity": c.polarity,
            "hedged": "yes" if c.hedged else "no",
            "evidence": _where(c.evidence),
        }
    # tojson sorts object keys; a list of pairs keeps the reading order.
    return {key: list(fields.items()) for key, fields in out.items()}


def _view_document(
    doc: Document | None, extraction: Extraction | None, error: Any, doc_id: str
) -> dict[str, Any]:
    spans: list[tuple[int, int, str, str]] = []
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in ITEM_TYPES}
    ungrounded: list[dict[str, str]] = []
    grounded_keys: list[str] = []
    names = {a.id: a.name for a in extraction.actors} if extraction else {}
    for item_type in ITEM_TYPES:
        for item in getattr(extraction, item_type) if extraction else []:
            key = f"{item_type}-{item.id}"
            evidence = _evidence(item_type, item)
            found = [
                (e.start, e.end)
                for e in evidence
                if e.grounded and e.start is not None and e.end is not None and doc and e.end <= len(doc.text)
            ]
            spans += [(start, end, f"p-{item_type[:-1]}", key) for start, end in found]
            if found:
                grounded_keys.append(key)
            for e in evidence:
                if not e.grounded:
                    ungrounded.append({"key": key, "id": item.id, "kind": item_type[:-1], "quote": e.quote})
            rows[item_type].append({"key": key, **_item_view(item_type, item, names)})
    counts = (
        f"{len(extraction.actors)} actors · {len(extraction.events)} events · {len(extraction.claims)} claims"
        if extraction
        else "no extraction"
    )
    meta = ""
    if extraction:
        m = extraction.metadata
        meta = f"{m.prompt_name}@{m.prompt_version} · {m.model} · {m.strategy}"
    return {
        "id": doc_id,
        "anchor": re.sub(r"[^A-Za-z0-9_-]", "_", doc_id),
        "title": doc.title if doc else None,
        "published": doc.published if doc else None,
        "meta": meta,
        "segments": highlight(doc.text, spans) if doc else [],
        "rows": rows,
        "ungrounded": ungrounded,
        "grounded_keys": grounded_keys,
        "records": _records(extraction) if extraction else {},
        "error": error,
        "counts": counts,
    }


def render_html(
    results: Extraction | BatchResult | Sequence[Extraction | BatchResult],
    documents: Document | Sequence[Document] | Mapping[str, Document] | None = None,
    *,
    title: str = "llm-extract results",
) -> str:
    """One standalone HTML page showing extractions over their articles (text is always escaped).

    ``results`` are extractions or batch results (which carry their document); ``documents`` supply
    the text for bare extractions, matched by id.
    """
    items = [results] if isinstance(results, Extraction | BatchResult) else list(results)
    if isinstance(documents, Document):
        by_id: dict[str, Document] = {documents.id: documents}
    elif isinstance(documents, Mapping):
        by_id = dict(documents)
    else:
        by_id = {d.id: d for d in documents or []}
    docs = []
    for item in items:
        if isinstance(item, BatchResult):
            doc = item.document or by_id.get(item.document_id)
            docs.append(_view_document(doc, item.extraction, item.error, item.document_id))
        else:
            doc = by_id.get(item.document_id)
            if doc is None and len(items) == 1 and len(by_id) == 1:
                doc = next(iter(by_id.values()))  # one extraction, one document: they belong together
            docs.append(_view_document(doc, item, None, item.document_id))
    totals = {
        "actors": sum(len(d["rows"]["actors"]) for d in docs),
        "events": sum(len(d["rows"]["events"]) for d in docs),
        "claims": sum(len(d["rows"]["claims"]) for d in docs),
        "ungrounded": sum(len(d["ungrounded"]) for d in docs),
        "failed": sum(1 for d in docs if d["error"]),
    }
    return _html("view.html.j2", title=title, docs=docs, totals=totals)
