"""Exhaustive exploration of every reachable situation, breadth first, with shortest counterexamples.

A situation is (state, context class, what the history properties remember). From each
one the explorer sends one event of every event class (see abstraction.py) at the
current time, and lets time run on to the next clock region. Time costs no events, so
the search is a 0-1 breadth-first search and the first violation met is one with the
fewest events. Every situation keeps the concrete course that first reached it, so a
counterexample is a real event stream (real timestamps) that `pathway run` replays.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, deque
from collections.abc import Hashable, Iterable
from datetime import timedelta
from typing import Any

import attrs

from pathway import guards
from pathway.events import Event, dumps
from pathway.facts import Facts
from pathway.model import Pathway, Transition
from pathway.verify.abstraction import EPOCH, Abstraction, at_text, describe_context
from pathway.verify.checks import EventChecks, Memory, describe_event, static_problems
from pathway.verify.properties import (
    EVENT_KINDS,
    STATIC_KINDS,
    TRACE_KINDS,
    Bound,
    Catalogue,
    bind,
    condition_exprs,
    load_catalogue,
)
from pathway.verify.semantics import Move, Semantics

Key = tuple[Any, ...]
Action = Event | int
"""An edge of the search: an event, or a wait of that many seconds."""
EXAMPLES_KEPT = 3


@attrs.frozen
class Node:
    state: str
    facts: Facts
    now: int
    memory: Memory


@attrs.frozen
class Finding:
    """One violation: what went wrong and the shortest course that shows it (None: no course needed)."""

    message: str
    events: tuple[Event, ...] | None = None

    def jsonl(self) -> str:
        return "".join(dumps(e) + "\n" for e in self.events or ())


@attrs.frozen
class Result:
    """The verdict on one property."""

    id: str
    kind: str
    statement: str
    cite: str
    holds: bool
    findings: tuple[Finding, ...] = ()
    violations: int = 0
    checked: bool = True
    note: str = ""


@attrs.frozen
class Coverage:
    abstract_states: int
    final_states: int
    moves: int
    time_steps: int
    transitions: int
    transitions_taken: int
    transitions_waiting: int
    guard_outcomes: int
    guard_outcomes_seen: int
    states_reached: int
    states: int
    event_classes: int
    longest_course: int | None
    overlaps: tuple[tuple[str, str, str, str, int], ...]
    untaken: tuple[str, ...]


@attrs.frozen
class Verification:
    pathway: str
    version: str
    results: tuple[Result, ...]
    coverage: Coverage
    seconds: float

    @property
    def holds(self) -> bool:
        return all(r.holds for r in self.results)

    def result(self, prop_id: str) -> Result:
        for result in self.results:
            if result.id == prop_id:
                return result
        raise KeyError(prop_id)


class Explorer:
    """Breadth-first search over the situations of one pathway under one bound catalogue."""

    def __init__(self, pathway: Pathway, bound: Iterable[Bound]) -> None:
        self.pathway = pathway
        self.bound = tuple(bound)
        self.semantics = Semantics(pathway)
        self.checks = EventChecks(pathway, self.bound)
        self.abstraction = Abstraction(pathway, condition_exprs(self.bound))
        self.final = frozenset(pathway.final_state_ids)
        self.without = next((b.when for b in self.bound if b.kind == "can_finish" and not b.problem), None)
        # search state
        self.node: dict[Key, Node] = {}
        self.dist: dict[Key, int] = {}
        self.parent: dict[Key, tuple[Key, Action] | None] = {}
        self.edges: dict[Key, list[tuple[Action, Key, bool]]] = {}
        self.findings: dict[str, list[Finding]] = {}
        self.violations: Counter[str] = Counter()
        # coverage
        self.moves = 0
        self.time_steps = 0
        self.taken: set[tuple[str, str]] = set()
        self.enabled_seen: dict[tuple[str, str], tuple[Key, Event, str]] = {}
        self.outcomes: set[tuple[str, str, bool]] = set()
        self.overlaps: Counter[tuple[str, str, str, str]] = Counter()
        self.waiting: set[str] = set()
        self.entered: set[str] = {pathway.initial}
        self.unsettled: tuple[Key, Event] | None = None

    def key(self, node: Node) -> Key:
        if node.state in self.final:
            return (node.state,)
        return (node.state, self.abstraction.context_key(node.facts, node.now), node.memory)

    # ------------------------------------------------------------ search

    def run(self, stop_at_first: bool = False) -> None:
        """Explore every reachable situation (or only until the first violation, to kill a mutant fast)."""
        start = Node(self.pathway.initial, Facts(), 0, self.checks.start())
        first = self.key(start)
        self.node[first], self.dist[first], self.parent[first] = start, 0, None
        queue: deque[Key] = deque([first])
        done: set[Key] = set()
        while queue:
            if stop_at_first and self.findings:
                return
            key = queue.popleft()
            if key in done:
                continue
            done.add(key)
            node = self.node[key]
            out = self.edges.setdefault(key, [])
            for event in self.abstraction.events_at(node.now):
                move = self._move(key, node, event)
                if move is None:
                    continue
                memory, target = move
                nxt = Node(target.after, target.facts, node.now, memory)
                nkey = self.key(nxt)
                excluded = self.without is not None and self.checks.holds(self.without, target.scope)
                out.append((event, nkey, excluded))
                self._relax(nkey, nxt, self.dist[key] + 1, (key, event), queue, front=False)
            if node.state in self.final:
                continue
            wait = self.abstraction.time_successor(node.facts, node.now)
            if wait is not None:
                later = attrs.evolve(node, now=node.now + wait)
                lkey = self.key(later)
                if lkey != key:
                    self.time_steps += 1
                    out.append((wait, lkey, False))
                    self._relax(lkey, later, self.dist[key], (key, wait), queue, front=True)

    def _relax(self, key: Key, node: Node, dist: int, via: tuple[Key, Action], queue: deque[Key], front: bool) -> None:
        if key in self.dist and self.dist[key] <= dist:
            return
        self.node[key], self.dist[key], self.parent[key] = node, dist, via
        if front:
            queue.appendleft(key)
        else:
            queue.append(key)

    def _move(self, key: Key, node: Node, event: Event) -> tuple[Memory, Move] | None:
        """Send one event; record coverage and violations; the accepted move, if any."""
        self.moves += 1
        move = self.semantics.step(node.state, node.facts, event)
        if node.state not in self.final:
            self.waiting.add(node.state)
            self._cover(key, node, move)
        memory, found = self.checks.check(node.memory, move)
        for prop_id, message in found:
            self._found(prop_id, message, key, event)
        if move.unsettled and self.unsettled is None:
            self.unsettled = (key, event)
        if not move.accepted:
            return None
        return memory, move

    def _cover(self, key: Key, node: Node, move: Move) -> None:
        enabled = self.semantics.enabled(node.state, move.scope)
        ids = {(t.id, t.source) for t in enabled}
        for transition, _ in self.semantics.on_event.get((node.state, move.event.name), ()):
            marker = (transition.id, transition.source)
            held = marker in ids
            if transition.guard is not None:
                self.outcomes.add((transition.id, transition.source, held))
            if held and marker not in self.enabled_seen:
                self.enabled_seen[marker] = (key, move.event, enabled[0].id)
        for first, other in itertools.pairwise(enabled):
            self.overlaps[(node.state, move.event.name, first.id, other.id)] += 1
        for transition in move.taken:
            self.taken.add((transition.id, transition.source))
            self.entered.add(transition.target)
            for immediate, guard in self.semantics.immediate.get(transition.target, ()):
                if immediate.guard is not None:
                    self.outcomes.add((immediate.id, immediate.source, bool(guard(move.scope))))

    def _found(self, prop_id: str, message: str, key: Key, event: Event | None) -> None:
        self.violations[prop_id] += 1
        kept = self.findings.setdefault(prop_id, [])
        if len(kept) < EXAMPLES_KEPT:
            kept.append(Finding(message, self.course(key, event)))

    def course(self, key: Key, last: Event | None = None) -> tuple[Event, ...]:
        """The concrete events of the shortest course to ``key`` (then ``last``), lines numbered from 1."""
        events: list[Event] = [] if last is None else [last]
        step = self.parent.get(key)
        while step is not None:
            key, action = step
            if isinstance(action, Event):
                events.append(action)
            step = self.parent.get(key)
        events.reverse()
        return tuple(attrs.evolve(e, line=i) for i, e in enumerate(events, start=1))

    # ------------------------------------------------------------ properties over the whole graph

    def situation(self, key: Key) -> str:
        if len(key) == 1:
            return f"state {key[0]!r}"
        context = describe_context(self.abstraction, key[1])
        return f"state {key[0]!r}" + (f" ({context})" if context else "")

    def can_finish(self, bound: Bound) -> list[Finding]:
        reverse: dict[Key, list[Key]] = {}
        for key, out in self.edges.items():
            for _, target, excluded in out:
                if not excluded:
                    reverse.setdefault(target, []).append(key)
        alive = {k for k in self.edges if len(k) == 1}
        frontier = list(alive)
        while frontier:
            for source in reverse.get(frontier.pop(), ()):
                if source not in alive:
                    alive.add(source)
                    frontier.append(source)
        stuck = sorted((k for k in self.edges if k not in alive), key=lambda k: self.dist[k])
        without = f" without {bound.when_text}" if bound.when_text else ""
        return [
            Finding(
                f"after this course the patient is in {self.situation(k)} and can reach no final state{without}",
                self.course(k),
            )
            for k in stuck[:EXAMPLES_KEPT]
        ]

    def _progress(self, key: Key) -> Hashable:
        """A situation without its clocks: waiting changes no situation in this sense."""
        if len(key) == 1:
            return key
        state, (counts, flags, _, _), memory = key
        return (state, counts, flags, memory)

    def bounded(self) -> tuple[list[Finding], int | None]:
        graph: dict[Hashable, set[Hashable]] = {}
        for key, out in self.edges.items():
            here = self._progress(key)
            graph.setdefault(here, set())
            for action, target, _ in out:
                there = self._progress(target)
                if isinstance(action, Event) and there != here:
                    graph[here].add(there)
                    graph.setdefault(there, set())
        findings = []
        if self.unsettled is not None:
            key, event = self.unsettled
            findings.append(
                Finding(
                    f"{describe_event(event)} sets off immediate transitions that never settle", self.course(key, event)
                )
            )
        depth: dict[Hashable, int] = {}
        for key in self.edges:
            here = self._progress(key)
            depth[here] = min(depth.get(here, self.dist[key]), self.dist[key])
        cycles = sorted((c for c in _strongly_connected(graph) if len(c) > 1), key=lambda c: min(depth[n] for n in c))
        for cycle in cycles[:EXAMPLES_KEPT]:
            findings.append(self._cycle_finding(set(cycle)))
        longest = None if cycles else _longest_path(graph, self._progress(next(iter(self.edges))))
        return findings, longest

    def _cycle_finding(self, cycle: set[Hashable]) -> Finding:
        members = [k for k in self.edges if self._progress(k) in cycle]
        start = min(members, key=lambda k: self.dist[k])
        goal = self._progress(start)
        # shortest course from the start round the cycle and back, replayed from the start's representative
        queue: deque[tuple[Key, tuple[Action, ...], bool]] = deque([(start, (), False)])
        seen = {(start, False)}
        while queue:
            key, actions, moved = queue.popleft()
            for action, target, _ in self.edges.get(key, ()):
                if self._progress(target) not in cycle:
                    continue
                left = moved or (isinstance(action, Event) and self._progress(target) != self._progress(key))
                if left and self._progress(target) == goal:
                    tail = self._replay(self.node[start], (*actions, action))
                    names = " → ".join(e.name for e in tail)
                    return Finding(
                        f"the course returns to {self.situation(start)} after {names}: it can go round forever",
                        (*self.course(start), *tail),
                    )
                if (target, left) not in seen:
                    seen.add((target, left))
                    queue.append((target, (*actions, action), left))
        return Finding(f"situations {sorted(map(str, cycle))} form a cycle")

    def _replay(self, node: Node, actions: tuple[Action, ...]) -> tuple[Event, ...]:
        """Re-run a strategy (waits and event classes) concretely from ``node``: consistent timestamps."""
        events = []
        state, facts, now = node.state, node.facts, node.now
        for action in actions:
            if not isinstance(action, Event):
                wait = self.abstraction.time_successor(facts, now)
                now += wait or 0
                continue
            at = EPOCH + timedelta(seconds=now)
            event = attrs.evolve(action, at=at, at_text=at_text(at))
            move = self.semantics.step(state, facts, event)
            events.append(event)
            state, facts = move.after, move.facts
        start = len(self.course(self.key(node))) + 1
        return tuple(attrs.evolve(e, line=start + i) for i, e in enumerate(events))

    def deterministic(self) -> list[Finding]:
        findings = []
        for transition in self.pathway.transitions:
            marker = (transition.id, transition.source)
            if marker in self.taken:
                continue
            if transition.immediate:
                if transition.source in self.entered:
                    findings.append(
                        Finding(f"immediate transition {transition.id!r} from {transition.source!r} is never taken")
                    )
                continue
            if transition.source not in self.waiting:
                continue
            seen = self.enabled_seen.get(marker)
            if seen is not None:
                key, event, winner = seen
                findings.append(
                    Finding(
                        f"transition {transition.id!r} from {transition.source!r} is hidden by priority: whenever it "
                        f"applies, {winner!r} is taken instead (here on {describe_event(event)})",
                        self.course(key, event),
                    )
                )
            else:
                on = "/".join(transition.events)
                findings.append(
                    Finding(
                        f"transition {transition.id!r} ({on} from {transition.source!r} when "
                        f"{guards.words(transition.guard)}) applies in no reachable situation"
                    )
                )
        return findings

    def _live(self, transition: Transition) -> bool:
        """Could this transition ever be tried: its source is a state where patients wait (or, for an
        immediate one, a state they enter)?"""
        return transition.source in (self.entered if transition.immediate else self.waiting)

    def coverage(self, longest: int | None) -> Coverage:
        guarded = [t for t in self.pathway.transitions if t.guard is not None and self._live(t)]
        return Coverage(
            abstract_states=len(self.edges),
            final_states=sum(1 for k in self.edges if len(k) == 1),
            moves=self.moves,
            time_steps=self.time_steps,
            transitions=len(self.pathway.transitions),
            transitions_taken=len(self.taken),
            transitions_waiting=sum(1 for t in self.pathway.transitions if self._live(t)),
            guard_outcomes=2 * len(guarded),
            guard_outcomes_seen=len({o for o in self.outcomes if (o[0], o[1]) in {(t.id, t.source) for t in guarded}}),
            states_reached=len(self.entered),
            states=len(self.pathway.states),
            event_classes=sum(len(r) for r in self.abstraction.representatives.values()),
            longest_course=longest,
            overlaps=tuple((s, e, a, b, n) for (s, e, a, b), n in sorted(self.overlaps.items())),
            untaken=tuple(
                f"{t.id} ({t.source})" for t in self.pathway.transitions if (t.id, t.source) not in self.taken
            ),
        )


def _strongly_connected(graph: dict[Hashable, set[Hashable]]) -> list[list[Hashable]]:
    """Tarjan's algorithm, iterative (graphs of a few hundred nodes, but no recursion limits)."""
    index: dict[Hashable, int] = {}
    low: dict[Hashable, int] = {}
    on_stack: set[Hashable] = set()
    stack: list[Hashable] = []
    result: list[list[Hashable]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root], key=str)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child], key=str))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(component)
    return result


def _longest_path(graph: dict[Hashable, set[Hashable]], start: Hashable) -> int:
    """Events on the longest course through distinct situations (the graph is acyclic here)."""
    memo: dict[Hashable, int] = {}
    order: list[Hashable] = []
    visiting = [(start, False)]
    while visiting:
        node, expanded = visiting.pop()
        if expanded:
            memo[node] = max((memo[c] + 1 for c in graph[node]), default=0)
            continue
        if node in memo:
            continue
        visiting.append((node, True))
        order.append(node)
        visiting.extend((c, False) for c in graph[node] if c not in memo)
    return memo.get(start, 0)


# ---------------------------------------------------------------- the whole verification


def verify(pathway: Pathway, catalogue: Catalogue | None = None, stop_at_first: bool = False) -> Verification:
    """Check every property of the catalogue on ``pathway``: statically, then over every reachable situation.

    ``stop_at_first`` ends the search at the first violation of a per-event property (enough to
    kill a mutant); the whole-graph properties are then not judged and reported as holding."""
    started = time.perf_counter()
    bound = bind(catalogue or load_catalogue(), pathway)
    explorer = Explorer(pathway, bound)
    explorer.run(stop_at_first)
    partial = stop_at_first and bool(explorer.findings)
    bounded_findings, longest = ([], None) if partial else explorer.bounded()
    results = []
    for item in bound:
        prop = item.prop
        cite = prop.cite
        if item.problem:
            results.append(Result(prop.id, prop.kind, prop.statement, cite, False, (Finding(item.problem),), 1))
            continue
        if item.kind in TRACE_KINDS:
            results.append(
                Result(prop.id, prop.kind, prop.statement, cite, True, checked=False, note="checked at run time only")
            )
            continue
        findings: list[Finding] = []
        count = 0
        if item.kind in STATIC_KINDS or item.kind == "absorbing":
            findings += [Finding(p) for p in static_problems(pathway, item)]
            count += len(findings)
        if item.kind in EVENT_KINDS:
            findings += explorer.findings.get(item.id, [])
            count += explorer.violations.get(item.id, 0)
        elif partial:
            pass
        elif item.kind == "can_finish":
            findings = explorer.can_finish(item)
            count = len(findings)
        elif item.kind == "bounded":
            findings, count = bounded_findings, len(bounded_findings)
        elif item.kind == "deterministic":
            findings = explorer.deterministic()
            count = len(findings)
        elif item.kind == "reachable":
            missing = [s for s in pathway.state_ids if s not in explorer.entered]
            findings = [Finding(f"state {s!r} is reached by no course") for s in missing]
            count = len(findings)
        results.append(
            Result(prop.id, prop.kind, prop.statement, cite, not findings, tuple(findings[:EXAMPLES_KEPT]), count)
        )
    return Verification(
        pathway.id, pathway.version, tuple(results), explorer.coverage(longest), time.perf_counter() - started
    )
