"""Render an ``EvalReport``: a rich table for the terminal, Markdown, and a standalone HTML page.

Templates are Jinja2 files in ``report/templates/`` (autoescaped HTML; the article text is always
escaped); the page carries its own CSS and script, so it opens from disk with no network.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import jinja2
from rich.console import Group
from rich.table import Table

from llm_extract.evaluate import FIELDS, ITEM_TYPES, DocumentEval, EvalReport, Metric
from llm_extract.schema import Actor, Claim, Event, Evidence

__all__ = ["Segment", "eval_html", "eval_markdown", "eval_table", "highlight"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("llm_extract.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_MD = jinja2.Environment(
    loader=jinja2.PackageLoader("llm_extract.report", "templates"),
    autoescape=False,  # Markdown: escaping is the table cell filter's job
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


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


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


for _env in (_ENV, _MD):
    _env.filters["pct"] = _pct
    _env.filters["ci"] = _ci
    _env.filters["md"] = _md_cell
    _env.globals["floor_f1"] = _floor_f1


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
        covering = [(c, k) for s, e, c, k in spans if s <= lo and hi <= e]
        segments.append(
            Segment(text[lo:hi], sorted({c for c, _ in covering}), sorted({k for _, k in covering}))
        )
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
    return {"r": report, "types": ITEM_TYPES, "fields": FIELDS}


def eval_html(report: EvalReport) -> str:
    """A standalone HTML page: per-type bars with intervals, per-field accuracy, per-document drill-down."""
    documents = [_document_view(d) for d in report.documents]
    return _ENV.get_template("eval.html.j2").render(**_context(report), documents=documents)


def eval_markdown(report: EvalReport) -> str:
    """The summary tables as GitHub-flavoured Markdown."""
    return _MD.get_template("eval.md.j2").render(**_context(report))


def eval_table(report: EvalReport) -> Group:
    """Rich tables for the terminal: per-type scores, per-field accuracy, and the run's cost."""
    title = f"llm-extract eval · {report.prompt} · {report.model} · {len(report.documents)} documents"
    scores = Table(title=title)
    for column in ("type", "gold", "pred", "strict", "exact", "partial", "missed", "spurious"):
        scores.add_column(column, justify="right" if column != "type" else "left")
    for column in ("strict P", "strict R", "strict F1 [95% CI]", "partial F1 [95% CI]", "macro F1"):
        scores.add_column(column, justify="right")
    scores.add_column("rules floor F1", justify="right")
    scores.add_column("grounded", justify="right")
    for t in ITEM_TYPES:
        s = report.types[t]
        c = s.counts
        scores.add_row(
            t,
            *(str(x) for x in (c.gold, c.predicted, c.strict, c.exact, c.partial, c.missed, c.spurious)),
            _pct(s.strict.precision.value),
            _pct(s.strict.recall.value),
            _ci(s.strict.f1),
            _ci(s.partial.f1),
            _pct(s.strict.macro_f1),
            _floor_f1(report, t),
            _pct(s.grounding_rate),
        )
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
    run = Table.grid(padding=(0, 2))
    run.add_row(
        f"tokens {report.usage.total_tokens:,} ({report.usage.prompt_tokens:,} in, "
        f"{report.usage.completion_tokens:,} out)",
        f"cost {cost}",
        f"model time {report.latency_s:.1f} s"
        + (f", wall {report.wall_time_s:.1f} s" if report.wall_time_s else ""),
        f"failed documents {report.errors}",
    )
    return Group(scores, fields, run)
