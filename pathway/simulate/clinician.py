"""The simulated clinician: turns one patient's natural history into pathway events.

The clinician only sends events and reads back the state the pathway chose.
What to do next comes from the current state's recommendations (by the action
codes the parameter file names): a state recommending the reassessment gets a
review booked, a state recommending the blood patch gets one done and then
reviewed. The pathway alone decides what a review or a patch review means, so no
threshold of the definition is restated here. Red flags reach the pathway when
the clinician hears of them (or later, under a policy that dismisses them), or
as findings at an examination in between if the policy records them.

A complication whose signs show after the course has ended brings the patient
back: each return visit is a new episode of the same patient (the contract's
`episode`), which starts with the red flag. A policy that dismisses red flags
sends the first return(s) home (a presentation without findings, which the
pathway hands off), and the patient comes back again after its red-flag delay.
Returns beyond the follow-up horizon are not simulated: those complications are
never escalated.
"""

from __future__ import annotations

from typing import Any

from pathway.compiled import ACCEPTED, CompiledPathway, LeanRun
from pathway.model import Pathway, Recommendation
from pathway.simulate.natural import ATYPICAL, NEVER, NaturalHistory
from pathway.simulate.params import RELIEF, RESPONSES, SimParams
from pathway.simulate.streams import Slot


class UnendingReturns(RuntimeError):
    """The definition lets a return visit's red flag pass without escalation: the simulated patient
    would come back for ever. A fault of the definition (the input), so the commands report it in one
    line; both engines raise it at the same patient."""

    MESSAGE = (
        "the definition does not escalate a return visit's red flag, so a simulated patient would return "
        "for ever (`pathway verify` shows which property it breaks)"
    )

    def __init__(self, message: str = MESSAGE) -> None:  # the argument: exceptions from workers are unpickled
        super().__init__(message)


US_PER_MINUTE = 60_000_000

ImagingOrder = tuple[int, str, str, str, int, int]
"""(state index, code, rating, rrl, minute, episode) of one imaging study ordered."""


class Course:
    """What happened to one simulated patient (path, segments and taken: the first episode)."""

    __slots__ = (
        "accepted",
        "complication",
        "episodes",
        "escalated_episode",
        "event_accepted",
        "events",
        "imaging",
        "index",
        "patches",
        "path",
        "rejected",
        "return_events",
        "return_states",
        "reviews",
        "segments",
        "state",
        "states",
        "t_end",
        "t_escalated",
        "t_first_patch",
        "t_manifest",
        "t_present",
        "taken",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.state = 0
        self.path: list[int] = []
        self.taken: list[int] = []
        self.accepted: list[tuple[int, dict[str, Any]]] = []
        self.rejected = 0
        self.segments: list[tuple[int, int]] = []
        self.imaging: list[ImagingOrder] = []
        self.events: list[tuple[int, int, dict[str, Any], int]] | None = None  # (event, minute, fields, episode)
        self.states: list[int] = []  # the state after each recorded event
        self.event_accepted: list[bool] = []
        self.episodes = 1
        self.return_events = 0  # events accepted in return episodes
        self.return_states: list[int] = []  # the state each return episode ended in
        self.escalated_episode = 0
        self.t_first_patch = 0
        self.t_present = 0
        self.t_end: int | None = None
        self.t_escalated: int | None = None
        self.t_manifest: int | None = None
        self.complication = -1
        self.reviews = 0
        self.patches = 0


class Clinician:
    """One policy's way of looking after patients on one compiled pathway."""

    def __init__(self, compiled: CompiledPathway, params: SimParams, policy_name: str) -> None:
        pathway: Pathway = compiled.pathway
        self.compiled = compiled
        self.params = params
        self.policy = params.policy(policy_name)
        events = {role: compiled.event_index[name] for role, name in params.vocabulary.items()}
        self.ev_puncture = events["puncture"]
        self.ev_present = events["presentation"]
        self.ev_review = events["reassessment"]
        self.ev_resolution = events["resolution"]
        self.ev_red_flag = events["red_flag"]
        self.ev_patch = events["patch"]
        self.ev_patch_review = events["patch_review"]
        self.reassess_states = self._states_recommending(pathway, params.actions["reassess"])
        self.patch_states = self._states_recommending(pathway, params.actions["patch"])
        self.escalation = compiled.state_index[params.outcomes["escalation"]]

        self.puncture_fields = [p.fields for p in params.punctures]
        self.typical = params.typical
        self.atypical = [c.fields for c in params.atypical]
        self.vital_names = list(params.vitals)
        self.responses = [params.responses[name] for name in RESPONSES]
        self.relief = [params.relief_fields[name] for name in RELIEF]
        self.patch_fields = params.patch_fields
        self.signs = [c.signs for c in params.complications]
        self.debilitating = params.debilitating_fields
        self.improving_within = round(params.improving_within.value * 60)
        self.max_reviews = params.max_reviews
        self.horizon = round(params.return_horizon_days.value * 24 * 60)

        # imaging a clinician orders on entering each state, by the state's own ratings
        policy = self.policy
        self.orders: list[tuple[tuple[str, str, str, float, Recommendation], ...]] = []
        for state_id in compiled.state_ids:
            wanted = []
            for rec in pathway.state(state_id).recommendations:
                if rec.kind != "imaging":
                    continue
                chance = policy.order[rec.rating].value if rec.rating in policy.order else 0.0
                if chance > 0.0:
                    wanted.append((rec.code, rec.rating or "", rec.rrl or "", chance, rec))
            self.orders.append(tuple(wanted))
        initial = {r.code: r for r in pathway.state(pathway.initial).recommendations if r.kind == "imaging"}
        self.at_presentation = [
            tuple(
                (compiled.initial, code, initial[code].rating or "", initial[code].rrl or "") for code in choice.codes
            )
            for choice in policy.at_presentation
        ]

    @staticmethod
    def _states_recommending(pathway: Pathway, code: str) -> frozenset[int]:
        return frozenset(
            i
            for i, state in enumerate(pathway.states)
            if not state.final and any(r.code == code and r.kind == "action" for r in state.recommendations)
        )

    def course(
        self, history: NaturalHistory, j: int, draws: dict[str, Any], record: bool = False, run: LeanRun | None = None
    ) -> Course:
        """Patient ``history.start + j`` under this clinician's policy, every episode.

        ``run`` is a LeanRun to reuse (it is reset here); the clinician itself keeps no state,
        so threads (Dask workers run several) can share it.
        """
        final = self.compiled.final
        targets = self.compiled.targets
        orders = self.orders
        escalation = self.escalation
        if run is None:
            run = LeanRun(self.compiled)
        else:
            run.reset()
        course = Course(history.start + j)
        events = course.events = [] if record else None
        accepted, taken, path, segments = course.accepted, course.taken, course.path, course.segments
        order_next = 0
        current = [run.state]  # the state the episode is in (a list: the closure updates it)

        def send(event: int, minute: int, fields: dict[str, Any]) -> bool:
            nonlocal order_next
            outcome = run.send(event, minute * US_PER_MINUTE, fields)
            if events is not None:
                events.append((event, minute, fields, course.episodes))
                course.states.append(run.state)
                course.event_accepted.append(outcome == ACCEPTED)
            if outcome != ACCEPTED:
                course.rejected += 1
                return False
            first = course.episodes == 1
            if first:
                accepted.append((event, fields))
            else:
                course.return_events += 1
            for index in run.taken:
                if first:
                    taken.append(index)
                target = targets[index]
                if target == current[0]:
                    continue
                current[0] = target
                if first:
                    path.append(target)
                    segments.append((target, minute))
                if target == escalation and course.t_escalated is None:
                    course.t_escalated = minute
                    course.escalated_episode = course.episodes
                for code, rating, rrl, chance, rec in orders[target]:
                    if rec.when is not None and not rec.applies(fields):
                        continue  # an item for some entries only (e.g. a thunderclap hand-off)
                    if chance < 1.0:
                        u = draws["order_u"].item(j, min(order_next, Slot.MAX_ORDERS - 1))
                        order_next += 1
                        if u >= chance:
                            continue
                    course.imaging.append((target, code, rating, rrl, minute, course.episodes))
            return True

        path.append(run.state)
        self._first_episode(course, history, j, draws, send, run)
        course.state = run.state
        if final[run.state] and segments:
            course.t_end = segments[-1][1]
        if course.complication >= 0 and course.t_escalated is None and course.t_end is not None:
            self._returns(course, history, j, draws, send, run, current)
        return course

    def _first_episode(
        self, course: Course, history: NaturalHistory, j: int, draws: dict[str, Any], send: Any, run: LeanRun
    ) -> None:
        final = self.compiled.final
        case, puncture = history.case[j], history.puncture[j]
        t_present = course.t_present = history.t_present[j]
        complication = course.complication = history.complication[j]
        t_manifest = history.t_manifest[j]
        flag_at = NEVER
        exam: dict[str, Any] = {}
        review: dict[str, Any] = {}
        red_flag: dict[str, Any] = {}
        if complication >= 0:
            sign = self.signs[complication][history.sign[j]]
            course.t_manifest = t_manifest
            flag_at = t_manifest + history.notice[j] + draws["flag_delay"][j]
            red_flag = sign.red_flag
            if self.policy.exam_red_flags:
                exam, review = sign.exam, {**sign.exam, **sign.review}

        if puncture >= 0:
            send(self.ev_puncture, history.t_puncture[j], self.puncture_fields[puncture])
        if flag_at <= t_present and not exam:
            # the sign brought the patient in and is not an examination finding: the red flag comes first
            send(self.ev_red_flag, flag_at, red_flag)
            return
        fields = dict(self.atypical[history.atypical[j]] if case == ATYPICAL else self.typical)
        for name, value in zip(self.vital_names, history.vitals[j], strict=True):
            fields[name] = value
        if exam and t_present >= t_manifest:
            fields.update(exam)
        choice = draws["imaging_choice"][j]
        if choice >= 0:
            course.imaging.extend((*order, t_present, 1) for order in self.at_presentation[choice])
        send(self.ev_present, t_present, fields)

        t_resolve = history.t_resolve[j]
        reported = history.reported[j]
        next_review = t_present + history.first_review[j]
        indicated_at = t_present
        last = t_present
        patch_pending = False
        patch_time = 0
        reviews = patches = 0
        ev_review, ev_patch, ev_patch_review = self.ev_review, self.ev_patch, self.ev_patch_review
        while not final[run.state]:
            state = run.state
            action = -1
            when = NEVER
            if state in self.reassess_states:
                if reviews < self.max_reviews:
                    action, when = ev_review, next_review
                if (reported or action < 0) and last <= t_resolve < when:
                    action, when = self.ev_resolution, t_resolve
            elif state in self.patch_states:
                if patch_pending:
                    action, when = ev_patch_review, patch_time + history.patch_review.item(j, patches - 1)
                elif patches < Slot.MAX_PATCHES:
                    action, when = ev_patch, max(indicated_at + history.patch_delay.item(j, patches), last)
                if reported and last <= t_resolve < when:
                    action, when = self.ev_resolution, t_resolve
            if flag_at <= when and flag_at < NEVER:
                send(self.ev_red_flag, max(flag_at, last), red_flag)
                last = max(last, flag_at)
                flag_at = NEVER
                continue
            if action < 0:
                break  # nothing left that this clinician would do: the course stays open
            last = when
            if action == ev_review:
                reviews += 1
                if t_resolve <= when:
                    fields = self.responses[0]
                else:
                    if t_resolve - when <= self.improving_within:
                        response = 1
                    else:
                        response = 3 if history.review_worse.item(j, reviews - 1) else 2
                    debilitating = self.debilitating[int(history.review_debilitating.item(j, reviews - 1))]
                    fields = {**self.responses[response], **debilitating}
                if review and when >= t_manifest:
                    fields = {**fields, **review}
                if not send(action, when, fields):
                    break
                next_review = when + history.review_interval.item(j, reviews - 1)
                indicated_at = when
            elif action == ev_patch:
                if not send(action, when, self.patch_fields):
                    break
                if not patches:
                    course.t_first_patch = when
                patches += 1
                patch_pending = True
                patch_time = when
            elif action == ev_patch_review:
                if not send(action, when, self.relief[history.relief.item(j, patches - 1)]):
                    break
                patch_pending = False
                indicated_at = when
            elif not send(action, when, {}):
                break
        course.reviews, course.patches = reviews, patches

    def _returns(
        self,
        course: Course,
        history: NaturalHistory,
        j: int,
        draws: dict[str, Any],
        send: Any,
        run: LeanRun,
        current: list[int],
    ) -> None:
        """Return visits for a complication whose signs show (or go on) after the first episode ended."""
        assert course.t_manifest is not None and course.t_end is not None
        final = self.compiled.final
        red_flag = self.signs[course.complication][history.sign[j]].red_flag
        horizon = course.t_present + self.horizon
        at = max(course.t_manifest + history.return_delay[j], course.t_end)
        dismissed = self.policy.dismissed_returns
        while at <= horizon and course.t_escalated is None:
            course.episodes += 1
            run.reset()
            current[0] = run.state
            if dismissed:
                # the red flag put down to a bad PDPH: seen as a headache, no findings recorded. An
                # episode does not carry the puncture over (contract), so the pathway hands it off.
                dismissed -= 1
                send(self.ev_present, at, self.typical)
                at += draws["flag_delay"][j]
                if not final[run.state]:  # still under care: the red flag reaches this episode
                    send(self.ev_red_flag, at, red_flag)
            else:
                send(self.ev_red_flag, at, red_flag)
                if course.t_escalated is None:  # the same red flag would be sent again for ever (vectorised.py too)
                    raise UnendingReturns()
            course.return_states.append(run.state)
