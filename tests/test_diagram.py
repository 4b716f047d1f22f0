"""The protocol diagram says what the definition says: every state, every transition with its
guard in words and its real thresholds, escalation drawn once from the active cluster,
citations in the SVG tooltips. Expectations come from the loaded model, never from the output.

The DOT is parsed by Graphviz itself (``dot -Tjson0``), so the test reads the graph the
way every renderer will.
"""

from __future__ import annotations

import html
import io
import itertools
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from pathway import guards
from pathway.loader import DEFAULT_DEFINITION, load, loads
from pathway.model import Pathway, Transition
from pathway.render.output import png_dpi, render_image, sources

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")

# ---------------------------------------------------------------- reading a drawn graph


@dataclass
class Drawn:
    graph: dict[str, Any]
    nodes: dict[str, dict[str, Any]]
    clusters: dict[str, set[str]]
    edges: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def cluster_of(self, node: str) -> str:
        """The innermost cluster holding ``node``."""
        holding = [(len(members), name) for name, members in self.clusters.items() if node in members]
        return min(holding)[1] if holding else ""

    def classes(self, attrs: dict[str, Any]) -> set[str]:
        return set(str(attrs.get("class", "")).split())


def parse_dot(dot_text: str) -> Drawn:
    done = subprocess.run(["dot", "-Tjson0"], input=dot_text.encode(), capture_output=True, check=True)
    data = json.loads(done.stdout)
    by_gvid: dict[int, str] = {}
    nodes: dict[str, dict[str, Any]] = {}
    clusters: dict[str, list[int]] = {}
    for obj in data.get("objects", []):
        if "nodes" in obj or "subgraphs" in obj:
            if obj["name"].startswith("cluster"):
                clusters[obj["name"]] = obj.get("nodes", [])
        else:
            by_gvid[obj["_gvid"]] = obj["name"]
            nodes[obj["name"]] = obj
    edges = [(by_gvid[e["tail"]], by_gvid[e["head"]], e) for e in data.get("edges", [])]
    named = {name: {by_gvid[i] for i in members if i in by_gvid} for name, members in clusters.items()}
    graph = {k: v for k, v in data.items() if k not in ("objects", "edges")}
    return Drawn(graph, nodes, named, edges)


def text_of(label: str) -> str:
    """An HTML-like (or plain) Graphviz label as the words a reader sees, on one line."""
    label = re.sub(r"<BR[^>]*>", " ", label, flags=re.IGNORECASE)
    label = re.sub(r"<[^>]+>", "", label)
    label = label.replace("\\l", " ").replace("\\n", " ")
    return " ".join(html.unescape(label).split())


def broadcast_rules(pathway: Pathway) -> dict[tuple[str, str], list[Transition]]:
    """(id, target) of the rules written once for every non-final state, as the loader expands them."""
    non_final = {s.id for s in pathway.states if not s.final}
    rules: dict[tuple[str, str], list[Transition]] = {}
    for t in pathway.transitions:
        rules.setdefault((t.id, t.target), []).append(t)
    return {key: ts for key, ts in rules.items() if {t.source for t in ts} == non_final}


def is_broadcast(pathway: Pathway, transition: Transition) -> bool:
    return (transition.id, transition.target) in broadcast_rules(pathway)


def guard_phrase(transition: Transition) -> str:
    """What the definition says about the condition: its label, else its guard in words."""
    return transition.label or guards.words(transition.guard)


def edge_drawing(pathway: Pathway, drawn: Drawn, transition: Transition) -> dict[str, Any]:
    """The single drawn edge that must carry this transition."""
    if is_broadcast(pathway, transition):
        found = [a for _, head, a in drawn.edges if head == transition.target and a.get("ltail")]
    else:
        found = [
            a
            for tail, head, a in drawn.edges
            if (tail, head) == (transition.source, transition.target) and not a.get("ltail")
        ]
    assert len(found) == 1, f"{transition.id} from {transition.source}: {len(found)} edges"
    return found[0]


def params_in(expr: guards.Expr | None) -> Iterable[guards.Param]:
    if expr is None:
        return []
    return [node for node in guards.walk(expr, into_predicates=True) if isinstance(node, guards.Param)]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pathway() -> Pathway:
    return load()


@pytest.fixture(scope="module")
def drawn(pathway: Pathway) -> Drawn:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz dot is not installed")
    return parse_dot(sources(pathway)["dot"])


# ---------------------------------------------------------------- transitions


@needs_dot
def test_every_transition_is_drawn_with_its_event_and_guard_in_words(pathway: Pathway, drawn: Drawn) -> None:
    for t in pathway.transitions:
        label = text_of(edge_drawing(pathway, drawn, t)["label"])
        if t.guard is not None or t.label:
            assert guard_phrase(t) in label, f"{t.id}: {guard_phrase(t)!r} not in {label!r}"
        if t.immediate:
            assert "immediately" in label, t.id
        else:
            assert any(pathway.event(e).label in label for e in t.events), f"{t.id}: no event in {label!r}"


@needs_dot
def test_edge_labels_carry_the_real_thresholds(pathway: Pathway, drawn: Drawn) -> None:
    checked = 0
    for t in pathway.transitions:
        label = text_of(edge_drawing(pathway, drawn, t)["label"])
        for param in params_in(t.guard):
            assert f"{param.value} {param.unit}".strip() in label, f"{t.id}: {param.name} missing from {label!r}"
            checked += 1
    assert checked >= 3  # the PDPH guards use the window, the trial length, the fever threshold, the patch limit


@needs_dot
def test_no_edge_is_drawn_that_the_model_does_not_have(pathway: Pathway, drawn: Drawn) -> None:
    pairs = {(t.source, t.target) for t in pathway.transitions if not is_broadcast(pathway, t)}
    broadcast_targets = {target for _, target in broadcast_rules(pathway)}
    for tail, head, attrs in drawn.edges:
        if head == pathway.initial and tail not in pathway.state_ids:
            continue  # the start marker
        if "layout" in drawn.classes(attrs):
            assert attrs.get("style") == "invis", f"{tail} -> {head}: a layout edge must not be seen"
            continue
        if attrs.get("ltail"):
            assert head in broadcast_targets
        else:
            assert (tail, head) in pairs, f"{tail} -> {head} is not in the definition"


@needs_dot
def test_parallel_transitions_share_one_edge_and_immediate_ones_say_so(pathway: Pathway, drawn: Drawn) -> None:
    ordinary = [(tail, head) for tail, head, attrs in drawn.edges if not attrs.get("ltail")]
    assert len(ordinary) == len(set(ordinary)), "two edges drawn for one pair of states"
    immediate_pairs = {(t.source, t.target) for t in pathway.transitions if t.immediate}
    assert immediate_pairs, "the PDPH pathway has immediate transitions"
    for tail, head, attrs in drawn.edges:
        if (tail, head) in immediate_pairs:
            assert "dashed" in attrs.get("style", "")


# ---------------------------------------------------------------- escalation


@needs_dot
def test_rules_for_every_active_state_are_one_distinct_edge_from_the_active_cluster(
    pathway: Pathway, drawn: Drawn
) -> None:
    rules = broadcast_rules(pathway)
    assert rules, "the PDPH pathway escalates red flags from every active state"
    non_final = {s.id for s in pathway.states if not s.final}
    for target in {target for _, target in rules}:
        into = [(tail, attrs) for tail, head, attrs in drawn.edges if head == target]
        compound = [attrs for _, attrs in into if attrs.get("ltail")]
        assert len(compound) == 1, f"{target}: expected one edge from the cluster, found {len(compound)}"
        cluster = compound[0]["ltail"]
        assert drawn.clusters[cluster] >= non_final, "the edge must leave the cluster of every non-final state"
        # no separate edge per state for the same rules: that was the tangle
        direct = {tail for tail, attrs in into if not attrs.get("ltail")}
        covered = {t.source for ts in rules.values() for t in ts if t.target == target}
        others = {t.source for t in pathway.transitions if t.target == target and not is_broadcast(pathway, t)}
        assert not (direct & covered) - others
        ordinary = [a for _, _, a in drawn.edges if not a.get("ltail") and a.get("color")]
        assert all(a["color"] != compound[0]["color"] for a in ordinary), "escalation colour must be distinct"
        assert float(compound[0].get("penwidth", 1)) > max(float(a.get("penwidth", 1)) for a in ordinary)
    assert drawn.graph.get("compound") == "true"


# ---------------------------------------------------------------- states, clusters, title


@needs_dot
def test_states_are_grouped_with_finals_drawn_as_finals(pathway: Pathway, drawn: Drawn) -> None:
    for state in pathway.states:
        node = drawn.nodes[state.id]
        assert (node.get("peripheries") == "2") == state.final, state.id
        assert state.title in text_of(node["label"])
        if state.gist:
            assert state.gist in text_of(node["label"]), state.id
    for a in pathway.states:
        for b in pathway.states:
            same_cluster = drawn.cluster_of(a.id) == drawn.cluster_of(b.id)
            assert same_cluster == ((a.final, a.group) == (b.final, b.group)), (a.id, b.id)
    starts = [tail for tail, head, _ in drawn.edges if head == pathway.initial and tail not in pathway.state_ids]
    assert len(starts) == 1 and drawn.nodes[starts[0]].get("shape") == "point"


@needs_dot
def test_imaging_ratings_are_summarised_on_each_state_naming_the_studies(pathway: Pathway, drawn: Drawn) -> None:
    for state in pathway.states:
        label = text_of(drawn.nodes[state.id]["label"])
        imaging = [r for r in state.recommendations if r.kind == "imaging" and r.rating]
        for rating, when in {(r.rating, r.condition_words) for r in imaging}:
            assert rating is not None
            rated = [r for r in imaging if (r.rating, r.condition_words) == (rating, when)]
            # a conditional item says when it applies, with the condition in words
            summary = f"{len(rated)} {rating.replace('_', ' ')}{f' when {when}' if when else ''}: "
            assert summary in label, (state.id, summary, label)
            listed = label.split(summary, 1)[1]
            for rec in rated:
                # the study's modality and region, e.g. 'MRI spine' for mri_spine_without_and_with_contrast
                first_words = rec.code.split("_")[:2]
                assert " ".join(first_words) in listed.lower(), (state.id, rec.code)


@needs_dot
def test_escalation_leaves_the_cluster_border_not_a_state(pathway: Pathway, drawn: Drawn) -> None:
    for tail, head, attrs in drawn.edges:
        if attrs.get("ltail"):
            assert tail not in pathway.state_ids, f"the edge to {head} is drawn from the box of {tail}"
            assert drawn.nodes[tail].get("style") == "invis"
            assert tail in drawn.clusters[attrs["ltail"]], "the tail sits inside the cluster it leaves"


@needs_dot
def test_a_large_group_of_final_states_is_a_column_not_a_row(pathway: Pathway) -> None:
    laid_out = json.loads(
        subprocess.run(
            ["dot", "-Tjson"], input=sources(pathway)["dot"].encode(), capture_output=True, check=True
        ).stdout
    )
    centres = {o["name"]: tuple(map(float, o["pos"].split(","))) for o in laid_out["objects"] if "pos" in o}
    groups: dict[tuple[bool, str], list[str]] = {}
    for state in pathway.states:
        if state.final:
            groups.setdefault((state.final, state.group), []).append(state.id)
    large = [ids for ids in groups.values() if len(ids) >= 3]
    assert large, "the PDPH pathway has four hand-offs"
    for ids in large:
        ys = sorted(centres[i][1] for i in ids)
        assert all(b > a for a, b in itertools.pairwise(ys)), f"{ids} share a row"


@needs_dot
def test_the_headline_source_is_the_pathways_own_reference(pathway: Pathway, drawn: Drawn) -> None:
    title = text_of(drawn.graph["label"])
    record = pathway.citation(pathway.cite.ref)
    assert f"Source: {record.title}" in title
    assert record.source.split(" (")[0] in title


@needs_dot
def test_title_names_the_pathway_version_source_and_thresholds(pathway: Pathway, drawn: Drawn) -> None:
    title = text_of(drawn.graph["label"])
    assert pathway.title in title
    assert pathway.version in title
    assert pathway.cite_text(pathway.cite) in title
    for param in pathway.parameters:
        assert param.display() in title, param.name


# ---------------------------------------------------------------- SVG tooltips


@needs_dot
def test_svg_tooltips_carry_each_transitions_and_states_citation(pathway: Pathway) -> None:
    svg = ET.fromstring(render_image(sources(pathway)["dot"], "svg"))
    ns = {"svg": "http://www.w3.org/2000/svg"}
    xlink = "{http://www.w3.org/1999/xlink}title"
    tips: dict[str, str] = {}
    for group in svg.iter("{http://www.w3.org/2000/svg}g"):
        title = " ".join(a.get(xlink, "") for a in group.iterfind(".//svg:a", ns))
        if group.get("id"):
            tips[group.get("id", "")] = title
    for state in pathway.states:
        assert pathway.cite_text(state.cite) in tips[f"state-{state.id}"], state.id
    for t in pathway.transitions:
        edge_id = f"edge-*->{t.target}" if is_broadcast(pathway, t) else f"edge-{t.source}->{t.target}"
        edge_id = edge_id.replace("*", "all")
        tip = tips[edge_id]
        assert pathway.cite_text(t.cite) in tip, t.id
        assert t.reason in tip, t.id


# ---------------------------------------------------------------- Mermaid


def mermaid_edges(text: str) -> list[tuple[str, str, str]]:
    edges = []
    for match in re.finditer(r'^\s+(\S+) (?:-->|-\.->|==>)\|"(.*)"\| (\S+)$', text, flags=re.MULTILINE):
        label = match.group(2).replace("<br/>", " ")
        label = re.sub(r"</?b>", "", label)
        label = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label)
        label = label.replace("#quot;", '"').replace("#lt;", "<").replace("#gt;", ">")
        edges.append((match.group(1), match.group(3), " ".join(label.split())))
    return edges


def test_mermaid_draws_every_state_and_transition_with_its_guard(pathway: Pathway) -> None:
    text = sources(pathway)["mermaid"]
    assert text.splitlines()[0] == "---" and "flowchart" in text
    for state in pathway.states:
        assert re.search(rf"^\s+s_{state.id}[\(\[]", text, flags=re.MULTILINE), state.id
    edges = mermaid_edges(text)
    non_final_cluster = {s for s, _, _ in edges if not s.startswith("s_")}
    for t in pathway.transitions:
        source = next(iter(non_final_cluster)) if is_broadcast(pathway, t) else f"s_{t.source}"
        labels = [label for s, target, label in edges if (s, target) == (source, f"s_{t.target}")]
        assert len(labels) == 1, t.id
        if t.guard is not None or t.label:
            assert guard_phrase(t) in labels[0], t.id


# ---------------------------------------------------------------- determinism


def test_two_renders_give_identical_dot_and_mermaid_bytes(pathway: Pathway) -> None:
    first = sources(pathway)
    # a second, separately loaded copy of the same definition text
    again = sources(loads(DEFAULT_DEFINITION.read_text(encoding="utf-8"), DEFAULT_DEFINITION.name))
    assert first == again
    assert first == sources(pathway)


@needs_dot
def test_svg_is_reproducible_with_one_graphviz(pathway: Pathway) -> None:
    dot_text = sources(pathway)["dot"]
    assert render_image(dot_text, "svg") == render_image(dot_text, "svg")


@needs_dot
def test_png_declares_a_resolution_that_prints_it_within_a4_landscape(pathway: Pathway) -> None:
    png = render_image(sources(pathway)["dot"], "png")
    dpi = png_dpi(png)
    assert dpi is not None and dpi >= 150, "a print-sharp resolution, declared in the file"
    width_px, height_px = struct.unpack(">II", png[16:24])
    assert width_px / dpi <= 297 / 25.4 + 0.01 and height_px / dpi <= 210 / 25.4 + 0.01


@needs_dot
def test_pdf_is_one_a4_landscape_page(pathway: Pathway) -> None:
    from pypdf import PdfReader

    pages = PdfReader(io.BytesIO(render_image(sources(pathway)["dot"], "pdf"))).pages
    assert len(pages) == 1
    width_mm = float(pages[0].mediabox.width) / 72 * 25.4
    height_mm = float(pages[0].mediabox.height) / 72 * 25.4
    assert abs(width_mm - 297) < 1 and abs(height_mm - 210) < 1
    assert pathway.title.split()[0] in pages[0].extract_text()
