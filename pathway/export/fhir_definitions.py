"""The whole FHIR export of a pathway as one Bundle: the pathway PlanDefinition, one strategy
PlanDefinition per state, one ActivityDefinition per recommendation of a state, the Library of
parameters and named FHIRPath expressions, and the project's CodeSystem.

FHIR R4 shapes (as CPG-on-FHIR, which is R4 based); they parse as R4B with fhir.resources.
"""

from __future__ import annotations

import base64
from typing import Any

import attrs

from pathway.export.fhir_mapping import FhirMapping
from pathway.export.fhir_plan import CPG_PART_OF, PLAN_TYPE, Layout, PlanBuilder, citation, fhir_id, fhir_name
from pathway.export.fhirpath import ExportError
from pathway.model import Parameter, Pathway, Recommendation, State

LIBRARY_TYPE = "http://terminology.hl7.org/CodeSystem/library-type"
PARAMETER_TYPES = {
    bool: ("boolean", "valueBoolean"),
    int: ("integer", "valueInteger"),
    float: ("decimal", "valueDecimal"),
}
CONTEXT_PARAMETERS = (
    ("event", "The triggering event: entry 1 is its record, the other entries are its findings."),
    (
        "history",
        "What the pathway acted on before this event: the records of earlier accepted events with their "
        "findings, and a RequestGroup for each time a strategy was entered (instantiatesCanonical, authoredOn).",
    ),
)


@attrs.frozen
class Export:
    bundle: dict[str, Any]
    layout: Layout


def extension_url(mapping: FhirMapping, name: str) -> str:
    return mapping.url("StructureDefinition", name)


def rating_extension(mapping: FhirMapping) -> str:
    return extension_url(mapping, "acr-appropriateness-rating")


def rrl_extension(mapping: FhirMapping) -> str:
    return extension_url(mapping, "acr-relative-radiation-level")


def derived_extension(mapping: FhirMapping) -> str:
    """True when the rating is read from prose rather than an ACR table."""
    return extension_url(mapping, "acr-rating-derived")


def parameter_extension(mapping: FhirMapping) -> str:
    return extension_url(mapping, "parameter-value")


def activity_id(pathway: Pathway, state: State, rec: Recommendation) -> str:
    return fhir_id(f"{state.id}-{rec.code}")


def activity_definition(pathway: Pathway, mapping: FhirMapping, state: State, rec: Recommendation) -> dict[str, Any]:
    resource_id = activity_id(pathway, state, rec)
    resource: dict[str, Any] = {
        "resourceType": "ActivityDefinition",
        "id": resource_id,
        "url": mapping.url("ActivityDefinition", resource_id),
        "version": pathway.version,
        "name": fhir_name(f"{state.id} {rec.code}"),
        "title": f"{rec.code.replace('_', ' ')} ({state.title})",
        "status": mapping.status,
        "description": rec.text,
    }
    extensions: list[dict[str, Any]] = []
    if rec.rating:
        coding = {
            "system": mapping.local_system,
            "code": f"rating.{rec.rating}",
            "display": rec.rating.replace("_", " "),
        }
        extensions.append({"url": rating_extension(mapping), "valueCoding": coding})
    if rec.derived:
        extensions.append({"url": derived_extension(mapping), "valueBoolean": True})
    if rec.rrl:
        extensions.append({"url": rrl_extension(mapping), "valueString": rec.rrl})
    if extensions:
        resource["extension"] = extensions
    if rec.note:
        resource["usage"] = rec.note
    resource["relatedArtifact"] = [citation(pathway, rec.cite)]
    if rec.rrl_cite is not None:
        rrl_source = citation(pathway, rec.rrl_cite)
        rrl_source["display"] = f"relative radiation level: {rrl_source['display']}"
        resource["relatedArtifact"].append(rrl_source)
    resource["kind"] = mapping.activities[rec.code]
    resource["code"] = {"coding": [c.json() for c in mapping.recommendation_codes[rec.code]], "text": rec.code}
    priority = mapping.priorities.get(f"{state.id}.{rec.code}", mapping.priorities.get(state.id))
    if priority is not None:
        resource["priority"] = priority
    if rec.rating == "usually_not_appropriate":
        resource["doNotPerform"] = True
    return resource


def strategy(builder: PlanBuilder, state: State, library_url: str) -> dict[str, Any]:
    pathway, mapping = builder.pathway, builder.mapping
    actions = []
    for rec in state.recommendations:
        action: dict[str, Any] = {
            "id": fhir_id(rec.code),
            "title": rec.code.replace("_", " "),
            "description": rec.text,
            "documentation": [citation(pathway, rec.cite)],
        }
        if rec.when is not None:  # evaluated at the decision point that entered the state
            expression = {
                "description": rec.condition_words,
                "language": "text/fhirpath",
                "expression": builder.writer.boolean(rec.when),
            }
            action["condition"] = [{"kind": "applicability", "expression": expression}]
        action["definitionCanonical"] = mapping.url("ActivityDefinition", activity_id(pathway, state, rec))
        actions.append(action)
    resource: dict[str, Any] = {
        "resourceType": "PlanDefinition",
        "id": fhir_id(f"{pathway.id}-{state.id}"),
        "extension": [{"url": CPG_PART_OF, "valueCanonical": builder.url}],
        "url": builder.strategy_url(state.id),
        "version": pathway.version,
        "name": fhir_name(f"{pathway.id} {state.id}"),
        "title": state.title,
        "type": {"coding": [{"system": PLAN_TYPE, "code": "clinical-protocol", "display": "Clinical Protocol"}]},
        "status": mapping.status,
        "description": state.text,
        "relatedArtifact": [citation(pathway, state.cite)],
        "library": [library_url],
    }
    if actions:
        resource["action"] = actions
    return resource


def _parameter(mapping: FhirMapping, pathway: Pathway, param: Parameter) -> dict[str, Any]:
    fhir_type, value_key = PARAMETER_TYPES.get(type(param.value), ("string", "valueString"))
    source = pathway.cite_text(param.cite)
    derived = " (derived)" if param.derived else ""
    return {
        "extension": [{"url": parameter_extension(mapping), value_key: param.value}],
        "name": param.name,
        "use": "in",
        "min": 1,
        "max": "1",
        "documentation": f"{param.text}: {param.display()}{derived}. Source: {source}",
        "type": fhir_type,
    }


def library(builder: PlanBuilder) -> dict[str, Any]:
    pathway, mapping = builder.pathway, builder.mapping
    resource_id = fhir_id(f"{pathway.id}-logic")
    parameters: list[dict[str, Any]] = [
        {"name": name, "use": "in", "min": 1, "max": "1", "documentation": text, "type": "Bundle"}
        for name, text in CONTEXT_PARAMETERS
    ]
    parameters += [_parameter(mapping, pathway, p) for p in pathway.parameters]
    content = [
        {
            "id": name,
            "contentType": "text/fhirpath",
            "data": base64.b64encode(expression.encode("utf-8")).decode("ascii"),
            "title": description,
        }
        for name, expression, description in builder.writer.library()
    ]
    cited = list(dict.fromkeys(p.cite.ref for p in pathway.predicates))
    return {
        "resourceType": "Library",
        "id": resource_id,
        "url": mapping.url("Library", resource_id),
        "version": pathway.version,
        "name": fhir_name(f"{pathway.id} logic"),
        "title": f"{pathway.title}: parameters and named expressions",
        "status": mapping.status,
        "type": {"coding": [{"system": LIBRARY_TYPE, "code": "logic-library", "display": "Logic Library"}]},
        "description": (
            "Thresholds of the pathway and its named predicates as FHIRPath. Conditions of the pathway's "
            "actions refer to a named expression as %name. The thresholds are written into the expressions "
            "(FHIRPath has no parameters); the parameters list where each comes from."
        ),
        "relatedArtifact": [
            {
                "type": "citation",
                "label": ref,
                "display": pathway.citation(ref).title,
                "citation": pathway.citation(ref).source,
            }
            for ref in cited
        ],
        "parameter": parameters,
        "content": content,
    }


def code_system(pathway: Pathway, mapping: FhirMapping) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "id": fhir_id(pathway.id),
        "url": mapping.local_system,
        "version": pathway.version,
        "name": fhir_name(f"{pathway.id} codes"),
        "title": f"{pathway.title}: the project's codes",
        "status": mapping.status,
        "description": "Events, findings, values and recommendations of the pathway that have no standard code here.",
        "caseSensitive": True,
        "content": "complete",
        "concept": [{"code": code, "display": display} for code, display in sorted(mapping.local_concepts.items())],
    }


def build_export(pathway: Pathway, mapping: FhirMapping) -> Export:
    """Every resource of the export, in one collection Bundle (deterministic: no dates, sorted concepts)."""
    builder = PlanBuilder(pathway, mapping)
    logic = library(builder)
    resources = [builder.plan_definition(logic["url"])]
    resources += [strategy(builder, s, logic["url"]) for s in pathway.states]
    resources += [activity_definition(pathway, mapping, s, r) for s in pathway.states for r in s.recommendations]
    resources += [logic, code_system(pathway, mapping)]
    seen: set[tuple[str, str]] = set()
    for resource in resources:
        key = (resource["resourceType"], resource["id"])
        if key in seen:
            raise ExportError(f"two resources would be {key[0]}/{key[1]}: rename a state or recommendation")
        seen.add(key)
    bundle = {
        "resourceType": "Bundle",
        "id": fhir_id(f"{pathway.id}-definition"),
        "type": "collection",
        "entry": [{"fullUrl": r["url"], "resource": r} for r in resources],
    }
    return Export(bundle, builder.layout)
