"""One patient's events as a FHIR collection Bundle.

Each event becomes a record of the type the mapping names (a dural puncture a Procedure,
a presentation an Encounter, a red flag a Condition, ...), and each field of the event
that is not the record's own code or value becomes an Observation linked to the record
(``encounter``, ``partOf`` or ``focus``), entered right after it. Imaging a simulated
clinician ordered becomes a ServiceRequest that instantiates the pathway's
ActivityDefinition for that state and study. Identifiers and ``urn:uuid`` full URLs are
derived from the patient and the event's position, so the same events give the same bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from pathway.events import Event
from pathway.export.fhir_definitions import activity_id
from pathway.export.fhir_mapping import FINDING_LINK, FhirMapping, fhir_time
from pathway.export.fhir_plan import fhir_id
from pathway.model import FieldSpec, Pathway

ENCOUNTER_CLASS = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "code": "AMB",
    "display": "ambulatory",
}
CONDITION_ACTIVE = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
}
_NAMESPACE = uuid.UUID("0e3c3d5c-7b0a-4c1e-9a52-6a1f1e0f2d11")


@attrs.frozen
class Order:
    """An imaging study a clinician ordered: when, in which state of the pathway, which recommendation code."""

    at: datetime
    state: str
    code: str


@attrs.frozen
class PatientBundle:
    bundle: dict[str, Any]
    records: tuple[str, ...]
    """The full URL of each event's record, in the order of the events."""


class _Writer:
    def __init__(self, pathway: Pathway, mapping: FhirMapping, patient: str, episode: str | None) -> None:
        self.pathway, self.mapping = pathway, mapping
        self.patient_id = fhir_id(patient)
        # a course is one (patient, episode): its records carry the episode in their ids
        self.course_id = self.patient_id if episode is None else fhir_id(f"{patient}-{episode}")
        self.entries: list[dict[str, Any]] = []
        self.patient_url = self.add(
            {
                "resourceType": "Patient",
                "id": self.patient_id,
                "identifier": [{"system": mapping.url("NamingSystem", "patient"), "value": patient}],
            }
        )
        self.episode_url = None
        if episode is not None:
            self.episode_url = self.add(
                {
                    "resourceType": "EpisodeOfCare",
                    "id": self.course_id,
                    "identifier": [{"system": mapping.url("NamingSystem", "episode"), "value": episode}],
                    "status": "active",
                    "patient": self.subject(),
                }
            )

    def add(self, resource: dict[str, Any]) -> str:
        name = f"{self.mapping.canonical}/{resource['resourceType']}/{resource['id']}"
        url = f"urn:uuid:{uuid.uuid5(_NAMESPACE, name)}"
        self.entries.append({"fullUrl": url, "resource": resource})
        return url

    def subject(self) -> dict[str, str]:
        return {"reference": self.patient_url}

    def value(self, spec: FieldSpec, value: Any) -> dict[str, Any]:
        if spec.type == "enum":
            return {"valueCodeableConcept": {"coding": [self.mapping.value_code(spec.name, value).json()]}}
        if spec.type == "bool":
            return {"valueBoolean": value}
        if spec.type == "int":
            return {"valueInteger": value}
        if spec.type == "number":
            quantity: dict[str, Any] = {"value": value}
            unit = self.mapping.field_units.get(spec.name)
            if unit is not None:
                quantity.update(unit=unit.display, system=unit.system, code=unit.code)
            return {"valueQuantity": quantity}
        return {"valueString": str(value)}

    def record(self, index: int, event: Event) -> str:
        coding = self.mapping.events[event.name]
        spec = self.pathway.event(event.name)
        at = fhir_time(event.at)
        resource: dict[str, Any] = {"resourceType": coding.resource, "id": fhir_id(f"{self.course_id}-e{index}")}
        code = {"coding": [coding.code_for(event.fields, self.mapping).json()], "text": spec.label}
        if coding.resource == "Encounter":
            resource.update(status="finished", type=[code], subject=self.subject(), period={"start": at})
            resource["class"] = ENCOUNTER_CLASS
            if self.episode_url is not None:
                resource["episodeOfCare"] = [{"reference": self.episode_url}]
        elif coding.resource == "Procedure":
            resource.update(status="completed", code=code, subject=self.subject(), performedDateTime=at)
        elif coding.resource == "Condition":
            resource.update(clinicalStatus=CONDITION_ACTIVE, code=code, subject=self.subject(), recordedDate=at)
        else:
            resource.update(status="final", code=code, subject=self.subject(), effectiveDateTime=at)
            if coding.value_from and coding.value_from in event.fields:
                field = spec.field(coding.value_from)
                assert field is not None
                resource.update(self.value(field, event.fields[coding.value_from]))
        url = self.add(resource)
        link = FINDING_LINK[coding.resource]
        for name, value in event.fields.items():
            if name in (coding.code_from, coding.value_from):
                continue
            field = spec.field(name)
            assert field is not None
            finding: dict[str, Any] = {
                "resourceType": "Observation",
                "id": fhir_id(f"{self.course_id}-e{index}-{name}"),
                "status": "final",
                "code": {"coding": [self.mapping.field_codes[name].json()], "text": field.words()},
                "subject": self.subject(),
                "effectiveDateTime": at,
                link: {"reference": url} if link == "encounter" else [{"reference": url}],
            }
            finding.update(self.value(field, value))
            self.add(finding)
        return url

    def order(self, index: int, order: Order) -> None:
        state = self.pathway.state(order.state)
        rec = next(r for r in state.recommendations if r.code == order.code)
        self.add(
            {
                "resourceType": "ServiceRequest",
                "id": fhir_id(f"{self.course_id}-o{index}"),
                "instantiatesCanonical": [
                    self.mapping.url("ActivityDefinition", activity_id(self.pathway, state, rec))
                ],
                "status": "completed",
                "intent": "order",
                "code": {"coding": [c.json() for c in self.mapping.recommendation_codes[rec.code]], "text": rec.code},
                "subject": self.subject(),
                "authoredOn": fhir_time(order.at),
            }
        )


def patient_bundle(
    pathway: Pathway,
    mapping: FhirMapping,
    patient: str,
    events: Sequence[Event],
    orders: Sequence[Order] = (),
    episode: str | None = None,
) -> PatientBundle:
    """The record of one course (a patient, or one episode of a patient): events in their order,
    each order after the events up to its time."""
    writer = _Writer(pathway, mapping, patient, episode)
    records = []
    pending = sorted(enumerate(orders), key=lambda item: item[1].at)
    for index, event in enumerate(events, start=1):
        while pending and pending[0][1].at < event.at:
            writer.order(*pending.pop(0))
        records.append(writer.record(index, event))
    for item in pending:
        writer.order(*item)
    bundle = {
        "resourceType": "Bundle",
        "id": fhir_id(f"{writer.course_id}-record"),
        "type": "collection",
        "entry": writer.entries,
    }
    return PatientBundle(bundle, tuple(records))


def events_by_course(events: Sequence[Event], default: str) -> Mapping[tuple[str, str | None], list[Event]]:
    """A stream's events per (patient, episode), in stream order; a stream without patients is one patient."""
    grouped: dict[tuple[str, str | None], list[Event]] = {}
    for event in events:
        key = (event.patient if event.patient is not None else default, event.episode)
        grouped.setdefault(key, []).append(event)
    return grouped
