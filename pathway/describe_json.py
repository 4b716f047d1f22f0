"""The loaded pathway as plain JSON, for tools and reviews that want data not tables."""

from __future__ import annotations

from typing import Any

from pathway.model import Pathway
from pathway.trace import recommendation_json


def pathway_json(pathway: Pathway) -> dict[str, Any]:
    return {
        "id": pathway.id,
        "title": pathway.title,
        "version": pathway.version,
        "initial": pathway.initial,
        "sources": [pathway.cite_text(c) for c in (pathway.cite, *pathway.also_cite)],
        "parameters": {p.name: {"value": p.value, "unit": p.unit, "text": p.text} for p in pathway.parameters},
        "states": [
            {
                "id": s.id,
                "kind": s.kind,
                "title": s.title,
                "final": s.final,
                "recommendations": [recommendation_json(r, pathway) for r in s.recommendations],
                "citation": pathway.cite_text(s.cite),
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
            }
            for t in pathway.transitions
        ],
        "rejections": [
            {"id": r.id, "source": r.source, "events": list(r.events), "guard": r.guard_source, "reason": r.reason}
            for r in pathway.rejections
        ],
    }
