"""The exported FHIR plan, replayed with fhirpathpy on each patient's FHIR record, decides every
event exactly as the engine does: the same actions, the same refusals.

On the shipped examples, on a simulated cohort written by `pathway simulate --format fhir`
(three policies), on random streams (hypothesis, with refusals, thresholds hit exactly and
times going backwards), and on other definitions (a variant with clocked eventless
transitions, the deliberately broken definitions): the export follows the definition,
whatever it says. A tampered plan must be caught. The 10,000-patient figure comes from
benchmarks/bench_fhir_roundtrip.py.
"""

from __future__ import annotations

import base64
import copy
import json
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway import compiled
from pathway.cli import main
from pathway.cli_common import read_event_file
from pathway.events import Event
from pathway.export import fhir_validate
from pathway.export.fhir_apply import Plan, PlanError, replay
from pathway.export.fhir_definitions import Export, build_export
from pathway.export.fhir_mapping import FhirMapping, load_mapping
from pathway.export.fhir_patient import events_by_course, patient_bundle
from pathway.export.fhir_roundtrip import Agreement, compare_course, course_key
from pathway.model import Pathway
from tests.test_compiled import CI, PATHWAYS, streams

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.jsonl"))


@cache
def exported(name: str) -> tuple[Pathway, FhirMapping, Export, Plan]:
    pathway = PATHWAYS[name]
    mapping = load_mapping(pathway)
    export = build_export(pathway, mapping)
    # the plan is read back from the JSON as written, not from the objects that made it
    return pathway, mapping, export, Plan(json.loads(json.dumps(export.bundle)))


def round_trip(name: str, patient: str, events: list[Event], episode: str | None = None) -> Agreement:
    pathway, mapping, export, plan = exported(name)
    bundle = patient_bundle(pathway, mapping, patient, events, episode=episode).bundle
    return compare_course(pathway, export.layout, plan, patient, events, json.loads(json.dumps(bundle)), episode)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_course_decides_the_same(path: Path) -> None:
    pathway = PATHWAYS["shipped"]
    events, _unreadable = read_event_file(str(path), pathway)  # a line that is not an event has no record
    for (patient, episode), course in events_by_course(events, path.stem).items():
        agreement = round_trip("shipped", patient, course, episode)
        assert agreement.mismatches == [] and agreement.agreed == len(course)
        assert agreement.recommendations_agreed == 1


def test_a_simulated_cohort_written_as_fhir_decides_the_same(tmp_path: Path) -> None:
    policies = ["guideline", "reflexive_imaging", "dismiss_red_flags"]
    args = ["simulate", "-n", "40", "--seed", "7", "--out", str(tmp_path), "--compare", ",".join(policies)]
    result = CliRunner().invoke(main, [*args, "--format", "jsonl,fhir", "--no-plots", "-q", "--workers", "1"])
    assert result.exit_code == 0, result.output
    pathway, mapping, export, plan = exported("shipped")
    canonicals = fhir_validate.canonical_urls(export.bundle)
    total = Agreement()
    orders = 0
    for index, policy in enumerate(policies):
        suffix = "" if index == 0 else f".{policy}"
        events, errors = read_event_file(str(tmp_path / f"events{suffix}.jsonl"), pathway)
        assert not errors
        by_course = dict(events_by_course(events, "?"))
        manifest = json.loads((tmp_path / f"fhir{suffix}" / "manifest.json").read_text())
        lines = (tmp_path / f"fhir{suffix}" / "Bundle.ndjson").read_text().splitlines()
        assert manifest["output"] == [{"type": "Bundle", "url": "Bundle.ndjson", "count": len(lines)}]
        assert len(lines) == len(by_course) >= 40  # one Bundle per course: a return visit is a course of its own
        for number, line in enumerate(lines):
            bundle = json.loads(line)
            problems = fhir_validate.problems if number < 5 else fhir_validate.binding_problems
            assert problems(bundle, mapping, canonicals) == []
            orders += sum(e["resource"]["resourceType"] == "ServiceRequest" for e in bundle["entry"])
            patient, episode = course_key(bundle)
            events_of_course = by_course.pop((patient, episode))
            total.merge(compare_course(pathway, export.layout, plan, patient, events_of_course, bundle, episode))
        assert not by_course
    assert total.mismatches == [] and total.agreed == total.decisions > 300
    assert orders > 0  # the reflexive-imaging policy orders studies: they are in the records


@pytest.mark.parametrize("name", ["shipped", "clocked"])
@settings(CI, max_examples=60)
@given(data=st.data())
def test_random_streams_decide_the_same(name: str, data: st.DataObject) -> None:
    events = data.draw(streams(PATHWAYS[name]))
    agreement = round_trip(name, "p", events)
    assert agreement.mismatches == []


BROKEN = sorted(n for n in PATHWAYS if n not in ("shipped", "clocked"))


@pytest.mark.parametrize("name", BROKEN)
@settings(CI, max_examples=8)
@given(data=st.data())
def test_the_export_follows_any_definition_even_a_wrong_one(name: str, data: st.DataObject) -> None:
    events = data.draw(streams(PATHWAYS[name]))
    assert round_trip(name, "p", events).mismatches == []


def _course(name: str) -> list[Event]:
    events, errors = read_event_file(str(ROOT / "examples" / f"{name}.jsonl"), PATHWAYS["shipped"])
    assert not errors
    return events


def test_a_tampered_threshold_in_the_plan_is_caught() -> None:
    pathway, mapping, export, _plan = exported("shipped")
    threshold = pathway.parameter("reassess_min_h").value
    bundle = copy.deepcopy(export.bundle)
    (library,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Library"]
    changed = 0
    for item in library["content"]:
        text = base64.b64decode(item["data"]).decode()
        edited = text.replace(f"+ {threshold} hours", f"+ {int(threshold) // 2} hours")
        changed += edited != text
        item["data"] = base64.b64encode(edited.encode()).decode()
    assert changed
    tampered = Plan(bundle)
    events = _course("early_reassessment_never_leads_to_patch")
    record = patient_bundle(pathway, mapping, "p", events).bundle
    agreement = compare_course(pathway, export.layout, tampered, "p", events, record)
    assert agreement.disagreed > 0


def test_overlapping_conditions_are_a_defect_the_replay_reports() -> None:
    pathway, mapping, export, _plan = exported("shipped")
    broken = copy.deepcopy(export.bundle)
    plan_definition = broken["entry"][0]["resource"]
    presentation = next(a for a in plan_definition["action"] if a["id"] == pathway.initial)
    for child in presentation["action"]:
        child["condition"][0]["expression"]["expression"] = "true"  # first match no longer explicit
    events = _course("classic_course_patch_gives_complete_relief")
    bundle = patient_bundle(pathway, mapping, "p", events).bundle
    with pytest.raises(PlanError, match="apply at once"):
        replay(Plan(broken), bundle)


def test_the_replay_reads_only_the_exported_json() -> None:
    """The plan executes from a file's bytes: no Python object of the definition is involved."""
    name = "classic_course_patch_gives_complete_relief"
    plan = Plan(json.loads((ROOT / "examples" / "fhir" / "Bundle-pdph.json").read_text()))
    sample = json.loads((ROOT / "examples" / "fhir" / f"patient-{name.replace('_', '-')}.json").read_text())
    decisions = replay(plan, sample)
    trace = compiled.run_course(PATHWAYS["shipped"], _course(name))
    assert [d.outcome for d in decisions] == ["accepted"] * len(trace.path[1:]) + ["accepted"] * (
        len(decisions) - len(trace.path[1:])
    )
    assert decisions[-1].state == trace.state
