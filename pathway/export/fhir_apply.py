"""Replays a patient's FHIR record through the exported PlanDefinition, with fhirpathpy.

This is a small CPG engine that knows nothing of the pathway definition: it reads the
exported Bundle (the pathway PlanDefinition, its strategies and the Library of named
FHIRPath expressions) and a patient's record, and at each event decides what the plan
decides: which action applies (its trigger matches the record, its applicability
condition holds), which state that leads to, which further actions apply on entering
it. ``fhir_roundtrip`` compares these decisions with the engine's.

Execution model (docs/fhir.md):
- The records of a patient are read in Bundle order; a record is an Encounter, Procedure,
  Observation or Condition that is not a finding of another record.
- ``%event`` is a Bundle of the record and its findings; ``%history`` is a Bundle of the
  records the plan accepted before, their findings, and one RequestGroup per strategy
  entered (``authoredOn`` the event's time). Named expressions of the Library are bound
  as ``%name`` when a condition uses them.
- In a state with child actions, the candidates for a record are the top-level actions
  whose trigger matches and the state's child actions whose trigger matches; at most one
  may apply (more is a defect of the export). Child actions without a trigger are taken
  on entering their state, also before the next record is considered (SCXML order, which
  the reference engine follows). A record for which nothing applies is refused, and is
  not added to the history. A record earlier than the last one considered is refused.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
from fhirpathpy import compile as compile_fhirpath
from fhirpathpy.models import models

from pathway.export.fhir_mapping import FINDING_LINK, RECORD_TYPES, fhir_time

MODEL = models["r4"]
"""The FHIR model fhirpathpy needs to resolve choice types such as Observation.value[x]."""
_OPTIONS = {"returnRawData": True}
_VARIABLE = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)")
_BUILT_IN = frozenset({"event", "history", "context", "resource", "ucum"})
MAX_CHAIN = 1000


class PlanError(ValueError):
    """The exported plan cannot be executed as it stands (a defect of the export)."""


@attrs.frozen
class Choice:
    id: str
    triggers: tuple[tuple[str, str, frozenset[tuple[str, str]]], ...]
    condition: str
    target: str


@attrs.frozen
class Decision:
    record: str
    outcome: str  # "accepted", "refused" or "time_order"
    taken: tuple[str, ...]
    state: str
    recommendations: tuple[str, ...] = ()


def _codings(value: Any) -> Iterator[tuple[str, str]]:
    for concept in value if isinstance(value, list) else [value]:
        if isinstance(concept, Mapping):
            for coding in concept.get("coding", []):
                yield coding.get("system", ""), coding.get("code", "")


class Plan:
    """The executable content of an exported definition Bundle."""

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        resources = [entry["resource"] for entry in bundle.get("entry", [])]
        by_url = {r.get("url"): r for r in resources if "url" in r}
        plans = [r for r in resources if r["resourceType"] == "PlanDefinition" and "library" in r]
        pathway = next(
            (p for p in plans if not any(e.get("url", "").endswith("cpg-partOf") for e in p.get("extension", []))), None
        )
        if pathway is None:
            raise PlanError("no pathway PlanDefinition in the bundle")
        library = by_url.get(pathway["library"][0])
        if library is None:
            raise PlanError(f"the pathway's Library {pathway['library'][0]} is not in the bundle")
        self._compiled: dict[str, Any] = {}
        self.library = {
            item["id"]: base64.b64decode(item["data"]).decode("utf-8")
            for item in library.get("content", [])
            if item.get("contentType") == "text/fhirpath"
        }
        self.rules: list[Choice] = []
        self.children: dict[str, list[Choice]] = {}
        self.strategies: dict[str, list[tuple[str, str]]] = {}
        self.strategy_urls: dict[str, str] = {}
        states: list[str] = []
        for action in pathway.get("action", []):
            if "trigger" in action:
                self.rules.append(self._choice(action))
                continue
            states.append(action["id"])
            self.children[action["id"]] = [self._choice(child) for child in action.get("action", [])]
            self.strategy_urls[action["id"]] = action.get("definitionCanonical", "")
            strategy = by_url.get(action.get("definitionCanonical"))
            self.strategies[action["id"]] = self._recommendations(strategy, by_url) if strategy else []
        if not states:
            raise PlanError("the pathway PlanDefinition has no state actions")
        self.initial = states[0]
        for choice in [*self.rules, *(c for cs in self.children.values() for c in cs)]:
            if choice.target not in self.children:
                raise PlanError(f"action {choice.id} leads to {choice.target!r}, which is not a state action")

    @staticmethod
    def _choice(action: Mapping[str, Any]) -> Choice:
        triggers = []
        for trigger in action.get("trigger", []):
            for data in trigger.get("data", []):
                for code_filter in data.get("codeFilter", []):
                    codes = frozenset((c["system"], c["code"]) for c in code_filter.get("code", []))
                    triggers.append((data["type"], code_filter["path"], codes))
        conditions = [
            c["expression"]["expression"] for c in action.get("condition", []) if c["kind"] == "applicability"
        ]
        related = [r["actionId"] for r in action.get("relatedAction", []) if r["relationship"] == "before-start"]
        if len(conditions) != 1 or len(related) != 1:
            raise PlanError(f"action {action.get('id')} needs one applicability condition and one target")
        return Choice(action["id"], tuple(triggers), conditions[0], related[0])

    @staticmethod
    def _recommendations(strategy: Mapping[str, Any], by_url: Mapping[str, Any]) -> list[tuple[str, str]]:
        items = []
        for action in strategy.get("action", []):
            definition = by_url.get(action.get("definitionCanonical"), {})
            code = definition.get("code", {}).get("text", action["id"])
            conditions = [c["expression"]["expression"] for c in action.get("condition", [])]
            items.append((code, conditions[0] if conditions else "true"))
        return items

    def compiled(self, expression: str) -> Any:
        found = self._compiled.get(expression)
        if found is None:
            found = self._compiled[expression] = compile_fhirpath(expression, MODEL, _OPTIONS)
        return found

    def final(self, state: str) -> bool:
        return not self.children[state]


class _Scope:
    """One decision point: the event, the history, and the Library's expressions computed on demand."""

    def __init__(self, plan: Plan, event: dict[str, Any], history: dict[str, Any]) -> None:
        self.plan = plan
        self.variables: dict[str, Any] = {"event": event, "history": history}
        self.resolving: set[str] = set()

    def evaluate(self, expression: str) -> list[Any]:
        for name in _VARIABLE.findall(expression):
            if name not in self.variables and name not in _BUILT_IN:
                self._define(name)
        return list(self.plan.compiled(expression)({}, self.variables))

    def _define(self, name: str) -> None:
        if name not in self.plan.library:
            raise PlanError(f"%{name} is neither a context variable nor a named expression of the Library")
        if name in self.resolving:
            raise PlanError(f"named expression {name} refers to itself")
        self.resolving.add(name)
        self.variables[name] = self.evaluate(self.plan.library[name])
        self.resolving.discard(name)

    def holds(self, expression: str) -> bool:
        result = self.evaluate(expression)
        if result not in ([True], [False]):
            raise PlanError(f"condition did not yield true or false but {result!r}: {expression[:120]}")
        return result == [True]


def _matches(choice: Choice, record: Mapping[str, Any]) -> bool:
    for resource_type, path, codes in choice.triggers:
        if record["resourceType"] == resource_type and any(c in codes for c in _codings(record.get(path))):
            return True
    return False


def records(bundle: Mapping[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(full URL, [record, findings...]) of every event record, in Bundle order.

    A finding is an Observation that refers to an earlier record through one of the
    elements that tie findings to records (encounter, partOf, focus).
    """
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if resource["resourceType"] not in RECORD_TYPES:
            continue
        owner = None
        if resource["resourceType"] == "Observation":
            for element in sorted(set(FINDING_LINK.values())):
                value = resource.get(element)
                refs = value if isinstance(value, list) else [value] if value else []
                owner = next((r.get("reference") for r in refs if r.get("reference") in found), None)
                if owner is not None:
                    break
        if owner is not None:
            found[owner].append(resource)
        else:
            found[entry["fullUrl"]] = [resource]
    return list(found.items())


def _collection(resources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


class Replay:
    """One patient's course through the plan, record by record."""

    def __init__(self, plan: Plan, patient: str = "") -> None:
        self.plan = plan
        self.patient = patient
        self.state = self.machine_state = plan.initial
        # before any event, the unconditional items of the first strategy apply
        self.recommendations = tuple(code for code, cond in plan.strategies[plan.initial] if cond == "true")
        self.history: list[dict[str, Any]] = []
        self.last_time: datetime | None = None
        self.entries = 0

    def _applicable(self, scope: _Scope, choices: Sequence[Choice]) -> Choice | None:
        applying = [c for c in choices if scope.holds(c.condition)]
        if len(applying) > 1:
            raise PlanError(f"actions {', '.join(c.id for c in applying)} apply at once: the conditions overlap")
        return applying[0] if applying else None

    def _eventless(self, scope: _Scope, state: str, taken: list[Choice]) -> str:
        for _ in range(MAX_CHAIN):
            if self.plan.final(state):
                return state
            choice = self._applicable(scope, [c for c in self.plan.children[state] if not c.triggers])
            if choice is None:
                return state
            taken.append(choice)
            state = choice.target
        raise PlanError(f"actions without a trigger loop for ever from {state}")

    def send(self, url: str, resources: list[dict[str, Any]]) -> Decision:
        event = _collection(resources)
        scope = _Scope(self.plan, event, _collection(self.history))
        (at,) = scope.evaluate("%eventTime")
        when = _datetime(at)
        if self.last_time is not None and when < self.last_time:
            return Decision(url, "time_order", (), self.state)
        self.last_time = when
        state = self.machine_state
        if self.plan.final(state):
            return Decision(url, "refused", (), self.state)
        taken: list[Choice] = []
        state = self._eventless(scope, state, taken)
        if not self.plan.final(state):
            record = resources[0]
            candidates = [c for c in self.plan.rules if _matches(c, record)]
            candidates += [c for c in self.plan.children[state] if c.triggers and _matches(c, record)]
            choice = self._applicable(scope, candidates)
            if choice is None:
                self.machine_state = state
                return Decision(url, "refused", (), self.state)
            taken.append(choice)
            state = self._eventless(scope, choice.target, taken)
        self.machine_state = self.state = state
        # the items of the strategy that apply, decided by the event that brought the patient here
        self.recommendations = tuple(code for code, cond in self.plan.strategies[state] if scope.holds(cond))
        self.history.extend(resources)
        for choice in taken:
            self.entries += 1
            self.history.append(
                {
                    "resourceType": "RequestGroup",
                    "id": f"entered-{self.entries}",
                    "instantiatesCanonical": [self._strategy_url(choice.target)],
                    "status": "active",
                    "intent": "plan",
                    "authoredOn": fhir_time(when),
                }
            )
        return Decision(url, "accepted", tuple(c.id for c in taken), state, self.recommendations)

    def _strategy_url(self, state: str) -> str:
        return self.plan.strategy_urls[state]


def _datetime(value: Any) -> datetime:
    text = str(value)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def replay(plan: Plan, bundle: Mapping[str, Any]) -> list[Decision]:
    run = Replay(plan)
    return [run.send(url, resources) for url, resources in records(bundle)]
