"""The guideline cohort as a discrete-time Markov chain in the PRISM language (for Storm).

Pathway + simulated clinician + natural history, for in-scope patients, in steps of STEP
hours. The chain's variables are what the simulator's clinician and patient remember
(pathway state, steps until the next clinician action, until the headache resolves on its
own, until a complication shows and is noticed, reviews and patches done, whether a patch
awaits review, steps since the course began); the pathway's answer to every event is asked
of the definition's own semantics (``pathway.verify.semantics``) for each situation class
while the model is written, so the PRISM text restates no threshold of the definition.

One command is enabled in every state: a due event (red flag, then spontaneous
resolution, then the clinician's action) takes no time; otherwise ``[tick]`` lets one
step pass. Rewards: ``time`` (hours, on ticks), ``patches`` (on [patch]). When a
threshold of the definition falls inside a step (say a review 47-49 h into therapy,
rounded to 48), the step is split: each side's outcome gets the share of the step it
covers, so rounding does not move patients across a threshold wholesale.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import numpy as np

from pathway import guards
from pathway.events import Event
from pathway.export.cohort_chain import Presentation, presentation, step_pmf
from pathway.export.encoding import ExportError
from pathway.facts import Facts
from pathway.model import Pathway
from pathway.simulate.clinician import Clinician
from pathway.simulate.params import RELIEF, RESPONSES, SimParams
from pathway.simulate.streams import Slot
from pathway.verify.abstraction import EPOCH, at_text
from pathway.verify.semantics import Semantics

PRUNE = 1e-12  # probabilities below this are dropped (and the rest renormalised) to keep the text small
RUNNING = 4


def _updates(choices: Mapping[str, float]) -> str:
    """PRISM updates "p1:(a'=1) + p2:(...)", merged, pruned and renormalised."""
    kept = {u: p for u, p in choices.items() if p > PRUNE}
    total = sum(kept.values())
    if not kept:
        raise ExportError("a distribution with no mass left")
    return " + ".join(f"{p / total:.15g}:{u}" for u, p in kept.items())


def _pmf_items(pmf: np.ndarray) -> Iterator[tuple[int, float]]:
    for k, p in enumerate(pmf):
        if p > PRUNE:
            yield k, float(p)


class CohortChain:
    """Writes the PRISM model of one pathway under one parameter file and policy."""

    def __init__(self, pathway: Pathway, params: SimParams, policy: str = "guideline", step: float = 2.0,
                 horizon_h: float = 21 * 24) -> None:
        self.pathway, self.params, self.step = pathway, params, float(step)
        self.policy = params.policy(policy)
        if not self.policy.exam_red_flags:
            raise ExportError(f"policy {policy!r}: only policies that record red-flag findings are modelled")
        self.sem = Semantics(pathway)
        self.cap = int(math.ceil(horizon_h / step))
        self.never = self.cap + 1
        self.v = params.vocabulary
        self.states = list(pathway.state_ids)
        self.final = frozenset(pathway.final_state_ids)
        from pathway.compiled import compile_pathway

        clinician = Clinician(compile_pathway(pathway), params, policy)
        self.review_states = {self.states[i] for i in clinician.reassess_states}
        self.patch_states = {self.states[i] for i in clinician.patch_states}
        self.max_reviews, self.max_patches = params.max_reviews, Slot.MAX_PATCHES
        self.exam = [c.exam for c in params.complications]
        self.flags = [c.red_flag for c in params.complications]
        vitals = {name: float(dist.sample(np.array([0.5]))[0]) for name, dist in params.vitals.items()}
        self.present_fields = {**params.typical, **vitals}
        self._check_vitals(params)
        self.start_state, self.marks = self._course_clock()
        self.tcap = int(math.ceil(max(self.marks, default=0.0) / step)) + 1
        self.ahead = self._ahead()
        self.entered: set[str] = set()
        self.clocked = {t.source for t in pathway.transitions if t.guard is not None and _reads_clock(t.guard)}
        self.pres = presentation(params, step, self.cap, self._present, self.final)

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

    def _check_vitals(self, params: SimParams) -> None:
        """The chain presents everyone with median vitals: refuse parameters whose vitals could matter."""
        for q in (0.0005, 0.9995):
            extreme = {name: float(dist.sample(np.array([q]))[0]) for name, dist in params.vitals.items()}
            for hours in (1.0, 24.0):
                if self._present(hours, False, {**params.typical, **extreme}) != self._present(hours, False):
                    raise ExportError("the simulated vitals can change the routing at presentation: not modelled")

    def _course_clock(self) -> tuple[str, list[float]]:
        """The state courses start in, and the thresholds of the one clock the chain keeps."""
        starts = set()
        for hours in (0.5, 24.0, 1e4):
            starts.add(self._present(hours, False))
        started = sorted(starts - self.final)
        if len(started) != 1:
            raise ExportError(f"courses start in {started or 'no state'}: the chain models one starting state")
        start = started[0]
        marks: list[float] = []
        for t in self.pathway.transitions + tuple(self.pathway.rejections):  # type: ignore[operator]
            if t.source == self.pathway.initial or t.guard is None:
                continue
            for node in guards.walk(t.guard, into_predicates=True):
                if isinstance(node, guards.Call) and node.func in ("hours_since", "hours_since_entered"):
                    if (node.func, node.arg) != ("hours_since_entered", start):
                        raise ExportError(f"{node.func}({node.arg}) after presentation: the chain keeps only "
                                          f"hours_since_entered({start})")
                if isinstance(node, guards.Compare):
                    for a, b in ((node.left, node.right), (node.right, node.left)):
                        if isinstance(a, guards.Call) and isinstance(b, guards.Const | guards.Param):
                            if a.func == "hours_since_entered":
                                marks.append(float(b.value))
        return start, sorted(set(marks))

    def _event(self, name: str, hours: float, fields: Mapping[str, Any]) -> Event:
        at = EPOCH + timedelta(hours=hours)
        return Event(1, name, at, at_text(at), dict(fields))

    def _present(self, hours: float, flagged: bool, fields: Mapping[str, Any] | None = None) -> str:
        """The state the pathway enters at presentation, ``hours`` after the puncture."""
        puncture = EPOCH - timedelta(hours=hours)
        facts = Facts(last_at={self.v["puncture"]: puncture}, counts={self.v["puncture"]: 1})
        body = dict(fields if fields is not None else self.present_fields)
        if flagged:
            body.update(self.exam[0] if self.exam else {})
        move = self.sem.step(self.pathway.initial, facts, self._event(self.v["presentation"], 0.0, body))
        return move.after if move.accepted else self.pathway.initial

    @functools.lru_cache(maxsize=None)  # noqa: B019 (one chain object per export)
    def _outcome(self, state: str, tau: int, nrev: int, npatch: int, pend: bool, name: str,
                 fields: tuple[tuple[str, Any], ...]) -> dict[str, float]:
        """Where an event leads from a situation: state -> probability (a step split at a threshold).
        A refused event leaves the state as it is (the clinician stops: see ``stopped``)."""
        low, high = (tau - 0.5) * self.step, (tau + 0.5) * self.step
        if tau == 0:
            low = 0.0
        if tau >= self.tcap:
            low, high = max(self.marks, default=0.0) + 1.0, max(self.marks, default=0.0) + 2.0
        cuts = [low, *(m for m in self.marks if low < m < high), high]
        result: dict[str, float] = {}
        counts = {self.v["puncture"]: 1, self.v["presentation"]: 1, self.v["reassessment"]: nrev,
                  self.v["patch"]: npatch, self.v["patch_review"]: npatch - int(pend)}
        for a, b in zip(cuts, cuts[1:], strict=False):
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

    # ------------------------------------------------------------ the text

    def s(self, state: str) -> int:
        return self.states.index(state)

    def schedule(self, state: str, first: bool = False, patch_pending: bool = False) -> dict[str, float]:
        """The clinician's next action on entering (or staying in) ``state``: w' distribution."""
        p = self.params
        if state in self.review_states:
            pmf = step_pmf(p.review_first if first else p.review_interval, self.step, self.cap)
        elif state in self.patch_states:
            pmf = step_pmf(p.patch_review if patch_pending else p.patch_delay, self.step, self.cap)
        else:
            return {"": 1.0}
        return {f"(w'={k})": q for k, q in _pmf_items(pmf)}

    def header(self) -> list[str]:
        p, names = self.pathway, self.states
        head = [
            f"// {p.title} (pathway {p.id} v{p.version}): the guideline cohort of in-scope patients as a DTMC.",
            f"// Parameters: {self.params.title} ({self.params.file}); step {self.step:g} h; horizon {self.cap} steps.",
            "// Generated by `pathway export --format prism`: do not edit; regenerate.",
            "dtmc",
            "",
        ]
        head += [f"// s={i}: {name}" for i, name in enumerate(names)]
        return head

    def variables(self) -> list[str]:
        k = len(self.params.complications)
        return [
            "module course",
            f"  ini : [0..{RUNNING + 1}] init 0; // 0-3 presentation draws, {RUNNING} running, {RUNNING + 1} stopped",
            f"  s : [0..{len(self.states) - 1}] init {self.s(self.pathway.initial)};",
            "  lb : bool init false; // large-bore puncture",
            "  rep : bool init false; // reports a spontaneous resolution",
            f"  r : [0..{self.never}] init {self.never}; // steps until it resolves on its own ({self.never}: never)",
            f"  w : [0..{self.cap}] init 0; // steps until the clinician's next action",
            f"  tau : [0..{self.tcap}] init 0; // steps since the course began (capped)",
            f"  nrev : [0..{self.max_reviews}] init 0;",
            f"  np : [0..{self.max_patches}] init 0;",
            "  pend : bool init false; // a patch awaits review",
            f"  ck : [0..{k}] init 0; // complication (0: none)",
            "  cm : [0..3] init 0; // 1 latent, 2 signs shown, 3 red flag sent",
            f"  cf : [0..{self.cap}] init 0; // steps until the signs show / until the flag is noticed",
            f"  cn : [0..{self.cap}] init 0; // notice delay, drawn at the start",
        ]

    def presentation_commands(self, pres: Presentation) -> list[str]:
        start = self.s(self.start_state)
        choices: dict[str, float] = {}
        for state, prob in pres.final.items():
            choices[f"(s'={self.s(str(state))})&(ini'={RUNNING})"] = prob
        rep = self.params.resolution_reported.value
        for (state, k), prob in pres.start.items():
            for big, pb in ((True, pres.large_bore), (False, 1 - pres.large_bore)):
                for reported, pr in ((True, rep), (False, 1 - rep)):
                    base = f"(s'={self.s(str(state))})&(ini'=1)&(lb'={str(big).lower()})&(rep'={str(reported).lower()})"
                    choices[f"{base}&(ck'={k + 1})&(cm'={1 if k >= 0 else 0})"] = prob * pb * pr
        lines = [f"  [] ini=0 -> {_updates(choices)};"]
        for big in (False, True):
            draws = {f"(r'={j})&(ini'=3)": q for j, q in _pmf_items(pres.remaining[big])}
            lines.append(f"  [] ini=1 & ck=0 & lb={str(big).lower()} -> {_updates(draws)};")
        delay = step_pmf(self.policy.red_flag_delay, self.step, self.cap)
        for k, joint in pres.manifest.items():
            signs = {f"(cf'={j})&(ini'=2)": q for j, q in _pmf_items(joint.sum(axis=1))}
            lines.append(f"  [] ini=1 & ck={k + 1} -> {_updates(signs)};")
            noticed = np.convolve(joint.sum(axis=0), delay)[: self.cap + 1]
            lines.append(f"  [] ini=2 & ck={k + 1} -> {_updates({f'(cn{chr(39)}={j})&(ini{chr(39)}=3)': q for j, q in _pmf_items(noticed)})};")
        first = {f"{u}&(ini'={RUNNING})" if u else f"(ini'={RUNNING})": q for u, q in self.schedule(self.start_state, first=True).items()}
        lines.append(f"  [] ini=3 -> {_updates(first)};")
        del start
        return lines

    # ------------------------------------------------------------ the course, state by state

    def grouped(self, state: str, variants: list[tuple[float, str, Mapping[str, Any], Any]],
                nrevs: range, patches: range, pends: tuple[bool, ...]) -> list[tuple[str, str]]:
        """(guard, updates) for an event in ``state``: ``variants`` are (weight, event, fields,
        then) mixed in one command, ``then(after, nrev, np, pend)`` the updates after reaching
        ``after``. Every situation is asked; the guard names only the situation variables the
        answer depends on (the clock as ranges), so the text stays small."""
        names = ("nrev", "np", "pend")
        axes = (list(nrevs), list(patches), list(pends))
        table: dict[tuple[Any, ...], str] = {}
        for nrev in axes[0]:
            for npatch in axes[1]:
                for pend in axes[2]:
                    for tau in range(self.tcap + 1):
                        choices: dict[str, float] = {}
                        for weight, name, fields, then in variants:
                            spread = self._outcome(state, tau, nrev, npatch, pend, name, tuple(sorted(fields.items())))
                            for after, share in spread.items():
                                for update, q in then(after, nrev, npatch, pend).items():
                                    choices[update] = choices.get(update, 0.0) + weight * share * q
                        table[(nrev, npatch, pend, tau)] = _updates(choices)
        relevant = [i for i in range(4) if _varies(table, i)]
        rows: dict[str, list[tuple[Any, ...]]] = {}
        for key, text in table.items():
            rows.setdefault(text, [])
            short = tuple(key[i] for i in relevant)
            if short not in rows[text]:
                rows[text].append(short)
        out = []
        for text, keys in rows.items():
            parts = []
            for short in keys:
                terms = []
                for i, value in zip(relevant, short, strict=True):
                    terms.append(f"tau={value}" if i == 3 else f"{names[i]}={str(value).lower()}")
                parts.append(" & ".join(terms) or "true")
            out.append((f"({_compact(parts)})", text))
        return out

    def _next(self, after: str, stop: str, extra: str, pending: bool = False) -> dict[str, float]:
        if after.startswith("refused:"):
            if not stop:
                return {extra: 1.0}
            return {self._forget(f"(ini'={RUNNING + 1})", everything=True): 1.0}
        self.entered.add(after)
        base = self._forget(f"(s'={self.s(after)})&{extra}", everything=after in self.final, state=after)
        if after in self.final:
            return {base: 1.0}
        return {f"{base}&{u}" if u else base: q for u, q in self.schedule(after, patch_pending=pending).items()}

    def _forget(self, updates: str, everything: bool, state: str = "") -> str:
        """Reset what no longer matters (so that courses in the same situation share one chain state):
        everything once the course has ended; else the clock, the review count and the time to
        resolution where no state ahead reads them."""
        ahead = self.ahead.get(state, set())
        resets = {
            "r": str(self.never) if everything or not (ahead & (self.patch_states | self.review_states)) else (
                None if ahead & self.review_states else f"rep ? r : {self.never}"),
            "tau": "0" if everything else (None if state in self.clocked or ahead & self.clocked else str(self.tcap)),
            "nrev": "0" if everything or not (ahead & self.review_states) else None,
        }
        if everything:
            resets.update({"w": "0", "np": "0", "pend": "false", "ck": "0", "cm": "0", "cf": "0", "cn": "0",
                           "lb": "false", "rep": "false"})
        extra = [f"({name}'={value})" for name, value in resets.items() if value is not None and f"({name}'=" not in updates]
        return "&".join([updates, *extra])

    def course_commands(self) -> list[str]:
        p = self.params
        lines = []
        act_review = f"nrev<{self.max_reviews}"
        todo, done = [self.start_state], set()
        while todo:
            state = todo.pop(0)
            if state in done or state in self.final:
                continue
            done.add(state)
            at = f"ini={RUNNING} & s={self.s(state)}"
            reviews, patches = state in self.review_states, state in self.patch_states
            act = act_review if reviews else f"(pend | np<{self.max_patches})" if patches else "false"
            res_ok = f"(rep | nrev={self.max_reviews})" if reviews else "rep" if patches else "false"
            quiet = "!(cf=0 & (cm=1 | cm=2))"
            lines.append(f"  [] {at} & cm=1 & cf=0 -> (cm'=2)&(cf'=cn);")
            nrevs, nps, pends = range(self.max_reviews + 1), range(self.max_patches + 1), (False, True)
            for k, flag in enumerate(self.flags):
                for guard, text in self.grouped(
                    state, [(1.0, self.v["red_flag"], flag, lambda a, *_: self._next(a, "", "(cm'=3)"))],
                    nrevs, nps, pends,
                ):
                    lines.append(f"  [] {at} & cm=2 & cf=0 & ck={k + 1} & {guard} -> {text};")
            due = f"{at} & {quiet} & w=0 & {act}"
            if reviews:
                lines += self._review_commands(due, state, nrevs, nps, pends)
            if patches:
                lines += self._patch_commands(due, state, nrevs, pends)
            resolution = self.v["resolution"]
            for guard, text in self.grouped(
                state, [(1.0, resolution, {}, lambda a, *_: self._next(a, "stop", f"(r'={self.never})"))],
                nrevs, nps, pends,
            ):
                lines.append(f"  [] {at} & {quiet} & !(w=0 & {act}) & r=0 & {res_ok} & {guard} -> {text};")
            todo += sorted(self.entered - done)
            lines.append(
                f"  [tick] {at} & {quiet} & !(w=0 & {act}) & !(r=0 & {res_ok}) -> (w'=max(w-1,0))"
                f"&(r'=(r={self.never}) ? {self.never} : max(r-1,0))&(tau'=min(tau+1,{self.tcap}))"
                "&(cf'=(cm=1 | cm=2) ? max(cf-1,0) : cf);"
            )
        ends = " | ".join(f"s={self.s(s)}" for s in self.final)
        lines.append(f"  [] ini={RUNNING} & ({ends}) -> true;")
        lines.append(f"  [] ini={RUNNING + 1} -> true;")
        del p
        return lines

    def _review_commands(self, due: str, state: str, nrevs: range, nps: range, pends: tuple[bool, ...]) -> list[str]:
        p = self.params
        limit = p.improving_within.value / self.step
        edge = int(round(limit))
        share = min(1.0, max(0.0, limit - (edge - 0.5)))  # of the step around the limit, the part within it
        classes = [
            ("r=0", {"resolved": 1.0}),
            (f"r>=1 & r<{edge}", {"improving": 1.0}),
            (f"r={edge}", {"improving": share, "unchanged": (1 - share) * (1 - p.worse.value),
                          "worsening": (1 - share) * p.worse.value}),
            (f"r>{edge}", {"unchanged": 1 - p.worse.value, "worsening": p.worse.value}),
        ]
        lines = []
        then = lambda a, n, *_: self._next(a, "stop", f"(nrev'={min(n + 1, self.max_reviews)})")  # noqa: E731
        for where, responses in classes:
            for k in range(-1, len(self.exam)):
                exam = self.exam[k] if k >= 0 else {}
                variants = [
                    (q, self.v["reassessment"], {**p.responses[response], **exam}, then)
                    for response, q in responses.items()
                    if q > 0
                ]
                which = f"cm<2" if k < 0 else f"cm>=2 & ck={k + 1}"
                for guard, text in self.grouped(state, variants, range(self.max_reviews), nps, pends):
                    lines.append(f"  [] {due} & {where} & {which} & {guard} -> {text};")
        del nrevs
        return lines

    def _patch_commands(self, due: str, state: str, nrevs: range, pends: tuple[bool, ...]) -> list[str]:
        p = self.params
        lines = []
        patch = [(1.0, self.v["patch"], p.patch_fields,
                  lambda a, n, k, *_: self._next(a, "stop", f"(np'={k + 1})&(pend'=true)", pending=True))]
        for guard, text in self.grouped(state, patch, nrevs, range(self.max_patches), (False,)):
            lines.append(f"  [patch] {due} & !pend & {guard} -> {text};")
        for big in (False, True):
            for first in (True, False):
                table = (p.first_patch_large_bore if big else p.first_patch) if first else p.repeat_patch
                variants = [
                    (table[name].value, self.v["patch_review"], p.relief_fields[name],
                     lambda a, *_: self._next(a, "stop", "(pend'=false)"))
                    for name in RELIEF
                ]
                done = range(1, 2) if first else range(2, self.max_patches + 1)
                for guard, text in self.grouped(state, variants, nrevs, done, (True,)):
                    which = "np=1" if first else "np>=2"
                    lines.append(f"  [] {due} & pend & lb={str(big).lower()} & {which} & {guard} -> {text};")
        del pends
        return lines

    def text(self) -> str:
        finals = [s for s in self.states if s in self.final]
        body = [*self.header(), "", *self.variables(), "", *self.presentation_commands(self.pres), "",
                *self.course_commands(), "endmodule", ""]
        body += ['rewards "time"', f"  [tick] true : {self.step:g};", "endrewards", ""]
        body += ['rewards "patches"', "  [patch] true : 1;", "endrewards", ""]
        body += [f'label "{s}" = ini={RUNNING} & s={self.s(s)};' for s in finals]
        body.append(f'label "final" = ini={RUNNING} & ({" | ".join(f"s={self.s(s)}" for s in finals)});')
        body.append(f'label "stopped" = ini={RUNNING + 1};')
        return "\n".join(body) + "\n"


def _reads_clock(expr: guards.Expr) -> bool:
    return any(
        isinstance(n, guards.Call) and n.func == "hours_since_entered" for n in guards.walk(expr, into_predicates=True)
    )


def _varies(table: Mapping[tuple[Any, ...], str], axis: int) -> bool:
    """Does the answer change along one situation variable, the others held?"""
    seen: dict[tuple[Any, ...], str] = {}
    for key, text in table.items():
        rest = key[:axis] + key[axis + 1 :]
        if seen.setdefault(rest, text) != text:
            return True
    return False


def _compact(parts: list[str]) -> str:
    """Situations as a guard; runs of consecutive clock values become ranges."""
    by_rest: dict[str, list[int]] = {}
    plain = []
    for part in parts:
        terms = part.split(" & ")
        clock = [t for t in terms if t.startswith("tau=")]
        if not clock:
            plain.append(part)
            continue
        rest = " & ".join(t for t in terms if not t.startswith("tau="))
        by_rest.setdefault(rest, []).append(int(clock[0][4:]))
    for rest, values in by_rest.items():
        values.sort()
        runs: list[list[int]] = []
        for v in values:
            if runs and runs[-1][1] == v - 1:
                runs[-1][1] = v
            else:
                runs.append([v, v])
        clocks = " | ".join(f"(tau>={a} & tau<={b})" if a != b else f"tau={a}" for a, b in runs)
        plain.append(f"{rest} & ({clocks})" if rest else f"({clocks})")
    return " | ".join(f"({p})" for p in plain)
