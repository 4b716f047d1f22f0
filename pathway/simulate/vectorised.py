"""The simulated clinician over arrays: a whole chunk of patients, one event per patient per step.

The decisions are those of ``clinician.Clinician`` (the per-patient reference,
which this module reads its configuration from: the events it sends, the states
whose recommendations it acts on, its imaging orders): what to do next comes from
the current state, the pathway (``array_machine``) decides each transition, and
every patient keeps its own draws. Each step, every patient whose course is still
open sends its next event (a red flag heard of, a review, a patch, a patch review
or a resolution), so a chunk takes as many steps as its longest course; return
visits then run as further episodes, one round per episode.
"""

from __future__ import annotations

import numpy as np

from pathway.compiled import CompiledPathway
from pathway.simulate.array_guards import GuardFn
from pathway.simulate.array_machine import ArrayMachine, ArrayRun
from pathway.simulate.clinician import US_PER_MINUTE, Clinician, UnendingReturns
from pathway.simulate.course_arrays import NONE, CourseArrays
from pathway.simulate.measures import NOT_APPROPRIATE
from pathway.simulate.natural import ATYPICAL, NEVER, HistoryColumns
from pathway.simulate.streams import Slot
from pathway.simulate.vector_plans import ClinicianPlans, FieldsOnlyScope

ImagingKey = tuple[int, str, str, str]
MAX_MINUTE = np.iinfo(np.int64).max // US_PER_MINUTE
"""Later simulated times do not fit the engine's microseconds (the per-patient engine uses Python ints)."""


class ArrayClinician:
    """One policy's clinician for a whole chunk at once."""

    def __init__(
        self,
        clinician: Clinician,
        plans: ClinicianPlans,
        machine: ArrayMachine,
        imaging: list[ImagingKey],
        milli_dose: dict[str, int],
        contrast: frozenset[str],
    ) -> None:
        compiled: CompiledPathway = clinician.compiled
        self.c = clinician
        self.plans = plans
        self.machine = machine
        n_states = len(compiled.state_ids)
        self.reassess = np.array([s in clinician.reassess_states for s in range(n_states)], dtype=bool)
        self.patching = np.array([s in clinician.patch_states for s in range(n_states)], dtype=bool)
        self.final = np.array(compiled.final, dtype=bool)
        self.targets = np.array(compiled.targets, dtype=np.int64)

        def order_id(key: ImagingKey) -> int:
            if key not in imaging:
                imaging.append(key)
            return imaging.index(key)

        # per state: (order id, chance, condition) of the studies ordered on entering it
        self.orders: list[tuple[tuple[int, float, GuardFn | None], ...]] = [
            tuple(
                (
                    order_id((state, code, rating, rrl)),
                    chance,
                    None if rec.when is None else machine.compiler.guard(rec.when),
                )
                for code, rating, rrl, chance, rec in clinician.orders[state]
            )
            for state in range(n_states)
        ]
        self.at_presentation = [tuple(order_id(order) for order in choice) for choice in clinician.at_presentation]
        self.imaging, self.milli_dose, self.contrast = imaging, milli_dose, contrast

    def order_sums(self, order: int) -> np.ndarray:
        """What one study adds to a patient's (studies, usually not appropriate, milli-mSv, contrast)."""
        _, code, rating, rrl = self.imaging[order]
        sums = (1, int(rating == NOT_APPROPRIATE), self.milli_dose[rrl], int(code in self.contrast))
        return np.array(sums, dtype=np.int64)

    def courses(self, history: HistoryColumns, draws: dict[str, np.ndarray]) -> CourseArrays:
        return _Chunk(self, history, draws).simulate()


class _Chunk:
    """One chunk's run under one policy: the state of the simulation between steps."""

    def __init__(self, clinician: ArrayClinician, history: HistoryColumns, draws: dict[str, np.ndarray]) -> None:
        self.cl = clinician
        self.h = history
        self.order_u = draws["order_u"]
        self.flag_delay = draws["flag_delay"]
        self.choice = draws["imaging_choice"]
        n = len(history)
        self.out = CourseArrays(history.start, history.t_present, clinician.machine.initial)
        self.run: ArrayRun = clinician.machine.run(n, history.vitals)
        self.order_next = np.zeros(n, dtype=np.int64)
        complication = history.complication
        has = complication >= 0
        plans = clinician.plans
        self.sign = np.where(has, plans.sign_offset[np.maximum(complication, 0)] + history.sign, -1)
        self.flag_at = np.where(has, history.t_manifest + history.notice + self.flag_delay, NEVER).astype(np.int64)
        examined = has & clinician.c.policy.exam_red_flags
        self.has_exam = examined & plans.has_exam[np.maximum(self.sign, 0)]
        self.has_review = examined & plans.has_review[np.maximum(self.sign, 0)]
        self.order_sums = [clinician.order_sums(k) for k in range(len(clinician.imaging))]

    def send(self, rows: np.ndarray, plans: np.ndarray, minutes: np.ndarray) -> np.ndarray:
        """Each patient of ``rows`` sends one event; what clinician.Course records follows. Accepted mask."""
        out, cl = self.out, self.cl
        if minutes.size and int(np.abs(minutes).max()) > MAX_MINUTE:
            raise OverflowError("a simulated time too far from 1970 to count in microseconds")
        accepted, stages = self.run.send(rows, plans, minutes * US_PER_MINUTE)
        out.record_sent(rows, plans, cl.machine.table.plan_event[plans], minutes, accepted, self.run.state[rows])
        escalation = cl.c.escalation
        first = out.episode[rows] == 1
        all_first = bool(first.all())  # no return visit among them: nothing to leave out of the first episode
        for where, transition in stages:
            patients = rows[where]
            in_first = None if all_first else first[where]
            out.record_taken(patients if in_first is None else patients[in_first], transition)
            target = int(cl.targets[transition])
            new = out.tail[patients] != target
            if not new.all():
                if not new.any():
                    continue
                where, patients = where[new], patients[new]
                in_first = None if in_first is None else in_first[new]
            if in_first is None:
                out.record_entered(patients, target, minutes[where])
            else:
                out.record_entered(patients[in_first], target, minutes[where[in_first]])
            out.tail[patients] = target
            if target == escalation:
                now = out.t_escalated[patients] == NONE
                out.t_escalated[patients[now]] = minutes[where[now]]
                out.escalated_episode[patients[now]] = out.episode[patients[now]]
            for order, chance, condition in cl.orders[target]:
                ordering, at = patients, where
                if condition is not None:
                    table = cl.machine.table
                    applies = condition(FieldsOnlyScope(table, plans[at], ordering, self.h.vitals))
                    ordering, at = ordering[applies], at[applies]
                if chance < 1.0:
                    slot = np.minimum(self.order_next[ordering], Slot.MAX_ORDERS - 1)
                    drawn = self.order_u[ordering, slot] < chance
                    self.order_next[ordering] += 1
                    ordering, at = ordering[drawn], at[drawn]
                out.record_order(ordering, order, minutes[at], self.order_sums[order])
        return accepted

    def simulate(self) -> CourseArrays:
        h, cl, out = self.h, self.cl, self.out
        plans = cl.plans
        punctured = np.flatnonzero(h.puncture >= 0)
        self.send(punctured, plans.puncture[h.puncture[punctured]], h.t_puncture[punctured])
        # the sign brought the patient in and is not an examination finding: the red flag comes first
        flag_first = (self.flag_at <= h.t_present) & ~self.has_exam
        flagged = np.flatnonzero(flag_first)
        self.send(flagged, plans.red_flag[self.sign[flagged]], self.flag_at[flagged])

        presenting = np.flatnonzero(~flag_first)
        base = np.where(h.case == ATYPICAL, h.atypical + 1, 0)[presenting]
        exam = np.where(self.has_exam & (h.t_present >= h.t_manifest), self.sign + 1, 0)[presenting]
        chosen = self.choice[presenting]
        for choice, orders in enumerate(cl.at_presentation):
            rows = presenting[chosen == choice]
            for order in orders:
                out.record_order(rows, order, h.t_present[rows], self.order_sums[order])
        self.send(presenting, plans.present[base, exam], h.t_present[presenting])
        self.follow_up(presenting[~cl.final[self.run.state[presenting]]])
        out.end_first_episode(self.run.state, cl.final)
        self.returns()
        return out

    def follow_up(self, active: np.ndarray) -> None:
        """Reviews, patches, patch reviews, resolutions and red flags until every course ends or stalls."""
        h, cl, out = self.h, self.cl, self.out
        c, plans = cl.c, cl.plans
        n = len(h)
        reviews, patches = out.reviews, out.patches
        next_review = h.t_present + h.first_review
        indicated_at = h.t_present.copy()
        last = h.t_present.copy()
        pending = np.zeros(n, dtype=bool)
        patch_time = np.zeros(n, dtype=np.int64)
        review_ev, patch_ev, patch_review_ev, resolution_ev = (
            c.ev_review,
            c.ev_patch,
            c.ev_patch_review,
            c.ev_resolution,
        )
        while active.size:
            # positions in ``active`` as index arrays (np.flatnonzero) rather than boolean masks: the masks
            # split the patients at random, where numpy's masked gathers and scatters cost ~4x an index's
            state = self.run.state[active]
            reassessing, patching = cl.reassess[state], cl.patching[state]
            action = np.full(active.size, -1, dtype=np.int64)
            when = np.full(active.size, NEVER, dtype=np.int64)
            resolve, last_a = h.t_resolve[active], last[active]

            review = np.flatnonzero(reassessing & (reviews[active] < c.max_reviews))
            action[review], when[review] = review_ev, next_review[active[review]]
            heard = np.flatnonzero(
                reassessing & (h.reported[active] | (action < 0)) & (last_a <= resolve) & (resolve < when)
            )
            action[heard], when[heard] = resolution_ev, resolve[heard]

            done = patches[active]
            waiting = pending[active]
            review_patch = np.flatnonzero(patching & waiting)
            rows = active[review_patch]
            action[review_patch] = patch_review_ev
            when[review_patch] = patch_time[rows] + h.patch_review[rows, done[review_patch] - 1]
            patch = np.flatnonzero(patching & ~waiting & (done < Slot.MAX_PATCHES))
            rows = active[patch]
            action[patch] = patch_ev
            when[patch] = np.maximum(indicated_at[rows] + h.patch_delay[rows, done[patch]], last_a[patch])
            heard = np.flatnonzero(patching & h.reported[active] & (last_a <= resolve) & (resolve < when))
            action[heard], when[heard] = resolution_ev, resolve[heard]

            flag_at = self.flag_at[active]
            is_flagged = (flag_at <= when) & (flag_at < NEVER)
            flagged = np.flatnonzero(is_flagged)
            acting = np.flatnonzero(~is_flagged & (action >= 0))
            flags, doers = active[flagged], active[acting]
            act, at = action[acting], when[acting]
            flag_time = np.maximum(flag_at[flagged], last_a[flagged])
            last[doers] = at
            event_plans = np.full(doers.size, plans.resolution, dtype=np.int64)

            is_review = np.flatnonzero(act == review_ev)
            reviewers = doers[is_review]
            reviews[reviewers] += 1
            at_review = at[is_review]
            gap = h.t_resolve[reviewers] - at_review
            k = reviews[reviewers] - 1
            worse = h.review_worse[reviewers, k]
            response = np.where(gap <= c.improving_within, 1, np.where(worse, 3, 2))
            debilitating = h.review_debilitating[reviewers, k].astype(np.int64)
            variant = np.where(gap <= 0, 0, 1 + (response - 1) * 2 + debilitating)
            findings = self.has_review[reviewers] & (at_review >= h.t_manifest[reviewers])
            event_plans[is_review] = plans.review[variant, np.where(findings, self.sign[reviewers] + 1, 0)]
            is_patch = np.flatnonzero(act == patch_ev)
            event_plans[is_patch] = plans.patch
            is_patch_review = np.flatnonzero(act == patch_review_ev)
            reviewed = doers[is_patch_review]
            event_plans[is_patch_review] = plans.relief[h.relief[reviewed, patches[reviewed] - 1]]

            senders = np.concatenate((flags, doers))
            sent_plans = np.concatenate((plans.red_flag[self.sign[flags]], event_plans))
            accepted = self.send(senders, sent_plans, np.concatenate((flag_time, at)))
            last[flags] = np.maximum(last[flags], flag_at[flagged])
            self.flag_at[flags] = NEVER

            ok = accepted[flags.size :]
            if not ok.all():  # usually every event is accepted: then the positions above stand
                is_review, is_patch, is_patch_review = (
                    where[ok[where]] for where in (is_review, is_patch, is_patch_review)
                )
            took = doers[is_review]
            next_review[took] = at[is_review] + h.review_interval[took, reviews[took] - 1]
            indicated_at[took] = at[is_review]
            took = doers[is_patch]
            first = patches[took] == 0
            out.t_first_patch[took[first]] = at[is_patch][first]
            patches[took] += 1
            pending[took] = True
            patch_time[took] = at[is_patch]
            took = doers[is_patch_review]
            pending[took] = False
            indicated_at[took] = at[is_patch_review]

            going = np.concatenate((flags, doers[ok]))
            active = going[~cl.final[self.run.state[going]]]

    def returns(self) -> None:
        """Return visits, one round per episode, for a complication that shows after the first episode ended."""
        h, cl, out = self.h, self.cl, self.out
        plans = cl.plans
        back = (h.complication >= 0) & (out.t_escalated == NONE) & (out.t_end != NONE)
        horizon = h.t_present + cl.c.horizon
        at = np.maximum(h.t_manifest + h.return_delay, out.t_end)
        dismissed = np.full(len(h), cl.c.policy.dismissed_returns, dtype=np.int64)
        active = np.flatnonzero(back & (at <= horizon))
        while active.size:
            out.new_episode(active)
            self.run.reset(active)
            sent_home = active[dismissed[active] > 0]  # the red flag put down to a bad PDPH: seen as a headache
            flagging = active[dismissed[active] == 0]
            dismissed[sent_home] -= 1
            senders = np.concatenate((sent_home, flagging))
            sent_plans = np.concatenate(
                (np.full(sent_home.size, plans.returning, dtype=np.int64), plans.red_flag[self.sign[flagging]])
            )
            self.send(senders, sent_plans, at[senders])
            at[sent_home] += self.flag_delay[sent_home]
            still = sent_home[~cl.final[self.run.state[sent_home]]]  # still under care: the red flag reaches it
            self.send(still, plans.red_flag[self.sign[still]], at[still])
            out.return_final.append(self.run.state[active])
            stuck = flagging[out.t_escalated[flagging] == NONE]
            if stuck.size:  # the per-patient engine would send this red flag again for ever
                raise UnendingReturns()
            active = active[(at[active] <= horizon[active]) & (out.t_escalated[active] == NONE)]
