"""Overlays: a patient's path highlights exactly the states visited and the edges taken, in
order; a cohort's flow sets edge widths and labels by the share of patients.

Expected sets are computed here from the engine's Trace (and from counts made here), not
from the overlay code.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pathway.cli import main
from pathway.cli_common import read_event_file
from pathway.engine import run_course, run_stream
from pathway.loader import load
from pathway.model import Pathway
from pathway.render.frequencies import read_frequencies
from pathway.render.output import sources
from pathway.render.overlay import frequency_overlay, trace_overlay
from pathway.render.view import build_view
from pathway.trace import Trace
from tests.helpers import event
from tests.test_diagram import Drawn, broadcast_rules, parse_dot, text_of

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
EXAMPLES = Path(__file__).parents[1] / "examples"
CI = settings(
    max_examples=25,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def pathway() -> Pathway:
    return load()


def edge_key(pathway: Pathway, transition: str, source: str, target: str) -> tuple[str, str]:
    """How a transition is drawn: from its source, or from the cluster for a rule of every active state."""
    return ("*", target) if (transition, target) in broadcast_rules(pathway) else (source, target)


def drawn_key(drawn: Drawn, tail: str, head: str, attrs: dict[str, Any]) -> tuple[str, str]:
    return ("*", head) if attrs.get("ltail") else (tail, head)


@functools.cache
def plain_drawing(pathway: Pathway) -> Drawn:
    return parse_dot(sources(pathway)["dot"])


def overlay_drawing(pathway: Pathway, trace: Trace) -> Drawn:
    return parse_dot(sources(pathway, trace_overlay(build_view(pathway), trace))["dot"])


def check_highlights(pathway: Pathway, trace: Trace) -> None:
    drawn = overlay_drawing(pathway, trace)
    visited = set(trace.path)
    lit = {s.id for s in pathway.states if drawn.classes(drawn.nodes[s.id]) & {"visited", "current"}}
    faded = {s.id for s in pathway.states if "faded" in drawn.classes(drawn.nodes[s.id])}
    assert lit == visited
    assert faded == set(pathway.state_ids) - visited
    assert "current" in drawn.classes(drawn.nodes[trace.state])

    expected: dict[tuple[str, str], list[int]] = defaultdict(list)
    for number, step in enumerate(trace.steps, start=1):
        # a patient's step is drawn from the state they were in, even an escalation drawn once for all states
        expected[(step.source, step.target)].append(number)
    taken = {}
    for tail, head, attrs in drawn.edges:
        if tail not in pathway.state_ids and head == pathway.initial:
            continue  # the start marker
        classes = drawn.classes(attrs)
        if "layout" in classes:
            continue
        key = drawn_key(drawn, tail, head, attrs)
        if "escalation-step" in classes:
            rule = next(t for t in pathway.transitions if t.source == tail and t.target == head)
            assert (rule.id, head) in broadcast_rules(pathway), "only escalations get a step edge of their own"
            base = plain_drawing(pathway)
            rule_colour = next(a["color"] for _, h, a in base.edges if h == head and a.get("ltail"))
            assert attrs["color"] == rule_colour != "", "a step edge is drawn in the escalation colour"
        if "taken" in classes:
            taken[key] = text_of(attrs["label"])
            assert float(attrs["penwidth"]) > 1
        else:
            assert "faded" in classes, key
    assert set(taken) == set(expected)
    for key, numbers in expected.items():
        words = ("step " if len(numbers) == 1 else "steps ") + ", ".join(map(str, numbers))
        assert taken[key].startswith(words), (key, taken[key])


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.jsonl") if "multi" not in p.stem))
def test_example_courses_highlight_exactly_their_states_and_edges(pathway: Pathway, name: str) -> None:
    events, errors = read_event_file(str(EXAMPLES / f"{name}.jsonl"), pathway)
    assert not errors
    check_highlights(pathway, run_course(pathway, events))


def _event_strategy(pathway: Pathway) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """Any event of the vocabulary with its required fields drawn from the definition's values."""
    choices = []
    for spec in pathway.events:
        required = {f.name: st.sampled_from(f.values) for f in spec.fields if f.required and f.type == "enum"}
        choices.append(st.tuples(st.just(spec.name), st.fixed_dictionaries(required)))
    return st.one_of(choices)


@CI
@given(data=st.data())
def test_any_course_highlights_exactly_its_states_and_edges(data: st.DataObject) -> None:
    pathway = load()
    items = data.draw(st.lists(st.tuples(_event_strategy(pathway), st.sampled_from([0, 2, 20, 30, 50])), max_size=8))
    hours, events = 0.0, []
    opening = [("dural_puncture", {"procedure": "lumbar_puncture"}), ("presentation", {"headache": "orthostatic"})]
    for line, ((name, fields), gap) in enumerate([(o, 10) for o in opening] + items, start=1):
        hours += gap
        events.append(event(name, hours, pathway, line, **fields))
    check_highlights(pathway, run_course(pathway, events))


def test_refused_events_are_listed_with_line_and_reason(pathway: Pathway) -> None:
    events, _ = read_event_file(str(EXAMPLES / "patch_review_before_patch_is_refused.jsonl"), pathway)
    trace = run_course(pathway, events)
    assert trace.rejected
    title = text_of(overlay_drawing(pathway, trace).graph["label"])
    for refused in trace.rejected:
        assert f"{refused.line} {refused.event}" in title
        assert refused.reason in title


# ---------------------------------------------------------------- cohort flow


def summary_of_examples(pathway: Pathway) -> dict[str, Any]:
    """The simulator's summary shape, counted here from the example courses."""
    counts: Counter[tuple[str, str, str]] = Counter()
    patients: dict[tuple[str, str, str], set[tuple[str, str | None]]] = defaultdict(set)
    cohort = 0
    for path in sorted(EXAMPLES.glob("*.jsonl")):
        events, _ = read_event_file(str(path), pathway)
        for trace in run_stream(pathway, events):
            cohort += 1
            for step in trace.steps:
                key = (step.transition, step.source, step.target)
                counts[key] += 1
                patients[key].add((path.stem, trace.patient))
    rows = [
        {"transition": k[0], "source": k[1], "target": k[2], "count": n, "patients": len(patients[k])}
        for k, n in counts.items()
    ]
    return {"patients": cohort, "transitions": rows, "other": "keys are ignored"}


def test_cohort_flow_widths_and_labels_follow_patient_shares(pathway: Pathway, tmp_path: Path) -> None:
    summary = summary_of_examples(pathway)
    file = tmp_path / "summary.json"
    file.write_text(json.dumps(summary))
    result = CliRunner().invoke(
        main, ["diagram", "--frequencies", str(file), "--format", "dot", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    drawn = parse_dot((tmp_path / f"{pathway.id}-flow.dot").read_text())

    by_edge: dict[tuple[str, str], int] = Counter()
    for row in summary["transitions"]:
        by_edge[edge_key(pathway, row["transition"], row["source"], row["target"])] += row["patients"]
    shares = {key: min(1.0, n / summary["patients"]) for key, n in by_edge.items()}
    widths: dict[tuple[str, str], float] = {}
    for tail, head, attrs in drawn.edges:
        if (tail not in pathway.state_ids and not attrs.get("ltail")) or "layout" in drawn.classes(attrs):
            continue  # the start marker and invisible layout edges
        key = drawn_key(drawn, tail, head, attrs)
        label = text_of(attrs["label"])
        if key in shares:
            assert f"{round(100 * shares[key])}% of patients" in label, (key, label)
            widths[key] = float(attrs["penwidth"])
        else:
            assert "faded" in drawn.classes(attrs), key
    assert set(widths) == set(shares)
    ordered = sorted(shares, key=shares.__getitem__)
    for narrower, wider in pairwise(ordered):
        if shares[wider] > shares[narrower]:
            assert widths[wider] > widths[narrower], (narrower, wider)
    assert summary["patients"] > 10


def test_a_plain_edge_count_mapping_is_drawn_relative_to_the_busiest_edge(tmp_path: Path) -> None:
    pathway = load()
    last_two = pathway.transitions_from(pathway.initial)[-2:]
    counts = {f"{pathway.initial}->{t.target}": n for t, n in zip(last_two, (40, 10), strict=True)}
    file = tmp_path / "counts.json"
    file.write_text(json.dumps(counts))
    frequencies = read_frequencies(file, pathway)
    overlay = frequency_overlay(build_view(pathway), frequencies)
    drawn = parse_dot(sources(pathway, overlay)["dot"])
    labels = {
        (tail, head): (text_of(a["label"]), float(a["penwidth"]))
        for tail, head, a in drawn.edges
        if tail in pathway.state_ids and not a.get("ltail") and "layout" not in drawn.classes(a)
    }
    (busy, quiet) = [tuple(key.split("->")) for key in counts]
    assert "40×" in labels[busy][0] and "100%" in labels[busy][0]
    assert "10×" in labels[quiet][0] and "25%" in labels[quiet][0]
    assert labels[busy][1] > labels[quiet][1]
