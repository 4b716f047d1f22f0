"""Mutation adequacy: small wrong versions of the pathway, and whether the properties catch them.

Each operator makes one change a careless edit of the definition file could make (drop a
transition, negate or weaken a guard, move a threshold across its boundary, retarget a
transition, swap the precedence of two transitions, drop or re-rate a recommendation, drop
a rejection or a citation). A mutant is *killed* when some property fails on it. A mutant
that survives is checked for equivalence: the original and the mutant are explored side by
side on the same events (classes from both definitions' thresholds); if no course shows a
different outcome and their recommendations and citations are the same, it is equivalent,
otherwise the survivor is a gap in the catalogue and comes with the course that tells them apart.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from pathway import guards
from pathway.events import Event
from pathway.facts import Facts
from pathway.model import RATINGS, Cite, Pathway, State, Transition
from pathway.verify.abstraction import Abstraction
from pathway.verify.checks import static_problems
from pathway.verify.explore import verify
from pathway.verify.properties import STATIC_KINDS, Catalogue, bind, condition_exprs, load_catalogue
from pathway.verify.semantics import Move, Semantics


@attrs.frozen
class Mutant:
    operator: str
    description: str
    pathway: Pathway


@attrs.frozen
class MutantResult:
    operator: str
    description: str
    killed_by: tuple[str, ...]
    equivalent: bool | None = None  # survivors only: None when not killed and not yet compared
    why: str = ""
    course: tuple[Event, ...] = ()

    @property
    def killed(self) -> bool:
        return bool(self.killed_by)


@attrs.frozen
class MutationReport:
    results: tuple[MutantResult, ...]
    seconds: float

    @property
    def killed(self) -> int:
        return sum(1 for r in self.results if r.killed)

    @property
    def equivalent(self) -> int:
        return sum(1 for r in self.results if not r.killed and r.equivalent)

    @property
    def missed(self) -> tuple[MutantResult, ...]:
        """Survivors that do change behaviour: gaps in the property catalogue."""
        return tuple(r for r in self.results if not r.killed and not r.equivalent)


# ---------------------------------------------------------------- guard rewriting


def _flip_boundary(op: str) -> str | None:
    return {">=": ">", ">": ">=", "<=": "<", "<": "<=", "==": "!=", "!=": "=="}.get(op)


def guard_variants(expr: guards.Expr, into_predicates: bool = False) -> Iterator[tuple[str, guards.Expr]]:
    """Every single-point mutation of a guard: (what changed, the new guard)."""
    if isinstance(expr, guards.And | guards.Or):
        word = "conjunct" if isinstance(expr, guards.And) else "disjunct"
        for index, operand in enumerate(expr.operands):
            rest = expr.operands[:index] + expr.operands[index + 1 :]
            yield (
                f"drop {word} '{guards.words(operand)}'",
                rest[0] if len(rest) == 1 else type(expr)(rest),
            )
        for index, operand in enumerate(expr.operands):
            for what, changed in guard_variants(operand, into_predicates):
                yield what, type(expr)((*expr.operands[:index], changed, *expr.operands[index + 1 :]))
    elif isinstance(expr, guards.Not):
        yield f"drop 'not' before '{guards.words(expr.operand)}'", expr.operand
        for what, changed in guard_variants(expr.operand, into_predicates):
            yield what, guards.Not(changed)
    elif isinstance(expr, guards.Compare):
        flipped = _flip_boundary(expr.op)
        if flipped:
            yield (
                f"'{expr.op}' becomes '{flipped}' in '{guards.words(expr)}'",
                guards.Compare(flipped, expr.left, expr.right),
            )
    elif isinstance(expr, guards.InList):
        yield f"negate '{guards.words(expr)}'", guards.InList(expr.left, expr.values, not expr.negated)
        if len(expr.values) > 1:
            for value in expr.values:
                kept = tuple(v for v in expr.values if v != value)
                yield f"drop {value!r} from '{guards.words(expr)}'", guards.InList(expr.left, kept, expr.negated)
    elif isinstance(expr, guards.PredicateRef) and into_predicates:
        for what, changed in guard_variants(expr.expr, into_predicates):
            yield f"{expr.name}: {what}", attrs.evolve(expr, expr=changed)


def _replace_predicate(expr: guards.Expr, name: str, new: guards.Expr) -> guards.Expr:
    def swap(node: guards.Expr) -> guards.Expr | None:
        if isinstance(node, guards.PredicateRef):
            if node.name == name:
                return attrs.evolve(node, expr=new)
            inner = _replace_predicate(node.expr, name, new)
            if inner is not node.expr:
                return attrs.evolve(node, expr=inner)
        return None

    return guards.transform(expr, swap)


def _replace_param(expr: guards.Expr, name: str, value: Any) -> guards.Expr:
    def swap(node: guards.Expr) -> guards.Expr | None:
        if isinstance(node, guards.Param) and node.name == name:
            return attrs.evolve(node, value=value)
        if isinstance(node, guards.PredicateRef):
            return attrs.evolve(node, expr=_replace_param(node.expr, name, value))
        return None

    return guards.transform(expr, swap)


def _predicate_changed(pathway: Pathway, name: str, new: guards.Expr) -> Pathway:
    return _map_guards(pathway, lambda g: _replace_predicate(g, name, new))


def _parameter_changed(pathway: Pathway, name: str, value: Any) -> Pathway:
    return _map_guards(pathway, lambda g: _replace_param(g, name, value))


# ---------------------------------------------------------------- operators


def _entries(pathway: Pathway) -> dict[str, list[int]]:
    """Definition entries (transition ids) and the positions of their expansions."""
    entries: dict[str, list[int]] = {}
    for index, transition in enumerate(pathway.transitions):
        entries.setdefault(transition.id, []).append(index)
    return entries


def _with_transitions(pathway: Pathway, transitions: list[Transition]) -> Pathway:
    return attrs.evolve(pathway, transitions=tuple(transitions))


def _map_guards(pathway: Pathway, fn: Callable[[guards.Expr], guards.Expr]) -> Pathway:
    def each(guard: guards.Expr | None) -> guards.Expr | None:
        return None if guard is None else fn(guard)

    def conditions(state: State) -> State:
        recs = tuple(attrs.evolve(r, when=each(r.when)) for r in state.recommendations)
        return attrs.evolve(state, recommendations=recs)

    return attrs.evolve(
        pathway,
        transitions=tuple(attrs.evolve(t, guard=each(t.guard)) for t in pathway.transitions),
        rejections=tuple(attrs.evolve(r, guard=each(r.guard)) for r in pathway.rejections),
        states=tuple(conditions(s) for s in pathway.states),
    )


def drop_transition(pathway: Pathway) -> Iterator[Mutant]:
    for tid, positions in _entries(pathway).items():
        kept = [t for i, t in enumerate(pathway.transitions) if i not in positions]
        yield Mutant("drop transition", f"drop {tid!r}", _with_transitions(pathway, kept))
        if len(positions) > 1:
            for position in positions:
                kept = [t for i, t in enumerate(pathway.transitions) if i != position]
                source = pathway.transitions[position].source
                yield Mutant("drop transition", f"drop {tid!r} from {source!r} only", _with_transitions(pathway, kept))


def _negated(transition: Transition) -> Transition:
    return attrs.evolve(transition, guard=None if transition.guard is None else guards.Not(transition.guard))


def _unguarded(transition: Transition) -> Transition:
    return attrs.evolve(transition, guard=None)


def _guarded(guard: guards.Expr, transition: Transition) -> Transition:
    return attrs.evolve(transition, guard=guard)


def mutate_guard(pathway: Pathway) -> Iterator[Mutant]:
    for tid, positions in _entries(pathway).items():
        first = pathway.transitions[positions[0]]

        def each(change: Callable[[Transition], Transition], where: list[int] = positions) -> Pathway:
            return _with_transitions(
                pathway, [change(t) if i in where else t for i, t in enumerate(pathway.transitions)]
            )

        if first.guard is None:
            continue
        yield Mutant(
            "negate guard",
            f"{tid!r}: negate '{first.guard_source}'",
            each(_negated),
        )
        yield Mutant(
            "weaken guard",
            f"{tid!r}: drop the guard '{first.guard_source}'",
            each(_unguarded),
        )
        for what, changed in guard_variants(first.guard):
            yield Mutant("weaken guard", f"{tid!r}: {what}", each(functools.partial(_guarded, changed)))


def mutate_predicate(pathway: Pathway) -> Iterator[Mutant]:
    for predicate in pathway.predicates:
        variants = [("negate", guards.Not(predicate.expr)), *guard_variants(predicate.expr)]
        for what, changed in variants:
            yield Mutant(
                "mutate predicate",
                f"predicate {predicate.name!r}: {what}",
                _predicate_changed(pathway, predicate.name, changed),
            )


def shift_threshold(pathway: Pathway) -> Iterator[Mutant]:
    used = {
        node.name
        for expr in [t.guard for t in pathway.transitions] + [r.guard for r in pathway.rejections]
        if expr is not None
        for node in guards.walk(expr, into_predicates=True)
        if isinstance(node, guards.Param)
    }
    for param in pathway.parameters:
        if param.name not in used or isinstance(param.value, bool) or not isinstance(param.value, int | float):
            continue
        delta = 1 if isinstance(param.value, int) else 0.5
        for value in (param.value - delta, param.value + delta):
            yield Mutant(
                "shift threshold",
                f"{param.name} {param.display()} → {value:g} {param.unit}".rstrip(),
                _parameter_changed(pathway, param.name, value),
            )


def retarget_transition(pathway: Pathway) -> Iterator[Mutant]:
    for tid, positions in _entries(pathway).items():
        target = pathway.transitions[positions[0]].target
        for state in pathway.state_ids:
            if state == target:
                continue
            changed = [
                attrs.evolve(t, target=state) if i in positions else t for i, t in enumerate(pathway.transitions)
            ]
            yield Mutant("retarget transition", f"{tid!r}: {target!r} → {state!r}", _with_transitions(pathway, changed))


def swap_precedence(pathway: Pathway) -> Iterator[Mutant]:
    by_source: dict[str, list[int]] = {}
    for index, transition in enumerate(pathway.transitions):
        by_source.setdefault(transition.source, []).append(index)
    for source, positions in by_source.items():
        for a, b in itertools.pairwise(positions):
            first, second = pathway.transitions[a], pathway.transitions[b]
            if not (set(first.events) & set(second.events)) and not (first.immediate and second.immediate):
                continue
            changed = list(pathway.transitions)
            changed[a], changed[b] = second, first
            yield Mutant(
                "swap precedence",
                f"in {source!r}: {second.id!r} before {first.id!r}",
                _with_transitions(pathway, changed),
            )


def _with_state(pathway: Pathway, state_id: str, **changes: Any) -> Pathway:
    return attrs.evolve(
        pathway, states=tuple(attrs.evolve(s, **changes) if s.id == state_id else s for s in pathway.states)
    )


def mutate_recommendation(pathway: Pathway) -> Iterator[Mutant]:
    for state in pathway.states:
        for rec in state.recommendations:
            kept = tuple(r for r in state.recommendations if r is not rec)
            yield Mutant(
                "drop recommendation",
                f"{state.id!r}: drop {rec.code!r}",
                _with_state(pathway, state.id, recommendations=kept),
            )
            if rec.when is not None:
                for what, when in (("always", None), ("negated", guards.Not(rec.when))):
                    changed = tuple(attrs.evolve(r, when=when) if r is rec else r for r in state.recommendations)
                    yield Mutant(
                        "mutate recommendation condition",
                        f"{state.id!r}: {rec.code!r} condition {what}",
                        _with_state(pathway, state.id, recommendations=changed),
                    )
            if rec.kind != "imaging":
                continue
            for rating in RATINGS:
                if rating == rec.rating:
                    continue
                rerated = tuple(attrs.evolve(r, rating=rating) if r is rec else r for r in state.recommendations)
                yield Mutant(
                    "re-rate recommendation",
                    f"{state.id!r}: {rec.code!r} {rec.rating} → {rating}",
                    _with_state(pathway, state.id, recommendations=rerated),
                )


def drop_rejection(pathway: Pathway) -> Iterator[Mutant]:
    entries: dict[str, list[int]] = {}
    for index, rule in enumerate(pathway.rejections):
        entries.setdefault(rule.id, []).append(index)
    for rid, positions in entries.items():
        kept = tuple(r for i, r in enumerate(pathway.rejections) if i not in positions)
        yield Mutant("drop rejection", f"drop rejection {rid!r}", attrs.evolve(pathway, rejections=kept))


def drop_citation(pathway: Pathway) -> Iterator[Mutant]:
    none = Cite("")
    for state in pathway.states:
        yield Mutant("drop citation", f"state {state.id!r}", _with_state(pathway, state.id, cite=none))
        for rec in state.recommendations:
            recs = tuple(attrs.evolve(r, cite=none) if r is rec else r for r in state.recommendations)
            yield Mutant(
                "drop citation",
                f"recommendation {rec.code!r} of {state.id!r}",
                _with_state(pathway, state.id, recommendations=recs),
            )
    for tid, positions in _entries(pathway).items():
        uncited = [attrs.evolve(t, cite=none) if i in positions else t for i, t in enumerate(pathway.transitions)]
        yield Mutant("drop citation", f"transition {tid!r}", _with_transitions(pathway, uncited))


OPERATORS: tuple[Callable[[Pathway], Iterator[Mutant]], ...] = (
    drop_transition,
    mutate_guard,
    mutate_predicate,
    shift_threshold,
    retarget_transition,
    swap_precedence,
    mutate_recommendation,
    drop_rejection,
    drop_citation,
)


def mutants(pathway: Pathway) -> list[Mutant]:
    return [m for operator in OPERATORS for m in operator(pathway)]


# ---------------------------------------------------------------- telling two pathways apart


def _content(pathway: Pathway) -> dict[str, Any]:
    return {
        state.id: (
            state.kind,
            bool(state.cite.ref),
            tuple((r.code, r.kind, r.rating, r.rrl, bool(r.cite.ref), r.when is None) for r in state.recommendations),
        )
        for state in pathway.states
    }


def _observed(move: Move, pathway: Pathway) -> tuple[Any, ...]:
    # the care plan a course gets on entry is part of what it observes (conditional items included)
    plan = (
        tuple(r.code for r in pathway.state(move.after).recommendations_for(move.event.fields)) if move.accepted else ()
    )
    return (move.accepted, move.entered, move.after, move.rule is not None or move.final_refusal, move.unsettled, plan)


@attrs.frozen
class Comparison:
    equivalent: bool
    why: str
    course: tuple[Event, ...] = ()


def _course(parent: dict[Any, tuple[Any, Event | None] | None], here: Any, last: Event) -> tuple[Event, ...]:
    course = [last]
    step = parent[here]
    while step is not None:
        here, action = step
        if action is not None:
            course.append(action)
        step = parent[here]
    course.reverse()
    return tuple(attrs.evolve(e, line=i) for i, e in enumerate(course, start=1))


def compare(original: Pathway, mutant: Pathway, catalogue: Catalogue | None = None) -> Comparison:
    """Explore both pathways side by side: the first course on which they act differently, if any."""
    before, after = _content(original), _content(mutant)
    if before != after:
        changed = sorted(s for s, c in before.items() if after.get(s) != c)
        return Comparison(False, f"recommendations or citations differ in {', '.join(changed)}")
    kept = {(t.id, t.source): bool(t.cite.ref) for t in mutant.transitions}
    if any(
        kept.get(k, cited) != cited
        for k, cited in ((k, bool(t.cite.ref)) for t in original.transitions for k in [(t.id, t.source)])
    ):
        return Comparison(False, "a transition lost its citation")
    bound = bind(catalogue or load_catalogue(), original)
    extra = [*condition_exprs(bound), *(t.guard for t in mutant.transitions if t.guard is not None)]
    extra += [r.guard for r in mutant.rejections if r.guard is not None]
    abstraction = Abstraction(original, extra)
    left, right = Semantics(original), Semantics(mutant)
    final = frozenset(original.final_state_ids)
    reason_note = ""

    def key(state: str, facts: Facts, now: int) -> Any:
        return (state,) if state in final else (state, abstraction.context_key(facts, now))

    parent: dict[Any, tuple[Any, Event | None] | None] = {key(original.initial, Facts(), 0): None}
    queue = deque([(original.initial, Facts(), 0)])
    while queue:
        state, facts, now = queue.popleft()
        here = key(state, facts, now)
        for event in abstraction.events_at(now):
            a, b = left.step(state, facts, event), right.step(state, facts, event)
            if _observed(a, original) != _observed(b, mutant):
                what = f"on {event.name} in {state!r}: original {_outcome(a)}, mutant {_outcome(b)}"
                return Comparison(False, what, _course(parent, here, event))
            if (
                not reason_note
                and not a.accepted
                and a.rule is not None
                and b.rule is not None
                and a.rule.id != b.rule.id
            ):
                reason_note = (
                    f"; only the reason for refusing {event.name} in {state!r} changes "
                    f'(rule {a.rule.id!r} becomes {b.rule.id!r}: "{b.rule.reason}")'
                )
            if a.accepted:
                nxt = key(a.after, a.facts, now)
                if nxt not in parent:
                    parent[nxt] = (here, event)
                    queue.append((a.after, a.facts, now))
        if state not in final:
            wait = abstraction.time_successor(facts, now)
            if wait is not None:
                later = key(state, facts, now + wait)
                if later not in parent:
                    parent[later] = (here, None)
                    queue.appendleft((state, facts, now + wait))
    unused = sorted(
        {f"{t.id} ({t.source})" for t in original.transitions} - {f"{t.id} ({t.source})" for t in mutant.transitions}
    )
    gone = f"; the dropped {', '.join(unused)} is never tried, no patient waits there" if unused else ""
    return Comparison(
        True, f"every course has the same outcome and every state the same recommendations{gone}{reason_note}"
    )


def _outcome(move: Move) -> str:
    if not move.accepted:
        return "refuses it"
    return "→ " + " → ".join(move.entered)


# ---------------------------------------------------------------- running the lot


def run_mutants(
    pathway: Pathway,
    catalogue: Catalogue | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MutationReport:
    """Apply every operator; kill each mutant with the properties, or explain why it survives."""
    started = time.perf_counter()
    catalogue = catalogue or load_catalogue()
    found = mutants(pathway)
    results = []
    for index, mutant in enumerate(found):
        # the definition's own face first: a dropped citation or recommendation needs no exploration
        static = [
            b.id
            for b in bind(catalogue, mutant.pathway)
            if b.kind in STATIC_KINDS and (b.problem or static_problems(mutant.pathway, b))
        ]
        killed_by = tuple(static) or tuple(
            r.id for r in verify(mutant.pathway, catalogue, stop_at_first=True).results if not r.holds
        )
        if killed_by:
            results.append(MutantResult(mutant.operator, mutant.description, killed_by))
        else:
            same = compare(pathway, mutant.pathway, catalogue)
            results.append(
                MutantResult(mutant.operator, mutant.description, (), same.equivalent, same.why, same.course)
            )
        if progress is not None:
            progress(index + 1, len(found))
    return MutationReport(tuple(results), time.perf_counter() - started)
