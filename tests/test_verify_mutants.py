"""Mutation adequacy: every mutant of the definition that changes behaviour is killed by a property;
the survivors are shown to be equivalent."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.engine import run_course
from pathway.loader import load
from pathway.verify.mutants import compare, drop_transition, mutants, retarget_transition, swap_precedence
from pathway.verify.properties import load_catalogue

PATHWAY = load()


@pytest.fixture(scope="module")
def report() -> dict:
    result = CliRunner().invoke(main, ["verify", "--mutants", "--json"])
    assert result.exit_code == 0, result.output[-2000:]
    return json.loads(result.output)["mutation"]


def test_every_mutant_that_changes_behaviour_is_killed(report: dict) -> None:
    assert report["missed"] == 0
    assert report["killed"] + report["equivalent"] == report["mutants"]
    assert report["kill_ratio"] == 1.0
    # the catalogue is not carried by one property: many of them kill something
    killers = Counter(p for r in report["results"] for p in r["killed_by"])
    assert len(killers) >= 10


def test_every_operator_is_applied_and_kills(report: dict) -> None:
    by_operator: dict[str, Counter[str]] = {}
    for r in report["results"]:
        by_operator.setdefault(r["operator"], Counter())["killed" if r["killed_by"] else "survived"] += 1
    expected = {
        "drop transition",
        "negate guard",
        "weaken guard",
        "mutate predicate",
        "shift threshold",
        "retarget transition",
        "swap precedence",
        "drop recommendation",
        "re-rate recommendation",
        "mutate recommendation condition",
        "drop rejection",
        "drop citation",
    }
    assert set(by_operator) == expected
    assert all(counts["killed"] > 0 for counts in by_operator.values())


def test_survivors_are_equivalent_with_a_reason(report: dict) -> None:
    survivors = [r for r in report["results"] if not r["killed_by"]]
    assert survivors, "some mutants of this definition are equivalent (e.g. swapping exclusive guards)"
    for r in survivors:
        assert r["equivalent"] is True
        assert r["why"].startswith("every course has the same outcome")


def test_threshold_shifts_and_safety_mutants_are_killed_by_the_expected_properties(report: dict) -> None:
    killed = {r["mutant"]: set(r["killed_by"]) for r in report["results"]}
    assert "presentation_routing" in killed["puncture_window_h 72 h → 73 h"]
    assert "conservative_course" in killed["reassess_min_h 48 h → 47 h"]
    assert "red_flag_escalates" in killed["drop 'red_flag_reported' from 'blood_patch' only"]
    assert "everything_cited" in killed["transition 'in_scope'"]


def test_every_transition_entry_has_a_drop_and_a_retarget_mutant() -> None:
    ids = {t.id for t in PATHWAY.transitions}
    dropped = {m.description.split("'")[1] for m in drop_transition(PATHWAY)}
    retargeted = {m.description.split("'")[1] for m in retarget_transition(PATHWAY)}
    assert dropped == ids == retargeted
    assert all(m.pathway != PATHWAY for m in mutants(PATHWAY))


def test_compare_finds_a_course_that_tells_a_mutant_apart() -> None:
    mutant = attrs.evolve(
        PATHWAY,
        transitions=tuple(
            attrs.evolve(t, target="blood_patch") if t.id == "review_improving" else t for t in PATHWAY.transitions
        ),
    )
    found = compare(PATHWAY, mutant, load_catalogue())
    assert not found.equivalent
    assert found.course
    original, changed = run_course(PATHWAY, found.course), run_course(mutant, found.course)
    assert (original.path, original.state) != (changed.path, changed.state)


def test_compare_recognises_an_equivalent_swap() -> None:
    swaps = {m.description: m for m in swap_precedence(PATHWAY)}
    exclusive = swaps["in 'reassessment': 'review_not_improving' before 'review_improving'"]
    assert compare(PATHWAY, exclusive.pathway).equivalent
    overlapping = swaps["in 'presentation': 'beyond_window' before 'no_puncture'"]
    assert not compare(PATHWAY, overlapping.pathway).equivalent


def test_readme_reports_the_measured_mutation_counts(report: dict) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    expected = (
        f"**{report['mutants']} mutants, {report['killed']} killed, {report['equivalent']} equivalent,\n"
        f"{report['missed']} missed"
    )
    assert expected in readme
