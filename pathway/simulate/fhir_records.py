"""A simulated course as FHIR patient Bundles (NDJSON lines), for `simulate --format fhir`.

The events the simulated clinician sent become the patient's records (pathway.export.fhir_patient),
one Bundle per episode; the imaging studies the clinician ordered become ServiceRequests at the
time they were ordered, in the episode they were ordered in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pathway.events import Event
from pathway.export.fhir_files import BulkWriter, remove_bulk_dirs
from pathway.export.fhir_mapping import FhirMapping, load_mapping
from pathway.export.fhir_patient import Order, patient_bundle
from pathway.export.output import ndjson_line
from pathway.model import Pathway
from pathway.per_pathway import PerPathway
from pathway.simulate.clinician import Course

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
mapping_for: PerPathway[FhirMapping] = PerPathway(load_mapping)
"""The shipped FHIR mapping checked against this pathway, once per Pathway object."""


def episode_orders(course: Course, pathway: Pathway, episode: int) -> list[Order]:
    states = pathway.state_ids
    return [
        Order(EPOCH + timedelta(minutes=minute), states[state], code)
        for state, code, _rating, _rrl, minute, ordered_in in course.imaging
        if ordered_in == episode
    ]


def fhir_lines(course: Course, episodes: Mapping[int, Sequence[Event]], pathway: Pathway) -> list[str]:
    """One NDJSON line per episode of the course (``episodes``: its events by episode number)."""
    mapping = mapping_for(pathway)
    lines = []
    for number, events in episodes.items():
        first = events[0]
        patient = first.patient if first.patient is not None else f"p{course.index:07d}"
        orders = episode_orders(course, pathway, number)
        bundle = patient_bundle(pathway, mapping, patient, events, orders, episode=first.episode)
        lines.append(ndjson_line(bundle.bundle))
    return lines


def bulk_writers(out: Path, policies: Sequence[str], arguments: str, wanted: bool) -> dict[str, BulkWriter]:
    """A Bulk Data directory per policy (fhir/ for the first, fhir.<policy>/ for the others).

    An earlier run's FHIR directories are cleared first, also when this run writes none, so that
    the output directory never mixes two runs.
    """
    remove_bulk_dirs(out)
    if not wanted:
        return {}
    return {
        policy: BulkWriter(
            out / ("fhir" if policy == policies[0] else f"fhir.{policy}"),
            f"pathway simulate {arguments} --policy {policy} --format fhir",
        )
        for policy in policies
    }
