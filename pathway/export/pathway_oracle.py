"""The pathway's answers for the cohort chain: asked of the definition's own semantics.

The PRISM export (``pathway.export.prism``) needs to know, for every situation a simulated
patient can be in, where each event leads. Nothing is restated: the definition's semantics
(``pathway.verify.semantics``) is run on a representative course for each situation class,
and which states the clinician reviews or patches in comes from the simulator's clinician.
A threshold that falls inside a step splits it: each side gets its share of the step.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import numpy as np

from pathway import guards
from pathway.compiled import compile_pathway
from pathway.events import Event
from pathway.export.cohort_chain import flat_signs
from pathway.export.encoding import ExportError
from pathway.facts import Facts
from pathway.model import Pathway
from pathway.simulate.clinician import Clinician
from pathway.simulate.params import SimParams
from pathway.simulate.streams import Slot
from pathway.verify.abstraction import EPOCH, at_text
from pathway.verify.semantics import Semantics

RUNNING = 4
"""The chain's ``ini`` once the presentation draws are done (``RUNNING + 1``: the clinician stopped)."""


class PathwayOracle:
    """What the chain needs to know of the pathway and the simulated clinician, asked of their own code."""

    def __init__(
        self,
        pathway: Pathway,
        params: SimParams,
        policy: str = "guideline",
        step: float = 2.0,
        horizon_h: float = 21 * 24,
    ) -> None:
        self.pathway, self.params, self.step = pathway, params, float(step)
        self.policy = params.policy(policy)
        if not self.policy.exam_red_flags:
            raise ExportError(f"policy {policy!r}: only policies that record red-flag findings are modelled")
        self.sem = Semantics(pathway)
        self.cap = math.ceil(horizon_h / step)
        self.never = self.cap + 1
        self.v = params.vocabulary
        self.states = list(pathway.state_ids)
        self.final = frozenset(pathway.final_state_ids)
        clinician = Clinician(compile_pathway(pathway), params, policy)
        self.review_states = {self.states[i] for i in clinician.reassess_states}
        self.patch_states = {self.states[i] for i in clinician.patch_states}
        self.max_reviews, self.max_patches = params.max_reviews, Slot.MAX_PATCHES
        self.signs = flat_signs(params)
        self.exam = [sign.exam for sign in self.signs]
        self.review_exam = [{**sign.exam, **sign.review} for sign in self.signs]
        self.flags = [sign.red_flag for sign in self.signs]
        self.vitals, self.vitals_share = self._vitals_classes(params)
        self.present_fields = {**params.typical, **self.vitals[0]}
        self.start_state, self.marks = self._course_clock()
        self.tcap = math.ceil(max(self.marks, default=0.0) / step) + 1
        self.ahead = self._ahead()
        self.entered: set[str] = set()
        self.clocked = {t.source for t in pathway.transitions if t.guard is not None and _reads_clock(t.guard)}

    # ------------------------------------------------------------ asking the pathway

    def _ahead(self) -> dict[str, set[str]]:
        """States reachable from each state (itself included) by the definition's transitions."""
        edges: dict[str, set[str]] = {}
        for t in self.pathway.transitions:
            edges.setdefault(t.source, set()).add(t.target)
        ahead = {}
        for state in self.states:
            seen, todo = {state}, [state]
            while todo:
                for nxt in edges.get(todo.pop(), ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
            ahead[state] = seen
        return ahead

    def _vitals_classes(self, params: SimParams) -> tuple[list[dict[str, Any]], list[float]]:
        """The vitals drawn at presentation (rounded to one decimal, as the simulator records them), as
        classes the pathway tells apart: every recorded value with its probability, from the usual
        distribution and, for the febrile share, the febrile one, grouped by where they route a
        presentation; each class is represented by its commonest member."""
        febrile = params.febrile_share.value
        points: list[tuple[float, dict[str, Any]]] = []
        for share, febrile_draw in ((1.0 - febrile, False), (febrile, True)):
            if share <= 0:
                continue
            grids = []
            for name, dist in params.vitals.items():
                source = params.febrile_vitals.get(name, dist) if febrile_draw else dist
                grids.append([(name, value, weight) for value, weight in _recorded(source)])
            for combo in itertools.product(*grids):
                weight = share * math.prod(w for _, _, w in combo)
                if weight > 0:
                    points.append((weight, {name: value for name, value, _ in combo}))
        classes: dict[tuple[str, ...], list[tuple[float, dict[str, Any]]]] = {}
        for share, drawn in points:
            fields = {**params.typical, **drawn}
            key = tuple(self._present(h, -1, fields=fields) for h in (1.0, 24.0, 1e4))
            classes.setdefault(key, []).append((share, drawn))
        ordered = sorted(classes.values(), key=lambda c: -sum(w for w, _ in c))  # the commonest class first
        return [max(members, key=lambda m: m[0])[1] for members in ordered], [sum(w for w, _ in m) for m in ordered]

    def _course_clock(self) -> tuple[str, list[float]]:
        """The state courses start in, and the thresholds of the one clock the chain keeps."""
        starts = set()
        for hours in (0.5, 24.0, 1e4):
            starts.add(self._present(hours, -1))
        started = sorted(starts - self.final)
        if len(started) != 1:
            raise ExportError(f"courses start in {started or 'no state'}: the chain models one starting state")
        start = started[0]
        marks: list[float] = []
        rules: list[tuple[str, guards.Expr | None]] = [(t.source, t.guard) for t in self.pathway.transitions]
        rules += [(r.source, r.guard) for r in self.pathway.rejections]
        for source, guard in rules:
            if source == self.pathway.initial or guard is None:
                continue
            for node in guards.walk(guard, into_predicates=True):
                if (
                    isinstance(node, guards.Call)
                    and node.func in ("hours_since", "hours_since_entered")
                    and (node.func, node.arg) != ("hours_since_entered", start)
                ):
                    raise ExportError(
                        f"{node.func}({node.arg}) after presentation: the chain keeps only hours_since_entered({start})"
                    )
                if isinstance(node, guards.Compare):
                    for a, b in ((node.left, node.right), (node.right, node.left)):
                        clock = isinstance(a, guards.Call) and a.func == "hours_since_entered"
                        if clock and isinstance(b, guards.Const | guards.Param):
                            marks.append(float(b.value))
        return start, sorted(set(marks))

    def _event(self, name: str, hours: float, fields: Mapping[str, Any]) -> Event:
        at = EPOCH + timedelta(hours=hours)
        return Event(1, name, at, at_text(at), dict(fields))

    def _present(self, hours: float, sign: int, vitals: int = 0, fields: Mapping[str, Any] | None = None) -> str:
        """The state the pathway enters at presentation, ``hours`` after the puncture: with a
        complication's findings (``sign``), or its red flag first when the sign is no finding."""
        puncture = EPOCH - timedelta(hours=hours)
        facts = Facts(last_at={self.v["puncture"]: puncture}, counts={self.v["puncture"]: 1})
        body = dict(fields if fields is not None else {**self.params.typical, **self.vitals[vitals]})
        event = self._event(self.v["presentation"], 0.0, body)
        if sign >= 0:
            if self.exam[sign]:
                body.update(self.exam[sign])
                event = self._event(self.v["presentation"], 0.0, body)
            else:
                event = self._event(self.v["red_flag"], 0.0, self.flags[sign])
        move = self.sem.step(self.pathway.initial, facts, event)
        return move.after if move.accepted else self.pathway.initial

    @functools.cache  # noqa: B019 (one chain object per export)
    def _outcome(
        self, state: str, tau: int, nrev: int, npatch: int, pend: bool, name: str, fields: tuple[tuple[str, Any], ...]
    ) -> dict[str, float]:
        """Where an event leads from a situation: state -> probability (a step split at a threshold).
        A refused event leaves the state as it is (the clinician stops: see ``stopped``)."""
        low, high = (tau - 0.5) * self.step, (tau + 0.5) * self.step
        if tau == 0:
            low = 0.0
        if tau >= self.tcap:
            low, high = max(self.marks, default=0.0) + 1.0, max(self.marks, default=0.0) + 2.0
        cuts = [low, *(m for m in self.marks if low < m < high), high]
        result: dict[str, float] = {}
        counts = {
            self.v["puncture"]: 1,
            self.v["presentation"]: 1,
            self.v["reassessment"]: nrev,
            self.v["patch"]: npatch,
            self.v["patch_review"]: npatch - int(pend),
        }
        for a, b in itertools.pairwise(cuts):
            hours = (a + b) / 2
            facts = Facts(
                last_at={self.v["puncture"]: EPOCH - timedelta(hours=24), self.v["presentation"]: EPOCH},
                counts={k: v for k, v in counts.items() if v > 0},
                entered_at={self.start_state: EPOCH},
            )
            move = self.sem.step(state, facts, self._event(name, hours, dict(fields)))
            after = move.after if move.accepted else f"refused:{state}"
            result[after] = result.get(after, 0.0) + (b - a) / (high - low)
        return result


def _recorded(dist: Any, decimals: int = 1) -> list[tuple[float, float]]:
    """Each value a vital can be recorded as (rounded, within its clip bounds) and its probability."""
    unit = 10.0**-decimals
    low = dist.low if dist.low is not None else float(dist.sample(np.array([1e-9]))[0])
    high = dist.high if dist.high is not None else float(dist.sample(np.array([1 - 1e-9]))[0])
    values = np.round(np.arange(round(low, decimals), high + unit / 2, unit), decimals)
    edges = np.concatenate([[-np.inf], values[:-1] + unit / 2, [np.inf]])
    cdf = np.where(np.isinf(edges), (edges > 0).astype(float), dist.cdf(np.where(np.isinf(edges), 0.0, edges)))
    return [(float(v), float(w)) for v, w in zip(values, np.diff(cdf), strict=True) if w > 0]


def _reads_clock(expr: guards.Expr) -> bool:
    return any(
        isinstance(n, guards.Call) and n.func == "hours_since_entered" for n in guards.walk(expr, into_predicates=True)
    )
