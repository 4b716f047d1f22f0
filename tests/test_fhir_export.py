"""The FHIR export says what the definition says, in valid FHIR, with codes the mapping vouches for.

Expectations are read from the loaded definition and the mapping file, never from the output.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fhir.resources.R4B.bundle import Bundle

from pathway.cli import main
from pathway.cli_common import read_event_file
from pathway.export import fhir_files, fhir_validate
from pathway.export.fhir_definitions import activity_id, build_export, rating_extension, rrl_extension
from pathway.export.fhir_mapping import MappingError, build_mapping, load_mapping
from pathway.export.fhir_plan import fhir_id
from pathway.loader import DEFAULT_DEFINITION, load, loads
from pathway.model import Pathway

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "examples" / "fhir"
SAMPLE_COURSE = ROOT / "examples" / "classic_course_patch_gives_complete_relief.jsonl"


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def pathway_plan(pathway: Pathway, bundle: dict[str, Any]) -> dict[str, Any]:
    (plan,) = [p for p in resources(bundle, "PlanDefinition") if p["id"] == fhir_id(pathway.id)]
    return plan


@pytest.fixture(scope="module")
def shipped() -> tuple[Pathway, Any, dict[str, Any]]:
    pathway = load()
    mapping = load_mapping(pathway)
    return pathway, mapping, build_export(pathway, mapping).bundle


def test_every_resource_is_valid_fhir_and_passes_the_binding_checks(shipped: Any) -> None:
    _pathway, mapping, bundle = shipped
    Bundle.model_validate(bundle)
    assert fhir_validate.problems(bundle, mapping) == []


def test_one_state_action_per_state_and_one_child_per_state_specific_transition(shipped: Any) -> None:
    pathway, _mapping, bundle = shipped
    plan = pathway_plan(pathway, bundle)
    states = {a["id"]: a for a in plan["action"] if "trigger" not in a}
    assert set(states) == {fhir_id(s.id) for s in pathway.states}
    assert plan["action"][len(plan["action"]) - len(states)]["id"] == fhir_id(pathway.initial)
    rules = {a["id"]: a for a in plan["action"] if "trigger" in a}
    for state in pathway.states:
        children = states[fhir_id(state.id)].get("action", [])
        specific = [t for t in pathway.transitions if t.source == state.id and fhir_id(t.id) not in rules]
        assert [c["id"] for c in children] == [fhir_id(f"{t.source}.{t.id}") for t in specific]
        for child, transition in zip(children, specific, strict=True):
            assert child["relatedAction"] == [{"actionId": fhir_id(transition.target), "relationship": "before-start"}]
            assert [t["name"] for t in child.get("trigger", [])] == list(transition.events)
        if state.final:
            assert not children


def test_rules_of_every_active_state_are_top_level_with_the_mapped_priority(shipped: Any) -> None:
    pathway, mapping, bundle = shipped
    plan = pathway_plan(pathway, bundle)
    active = {s.id for s in pathway.states if not s.final}
    everywhere = {
        t.id for t in pathway.transitions if {u.source for u in pathway.transitions if u.id == t.id} == active
    }
    rules = [a for a in plan["action"] if "trigger" in a]
    assert {a["id"] for a in rules} == {fhir_id(t) for t in everywhere}
    for rule in rules:
        transition = next(t for t in pathway.transitions if fhir_id(t.id) == rule["id"])
        assert rule["priority"] == mapping.priorities[transition.target] == "stat"


def test_earlier_guards_are_negated_so_at_most_one_action_applies(shipped: Any) -> None:
    pathway, _mapping, bundle = shipped
    plan = pathway_plan(pathway, bundle)
    library = {p.name for p in pathway.predicates}
    presentation = next(a for a in plan["action"] if a["id"] == fhir_id(pathway.initial))
    assert presentation["selectionBehavior"] == "at-most-one"
    routed = [c for c in presentation["action"] if any(t["name"] == "presentation" for t in c.get("trigger", []))]
    # each routing rule at presentation must exclude every predicate tested before it
    seen: list[str] = []
    for child in routed:
        text = child["condition"][0]["expression"]["expression"]
        for name in seen:
            assert f"%{name}" in text, (child["id"], name)
        seen += [n for n in library if f"%{n}" in text and n not in seen]


def test_reassessment_window_comes_from_the_definitions_parameters(shipped: Any) -> None:
    pathway, mapping, bundle = shipped
    plan = pathway_plan(pathway, bundle)
    for state_id, (other, low, high) in mapping.timing.items():
        action = next(a for a in plan["action"] if a["id"] == fhir_id(state_id))
        (related,) = action["relatedAction"]
        assert related["actionId"] == fhir_id(other) and related["relationship"] == "after-start"
        assert related["offsetRange"]["low"]["value"] == pathway.parameter(low).value
        assert related["offsetRange"]["high"]["value"] == pathway.parameter(high).value


def test_a_changed_threshold_changes_the_export() -> None:
    text = DEFAULT_DEFINITION.read_text(encoding="utf-8")
    changed = loads(text.replace("[parameters.reassess_min_h]\nvalue = 48", "[parameters.reassess_min_h]\nvalue = 36"))
    mapping = load_mapping(changed)
    bundle = build_export(changed, mapping).bundle
    (library,) = resources(bundle, "Library")
    expressions = {c["id"]: base64.b64decode(c["data"]).decode() for c in library["content"]}
    assert "+ 36 hours" in expressions["trial_complete"] and "48 hours" not in expressions["trial_complete"]
    reassessment = next(a for a in pathway_plan(changed, bundle)["action"] if a["id"] == "reassessment")
    assert reassessment["relatedAction"][0]["offsetRange"]["low"]["value"] == 36


def test_an_activity_definition_per_recommendation_with_rating_rrl_and_do_not_perform(shipped: Any) -> None:
    pathway, mapping, bundle = shipped
    by_id = {a["id"]: a for a in resources(bundle, "ActivityDefinition")}
    assert len(by_id) == sum(len(s.recommendations) for s in pathway.states)
    for state in pathway.states:
        for rec in state.recommendations:
            activity = by_id[activity_id(pathway, state, rec)]
            assert activity["description"] == rec.text
            assert activity.get("doNotPerform", False) == (rec.rating == "usually_not_appropriate")
            extensions = {e["url"]: e for e in activity.get("extension", [])}
            if rec.kind == "imaging":
                assert activity["kind"] == "ServiceRequest"
                assert extensions[rating_extension(mapping)]["valueCoding"]["code"] == f"rating.{rec.rating}"
                assert extensions[rrl_extension(mapping)]["valueString"] == rec.rrl
            else:
                assert not extensions
            codes = {(c["system"], c["code"]) for c in activity["code"]["coding"]}
            assert {(c.system, c.code) for c in mapping.recommendation_codes[rec.code]} == codes
            priority = mapping.priorities.get(f"{state.id}.{rec.code}", mapping.priorities.get(state.id))
            assert activity.get("priority") == priority


def test_standard_codes_are_used_where_the_mapping_lists_them(shipped: Any) -> None:
    _pathway, mapping, bundle = shipped
    (library,) = resources(bundle, "Library")
    text = json.dumps(bundle) + "".join(base64.b64decode(c["data"]).decode() for c in library["content"])
    for ref, standard in mapping.standard.items():
        if ref.startswith("ucum:"):
            continue  # a unit appears in patient records, not in the definition
        as_coding, in_fhirpath = f'"code": "{standard.coding.code}"', f"code = '{standard.coding.code}'"
        assert as_coding in text or in_fhirpath in text, ref
        assert standard.source


def test_library_names_every_predicate_and_documents_every_parameter(shipped: Any) -> None:
    pathway, _mapping, bundle = shipped
    (library,) = resources(bundle, "Library")
    assert {c["id"] for c in library["content"]} >= {p.name for p in pathway.predicates}
    documented = {p["name"]: p for p in library["parameter"]}
    for param in pathway.parameters:
        assert documented[param.name]["use"] == "in"
        (extension,) = documented[param.name]["extension"]
        assert param.value in extension.values()
    assert {"event", "history"} <= set(documented)


def test_fhir_resources_alone_accepts_invented_codes_the_binding_checks_refuse(shipped: Any) -> None:
    pathway, mapping, bundle = shipped
    tampered = copy.deepcopy(bundle)
    plan = pathway_plan(pathway, tampered)
    child = next(a for a in plan["action"] if "action" in a)["action"][0]
    child["relatedAction"][0]["relationship"] = "leads-to"
    activity = next(
        a for a in resources(tampered, "ActivityDefinition") if "snomed" in json.dumps(a) or "cpt" in json.dumps(a)
    )
    coding = next(c for c in activity["code"]["coding"] if c["system"] != mapping.local_system)
    coding["code"] = coding["code"][:-1] + ("1" if coding["code"][-1] != "1" else "2")
    Bundle.model_validate(tampered)  # structurally still fine
    found = fhir_validate.problems(tampered, mapping)
    assert any("'leads-to' is not a code of the required value set" in p for p in found)
    assert any(f"{coding['system']}|{coding['code']}" in p for p in found)


def test_the_committed_export_and_sample_patient_are_fresh() -> None:
    pathway = load()
    mapping = load_mapping(pathway)
    events, errors = read_event_file(str(SAMPLE_COURSE), pathway)
    assert not errors
    expected = {fhir_files.definition_file(pathway): fhir_files.definition_bytes(pathway, mapping)}
    expected.update(fhir_files.patient_files(pathway, mapping, events, SAMPLE_COURSE.stem))
    committed = {p.name: p.read_bytes() for p in COMMITTED.glob("*.json")}
    regenerate = f"pathway export --format fhir --out examples/fhir --events examples/{SAMPLE_COURSE.name}"
    assert committed.keys() == expected.keys(), f"examples/fhir is stale: run {regenerate}"
    for name, data in expected.items():
        assert committed[name] == data, f"examples/fhir/{name} is stale: run {regenerate}"


# ---------------------------------------------------------------- the mapping file


def mapping_text() -> dict[str, Any]:
    import tomllib

    from pathway.export.fhir_mapping import DEFAULT_MAPPING

    return tomllib.loads(DEFAULT_MAPPING.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["fields"]["headache"].update(code="snomed:999999999"), "not a code listed under [codes]"),
        (lambda d: d["codes"].pop("snomed:25064002"), "not a code listed under [codes]"),
        (
            lambda d: [d["events"][e].update(code="snomed:25064002") for e in ("presentation", "reassessment")],
            "same code",
        ),
        (lambda d: d["events"]["headache_resolved"].update(code="cpt:62273", resource="Procedure"), "same code"),
        (lambda d: d["events"].update(lumbar_drain={"resource": "Procedure"}), "not an event of the definition"),
        (
            lambda d: d["recommendations"]["ct_head_without_contrast"].update(activity="Task"),
            "imaging is a ServiceRequest",
        ),
        (lambda d: d["timing"]["reassessment"].update(high="reassess_upper"), "not a parameter"),
        (lambda d: d["states"]["red_flag_escalation"].update(priority="soon"), "expected one of"),
        (lambda d: d["states"].update(resolved={"priority_of": {"ct_myelography": "urgent"}}), "does not recommend"),
        (lambda d: d["codes"]["cpt:62273"].pop("source"), "source"),
    ],
)
def test_a_broken_mapping_is_refused_naming_the_entry(change: Any, message: str) -> None:
    data = mapping_text()
    change(data)
    with pytest.raises(MappingError, match=re.escape(message)):
        build_mapping(data, load(), "fhir_codes.toml")


def test_names_the_mapping_does_not_give_get_the_projects_own_codes() -> None:
    pathway = load()
    mapping = load_mapping(pathway)
    for spec in pathway.events:
        assert spec.name in mapping.events
        for field in spec.fields:
            assert field.name in mapping.field_codes
            for value in field.values:
                coding = mapping.value_code(field.name, value)
                assert mapping.is_known(coding.system, coding.code)


# ---------------------------------------------------------------- the command


def test_export_command_writes_the_bundle_and_patients(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "export",
            "--format",
            "fhir",
            "--out",
            str(tmp_path),
            "--events",
            str(ROOT / "examples" / "multi_patient_stream.jsonl"),
        ],
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    events, _ = read_event_file(str(ROOT / "examples" / "multi_patient_stream.jsonl"), load())
    patients = sorted({f"patient-{fhir_id(str(e.patient))}.json" for e in events})
    assert names == sorted(["Bundle-pdph.json", *patients])
    mapping = load_mapping(load())
    for path in tmp_path.iterdir():
        assert fhir_validate.problems(json.loads(path.read_text()), mapping) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--events", "missing.jsonl"], "missing.jsonl"),
        (["--mapping", "missing.toml"], "missing.toml: cannot read"),
    ],
)
def test_export_command_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["export", "--format", "fhir", "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o" / "Bundle-pdph.json").exists()


def test_export_command_refuses_a_malformed_event_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event":"presentation","at":"2026-05-01T09:00:00Z"}\n')
    result = CliRunner().invoke(
        main, ["export", "--format", "fhir", "--out", str(tmp_path / "o"), "--events", str(bad)]
    )
    assert result.exit_code == 2
    assert "line 1: field 'headache'" in result.output


def test_simulate_fhir_alone_writes_the_bulk_layout_and_no_event_stream(tmp_path: Path) -> None:
    args = ["simulate", "-n", "12", "--out", str(tmp_path), "--format", "fhir", "--no-plots", "-q", "--workers", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "events.jsonl").exists()
    manifest = json.loads((tmp_path / "fhir" / "manifest.json").read_text())
    lines = (tmp_path / "fhir" / "Bundle.ndjson").read_text().splitlines()
    assert manifest["output"][0]["count"] == len(lines) >= 12 and manifest["requiresAccessToken"] is False
    assert not list((tmp_path / "fhir").glob("*.partial"))


@pytest.mark.parametrize("formats", ["xml", "jsonl,", ""])
def test_simulate_refuses_an_unknown_stream_format(tmp_path: Path, formats: str) -> None:
    result = CliRunner().invoke(main, ["simulate", "-n", "5", "--out", str(tmp_path), "--format", formats, "-q"])
    if formats == "jsonl,":
        assert result.exit_code == 0, result.output  # a trailing comma is harmless
        return
    assert result.exit_code == 2 and "--format" in result.output and "Traceback" not in result.output


def test_a_later_simulate_run_never_leaves_an_earlier_runs_fhir_records(tmp_path: Path) -> None:
    base = ["simulate", "-n", "6", "--out", str(tmp_path), "--no-plots", "-q", "--workers", "1"]
    first = CliRunner().invoke(main, [*base, "--compare", "guideline,reflexive_imaging", "--format", "fhir"])
    assert first.exit_code == 0, first.output
    assert (tmp_path / "fhir" / "Bundle.ndjson").exists() and (tmp_path / "fhir.reflexive_imaging").is_dir()
    second = CliRunner().invoke(main, [*base, "--format", "jsonl"])
    assert second.exit_code == 0, second.output
    assert not (tmp_path / "fhir").exists() and not (tmp_path / "fhir.reflexive_imaging").exists()
