"""LTL formulas for SPIN, generated from the property catalogue (pathway/verify/properties.toml).

Nothing here is written per property: each *kind* of property has one translation, and the
states, events and conditions come from the bound catalogue. A formula reads the variables
the Promela model shows after each event (see ``pathway.export.promela``). Two sorts of claim:

* ``hold``: the property itself; SPIN must find no violation;
* ``witness``: a reachability question asked as "this never happens" (``[] !q``); a
  violation is the witness that q happens. Reachability and "no transition hidden by
  priority" are existential, so they are answered by one such question per state or
  transition.

``can_finish`` (from every situation a final state can still be reached) is branching
time (AG EF): LTL cannot state it, so SPIN gives no verdict on it. Static kinds (ratings,
recommendations, citations) are about the definition's text, not its behaviour, and the
runtime kind is about a reported trace: neither has a SPIN verdict either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from pathway.export.encoding import Encoding, ExportError, ident
from pathway.verify.properties import STATIC_KINDS, TRACE_KINDS, Bound

Expect = Literal["hold", "witness"]


@attrs.frozen
class Claim:
    name: str
    formula: str
    prop: str
    expect: Expect
    comment: str
    subject: str = ""  # witness claims: what is asked about ("state X", "transition Y")


@attrs.frozen
class Plan:
    """How SPIN judges one property: its claims, or why it cannot."""

    prop: str
    kind: str
    claims: tuple[Claim, ...] = ()
    not_expressible: str = ""


def _any(parts: Iterable[str]) -> str:
    items = list(parts)
    return "(" + " || ".join(items) + ")" if items else "0"


def _all(parts: Iterable[str]) -> str:
    items = list(parts)
    return "(" + " && ".join(items) + ")" if items else "1"


class Formulas:
    """The translations, one method per property kind."""

    def __init__(self, encoding: Encoding) -> None:
        self.enc = encoding
        self.slots = range(encoding.chain)
        self.props: dict[str, str] = {}

    def q(self, text: str) -> str:
        """A named proposition: the model sets it after each event. SPIN's LTL parser takes
        formulas of about a thousand characters at most, so the temporal skeleton stays in
        the formula and each state condition becomes one boolean of the model."""
        if text not in self.props:
            self.props[text] = f"q{len(self.props)}"
        return self.props[text]

    def st(self, state: str) -> str:
        return f"ST_{ident(state)}"

    def enters(self, state: str) -> str:
        return _any(f"en[{k}] == {self.st(state)}" for k in self.slots)

    def takes(self, indexes: Iterable[int], slot: int | None = None) -> str:
        wanted = list(indexes)
        slots = self.slots if slot is None else [slot]
        return _any(f"tk[{k}] == {i}" for k in slots for i in wanted)

    def chain_is(self, states: tuple[str, ...]) -> str:
        parts = [f"en[{k}] == {self.st(s)}" for k, s in enumerate(states) if k < self.enc.chain]
        parts += [f"en[{k}] == 0" for k in self.slots if k >= len(states)]
        return _all(parts)

    def cond(self, bound: Bound) -> str:
        return self.enc.expr(bound.when, snapshot=True)

    # ------------------------------------------------------------ one per kind
    # Each proposition names what must not happen ("bad"), so it is false while the model
    # rests between events (every proposition is reset then).

    def never(self, bad: str) -> str:
        return f"[] !{self.q(f'(obs && {bad})')}"

    def escalate(self, b: Bound) -> list[str]:
        return [self.never(f"!fin && {self.cond(b)} && !(acc && st == {self.st(b.to)})")]

    def route(self, b: Bound) -> list[str]:
        clauses = []
        earlier: list[str] = []
        for rule in b.rules:
            on = _any(f"ev == EV_{ident(e)}" for e in rule.events) if rule.events else "1"
            match = f"({on} && {self.enc.expr(rule.when, snapshot=True)})"
            outcome = "!acc" if rule.reject else f"(acc && {self.chain_is(rule.to)})"
            first = _all([match, *(f"!({m})" for m in earlier)])
            clauses.append(f"(!({first}) || {outcome})")
            earlier.append(match)
        return [self.never(f"!fin && pre == {self.st(b.state)} && !{_all(clauses)}")]

    def entered_only_via(self, b: Bound) -> list[str]:
        trans = self.enc.transitions
        to_via = [i for i, t in trans.items() if t.target == b.via]
        from_via = [i for i, t in trans.items() if t.source == b.via and t.target == b.state]
        other = [i for i, t in trans.items() if t.target == b.state and t.source not in (b.state, b.via)]
        when = self.cond(b)
        # via entered earlier in the same chain, then state from via: judged by this event's condition
        via_then_use = _any(
            _all([self.takes(from_via, j), _any(self.takes(to_via, k) for k in range(j))])
            for j in range(1, self.enc.chain)
        )
        # state entered from via with no entry into via before it in this chain: judged by the
        # condition at the last entry into via, in an earlier event
        use_later = _any(
            _all([self.takes(from_via, j), *(f"!{self.takes(to_via, k)}" for k in range(j))]) for j in self.slots
        )
        use = self.q(f"(obs && {use_later})")
        armed = self.q(f"(obs && {self.takes(to_via)} && {when} && !{use_later})")
        disarmed = self.q(f"(obs && {self.takes(to_via)} && !({when}))")
        # SPIN here has no X: the model rests (obs = 0) between two events, so "from the next
        # event on" is "once the observation is cleared"
        until_armed = f"(!{use} W {armed})"
        return [
            self.never(self.takes(other)) if other else "[] 1",
            self.never(f"{via_then_use} && !({when})"),
            until_armed,
            f"[] (!{disarmed} || (obs W (!obs && {until_armed})))",
        ]

    def never_leads_to(self, b: Bound) -> list[str]:
        into = _any(f"en[{k}] == {self.st(s)}" for k in self.slots for s in b.states)
        return [self.never(f"acc && {self.cond(b)} && {into}")]

    def entry_recommends(self, b: Bound) -> list[str]:
        """The items a state carries on entry depend on the event that brought the patient (each
        item's own ``when``); per code the last applicable item counts, as in the engine's report."""
        recs = self.enc.pathway.state(b.state).recommendations
        applies = [self.enc.expr(r.when) for r in recs]

        def last(i: int) -> str:  # item i applies and no later item of the same code does
            later = [f"!({applies[j]})" for j in range(i + 1, len(recs)) if recs[j].code == recs[i].code]
            return _all([applies[i], *later])

        ok = []
        for _, code, rating in b.items:
            mine = [i for i, r in enumerate(recs) if r.code == code]
            if rating is None:
                ok.append(_any(applies[i] for i in mine))
            else:
                ok.append(_any(last(i) for i in mine if recs[i].rating == rating))
        if b.no_other_imaging:
            listed = {code for _, code, _ in b.items}
            ok += [f"!{last(i)}" for i, r in enumerate(recs) if r.code not in listed and r.kind == "imaging"]
        return [self.never(f"acc && st == {self.st(b.state)} && {self.cond(b)} && !{_all(ok)}")]

    def transient(self, b: Bound) -> list[str]:
        return [self.never(f"acc && {_any(f'st == {self.st(s)}' for s in b.states)}")]

    def absorbing(self, b: Bound) -> list[str]:
        return ["[] !(obs && fin && acc)"]

    def complete(self, b: Bound) -> list[str]:
        return ["[] !(obs && !fin && !acc && rule == 0)"]

    def bounded(self, b: Bound) -> list[str]:
        enc = self.enc
        changed = ["st != pre"]
        changed += [f"{name} != p_{name}" for name, _ in enc.counts.values()]
        changed += [f"{name} != p_{name}" for name in enc.flags.values()]
        return ["[] !(obs && unset)", f"<> [] !{self.q(f'(obs && acc && {_any(changed)})')}"]


def _witness_claims(f: Formulas, prop: str, kind: str) -> list[Claim]:
    """The reachability questions the existential kinds need."""
    enc = f.enc
    pathway = enc.pathway
    claims = []
    for state in pathway.state_ids:
        if state == pathway.initial:
            continue
        claims.append(
            Claim(
                f"{prop}_enter_{ident(state)}", f"[] !(obs && {f.enters(state)})", prop, "witness", "", f"state {state}"
            )
        )
    if kind == "deterministic":
        for state in pathway.state_ids:
            if not pathway.state(state).final:
                claims.append(
                    Claim(
                        f"{prop}_wait_{ident(state)}",
                        f"[] !(obs && !fin && pre == {f.st(state)})",
                        prop,
                        "witness",
                        "",
                        f"waiting {state}",
                    )
                )
        for index in enc.transitions:
            claims.append(
                Claim(
                    f"{prop}_take_{index}",
                    f"[] !(obs && {f.takes([index])})",
                    prop,
                    "witness",
                    "",
                    f"transition {index}",
                )
            )
    return [attrs.evolve(c, comment=f"{prop}: does this happen? {c.subject}") for c in claims]


HOLD_KINDS = (
    "escalate",
    "never_leads_to",
    "entry_recommends",
    "route",
    "entered_only_via",
    "transient",
    "absorbing",
    "complete",
    "bounded",
)
WITNESS_KINDS = ("reachable", "deterministic")


def plan(bound: Iterable[Bound], formulas: Formulas) -> list[Plan]:
    """Every property of the catalogue with its SPIN claims (or why it has none);
    ``formulas.props`` then holds the propositions the model must set."""
    plans = []
    for b in bound:
        if b.problem:
            plans.append(Plan(b.id, b.kind, not_expressible=b.problem))
        elif b.kind in HOLD_KINDS:
            try:
                parts = getattr(formulas, b.kind)(b)
            except ExportError as err:
                plans.append(Plan(b.id, b.kind, not_expressible=str(err)))
                continue
            claim = Claim(f"L_{ident(b.id)}", " && ".join(f"({p})" for p in parts), b.id, "hold", b.prop.statement)
            plans.append(Plan(b.id, b.kind, (claim,)))
        elif b.kind in WITNESS_KINDS:
            plans.append(Plan(b.id, b.kind, tuple(_witness_claims(formulas, f"Q_{ident(b.id)}", b.kind))))
        elif b.kind == "can_finish":
            plans.append(Plan(b.id, b.kind, not_expressible="branching time (AG EF final): not expressible in LTL"))
        elif b.kind in STATIC_KINDS:
            plans.append(Plan(b.id, b.kind, not_expressible="about the definition's text, not its behaviour"))
        elif b.kind in TRACE_KINDS:
            plans.append(Plan(b.id, b.kind, not_expressible="about a reported trace (checked at run time)"))
        else:
            plans.append(Plan(b.id, b.kind, not_expressible=f"no LTL translation for kind {b.kind!r}"))
    return plans


def claims(plans: Iterable[Plan]) -> list[tuple[str, str, str]]:
    return [(c.name, c.formula, c.comment.replace("*/", "* /")) for p in plans for c in p.claims]
