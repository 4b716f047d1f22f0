"""The one schema of the simulator's tables: names, types, units and meanings of every column.

The Parquet and CSV writers build their columns from these specs, the Parquet files
carry them as metadata, and docs/data-dictionary.md is generated from them
(`pathway data-dictionary`), so the three cannot disagree. The events table has one
typed column per field of the definition's events, derived from the loaded pathway.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pyarrow as pa

from pathway.model import FieldType, Pathway

TIMESTAMP = pa.timestamp("ms", tz="UTC")
"""Parquet stores milliseconds at the coarsest; the simulated times are whole minutes."""
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": TIMESTAMP,
}
FIELD_TYPES: dict[FieldType, str] = {
    "enum": "string",
    "string": "string",
    "int": "int32",
    "number": "float64",
    "bool": "bool",
}


@attrs.frozen
class Column:
    name: str
    type: str
    unit: str
    meaning: str

    @property
    def arrow(self) -> pa.DataType:
        return ARROW_TYPES[self.type]


@attrs.frozen
class TableSpec:
    name: str
    text: str
    columns: tuple[Column, ...]

    def schema(self) -> pa.Schema:
        fields = [pa.field(c.name, c.arrow, metadata={"unit": c.unit, "meaning": c.meaning}) for c in self.columns]
        dictionary = [{"name": c.name, "type": c.type, "unit": c.unit, "meaning": c.meaning} for c in self.columns]
        metadata = {
            "pathway.table": self.name,
            "pathway.table_meaning": self.text,
            "pathway.data_dictionary": json.dumps(dictionary, ensure_ascii=False),
        }
        return pa.schema(fields, metadata=metadata)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


C = Column

PATIENTS = TableSpec(
    "patients",
    "one row per simulated patient and policy (rows ordered by patient, then by the policy order of --compare)",
    (
        C("patient", "string", "", "patient id, the same under every policy (the same simulated person)"),
        C("policy", "string", "", "policy of the simulated clinicians (parameter file, [policies])"),
        C("case", "string", "", "why the patient presents: in_scope, no_puncture, late or atypical"),
        C("puncture", "string", "", "puncture kind id from the parameter file; empty without a puncture"),
        C("procedure", "string", "", "procedure of the dural puncture event"),
        C("needle_gauge", "int16", "gauge", "needle gauge of the puncture"),
        C("needle_tip", "string", "", "needle tip of the puncture: cutting or atraumatic"),
        C("accidental", "bool", "", "the puncture was accidental (an epidural needle); empty when not stated"),
        C("puncture_group", "string", "", "natural-history group of the puncture (resolution, patch response)"),
        C("complication", "string", "", "complication id (subdural haematoma, ...); empty for none"),
        C("final_state", "string", "", "state the first episode ended in (or is still in)"),
        C("final", "bool", "", "the first episode reached a final state"),
        C("path", "string", "", "states of the first episode in order, joined by '>'"),
        C("punctured_at", "timestamp", "UTC", "time of the dural puncture"),
        C("headache_onset_at", "timestamp", "UTC", "time the headache began (natural history)"),
        C("presented_at", "timestamp", "UTC", "time of the (first) presentation"),
        C("ended_at", "timestamp", "UTC", "time the first episode reached its final state"),
        C("hours_to_end", "float64", "h", "hours from presentation to the end of the first episode"),
        C("events_accepted", "int32", "events", "events the pathway accepted, all episodes"),
        C(
            "events_rejected",
            "int32",
            "events",
            "events the pathway refused, all episodes (0 for a correct simulation)",
        ),
        C("reviews", "int16", "reviews", "reassessments done"),
        C("blood_patches", "int16", "patches", "epidural blood patches done"),
        C("first_patch_at", "timestamp", "UTC", "time of the first blood patch"),
        C("imaging_studies", "int16", "studies", "imaging studies ordered, all episodes"),
        C("radiation_msv", "float64", "mSv", "effective dose of those studies (representative dose per ACR RRL)"),
        C("contrast_exposures", "int16", "studies", "studies with IV or intrathecal contrast"),
        C("complication_signs_at", "timestamp", "UTC", "time the complication's first signs appeared"),
        C("escalated_at", "timestamp", "UTC", "time of the red-flag escalation, in whichever episode"),
        C("hours_to_escalation", "float64", "h", "hours from the complication's first signs to escalation"),
        C("episodes", "int16", "episodes", "courses of this patient: 1, or more when the patient came back"),
        C("escalated_episode", "int16", "", "episode in which the escalation happened (1 = first course)"),
    ),
)

IMAGING_ORDERS = TableSpec(
    "imaging_orders",
    "one row per imaging study ordered (rows ordered by patient, policy, then order time)",
    (
        C("patient", "string", "", "patient id"),
        C("policy", "string", "", "policy of the simulated clinicians"),
        C("episode", "int16", "", "episode of the patient in which the study was ordered (1 = first course)"),
        C("ordered_at", "timestamp", "UTC", "time the study was ordered (entry into the state)"),
        C("state", "string", "", "pathway state the patient was in when the study was ordered"),
        C("code", "string", "", "imaging recommendation code (contract section 5)"),
        C("rating", "string", "", "ACR rating the state gives the study"),
        C("rrl", "string", "", "ACR relative radiation level of the study"),
        C("msv", "float64", "mSv", "representative effective dose of the study"),
        C("contrast", "bool", "", "the study uses IV or intrathecal contrast"),
    ),
)

EVENT_ENVELOPE = (
    C("patient", "string", "", "patient id"),
    C("policy", "string", "", "policy of the simulated clinicians"),
    C("episode", "int16", "", "episode of the patient (1 = first course; the JSONL names later ones)"),
    C("seq", "int32", "", "order of the event within the patient's episode under this policy (from 1)"),
    C("event", "string", "", "event name (contract section 3)"),
    C("at", "timestamp", "UTC", "time of the event"),
    C("accepted", "bool", "", "the pathway accepted the event"),
    C("state", "string", "", "pathway state after the event"),
)


def event_columns(pathway: Pathway) -> tuple[Column, ...]:
    """One typed column per field name of the definition's events (a name keeps one type)."""
    taken = {c.name for c in EVENT_ENVELOPE}
    columns: dict[str, tuple[str, list[str], str]] = {}
    for event in pathway.events:
        for spec in event.fields:
            name = spec.name if spec.name not in taken else f"field_{spec.name}"
            kind, events, label = columns.get(name, (FIELD_TYPES[spec.type], [], spec.words()))
            columns[name] = (kind, [*events, event.name], label)
    return tuple(
        C(name, kind, "", f"field {label!r} of event {', '.join(events)}")
        for name, (kind, events, label) in columns.items()
    )


def events_table(pathway: Pathway) -> TableSpec:
    return TableSpec(
        "events",
        "one row per simulated event (rows ordered by patient, policy, episode, then time)",
        (*EVENT_ENVELOPE, *event_columns(pathway)),
    )


def tables(pathway: Pathway) -> tuple[TableSpec, ...]:
    return (PATIENTS, events_table(pathway), IMAGING_ORDERS)


def field_column_name(name: str) -> str:
    return name if name not in {c.name for c in EVENT_ENVELOPE} else f"field_{name}"


def describe(table: TableSpec) -> list[dict[str, Any]]:
    return [attrs.asdict(c) for c in table.columns]
