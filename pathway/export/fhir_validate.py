"""Validation of exported Bundles: FHIR R4B structure with fhir.resources, then what it does not check.

fhir.resources (pydantic models of the FHIR specification) refuses a missing required
element, a wrong type or a malformed id, but accepts any string where FHIR binds a code
to a required value set, and any code in any code system. So this module also checks:
- required bindings of the elements the export writes (action relationship, selection
  behaviour, condition kind, trigger type, priority, status, kinds, intents, ...);
- every Coding: its system is a standard system of the mapping, the project's
  CodeSystem or an HL7 terminology system used here, and its code is one the mapping
  vouches for (an invented SNOMED CT code is refused, however well formed);
- internal references: relatedAction targets, canonical links to strategies,
  ActivityDefinitions and the Library, and urn:uuid references inside a patient Bundle.

R4B rather than R5: CPG-on-FHIR is built on R4, and R4B keeps R4's PlanDefinition
(``relatedAction.actionId``, RequestGroup) where R5 renamed and restructured it; the
resources written here are the same JSON in R4 and R4B. fhir.resources has no plain R4.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from pathway.export.fhir_mapping import FhirMapping

REQUIRED: dict[str, frozenset[str]] = {
    "status": frozenset({"draft", "active", "retired", "unknown"}),
    "relationship": frozenset(
        {
            "before-start",
            "before",
            "before-end",
            "concurrent-with-start",
            "concurrent",
            "concurrent-with-end",
            "after-start",
            "after",
            "after-end",
        }
    ),
    "selectionBehavior": frozenset({"any", "all", "all-or-none", "exactly-one", "at-most-one", "one-or-more"}),
    "groupingBehavior": frozenset({"visual-group", "logical-group", "sentence-group"}),
    "requiredBehavior": frozenset({"must", "could", "must-unless-documented"}),
    "precheckBehavior": frozenset({"yes", "no"}),
    "cardinalityBehavior": frozenset({"single", "multiple"}),
    "kind.condition": frozenset({"applicability", "start", "stop"}),
    "type.trigger": frozenset(
        {
            "named-event",
            "periodic",
            "data-changed",
            "data-added",
            "data-modified",
            "data-removed",
            "data-accessed",
            "data-access-ended",
        }
    ),
    "type.relatedArtifact": frozenset(
        {
            "documentation",
            "justification",
            "citation",
            "predecessor",
            "successor",
            "derived-from",
            "depends-on",
            "composed-of",
        }
    ),
    "priority": frozenset({"routine", "urgent", "asap", "stat"}),
    "kind.ActivityDefinition": frozenset(
        {
            "ServiceRequest",
            "CommunicationRequest",
            "Task",
            "MedicationRequest",
            "DeviceRequest",
            "NutritionOrder",
            "SupplyRequest",
        }
    ),
    "language": frozenset({"text/fhirpath"}),
    "use": frozenset({"in", "out"}),
    "type.Bundle": frozenset({"collection", "transaction", "batch", "searchset", "history", "document", "message"}),
    "content": frozenset({"not-present", "example", "fragment", "complete", "supplement"}),
    "status.Observation": frozenset(
        {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
    ),
    "status.Procedure": frozenset(
        {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"}
    ),
    "status.Encounter": frozenset(
        {
            "planned",
            "arrived",
            "triaged",
            "in-progress",
            "onleave",
            "finished",
            "cancelled",
            "entered-in-error",
            "unknown",
        }
    ),
    "status.ServiceRequest": frozenset(
        {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
    ),
    "intent": frozenset(
        {
            "proposal",
            "plan",
            "directive",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        }
    ),
}
HL7_SYSTEMS: dict[str, frozenset[str]] = {
    "http://terminology.hl7.org/CodeSystem/plan-definition-type": frozenset(
        {"order-set", "clinical-protocol", "eca-rule", "workflow-definition"}
    ),
    "http://terminology.hl7.org/CodeSystem/library-type": frozenset(
        {"logic-library", "model-definition", "asset-collection", "module-definition"}
    ),
    "http://terminology.hl7.org/CodeSystem/v3-ActCode": frozenset({"AMB", "EMER", "IMP", "ACUTE", "HH", "OBSENC"}),
    "http://terminology.hl7.org/CodeSystem/condition-clinical": frozenset(
        {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}
    ),
}
PARAMETER_TYPES = frozenset({"boolean", "integer", "decimal", "string", "Bundle", "dateTime", "Quantity"})


def structural_problems(bundle: Mapping[str, Any]) -> list[str]:
    """What fhir.resources (FHIR R4B) refuses in the Bundle and in each of its resources."""
    problems = []
    for index, entry in enumerate(bundle.get("entry", [])):
        resource = entry.get("resource", {})
        name = f"entry[{index}] {resource.get('resourceType')}/{resource.get('id')}"
        try:
            get_fhir_model_class(resource.get("resourceType", "")).model_validate(resource)
        except (ValidationError, KeyError, ValueError) as err:
            problems.append(f"{name}: {_first_line(err)}")
    try:
        get_fhir_model_class("Bundle").model_validate(bundle)
    except (ValidationError, ValueError) as err:
        problems.append(f"Bundle: {_first_line(err)}")
    return problems


def _first_line(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg')}"
    return str(err).splitlines()[0]


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) of every key of every object, depth first."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield path, key, item
            yield from _walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _leaf(path: str) -> str:
    """The element name a path ends in: 'action[2].condition[0]' -> 'condition'."""
    return path.rsplit(".", 1)[-1].split("[")[0] if path else ""


def _binding(resource_type: str, path: str, key: str) -> str | None:
    """Which required value set (key of REQUIRED) governs ``key`` at ``path`` of a resource."""
    leaf = _leaf(path)
    if key == "status" and not path:
        return f"status.{resource_type}" if f"status.{resource_type}" in REQUIRED else "status"
    if key == "kind" and leaf == "condition":
        return "kind.condition"
    if key == "kind" and not path and resource_type == "ActivityDefinition":
        return "kind.ActivityDefinition"
    if key == "type" and leaf == "trigger":
        return "type.trigger"
    if key == "type" and leaf in ("relatedArtifact", "documentation"):
        return "type.relatedArtifact"
    if key == "type" and not path and resource_type == "Bundle":
        return "type.Bundle"
    if key == "language" and leaf == "expression":
        return "language"
    if key == "use" and leaf == "parameter":
        return "use"
    if key == "content" and resource_type == "CodeSystem" and not path:
        return "content"
    if key == "intent" and not path:
        return "intent"
    if key in REQUIRED and key in ("relationship", "selectionBehavior", "groupingBehavior", "priority"):
        return key
    if key in ("requiredBehavior", "precheckBehavior", "cardinalityBehavior"):
        return key
    return None


def binding_problems(
    bundle: Mapping[str, Any], mapping: FhirMapping, canonicals: frozenset[str] = frozenset()
) -> list[str]:
    """Required bindings, known codings and references of every resource in the Bundle.

    ``canonicals``: URLs defined elsewhere that resources may point to (a patient's
    ServiceRequest instantiates an ActivityDefinition of the definition Bundle).
    """
    problems: list[str] = []
    entries = [e for e in bundle.get("entry", []) if isinstance(e, Mapping)]
    urls = {e.get("fullUrl") for e in entries} | {e["resource"].get("url") for e in entries if "resource" in e}
    urls |= canonicals
    for entry in entries:
        resource = entry.get("resource", {})
        rtype = resource.get("resourceType", "")
        name = f"{rtype}/{resource.get('id')}"
        action_ids = {v for p, k, v in _walk(resource.get("action", [])) if k == "id"}
        for path, key, value in _walk(resource):
            where = f"{name}: {path + '.' if path else ''}{key}"
            binding = _binding(rtype, path, key)
            if binding is not None and isinstance(value, str) and value not in REQUIRED[binding]:
                problems.append(f"{where}: {value!r} is not a code of the required value set")
            if key == "actionId" and value not in action_ids:
                problems.append(f"{where}: no action {value!r} in this PlanDefinition")
            if key in ("definitionCanonical", "instantiatesCanonical", "library", "valueCanonical"):
                for target in value if isinstance(value, list) else [value]:
                    if target not in urls:
                        problems.append(f"{where}: {target!r} is not in the bundle")
            if key == "reference" and isinstance(value, str) and value.startswith("urn:uuid:") and value not in urls:
                problems.append(f"{where}: {value!r} is not an entry of the bundle")
            if key == "type" and _leaf(path) == "parameter" and value not in PARAMETER_TYPES:
                problems.append(f"{where}: {value!r} is not a FHIR type used here")
            if key == "url" and _leaf(path) == "extension" and not _known_extension(value, mapping):
                problems.append(f"{where}: unknown extension {value!r}")
            if key in ("coding", "code") and isinstance(value, list):
                for index, coding in enumerate(value):
                    if isinstance(coding, Mapping) and "system" in coding:
                        problems += _coding_problems(f"{where}[{index}]", coding, mapping)
            if key == "valueCoding" and isinstance(value, Mapping):
                problems += _coding_problems(where, value, mapping)
    return problems


def _known_extension(url: str, mapping: FhirMapping) -> bool:
    return url.startswith(f"{mapping.canonical}/StructureDefinition/") or url.startswith(
        "http://hl7.org/fhir/uv/cpg/StructureDefinition/"
    )


def _coding_problems(where: str, coding: Mapping[str, Any], mapping: FhirMapping) -> list[str]:
    system, code = coding.get("system", ""), coding.get("code", "")
    if system in HL7_SYSTEMS:
        return [] if code in HL7_SYSTEMS[system] else [f"{where}: {code!r} is not a code of {system}"]
    if not mapping.is_known(system, code):
        return [
            f"{where}: {system}|{code} is not a code the mapping vouches for (listed with a source, or the project's)"
        ]
    return []


def problems(bundle: Mapping[str, Any], mapping: FhirMapping, canonicals: frozenset[str] = frozenset()) -> list[str]:
    return structural_problems(bundle) + binding_problems(bundle, mapping, canonicals)


def canonical_urls(bundle: Mapping[str, Any]) -> frozenset[str]:
    """The canonical URLs a definition Bundle defines."""
    return frozenset(e["resource"]["url"] for e in bundle.get("entry", []) if "url" in e.get("resource", {}))
