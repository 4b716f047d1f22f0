"""How the pathway's events, fields, values and recommendations are coded in FHIR.

Reads ``fhir_codes.toml`` (or another mapping file) and checks it against a loaded
Pathway: every name it mentions must exist in the definition, every standard code it
uses must be listed with its source, and the records of different events must be told
apart by their codes. Whatever the file does not name gets a code of the project's own
CodeSystem, so every event, field, value and recommendation of the definition has a
coding. Nothing clinical is decided here; the FHIR mechanics (which element of each
resource type holds its code, its time, its link to the record it belongs to) are.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import attrs

from pathway.model import FieldSpec, Pathway

DEFAULT_MAPPING = Path(__file__).parent / "fhir_codes.toml"

RECORD_TYPES = ("Encounter", "Procedure", "Observation", "Condition")
"""Resource types that can record an event."""
CODE_ELEMENT = {"Encounter": "type", "Procedure": "code", "Observation": "code", "Condition": "code"}
"""The element holding the code that says what a record is."""
TIME_PATH = {
    "Encounter": "period.start",
    "Procedure": "performed.ofType(dateTime)",
    "Observation": "effective.ofType(dateTime)",
    "Condition": "recordedDate",
}
"""FHIRPath from a record to the time it happened."""
FINDING_LINK = {"Encounter": "encounter", "Procedure": "partOf", "Observation": "focus", "Condition": "focus"}
"""The Observation element that ties a finding to the record of its event."""
ACTIVITY_KINDS = ("ServiceRequest", "CommunicationRequest", "Task", "MedicationRequest", "DeviceRequest")
PRIORITIES = ("routine", "urgent", "asap", "stat")


def fhir_time(at: datetime) -> str:
    """The instant in UTC ('Z'): the same time, in the one form fhirpathpy 2.2's date arithmetic handles."""
    utc = at.astimezone(UTC)
    if utc.microsecond:
        return utc.isoformat().replace("+00:00", "Z")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


class MappingError(ValueError):
    """A broken mapping file; str() is one line: file: entry: problem."""

    def __init__(self, file: str, entry: str, problem: str) -> None:
        super().__init__(f"{file}: {entry}: {problem}" if entry else f"{file}: {problem}")


@attrs.frozen
class Coding:
    system: str
    code: str
    display: str

    def json(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


@attrs.frozen
class StandardCode:
    coding: Coding
    source: str


@attrs.frozen
class EventCoding:
    """How one event is recorded: the record's type and the codes that identify it."""

    name: str
    resource: str
    codes: tuple[Coding, ...]
    code_from: str = ""
    value_from: str = ""

    def code_for(self, fields: Mapping[str, Any], mapping: FhirMapping) -> Coding:
        if self.code_from:
            return mapping.value_code(self.code_from, str(fields[self.code_from]))
        return self.codes[0]


@attrs.frozen
class FhirMapping:
    canonical: str
    publisher: str
    status: str
    local_system: str
    standard: Mapping[str, StandardCode]
    events: Mapping[str, EventCoding]
    field_codes: Mapping[str, Coding]
    field_units: Mapping[str, Coding]
    value_codes: Mapping[str, Coding]
    recommendation_codes: Mapping[str, tuple[Coding, ...]]
    activities: Mapping[str, str]
    priorities: Mapping[str, str]
    """FHIR request priority by state id (its rules and requests) and by 'state.code' (one request)."""
    timing: Mapping[str, tuple[str, str, str]]
    local_concepts: Mapping[str, str]
    """Every code of the project's CodeSystem, with its display."""

    def value_code(self, field: str, value: str) -> Coding:
        return self.value_codes[f"{field}.{value}"]

    def url(self, resource_type: str, resource_id: str) -> str:
        return f"{self.canonical}/{resource_type}/{resource_id}"

    def is_known(self, system: str, code: str) -> bool:
        """A coding the mapping vouches for: listed standard code or a concept of the project's CodeSystem."""
        if system == self.local_system:
            return code in self.local_concepts
        return any(s.coding.system == system and s.coding.code == code for s in self.standard.values())


def _words(name: str) -> str:
    return name.replace("_", " ")


class _Reader:
    def __init__(self, file: str, data: Mapping[str, Any], pathway: Pathway) -> None:
        self.file, self.data, self.pathway = file, data, pathway
        self.local: dict[str, str] = {}
        self.standard: dict[str, StandardCode] = {}
        self.systems: dict[str, str] = {}

    def fail(self, entry: str, problem: str) -> NoReturn:
        raise MappingError(self.file, entry, problem)

    def table(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            self.fail(key, "expected a table")
        return value

    def text(self, body: Mapping[str, Any], entry: str, key: str, default: str | None = None) -> str:
        value = body.get(key, default)
        if not isinstance(value, str) or not value:
            self.fail(f"{entry}.{key}", "expected a non-empty string")
        return value

    def only(self, body: Any, entry: str, *allowed: str) -> Mapping[str, Any]:
        if not isinstance(body, Mapping):
            self.fail(entry, "expected a table")
        unknown = sorted(set(body) - set(allowed))
        if unknown:
            self.fail(entry, f"unknown key {unknown[0]!r} (allowed: {', '.join(allowed)})")
        return body

    def local_code(self, code: str, display: str, local_system: str) -> Coding:
        seen = self.local.setdefault(code, display)
        if seen != display:
            self.fail("", f"the project's code {code!r} would mean both {seen!r} and {display!r}")
        return Coding(local_system, code, display)

    def reference(self, entry: str, ref: Any) -> Coding:
        """'system:code' of a listed standard code."""
        if not isinstance(ref, str) or ref not in self.standard:
            self.fail(entry, f"{ref!r} is not a code listed under [codes] (with its source)")
        return self.standard[ref].coding

    def standard_codes(self) -> None:
        for key, body in self.table("systems").items():
            body = self.only(body, f"systems.{key}", "url", "name")
            self.systems[key] = self.text(body, f"systems.{key}", "url")
        for ref, body in self.table("codes").items():
            entry = f"codes.{ref}"
            body = self.only(body, entry, "display", "source")
            system, _, code = ref.partition(":")
            if system not in self.systems or not code:
                self.fail(entry, f"expected 'system:code' with a system of [systems] ({', '.join(self.systems)})")
            coding = Coding(self.systems[system], code, self.text(body, entry, "display"))
            self.standard[ref] = StandardCode(coding, self.text(body, entry, "source"))


def _field(pathway: Pathway, name: str) -> FieldSpec | None:
    for spec in pathway.events:
        found = spec.field(name)
        if found is not None:
            return found
    return None


def load_mapping(pathway: Pathway, path: str | Path | None = None) -> FhirMapping:
    file = Path(path) if path is not None else DEFAULT_MAPPING
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise MappingError(file.name, "", f"cannot read: {err.strerror or err}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise MappingError(file.name, "", f"not a valid TOML file: {err}") from None
    return build_mapping(data, pathway, file.name)


def build_mapping(data: Mapping[str, Any], pathway: Pathway, file: str = "<mapping>") -> FhirMapping:
    reader = _Reader(file, data, pathway)
    reader.only(
        data, "", "fhir", "systems", "codes", "events", "fields", "values", "recommendations", "states", "timing"
    )
    head = reader.only(reader.table("fhir"), "fhir", "canonical", "publisher", "status")
    canonical = reader.text(head, "fhir", "canonical").rstrip("/")
    local_system = f"{canonical}/CodeSystem/{pathway.id}"
    reader.standard_codes()
    fields = _Fields(reader, local_system)
    events = _events(reader, fields, local_system)
    _check_distinct(reader, events, fields.codes)
    recommendation_codes, activities = _recommendations(reader, local_system)
    # the ACR ratings are coded too, for the rating extension of each ActivityDefinition
    for rating in sorted({r.rating for s in pathway.states for r in s.recommendations if r.rating}):
        reader.local_code(f"rating.{rating}", _words(rating), local_system)
    return FhirMapping(
        canonical=canonical,
        publisher=reader.text(head, "fhir", "publisher"),
        status=reader.text(head, "fhir", "status", "draft"),
        local_system=local_system,
        standard=dict(reader.standard),
        events=events,
        field_codes=fields.codes,
        field_units=fields.units,
        value_codes=fields.values,
        recommendation_codes=recommendation_codes,
        activities=activities,
        priorities=_priorities(reader),
        timing=_timing(reader),
        local_concepts=dict(reader.local),
    )


class _Fields:
    """The Observation code of every field, the unit of number fields, the code of every enum value."""

    def __init__(self, reader: _Reader, local_system: str) -> None:
        self.codes: dict[str, Coding] = {}
        self.units: dict[str, Coding] = {}
        self.values: dict[str, Coding] = {}
        pathway = reader.pathway
        fields_table, values_table = reader.table("fields"), reader.table("values")
        for name, body in fields_table.items():
            if _field(pathway, name) is None:
                reader.fail(f"fields.{name}", "no event of the definition has this field")
            reader.only(body, f"fields.{name}", "code", "unit")
        for key in values_table:
            field_name, _, value = key.partition(".")
            found = _field(pathway, field_name)
            if found is None or found.type != "enum" or value not in found.values:
                reader.fail(f"values.{key}", "not 'field.value' of an enum field of the definition")
        for event in pathway.events:
            for field in event.fields:
                self._field(reader, field, fields_table.get(field.name, {}), values_table, local_system)

    def _field(
        self, reader: _Reader, field: FieldSpec, body: Mapping[str, Any], values: Mapping[str, Any], local_system: str
    ) -> None:
        entry = f"fields.{field.name}"
        if "code" in body:
            self.codes[field.name] = reader.reference(f"{entry}.code", body["code"])
        else:
            self.codes[field.name] = reader.local_code(field.name, field.words(), local_system)
        if "unit" in body:
            if field.type != "number":
                reader.fail(f"{entry}.unit", "only number fields take a unit")
            self.units[field.name] = reader.reference(f"{entry}.unit", body["unit"])
        for value in field.values:
            key = f"{field.name}.{value}"
            if key in values:
                self.values[key] = reader.reference(f"values.{key}", values[key])
            else:
                self.values[key] = reader.local_code(key, f"{field.words()}: {_words(value)}", local_system)


def _events(reader: _Reader, fields: _Fields, local_system: str) -> dict[str, EventCoding]:
    pathway = reader.pathway
    table = reader.table("events")
    for name in table:
        if name not in pathway.event_names:
            reader.fail(f"events.{name}", "not an event of the definition")
    events: dict[str, EventCoding] = {}
    for event in pathway.events:
        entry = f"events.{event.name}"
        body = reader.only(table.get(event.name, {}), entry, "resource", "code", "code_from", "value_from")
        resource = body.get("resource", "Observation")
        if resource not in RECORD_TYPES:
            reader.fail(f"{entry}.resource", f"{resource!r} is not one of {', '.join(RECORD_TYPES)}")
        code_from, value_from = body.get("code_from", ""), body.get("value_from", "")
        if code_from and "code" in body:
            reader.fail(entry, "give either 'code' or 'code_from'")
        if code_from:
            field = event.field(code_from)
            if field is None or field.type != "enum" or not field.required:
                reader.fail(f"{entry}.code_from", f"{code_from!r} is not a required enum field of the event")
            codes = tuple(fields.values[f"{code_from}.{v}"] for v in field.values)
        elif "code" in body:
            codes = (reader.reference(f"{entry}.code", body["code"]),)
        else:
            codes = (reader.local_code(event.name, event.label, local_system),)
        if value_from and (resource != "Observation" or event.field(value_from) is None):
            reader.fail(f"{entry}.value_from", "only an Observation record takes one of its event's fields as value")
        events[event.name] = EventCoding(event.name, resource, codes, code_from, value_from)
    return events


def _recommendations(reader: _Reader, local_system: str) -> tuple[dict[str, tuple[Coding, ...]], dict[str, str]]:
    table = reader.table("recommendations")
    known = {r.code: r for s in reader.pathway.states for r in s.recommendations}
    for code in table:
        if code not in known:
            reader.fail(f"recommendations.{code}", "no state of the definition recommends this code")
    codes: dict[str, tuple[Coding, ...]] = {}
    activities: dict[str, str] = {}
    for code, rec in known.items():
        entry = f"recommendations.{code}"
        body = reader.only(table.get(code, {}), entry, "activity", "code")
        activity = body.get("activity", "ServiceRequest")
        if activity not in ACTIVITY_KINDS or (rec.kind == "imaging" and activity != "ServiceRequest"):
            reader.fail(
                f"{entry}.activity", f"{activity!r}: imaging is a ServiceRequest; others one of {ACTIVITY_KINDS}"
            )
        codings = [reader.local_code(code, _words(code), local_system)]
        if "code" in body:
            codings.insert(0, reader.reference(f"{entry}.code", body["code"]))
        codes[code] = tuple(codings)
        activities[code] = activity
    return codes, activities


def _priorities(reader: _Reader) -> dict[str, str]:
    """Priority by state id, and by 'state.code' for one recommendation of a state."""
    priorities: dict[str, str] = {}
    for state_id, body in reader.table("states").items():
        entry = f"states.{state_id}"
        body = reader.only(body, entry, "priority", "priority_of")
        if state_id not in reader.pathway.state_ids:
            reader.fail(entry, "not a state of the definition")
        wanted = {state_id: body["priority"]} if "priority" in body else {}
        items = body.get("priority_of", {})
        if not isinstance(items, Mapping):
            reader.fail(f"{entry}.priority_of", "expected a table of recommendation code = priority")
        codes = {r.code for r in reader.pathway.state(state_id).recommendations}
        for code, priority in items.items():
            if code not in codes:
                reader.fail(f"{entry}.priority_of.{code}", "the state does not recommend this code")
            wanted[f"{state_id}.{code}"] = priority
        for key, priority in wanted.items():
            if priority not in PRIORITIES:
                reader.fail(f"states.{key}", f"priority {priority!r}: expected one of {', '.join(PRIORITIES)}")
        priorities.update(wanted)
    return priorities


def _timing(reader: _Reader) -> dict[str, tuple[str, str, str]]:
    pathway = reader.pathway
    timing: dict[str, tuple[str, str, str]] = {}
    for state_id, body in reader.table("timing").items():
        entry = f"timing.{state_id}"
        body = reader.only(body, entry, "after_start_of", "low", "high")
        other = reader.text(body, entry, "after_start_of")
        if state_id not in pathway.state_ids or other not in pathway.state_ids:
            reader.fail(entry, "names a state the definition does not have")
        low, high = reader.text(body, entry, "low"), reader.text(body, entry, "high")
        for bound in (low, high):
            if bound not in {p.name for p in pathway.parameters}:
                reader.fail(entry, f"{bound!r} is not a parameter of the definition")
        timing[state_id] = (other, low, high)
    return timing


def _check_distinct(reader: _Reader, events: Mapping[str, EventCoding], field_codes: Mapping[str, Coding]) -> None:
    """A record must be recognisable from its type and code alone: no two events, nor a finding, share one."""
    owners: dict[tuple[str, str, str], str] = {}
    for event in events.values():
        for coding in event.codes:
            key = (event.resource, coding.system, coding.code)
            if key in owners and owners[key] != event.name:
                reader.fail(f"events.{event.name}", f"records of {owners[key]!r} carry the same code {coding.code!r}")
            owners[key] = event.name
    for name, coding in field_codes.items():
        key = ("Observation", coding.system, coding.code)
        if key in owners:
            reader.fail(f"fields.{name}", f"its Observations would look like records of {owners[key]!r}")
