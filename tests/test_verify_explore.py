"""Exhaustive exploration: the shipped pathway is safe; broken copies are caught with shortest,
replayable counterexamples; the command line reports both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.engine import run_course
from pathway.events import Event, read_events
from pathway.loader import load, loads
from pathway.verify.explore import verify
from pathway.verify.monitor import check_trace
from pathway.verify.properties import EVENT_KINDS, load_catalogue, parse_catalogue

BROKEN = Path(__file__).parent / "broken_definitions"
PATHWAY = load()


@pytest.fixture(scope="module")
def shipped():
    return verify(PATHWAY)


def test_every_property_holds_on_the_shipped_pathway(shipped) -> None:
    failed = {r.id: [f.message for f in r.findings] for r in shipped.results if not r.holds}
    assert failed == {}
    assert {r.id for r in shipped.results} == {p.id for p in load_catalogue().properties}


def test_exploration_covers_every_state_transition_and_guard_outcome(shipped) -> None:
    coverage = shipped.coverage
    assert coverage.states_reached == coverage.states == len(PATHWAY.states)
    assert coverage.transitions_taken == coverage.transitions_waiting
    # the only transitions never tried leave the reassessment, which is decided on entry
    assert all("(reassessment)" in t for t in coverage.untaken)
    assert coverage.guard_outcomes_seen == coverage.guard_outcomes > 0
    assert coverage.abstract_states > len(PATHWAY.states)
    assert coverage.longest_course is not None


def _replay(pathway, finding) -> tuple[list[Event], object]:
    text = finding.jsonl()
    events = [e for e in read_events(text.splitlines(), pathway) if isinstance(e, Event)]
    assert len(events) == len(finding.events), "every counterexample line is a valid event"
    return events, run_course(pathway, events)


# (fixture, violated property, words the message must contain, fewest events that can show it)
CASES = [
    ("red_flag_after_routing", "red_flag_escalates", ["presentation", "red_flag_escalation"], 1),
    ("red_flag_after_routing", "presentation_routing", ["expected → red_flag_escalation"], 1),
    ("early_blood_patch", "blood_patch_after_trial", ["blood_patch", "48 h"], 3),
    ("early_blood_patch", "conservative_course", ["conservative_therapy"], 3),
    ("imaging_in_conservative_therapy", "no_imaging_before_reassessment", ["mri_head", "may_be_appropriate"], None),
    ("loop_back_to_therapy", "bounded", ["returns to state", "go round forever"], 5),
    ("loop_back_to_therapy", "blood_patch_course", ["expected → blood_patch"], 4),
    ("trap_in_blood_patch", "can_finish", ["can reach no final state", "blood_patch"], 3),
    ("trap_in_blood_patch", "complete", ["headache_resolved", "no explicit rule"], 4),
    ("missing_rejection", "complete", ["presentation", "no explicit rule"], 1),
    ("swapped_routing", "presentation_routing", ["refer_spontaneous_intracranial_hypotension"], 1),
    ("swapped_routing", "deterministic", ["no_puncture", "hidden by priority"], 1),
    ("escalation_without_neurology", "escalation_mri_neurology", ["neurology_consult"], None),
    ("uncited_transition", "everything_cited", ["in_scope", "without saying where"], None),
    ("three_patches", "blood_patch_course", ["blood_patch", "expected refused"], 6),
]


@pytest.mark.parametrize(("fixture", "prop", "words", "length"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_broken_definition_is_reported_with_a_readable_counterexample(fixture, prop, words, length) -> None:
    broken = load(BROKEN / f"{fixture}.toml")
    verdict = verify(broken)
    assert not verdict.holds
    result = verdict.result(prop)
    assert not result.holds and result.violations >= 1
    finding = result.findings[0]
    for word in words:
        assert word in finding.message, finding.message
    if length is None:
        assert not finding.events
        return
    assert finding.events is not None and len(finding.events) == length
    events, trace = _replay(broken, finding)
    if result.kind in EVENT_KINDS:
        # the runtime monitor sees the same violation on the replayed course, on its last line
        assert (prop, len(events)) in {(v.property, v.line) for v in check_trace(broken, trace, events)}
    elif prop == "can_finish":
        assert trace.state in finding.message and not trace.final
    elif prop == "bounded":
        states = [s.target for s in trace.steps]
        assert states.count(trace.state) >= 2, "the course comes back to where it was"
    # the shipped pathway does the right thing on the very same events
    assert check_trace(PATHWAY, run_course(PATHWAY, events), events) == []


def test_counterexample_times_realise_the_threshold_classes() -> None:
    verdict = verify(load(BROKEN / "three_patches.toml"))
    events = verdict.result("blood_patch_course").findings[0].events
    assert events is not None
    presented_at = next(e.at for e in events if e.name == "presentation")
    reassessed_at = next(e.at for e in events if e.name == "reassessment")
    # a reassessment cannot lead to a patch before 48 h of therapy: the shortest course waits exactly that long
    assert (reassessed_at - presented_at).total_seconds() == 48 * 3600


def test_a_property_the_definition_cannot_support_is_reported_not_crashed() -> None:
    catalogue = parse_catalogue(
        {
            "properties": [
                {
                    "id": "ghost",
                    "statement": "s",
                    "cite": "contract: x",
                    "kind": "escalate",
                    "when": "event == 'red_flag'",
                    "to": "nowhere",
                },
                {
                    "id": "typo",
                    "statement": "s",
                    "cite": "contract: x",
                    "kind": "escalate",
                    "when": "headache == 'worst'",
                    "to": "resolved",
                },
            ]
        }
    )
    verdict = verify(PATHWAY, catalogue)
    assert "no state 'nowhere'" in verdict.result("ghost").findings[0].message
    assert "'worst' is not a value of 'headache'" in verdict.result("typo").findings[0].message


def test_priority_overlaps_are_listed(shipped) -> None:
    overlaps = {(s, e, a, b) for s, e, a, b, _ in shipped.coverage.overlaps}
    # the red-flag rule and the routing rules overlap at presentation; priority gives the red flag precedence
    assert ("presentation", "presentation", "red_flag_on_examination", "in_scope") in overlaps


def test_a_changed_threshold_is_followed_without_code_change() -> None:
    text = Path(PATHWAY.source_path).read_text()
    later = loads(text.replace("[parameters.reassess_min_h]\nvalue = 48", "[parameters.reassess_min_h]\nvalue = 60"))
    verdict = verify(later)
    # a later reassessment (60 h) is still at least the contract's 48 h: blood patches stay safe ...
    assert verdict.result("blood_patch_after_trial").holds
    # ... but the course no longer matches the contract, which names 48 h, and the explorer says where
    course = verdict.result("conservative_course")
    assert not course.holds
    events = course.findings[0].events
    assert events is not None
    hours = (events[-1].at - next(e.at for e in events if e.name == "presentation")).total_seconds() / 3600
    assert 48 <= hours < 60


# ---------------------------------------------------------------- the command line


def test_cli_verify_passes_on_the_shipped_pathway() -> None:
    result = CliRunner().invoke(main, ["verify"])
    assert result.exit_code == 0, result.output
    assert "all properties hold" in result.output
    assert "abstract situations explored" in result.output


def test_cli_json_lists_every_property_and_coverage() -> None:
    result = CliRunner().invoke(main, ["verify", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["holds"] is True
    assert [p["id"] for p in data["properties"]] == [p.id for p in load_catalogue().properties]
    assert data["coverage"]["abstract_states"] > 0
    assert all(p["citation"] for p in data["properties"])


def test_cli_writes_counterexamples_that_pathway_run_replays(tmp_path: Path) -> None:
    broken = BROKEN / "red_flag_after_routing.toml"
    runner = CliRunner()
    result = runner.invoke(main, ["verify", "--definition", str(broken), "--out", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "✘ violated" in result.output
    written = tmp_path / "red_flag_escalates.jsonl"
    assert written.exists()
    replay = runner.invoke(main, ["run", str(written), "--definition", str(broken), "--json"])
    assert replay.exit_code == 1, replay.output  # the runtime monitor sees the same violation on the replay
    course = json.loads(replay.stdout.splitlines()[0])
    assert course["final"] and course["state"] != "red_flag_escalation"
    assert "red_flag_escalates" in {v["property"] for v in course["monitor"]}
    drawn = runner.invoke(
        main, ["diagram", "--trace", str(written), "--definition", str(broken), "-o", str(tmp_path / "d"), "-f", "dot"]
    )
    assert drawn.exit_code == 0, drawn.output
    assert any((tmp_path / "d").iterdir())


def test_cli_broken_definition_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(Path(PATHWAY.source_path).read_text().replace('to = "conservative_therapy"', 'to = "nowhere"', 1))
    result = CliRunner().invoke(main, ["verify", "--definition", str(bad)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "nowhere" in result.output
    assert "Traceback" not in result.output


def test_cli_broken_property_file_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "props.toml"
    bad.write_text('[[properties]]\nid = "x"\nstatement = "s"\ncite = "c"\nkind = "nonsense"\n')
    result = CliRunner().invoke(main, ["verify", "--properties", str(bad)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "nonsense" in result.output


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('without = "', 'withuot = "', "unknown key 'withuot' for kind 'can_finish'"),
        ("[catalogue]", "[catalog]", "unknown section 'catalog'"),
    ],
)
def test_misspelt_property_options_are_refused_not_ignored(old: str, new: str, message: str, tmp_path: Path) -> None:
    shipped = (Path(__file__).resolve().parents[1] / "pathway" / "verify" / "properties.toml").read_text()
    assert old in shipped
    bad = tmp_path / "props.toml"
    bad.write_text(shipped.replace(old, new, 1))
    result = CliRunner().invoke(main, ["verify", "--properties", str(bad)])
    assert result.exit_code == 2
    assert message in result.output


def test_dropping_a_transition_at_model_level_is_caught() -> None:
    dropped = attrs.evolve(PATHWAY, transitions=tuple(t for t in PATHWAY.transitions if t.id != "trial_reviewed"))
    verdict = verify(dropped)
    assert not verdict.result("conservative_course").holds
    assert not verdict.result("all_states_reachable").holds


def test_readme_section_names_every_property_and_the_measured_coverage(shipped) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("<!-- section:verification -->")[1].split("<!-- /section:verification -->")[0]
    for prop in load_catalogue().properties:
        assert f"`{prop.id}`" in section, prop.id
    coverage = shipped.coverage
    assert f"**{coverage.abstract_states} abstract situations**" in section
    assert f"**{coverage.guard_outcomes_seen}/{coverage.guard_outcomes} guard outcomes**" in section
    assert f"{coverage.moves:,} events sent" in section


def test_a_gap_narrower_than_the_sampling_step_is_still_found(tmp_path: Path) -> None:
    # fever except between 38.1 and 38.4 C: only values strictly between the two limits show the hole
    text = (
        Path(PATHWAY.source_path)
        .read_text()
        .replace(
            'expr = "temperature_c >= fever_threshold_c"',
            'expr = "temperature_c >= fever_threshold_c and not (temperature_c > 38.1 and temperature_c < 38.4)"',
        )
    )
    holed = tmp_path / "holed.toml"
    holed.write_text(text)
    result = CliRunner().invoke(main, ["verify", "--definition", str(holed), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    violated = {p["id"] for p in report["properties"] if not p["holds"]}
    assert "red_flag_escalates" in violated


def test_broken_definition_fixtures_are_fresh_copies_of_the_shipped_definition() -> None:
    # each fixture is the shipped definition with one mistake: regenerate them when the definition changes
    script = Path(__file__).resolve().parents[1] / "scripts" / "make_broken_definitions.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("fixture", "props"),
    [
        ("window_before_atypical", {"presentation_routing", "thunderclap_never_leak_route"}),
        ("debilitating_ignored", {"conservative_course", "debilitating_review_patches"}),
        ("postural_loss_ignored", {"red_flag_escalates", "postural_loss_escalates"}),
        ("ct_for_every_atypical_headache", {"atypical_hand_off_without_imaging"}),
    ],
)
def test_each_contract_1_1_rule_broken_is_caught_by_its_property(fixture: str, props: set[str]) -> None:
    broken = load(Path(__file__).resolve().parent / "broken_definitions" / f"{fixture}.toml")
    violated = {r.id for r in verify(broken).results if not r.holds}
    assert props <= violated
