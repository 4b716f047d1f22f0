"""The round trip: the exported FHIR plan, run on a patient's FHIR record, decides as the engine does.

For every event of a course, the engine's decision (accepted with the transitions it
took, refused, or refused for going back in time) is compared with the decision of
``fhir_apply`` on the patient's Bundle: the same actions taken in the same order, the
same refusals, and (contract 1.1) the same recommendations on entering a state. Any
difference is a defect of the export.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from pathway import compiled
from pathway.events import Event
from pathway.export.fhir_apply import Decision, Plan, PlanError, Replay, records
from pathway.export.fhir_plan import Layout
from pathway.model import Pathway
from pathway.trace import Trace

MAX_EXAMPLES = 10


@attrs.frozen
class Expected:
    outcome: str
    taken: tuple[str, ...]


@attrs.define
class Agreement:
    """Counts of a round trip over many courses; ``mismatches`` keeps the first few."""

    courses: int = 0
    decisions: int = 0
    agreed: int = 0
    courses_compared: int = 0
    recommendations_agreed: int = 0
    outcomes: Counter[str] = attrs.field(factory=Counter)
    actions: Counter[str] = attrs.field(factory=Counter)
    mismatches: list[str] = attrs.field(factory=list)

    @property
    def disagreed(self) -> int:
        """Decisions, and courses' final recommendations, on which the two sides differ."""
        return self.decisions - self.agreed + self.courses_compared - self.recommendations_agreed

    def merge(self, other: Agreement) -> None:
        self.courses += other.courses
        self.decisions += other.decisions
        self.agreed += other.agreed
        self.courses_compared += other.courses_compared
        self.recommendations_agreed += other.recommendations_agreed
        self.outcomes.update(other.outcomes)
        self.actions.update(other.actions)
        self.mismatches.extend(other.mismatches[: MAX_EXAMPLES - len(self.mismatches)])

    def json(self) -> dict[str, Any]:
        return {
            "courses": self.courses,
            "decisions": self.decisions,
            "agreed": self.agreed,
            "recommendations_agreed": self.recommendations_agreed,
            "recommendations_compared": self.courses_compared,
            "disagreed": self.disagreed,
            "outcomes": dict(sorted(self.outcomes.items())),
            "actions": dict(sorted(self.actions.items())),
            "mismatches": self.mismatches,
        }


def expected_decisions(pathway: Pathway, layout: Layout, events: Sequence[Event], trace: Trace) -> list[Expected]:
    """What the engine decided at each event, named as the export names its actions."""
    by_key = {(t.source, t.id): t for t in pathway.transitions}
    taken: dict[int, list[str]] = {}
    for step in trace.steps:
        taken.setdefault(step.line, []).append(layout.action_id(by_key[(step.source, step.transition)]))
    refused = {r.line: r.kind for r in trace.rejected}
    result = []
    for event in events:
        if event.line in refused:
            result.append(Expected("time_order" if refused[event.line] == "time_order" else "refused", ()))
        else:
            result.append(Expected("accepted", tuple(taken.get(event.line, ()))))
    return result


def compare_course(
    pathway: Pathway,
    layout: Layout,
    plan: Plan,
    patient: str,
    events: Sequence[Event],
    bundle: Mapping[str, Any],
    episode: str | None = None,
) -> Agreement:
    """One course: the engine on the events, the exported plan on the patient's Bundle.

    Besides each decision, the recommendations that apply at the end of the course must be the
    same (contract 1.1: an item may depend on the event that entered its state).
    """
    trace = compiled.run_course(pathway, events, patient, episode)
    expected = expected_decisions(pathway, layout, events, trace)
    agreement = Agreement(courses=1)
    found_records = records(bundle)
    if len(found_records) != len(events):
        agreement.decisions = len(events)
        agreement.mismatches.append(f"{patient}: {len(events)} events but {len(found_records)} records in the bundle")
        return agreement
    run = Replay(plan, patient)
    decisions: list[Decision] = []
    for (url, resources), event, want in zip(found_records, events, expected, strict=True):
        try:
            decision = run.send(url, resources)
        except PlanError as err:
            decision = Decision(url, f"error: {err}", (), run.state)
        decisions.append(decision)
        agreement.decisions += 1
        agreement.outcomes[want.outcome] += 1
        if (decision.outcome, decision.taken) == (want.outcome, want.taken):
            agreement.agreed += 1
            agreement.actions.update(decision.taken)
        elif len(agreement.mismatches) < MAX_EXAMPLES:
            agreement.mismatches.append(
                f"{patient} line {event.line} ({event.name}): engine {want.outcome} {list(want.taken)}, "
                f"FHIR {decision.outcome} {list(decision.taken)}"
            )
    agreement.courses_compared += 1
    wanted = tuple(r.code for r in trace.recommendations)
    if run.recommendations == wanted:
        agreement.recommendations_agreed += 1
    elif len(agreement.mismatches) < MAX_EXAMPLES:
        agreement.mismatches.append(
            f"{patient}: in {trace.state} the engine recommends {list(wanted)}, FHIR {list(run.recommendations)}"
        )
    return agreement


def course_key(bundle: Mapping[str, Any]) -> tuple[str, str | None]:
    """(patient, episode) of a record Bundle, from its Patient's and EpisodeOfCare's identifiers."""
    patient, episode = "", None
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            patient = resource["identifier"][0]["value"]
        elif resource["resourceType"] == "EpisodeOfCare":
            episode = resource["identifier"][0]["value"]
    return patient, episode


def compare_many(
    pathway: Pathway, layout: Layout, plan: Plan, courses: Iterable[tuple[Sequence[Event], Mapping[str, Any]]]
) -> Agreement:
    """Many courses, each given as (its events, its record Bundle)."""
    total = Agreement()
    for events, bundle in courses:
        patient, episode = course_key(bundle)
        total.merge(compare_course(pathway, layout, plan, patient, events, bundle, episode))
    return total
