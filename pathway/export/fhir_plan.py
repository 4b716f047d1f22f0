"""The pathway as a CPG-style pathway PlanDefinition: one action per state, one child action per transition.

FHIR has no "first match": a PlanDefinition offers actions whose applicability
conditions are evaluated independently. The definition's transitions are tried in
order, so each child action's condition is its own guard AND the negation of every
guard tried before it for the same state and event; at most one action applies at
any decision point, and the state actions say so with ``selectionBehavior``
``at-most-one``. A rule the definition writes once for every active state (``from = "*"``),
and which no state-specific transition precedes, becomes one top-level action instead
of a copy under each state: the red-flag escalation, ``priority`` from the mapping.

Conventions the replay in ``fhir_apply`` relies on (and docs/fhir.md documents):
the top-level actions with a trigger apply in every state that has transitions; the
first state action is where a course starts; a state action without child actions is
final; a child action without a trigger is taken on entering its state, reading the
event that brought the patient there; ``relatedAction`` ``before-start`` names the
state a transition leads to.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

import attrs

from pathway.export.fhir_mapping import CODE_ELEMENT, FhirMapping
from pathway.export.fhirpath import ExportError, FhirPathWriter, conjunction, negation
from pathway.model import Cite, Pathway, Transition

PLAN_TYPE = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
CPG_PART_OF = "http://hl7.org/fhir/uv/cpg/StructureDefinition/cpg-partOf"
LEADS_TO = "before-start"
FOLLOWS = "after-start"
_ID_CHARS = re.compile(r"[^A-Za-z0-9\-.]")


def fhir_id(name: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) for a name of the definition; long names keep a hash suffix."""
    text = _ID_CHARS.sub("-", name.replace("_", "-")) or "x"
    if len(text) <= 64:
        return text
    return f"{text[:55]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def fhir_name(name: str) -> str:
    """A computable name (starts with a capital, letters and digits) for a definition's id."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part) or "Pathway"


def citation(pathway: Pathway, cite: Cite) -> dict[str, Any]:
    source = pathway.citation(cite.ref)
    return {"type": "citation", "label": cite.ref, "display": pathway.cite_text(cite), "citation": source.source}


@attrs.frozen
class Layout:
    """Where each transition of the definition went: a top-level rule or a child of its source state."""

    pathway_id: str
    rules: frozenset[str]

    def action_id(self, transition: Transition) -> str:
        if transition.id in self.rules:
            return fhir_id(transition.id)
        return fhir_id(f"{transition.source}.{transition.id}")

    def state_action_id(self, state_id: str) -> str:
        return fhir_id(state_id)


def strategy_id(pathway: Pathway, state_id: str) -> str:
    return fhir_id(f"{pathway.id}-{state_id}")


class PlanBuilder:
    def __init__(self, pathway: Pathway, mapping: FhirMapping) -> None:
        self.pathway = pathway
        self.mapping = mapping
        self.writer = FhirPathWriter(pathway, mapping, self.strategy_url)
        self.layout = Layout(pathway.id, frozenset(self._rules()))

    def strategy_url(self, state_id: str) -> str:
        return self.mapping.url("PlanDefinition", strategy_id(self.pathway, state_id))

    @property
    def url(self) -> str:
        return self.mapping.url("PlanDefinition", fhir_id(self.pathway.id))

    # ------------------------------------------------------------ which transitions are rules of every state

    def _cell(self, state: str, event: str | None) -> list[Transition]:
        if event is None:
            return [t for t in self.pathway.transitions if t.source == state and t.immediate]
        return [t for t in self.pathway.transitions if t.source == state and event in t.events]

    def _rules(self) -> list[str]:
        active = {s.id for s in self.pathway.states if not s.final}
        copies: dict[str, list[Transition]] = {}
        for t in self.pathway.transitions:
            copies.setdefault(t.id, []).append(t)
        rules: list[str] = []
        for tid, group in copies.items():
            first = group[0]
            same = all((t.events, t.guard, t.target) == (first.events, first.guard, first.target) for t in group)
            if not same or first.immediate or {t.source for t in group} != active:
                continue
            # a rule stays a rule only where nothing state-specific is tried before it
            if all(c.id in rules for t in group for e in t.events for c in self._before(t, e)):
                rules.append(tid)
        return rules

    def _before(self, transition: Transition, event: str | None) -> list[Transition]:
        cell = self._cell(transition.source, event)
        return cell[: cell.index(transition)]

    # ------------------------------------------------------------ conditions

    def condition(self, transition: Transition) -> tuple[str, str]:
        """(FHIRPath, words) of a transition's applicability: its guard, and no earlier one for the same event."""
        own = self.writer.boolean(transition.guard)
        events: Iterable[str | None] = transition.events or (None,)
        by_event: dict[str | None, tuple[str, list[Transition]]] = {}
        for event in events:
            earlier = self._before(transition, event)
            by_event[event] = (conjunction([own, *(negation(self.writer.boolean(e.guard)) for e in earlier)]), earlier)
        texts = {text for text, _ in by_event.values()}
        if len(texts) == 1:
            (text,) = texts
        else:
            text = " or ".join(f"({conjunction([self.writer.is_event(str(e)), t])})" for e, (t, _) in by_event.items())
        earlier_ids = sorted({e.id for _, earlier in by_event.values() for e in earlier})
        words = transition.guard_words
        if earlier_ids:
            words += f" (and none of the earlier: {', '.join(earlier_ids)})"
        return text, words

    # ------------------------------------------------------------ actions

    def trigger(self, event: str) -> dict[str, Any]:
        coding = self.mapping.events[event]
        return {
            "type": "data-added",
            "name": event,
            "data": [
                {
                    "type": coding.resource,
                    "codeFilter": [{"path": CODE_ELEMENT[coding.resource], "code": [c.json() for c in coding.codes]}],
                }
            ],
        }

    def transition_action(self, transition: Transition) -> dict[str, Any]:
        expression, words = self.condition(transition)
        action: dict[str, Any] = {
            "id": self.layout.action_id(transition),
            "title": transition.guard_words,
            "description": transition.reason,
        }
        priority = self.mapping.priorities.get(transition.target)
        if priority:
            action["priority"] = priority
        action["documentation"] = [citation(self.pathway, transition.cite)]
        if transition.events:
            action["trigger"] = [self.trigger(e) for e in transition.events]
        action["condition"] = [
            {
                "kind": "applicability",
                "expression": {"description": words, "language": "text/fhirpath", "expression": expression},
            }
        ]
        action["relatedAction"] = [
            {"actionId": self.layout.state_action_id(transition.target), "relationship": LEADS_TO}
        ]
        return action

    def state_action(self, state_id: str) -> dict[str, Any]:
        state = self.pathway.state(state_id)
        action: dict[str, Any] = {
            "id": self.layout.state_action_id(state_id),
            "title": state.title,
            "description": state.text,
            "documentation": [citation(self.pathway, state.cite)],
            "definitionCanonical": self.strategy_url(state_id),
        }
        if state_id in self.mapping.timing:
            other, low, high = self.mapping.timing[state_id]
            action["relatedAction"] = [
                {
                    "actionId": self.layout.state_action_id(other),
                    "relationship": FOLLOWS,
                    "offsetRange": {"low": self._hours(low), "high": self._hours(high)},
                }
            ]
        children = [
            self.transition_action(t)
            for t in self.pathway.transitions
            if t.source == state_id and t.id not in self.layout.rules
        ]
        if children:
            action["selectionBehavior"] = "at-most-one"
            action["action"] = children
        return action

    def _hours(self, parameter: str) -> dict[str, Any]:
        value = self.pathway.parameter(parameter).value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ExportError(f"parameter {parameter!r} bounds a time window but is not a number of hours")
        return {"value": value, "unit": "h", "system": "http://unitsofmeasure.org", "code": "h"}

    def plan_definition(self, library_url: str) -> dict[str, Any]:
        pathway = self.pathway
        rules: list[dict[str, Any]] = []
        seen: set[str] = set()
        for t in pathway.transitions:
            if t.id in self.layout.rules and t.id not in seen:
                seen.add(t.id)
                rules.append(self.transition_action(t))
        order = [pathway.initial] + [s.id for s in pathway.states if s.id != pathway.initial]
        ids = [a["id"] for a in rules] + [self.layout.state_action_id(s) for s in order]
        if len(set(ids)) != len(ids):
            raise ExportError(
                "two states or rules of the definition get the same FHIR id (names differ only in _ or -)"
            )
        return {
            "resourceType": "PlanDefinition",
            "id": fhir_id(pathway.id),
            "url": self.url,
            "version": pathway.version,
            "name": fhir_name(pathway.id),
            "title": pathway.title,
            "type": {"coding": [{"system": PLAN_TYPE, "code": "clinical-protocol", "display": "Clinical Protocol"}]},
            "status": self.mapping.status,
            "publisher": self.mapping.publisher,
            "description": pathway.description,
            "relatedArtifact": [
                {"type": "citation", "label": c.id, "display": c.title, "citation": c.source} for c in pathway.citations
            ],
            "library": [library_url],
            "action": rules + [self.state_action(s) for s in order],
        }
