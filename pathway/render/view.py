"""The diagram as data: what to draw, derived from a loaded Pathway, before any drawing syntax.

Both the Graphviz and the Mermaid writers read this view, so the two diagrams cannot
disagree. Nothing here knows a state, event or threshold by name: clusters follow each
state's ``group``, edges follow the transitions, and "broadcast" transitions (one rule
written for every non-final state, such as an escalation) are found by their shape.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import attrs

from pathway import guards
from pathway.model import RATINGS, Pathway, State, Transition

# Display names for the model's state groups; an unknown group is shown by its own name.
GROUP_TITLES = {"active": "Active course", "outcome": "Outcomes", "handoff": "Hand-offs to other guidance"}
COURSE_CLUSTER = "course"
"""The cluster holding every non-final state: the tail of broadcast edges."""


def wrap(text: str, width: int) -> tuple[str, ...]:
    """Lines of at most ``width`` characters, broken only at spaces (so joining with spaces restores the text)."""
    return tuple(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)) or ("",)


@attrs.frozen
class ImagingSummary:
    rating: str
    count: int
    studies: tuple[str, ...] = ()
    """Short names of the studies with this rating, in the definition's order."""
    when: str = ""
    """The condition in words when these items apply only on some courses."""

    @property
    def words(self) -> str:
        condition = f" when {self.when}" if self.when else ""
        named = f": {', '.join(self.studies)}" if self.studies else ""
        return f"{self.count} {self.rating.replace('_', ' ')}{condition}{named}"


# A study code reads "<modality>_<region>_with(out)_..._contrast"; its short name keeps the words
# before the first contrast qualifier. Acronyms (ct, mri) are the codes' words of three letters or fewer.
_QUALIFIERS = ("without", "with")


def short_study(code: str) -> str:
    """'mri_head_without_and_with_contrast' -> 'MRI head' (the full code stays in tooltips and the report)."""
    words = code.split("_")
    cut = next((i for i, word in enumerate(words) if word in _QUALIFIERS and i > 0), len(words))
    return " ".join(word.upper() if len(word) <= 3 else word for word in words[:cut])


@attrs.frozen
class NodeView:
    id: str
    title: str
    kind: str
    group: str
    gist: str
    imaging: tuple[ImagingSummary, ...]
    tooltip: str
    escalation: bool = False
    """Target of a broadcast edge (reached from every non-final state)."""

    @property
    def final(self) -> bool:
        return self.kind == "final"

    @property
    def initial(self) -> bool:
        return self.kind == "initial"


@attrs.frozen
class EdgeLine:
    """One transition (or several with the same words) as a line of an edge label."""

    transitions: tuple[str, ...]
    text: str
    priority: int | None
    immediate: bool


@attrs.frozen
class EdgeView:
    key: str
    source: str | None
    """None for a broadcast edge, which leaves the cluster of every non-final state."""
    target: str
    lines: tuple[EdgeLine, ...]
    tooltip: str
    members: tuple[tuple[str, str], ...]
    """(transition id, source state) of every model transition this edge draws."""

    @property
    def broadcast(self) -> bool:
        return self.source is None

    @property
    def immediate(self) -> bool:
        return all(line.immediate for line in self.lines)

    @property
    def self_loop(self) -> bool:
        return self.source == self.target


@attrs.frozen
class ClusterView:
    name: str
    title: str
    group: str
    node_ids: tuple[str, ...]
    """States drawn directly in this cluster."""
    children: tuple[ClusterView, ...] = ()

    @property
    def all_node_ids(self) -> tuple[str, ...]:
        return self.node_ids + tuple(n for child in self.children for n in child.all_node_ids)


@attrs.frozen
class DiagramView:
    id: str
    title: str
    version: str
    source_citation: str
    citations: tuple[str, ...]
    thresholds: tuple[str, ...]
    initial: str
    nodes: tuple[NodeView, ...]
    course: ClusterView
    """Every non-final state (in one sub-cluster per group when there are several groups)."""
    finals: tuple[ClusterView, ...]
    """Final states, one cluster per group."""
    edges: tuple[EdgeView, ...]

    def node(self, node_id: str) -> NodeView:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def edge(self, key: str) -> EdgeView:
        for edge in self.edges:
            if edge.key == key:
                return edge
        raise KeyError(key)

    def edge_for(self, transition: str, source: str) -> EdgeView:
        """The edge that draws the model transition (transition id, source state)."""
        for edge in self.edges:
            if (transition, source) in edge.members:
                return edge
        raise KeyError(f"{transition} from {source}")


def edge_key(source: str | None, target: str) -> str:
    return f"{'*' if source is None else source}->{target}"


def group_title(group: str) -> str:
    return GROUP_TITLES.get(group, group.replace("_", " ").capitalize())


# ---------------------------------------------------------------- transitions in words


def _event_words(pathway: Pathway, events: Iterable[str]) -> str:
    return " or ".join(pathway.event(name).label for name in events)


def transition_words(pathway: Pathway, transition: Transition) -> str:
    """Event and guard in words, e.g. 'reassessment: ≥ 48 h of conservative therapy'."""
    trigger = "immediately" if transition.immediate else _event_words(pathway, transition.events)
    if transition.label:
        # a label written in the definition usually names its event already
        starts_with_event = any(transition.label.startswith(pathway.event(e).label) for e in transition.events)
        return transition.label if starts_with_event else f"{trigger}: {transition.label}"
    if transition.guard is None:
        return trigger
    return f"{trigger}: {guards.words(transition.guard)}"


def priorities(pathway: Pathway) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(transition id, source, event) -> (rank among the source's transitions for that event, how many)."""
    by_trigger: dict[tuple[str, str], list[str]] = {}
    for transition in pathway.transitions:
        for event in transition.events or ("",):
            by_trigger.setdefault((transition.source, event), []).append(transition.id)
    ranks: dict[tuple[str, str, str], tuple[int, int]] = {}
    for (source, event), ids in by_trigger.items():
        for rank, transition_id in enumerate(ids, start=1):
            ranks[(transition_id, source, event)] = (rank, len(ids))
    return ranks


def _priority(
    ranks: dict[tuple[str, str, str], tuple[int, int]], transition: Transition, sources: Iterable[str]
) -> int | None:
    """The check order shown on the label: only where a choice exists and the order is the same everywhere."""
    seen = {ranks[(transition.id, source, event)] for source in sources for event in transition.events or ("",)}
    if any(count > 1 for _, count in seen) and len({rank for rank, _ in seen}) == 1:
        return next(iter(seen))[0]
    return None


# ---------------------------------------------------------------- building the view


def broadcast_groups(pathway: Pathway) -> dict[tuple[str, str], tuple[Transition, ...]]:
    """Transitions written once for every non-final state: (id, target) -> one Transition per source."""
    non_final = {s.id for s in pathway.states if not s.final}
    by_rule: dict[tuple[str, str], list[Transition]] = {}
    for transition in pathway.transitions:
        by_rule.setdefault((transition.id, transition.target), []).append(transition)
    return {
        rule: tuple(members)
        for rule, members in by_rule.items()
        if len(non_final) > 1 and {t.source for t in members} == non_final
    }


def _by_group(states: Iterable[State]) -> dict[str, tuple[str, ...]]:
    groups: dict[str, tuple[str, ...]] = {}
    for state in states:
        groups[state.group] = (*groups.get(state.group, ()), state.id)
    return groups


def _state_tooltip(pathway: Pathway, state: State) -> str:
    lines = [f"{state.title} ({state.id}): {state.text}"]
    for rec in state.recommendations:
        rating = f" [{rec.rating.replace('_', ' ')}, RRL {rec.rrl}]" if rec.rating else ""
        when = f" (when {rec.condition_words})" if rec.when is not None else ""
        lines.append(f"- {rec.code}{rating}{when}: {rec.text} (source: {pathway.cite_text(rec.cite)})")
    lines.append(f"Source: {pathway.cite_text(state.cite)}")
    return "\n".join(lines)


def _imaging(state: State) -> tuple[ImagingSummary, ...]:
    """Imaging items by rating (unconditional first, then each condition), naming the studies."""
    codes: dict[tuple[str, str], list[str]] = {}
    for when in dict.fromkeys(("", *(r.condition_words for r in state.recommendations))):
        for rating in RATINGS:
            codes[(rating, when)] = []
    for rec in state.recommendations:
        if rec.kind == "imaging" and rec.rating in RATINGS:
            codes[(rec.rating, rec.condition_words)].append(rec.code)
    shorts = [short_study(code) for found in codes.values() for code in found]
    # two codes of one state that shorten alike (with and without contrast) keep their full words
    name = short_study if len(set(shorts)) == len(shorts) else (lambda code: code.replace("_", " "))
    return tuple(
        ImagingSummary(rating, len(found), tuple(dict.fromkeys(name(c) for c in found)), when)
        for (rating, when), found in codes.items()
        if found
    )


def _edge_tooltip(pathway: Pathway, transitions: Iterable[Transition]) -> str:
    lines = []
    for transition in transitions:
        lines.append(
            f"{transition.id}: {transition_words(pathway, transition)}. Why: {transition.reason}."
            f" Source: {pathway.cite_text(transition.cite)}"
        )
    return "\n".join(lines)


def _lines(
    pathway: Pathway, transitions: list[tuple[Transition, tuple[str, ...]]], ranks: dict
) -> tuple[EdgeLine, ...]:
    """One label line per distinct wording, in priority order; transitions with the same words share a line."""
    lines: dict[str, EdgeLine] = {}
    for transition, sources in transitions:
        text = transition_words(pathway, transition)
        priority = _priority(ranks, transition, sources)
        if text in lines:
            old = lines[text]
            lines[text] = attrs.evolve(old, transitions=(*old.transitions, transition.id))
        else:
            lines[text] = EdgeLine((transition.id,), text, priority, transition.immediate)
    return tuple(lines.values())


def headline_source(pathway: Pathway) -> str:
    """The pathway's own source with its bibliographic record (without the record's bracketed notes)."""
    record = pathway.citation(pathway.cite.ref).source.split(" (")[0].strip()
    return f"{pathway.cite_text(pathway.cite)}. {record}"


def build_view(pathway: Pathway) -> DiagramView:
    ranks = priorities(pathway)
    broadcasts = broadcast_groups(pathway)
    broadcast_members = {(t.id, t.source) for members in broadcasts.values() for t in members}
    escalations = {target for _, target in broadcasts}

    nodes = tuple(
        NodeView(
            id=s.id,
            title=s.title,
            kind=s.kind,
            group=s.group,
            gist=s.gist,
            imaging=_imaging(s),
            tooltip=_state_tooltip(pathway, s),
            escalation=s.id in escalations,
        )
        for s in pathway.states
    )

    edges: list[EdgeView] = []
    broadcast_by_target: dict[str, list[tuple[str, str]]] = {}
    for rule_id, target in broadcasts:
        broadcast_by_target.setdefault(target, []).append((rule_id, target))
    for target, rules in broadcast_by_target.items():
        members = [t for rule in rules for t in broadcasts[rule]]
        firsts = [(broadcasts[rule][0], tuple(t.source for t in broadcasts[rule])) for rule in rules]
        edges.append(
            EdgeView(
                key=edge_key(None, target),
                source=None,
                target=target,
                lines=_lines(pathway, firsts, ranks),
                tooltip=_edge_tooltip(pathway, [first for first, _ in firsts]),
                members=tuple((t.id, t.source) for t in members),
            )
        )

    by_pair: dict[tuple[str, str], list[Transition]] = {}
    for transition in pathway.transitions:
        if (transition.id, transition.source) not in broadcast_members:
            by_pair.setdefault((transition.source, transition.target), []).append(transition)
    for (source, target), transitions in by_pair.items():
        edges.append(
            EdgeView(
                key=edge_key(source, target),
                source=source,
                target=target,
                lines=_lines(pathway, [(t, (source,)) for t in transitions], ranks),
                tooltip=_edge_tooltip(pathway, transitions),
                members=tuple((t.id, t.source) for t in transitions),
            )
        )

    course_groups = _by_group(s for s in pathway.states if not s.final)
    if len(course_groups) == 1:
        ((group, ids),) = course_groups.items()
        course = ClusterView(COURSE_CLUSTER, group_title(group), group, ids)
    else:
        children = tuple(
            ClusterView(f"{COURSE_CLUSTER}_{g}", group_title(g), g, ids) for g, ids in course_groups.items()
        )
        course = ClusterView(COURSE_CLUSTER, "Course", "", (), children)
    finals = tuple(
        ClusterView(f"final_{g}", group_title(g), g, ids)
        for g, ids in _by_group(s for s in pathway.states if s.final).items()
    )

    return DiagramView(
        id=pathway.id,
        title=pathway.title,
        version=pathway.version,
        source_citation=headline_source(pathway),
        citations=tuple(f"{c.title}. {c.source}" for c in pathway.citations),
        thresholds=tuple(f"{p.text}: {p.display()}" for p in pathway.parameters),
        initial=pathway.initial,
        nodes=nodes,
        course=course,
        finals=finals,
        edges=tuple(edges),
    )
