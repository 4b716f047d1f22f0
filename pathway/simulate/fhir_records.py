"""A simulated course as a FHIR patient Bundle (one NDJSON line), for `simulate --format fhir`.

The events the simulated clinician sent become the patient's records (pathway.export.fhir_patient);
the imaging studies the clinician ordered become ServiceRequests at the time they were ordered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pathway.events import Event
from pathway.export.fhir_mapping import FhirMapping, load_mapping
from pathway.export.fhir_patient import Order, patient_bundle
from pathway.export.output import ndjson_line
from pathway.model import Pathway
from pathway.simulate.clinician import Course

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAPPINGS: dict[int, tuple[Pathway, FhirMapping]] = {}


def mapping_for(pathway: Pathway) -> FhirMapping:
    """The shipped FHIR mapping checked against this pathway, once per Pathway object."""
    cached = _MAPPINGS.get(id(pathway))
    if cached is None or cached[0] is not pathway:
        cached = _MAPPINGS[id(pathway)] = (pathway, load_mapping(pathway))
    return cached[1]


def course_orders(course: Course, pathway: Pathway) -> list[Order]:
    states = pathway.state_ids
    return [
        Order(EPOCH + timedelta(minutes=minute), states[state], code)
        for (state, code, _rating, _rrl), minute in zip(course.imaging, course.imaging_at, strict=True)
    ]


def fhir_line(course: Course, events: Sequence[Event], pathway: Pathway) -> str:
    patient = events[0].patient if events and events[0].patient else f"p{course.index:07d}"
    bundle = patient_bundle(pathway, mapping_for(pathway), patient, events, course_orders(course, pathway))
    return ndjson_line(bundle.bundle)
