"""Z3 proofs: the translation of a guard means what the engine means, gaps are real, thresholds exact."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import z3
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway import guards
from pathway.cli import main
from pathway.events import Event
from pathway.facts import EventScope, Facts
from pathway.loader import load
from pathway.verify.abstraction import EPOCH, at_text
from pathway.verify.mutants import shift_threshold
from pathway.verify.prove import _Formula, _Vars, prove
from pathway.verify.semantics import Semantics

ROOT = Path(__file__).parent.parent
PATHWAY = load()
MISSING_REJECTION = load(ROOT / "tests" / "broken_definitions" / "missing_rejection.toml")


def _value(spec: Any) -> st.SearchStrategy[Any]:
    if spec.type == "enum":
        return st.sampled_from(spec.values)
    if spec.type == "bool":
        return st.booleans()
    if spec.type == "number":
        return st.sampled_from([spec.minimum, 37.9, 38.0, 38.1, spec.maximum]) | st.floats(spec.minimum, spec.maximum)
    if spec.type == "int":
        return st.integers(int(spec.minimum or 0), int(spec.maximum or 40))
    return st.text(max_size=4)


@st.composite
def situations(draw: st.DrawFn) -> tuple[Any, dict[str, Any], dict[str, float | None], dict[str, int]]:
    spec = draw(st.sampled_from([e for e in PATHWAY.events if e.fields]))
    fields = {f.name: draw(_value(f)) for f in spec.fields if f.required or draw(st.booleans())}
    hours = st.none() | st.sampled_from([0.0, 47.99, 48.0, 48.01, 72.0, 72.01]) | st.floats(0, 500)
    clocks = {"dural_puncture": draw(hours), "conservative_therapy": draw(hours)}
    counts = {"blood_patch": draw(st.integers(0, 3)), "patch_review": draw(st.integers(0, 3))}
    return spec, fields, clocks, counts


@settings(max_examples=300, deadline=None)
@given(situations())
def test_every_guard_means_in_z3_what_it_means_to_the_engine(
    case: tuple[Any, dict[str, Any], dict[str, float | None], dict[str, int]],
) -> None:
    spec, fields, clocks, counts = case
    now = EPOCH + timedelta(days=40)
    last_at = {}
    if clocks["dural_puncture"] is not None:
        last_at["dural_puncture"] = now - timedelta(hours=clocks["dural_puncture"])
        counts = {**counts, "dural_puncture": 1}
    entered = (
        {}
        if clocks["conservative_therapy"] is None
        else {"conservative_therapy": now - timedelta(hours=clocks["conservative_therapy"])}
    )
    facts = Facts(last_at=last_at, counts={k: n for k, n in counts.items() if n}, entered_at=entered)
    scope = EventScope(facts, Event(1, spec.name, now, at_text(now), fields))
    v = _Vars(spec)
    f = _Formula(v)
    for transition in [*PATHWAY.transitions, *PATHWAY.rejections]:
        if transition.guard is None or spec.name not in transition.events:
            continue
        formula = f.boolean(transition.guard)
        pinned = []
        for field in spec.fields:
            given_value = fields.get(field.name)
            pinned.append(v.has[field.name] == (given_value is not None))
            if given_value is not None:
                if field.name in v.codes:
                    pinned.append(v.value[field.name] == v.codes[field.name].index(given_value))
                elif field.type == "string":
                    pinned.append(v.value[field.name] == z3.StringVal(given_value))
                else:
                    pinned.append(
                        v.value[field.name] == z3.RealVal(repr(float(given_value)))
                        if field.type == "number"
                        else v.value[field.name] == given_value
                    )
        for (_, arg), (started, value) in v.clocks.items():
            pinned.append(started == (clocks[arg] is not None))
            if clocks[arg] is not None:
                pinned.append(value == z3.RealVal(repr(clocks[arg])))
        for event, count in v.counts.items():
            pinned.append(count == counts.get(event, 0))
        for event, flag in v.occurred.items():
            pinned.append(flag == (facts.counts.get(event, 0) > 0))
        solver = z3.Solver()
        solver.add(*pinned, formula != guards.evaluate(transition.guard, scope))
        assert solver.check() == z3.unsat, (transition.id, fields, clocks, counts)


def test_the_shipped_definition_has_no_gap_and_exact_thresholds() -> None:
    proofs = prove(PATHWAY)
    assert proofs.holds and not proofs.gaps
    words = " ".join(b.where for b in proofs.boundaries)
    for parameter in ("fever_threshold_c", "puncture_window_h", "reassess_min_h"):
        assert f"{PATHWAY.parameter(parameter).value:g}" in words
    assert all(b.proved and b.agrees for b in proofs.boundaries)
    # the presentation routing overlaps and the order decides: the red flag before everything
    first = {(o.first, o.second) for o in proofs.overlaps if o.state == PATHWAY.initial}
    assert ("transition red_flag_on_examination", "transition in_scope") in first


def test_a_gap_is_a_concrete_event_that_no_rule_takes_or_refuses() -> None:
    proofs = prove(MISSING_REJECTION)
    assert proofs.gaps and not proofs.holds
    semantics = Semantics(MISSING_REJECTION)
    for gap in proofs.gaps:
        now = EPOCH
        event = Event(1, gap.event, now, at_text(now), gap.fields)
        facts = Facts(last_at={"dural_puncture": now - timedelta(hours=1)}, counts={"dural_puncture": 1})
        move = semantics.step(gap.state, facts, event)
        assert not move.accepted and move.rule is None, gap


def test_thresholds_follow_the_definition() -> None:
    for mutant in shift_threshold(PATHWAY):
        proofs = prove(mutant.pathway)
        assert all(b.proved and b.agrees for b in proofs.boundaries), mutant.description
        shifted = mutant.description.split("→")[1].split()[0]
        assert any(shifted in b.where for b in proofs.boundaries), mutant.description


def test_cli_prove() -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["verify", "--prove"])
    assert ok.exit_code == 0, ok.output
    assert "no gap" in ok.output
    broken = runner.invoke(
        main,
        ["verify", "--prove", "--json", "--definition", str(ROOT / "tests/broken_definitions/missing_rejection.toml")],
    )
    assert broken.exit_code == 1
    assert '"gaps"' in broken.output and "reassessment" in broken.output
