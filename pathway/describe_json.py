"""The loaded pathway as plain JSON, for tools and reviews that want data not tables.

`pathway describe --json` prints it and the committee report lays it out; each citation is
given both as text ("citation") and as its reference ("cite": id and where), so a reader can
follow it to the source entry.
"""

from __future__ import annotations

from typing import Any

from pathway import guards
from pathway.model import Cite, Pathway, Recommendation
from pathway.trace import recommendation_json


def cite_json(cite: Cite) -> dict[str, str]:
    return {"ref": cite.ref, "where": cite.where}


def recommendation_detail(rec: Recommendation, pathway: Pathway) -> dict[str, Any]:
    """What `run --json` reports of a recommendation, plus its citation reference and its condition in words."""
    item = {**recommendation_json(rec, pathway), "cite": cite_json(rec.cite)}
    when = getattr(rec, "when", None)  # a recommendation that applies only on some courses (contract 1.1)
    if when is not None:
        item["when_words"] = guards.words(when)
    return item


def pathway_json(pathway: Pathway) -> dict[str, Any]:
    return {
        "id": pathway.id,
        "title": pathway.title,
        "version": pathway.version,
        "description": pathway.description,
        "citation": pathway.cite_text(pathway.cite),
        "cite": cite_json(pathway.cite),
        "sources": [pathway.cite_text(c) for c in (pathway.cite, *pathway.also_cite)],
        "initial": pathway.initial,
        "parameters": {
            p.name: {
                "value": p.value,
                "unit": p.unit,
                "text": p.text,
                "display": p.display(),
                "derived": p.derived,
                "citation": pathway.cite_text(p.cite),
                "cite": cite_json(p.cite),
            }
            for p in pathway.parameters
        },
        "events": {e.name: {"label": e.label} for e in pathway.events},
        "states": [
            {
                "id": s.id,
                "kind": s.kind,
                "title": s.title,
                "final": s.final,
                "group": s.group,
                "text": s.text,
                "gist": s.gist,
                "recommendations": [recommendation_detail(r, pathway) for r in s.recommendations],
                "citation": pathway.cite_text(s.cite),
                "cite": cite_json(s.cite),
            }
            for s in pathway.states
        ],
        "transitions": [
            {
                "id": t.id,
                "source": t.source,
                "events": list(t.events),
                "immediate": t.immediate,
                "target": t.target,
                "guard": t.guard_source,
                "guard_words": t.guard_words,
                "reason": t.reason,
                "citation": pathway.cite_text(t.cite),
                "cite": cite_json(t.cite),
            }
            for t in pathway.transitions
        ],
        "rejections": [
            {
                "id": r.id,
                "source": r.source,
                "events": list(r.events),
                "guard": r.guard_source,
                "guard_words": guards.words(r.guard),
                "reason": r.reason,
                "citation": pathway.cite_text(r.cite),
                "cite": cite_json(r.cite),
            }
            for r in pathway.rejections
        ],
        "citations": [
            {"id": c.id, "title": c.title, "source": c.source, "quality": c.quality} for c in pathway.citations
        ],
    }
