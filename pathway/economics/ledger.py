"""What one simulated course used and what it cost the patient: resource counts and effects.

The ledger reads a finished course (the simulator's Course and the patient's natural
history) and writes one row of numbers: how often each cost item was triggered, and the
effects that need no invented utility (headache-days, mSv, contrast, escalation times).
It knows nothing clinical: the cost items name their triggers (events, imaging codes,
actions, states) and the simulator's parameter file names the resolution and escalation
states, the blood-patch events and the relief that ends a headache.

Every effect is counted from presentation (where the policies start to differ) to the
horizon of the cost table.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pathway.compiled import CompiledPathway
from pathway.economics.costs import CostTable
from pathway.model import RATINGS
from pathway.simulate.clinician import Course
from pathway.simulate.natural import NEVER, NaturalHistory
from pathway.simulate.params import SimParams

NOT_APPROPRIATE = RATINGS[-1]
MINUTES_PER_DAY = 24 * 60

# (name, unit, meaning); every one is a mean over all patients of a per-patient number
MEASURES: tuple[tuple[str, str, str], ...] = (
    ("cost", "USD", "total cost of the items in the cost table"),
    ("headache_days", "d", "days with headache from presentation to the end of the horizon"),
    ("headache_free_days", "d", "days without headache from presentation to the end of the horizon"),
    ("imaging_studies", "studies", "imaging studies ordered"),
    (
        "usually_not_appropriate_studies",
        "studies",
        "imaging studies ordered where the state rates them usually not appropriate",
    ),
    ("radiation_msv", "mSv", "effective dose of the imaging (representative dose per ACR relative radiation level)"),
    ("contrast_exposures", "exposures", "studies with IV or intrathecal contrast"),
    ("blood_patches", "patches", "epidural blood patches done"),
    ("escalated", "share", "patients escalated for a red flag"),
    ("complication", "share", "patients with a complication (subdural haematoma, venous thrombosis, meningitis, ...)"),
    (
        "complication_not_escalated",
        "share",
        "patients whose complication showed while the course was open and was not escalated",
    ),
    (
        "complication_after_course",
        "share",
        "patients whose complication showed only after the course had ended (outside the model)",
    ),
    (
        "escalation_delay_h",
        "h",
        "hours from a complication's first signs to escalation (to the horizon if never), while the course"
        " was open; 0 otherwise",
    ),
    ("resolved", "share", "patients whose course ended in the resolution state"),
)
# means over the patients they apply to only (empty when none)
CONDITIONAL: tuple[tuple[str, str, str], ...] = (
    ("days_to_resolution", "d", "days from presentation to the resolution state, among patients resolved"),
    (
        "hours_to_escalation",
        "h",
        "hours from a complication's first signs to escalation, among complications escalated",
    ),
)
MEASURE_NAMES = tuple(name for name, _, _ in MEASURES)
CONDITIONAL_NAMES = tuple(name for name, _, _ in CONDITIONAL)
ALL_NAMES = MEASURE_NAMES + CONDITIONAL_NAMES
BINARY = frozenset({"escalated", "complication", "complication_not_escalated", "complication_after_course", "resolved"})
COST = 0


class Ledger:
    """Turns courses of one parameter set into rows: [measures..., conditional..., item counts...]."""

    def __init__(self, compiled: CompiledPathway, params: SimParams, table: CostTable) -> None:
        pathway = compiled.pathway
        self.table = table
        self.items = table.items
        self.prices = np.array([item.unit_cost for item in table.items], dtype=np.float64)
        self.horizon = round(table.horizon_days * MINUTES_PER_DAY)
        n_events, n_states = len(compiled.event_names), len(compiled.state_ids)
        self.event_items: list[tuple[int, ...]] = [() for _ in range(n_events)]
        self.state_items: list[tuple[int, ...]] = [() for _ in range(n_states)]
        self.imaging_items: dict[str, tuple[int, ...]] = {}
        self.episode_items: tuple[int, ...] = ()
        for k, item in enumerate(table.items):
            if item.trigger == "episode":
                self.episode_items += (k,)
            elif item.trigger == "event":
                e = compiled.event_index[item.target]
                self.event_items[e] += (k,)
            elif item.trigger == "imaging":
                self.imaging_items[item.target] = (*self.imaging_items.get(item.target, ()), k)
            else:
                for s, state_id in enumerate(compiled.state_ids):
                    state = pathway.state(state_id)
                    hit = (
                        state_id == item.target
                        if item.trigger == "state"
                        else any(r.code == item.target and r.kind == "action" for r in state.recommendations)
                    )
                    if hit:
                        self.state_items[s] += (k,)
        self.dose = {rrl: number.value for rrl, number in params.dose_msv.items()}
        self.contrast = frozenset(params.contrast)
        self.initial = compiled.initial
        self.resolution = compiled.state_index[params.outcomes["resolution"]]
        self.patch = compiled.event_index[params.vocabulary["patch"]]
        self.patch_review = compiled.event_index[params.vocabulary["patch_review"]]
        self.complete = params.relief_fields["complete"]
        self.width = len(ALL_NAMES) + len(table.items)

    def row(self, course: Course, history: NaturalHistory, j: int) -> list[float]:
        """One patient's row, every episode counted (the course must have been run with its events recorded)."""
        counts = self._counts(course)
        dose = 0.0
        contrast = unrated = 0
        for order in course.imaging:  # (state, code, rating, rrl, minute, episode)
            code, rating, rrl = order[1], order[2], order[3]
            for k in self.imaging_items.get(code, ()):
                counts[k] += 1
            dose += self.dose[rrl]
            contrast += code in self.contrast
            unrated += rating == NOT_APPROPRIATE
        t0 = course.t_present
        end = t0 + self.horizon
        # a complication's headache is not a leak's: no patch ends it (the simulator never resolves it either)
        relief = NEVER if course.complication >= 0 else self._relief(course)
        headache_end = min(history.t_resolve[j], relief, end)
        headache = max(headache_end - t0, 0) / MINUTES_PER_DAY
        resolved = course.state == self.resolution and course.t_end is not None
        complication = course.complication >= 0
        escalated = course.t_escalated is not None
        hours_to_escalation = math.nan
        delay = 0.0
        missed = after = False
        if complication and course.t_manifest is not None:
            if course.t_escalated is not None:
                hours_to_escalation = max(course.t_escalated - course.t_manifest, 0) / 60
                delay = hours_to_escalation
            elif course.t_end is not None and course.t_end <= course.t_manifest:
                after = True  # the course had ended (e.g. resolved) before the signs showed
            else:
                missed = True
                delay = max(end - course.t_manifest, 0) / 60
        days_to_resolution = (
            (course.t_end - t0) / MINUTES_PER_DAY if resolved and course.t_end is not None else math.nan
        )
        return [
            0.0,  # cost: priced for the whole chunk at once
            headache,
            self.table.horizon_days - headache,
            float(len(course.imaging)),
            float(unrated),
            dose,
            float(contrast),
            float(course.patches),
            float(escalated),
            float(complication),
            float(missed),
            float(after),
            delay,
            float(resolved),
            days_to_resolution,
            hours_to_escalation,
            *counts,
        ]

    def _counts(self, course: Course) -> list[int]:
        """How often each cost item's event, state or episode trigger fired, in every episode."""
        counts = [0] * len(self.items)
        assert course.events is not None
        for k in self.episode_items:
            counts[k] += course.episodes
        for record, accepted in zip(course.events, course.event_accepted, strict=True):
            if accepted:
                for k in self.event_items[record[0]]:
                    counts[k] += 1
        for state in course.path:  # the first episode, every state passed through
            for k in self.state_items[state]:
                counts[k] += 1
        if course.episodes > 1:  # a return episode: the states its events led to
            episode, previous = 1, self.initial
            for record, state in zip(course.events, course.states, strict=True):
                if record[3] == 1:
                    continue
                if record[3] != episode:
                    episode, previous = record[3], self.initial
                    for k in self.state_items[previous]:
                        counts[k] += 1
                if state != previous:
                    previous = state
                    for k in self.state_items[state]:
                        counts[k] += 1
        return counts

    def _relief(self, course: Course) -> int:
        """When a blood patch ended the headache: the patch before a review of complete relief."""
        if not course.patches or not course.accepted or course.accepted[-1][0] != self.patch_review:
            return NEVER
        if course.accepted[-1][1] != self.complete:
            return NEVER
        assert course.events is not None
        last_patch = NEVER
        for record in course.events:
            if record[0] == self.patch:
                last_patch = record[1]
        return last_patch

    def price(self, rows: list[list[float]]) -> np.ndarray:
        """The chunk's rows as an array, with each patient's cost filled in from the item counts."""
        matrix = np.array(rows, dtype=np.float64).reshape(len(rows), self.width)
        self.fill_costs(matrix)
        return matrix

    def fill_costs(self, matrix: np.ndarray) -> None:
        """Each row's cost from its item counts (one product for both engines: the same float sums)."""
        matrix[:, COST] = matrix[:, len(ALL_NAMES) :] @ self.prices


def item_columns(table: CostTable) -> tuple[str, ...]:
    return tuple(f"count_{item.id}" for item in table.items)


def describe() -> dict[str, Any]:
    """Name -> (unit, meaning) of every measure, for the data dictionary."""
    return {name: (unit, meaning) for name, unit, meaning in MEASURES + CONDITIONAL}
