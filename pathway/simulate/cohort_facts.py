"""What a clinical study would record about each simulated PDPH patient, for the validation report.

Published figures are shares and times in a population (PDPH after a spinal
anaesthetic, after an accidental dural puncture, ...). So each PDPH patient
contributes named facts (onset within 24 h, patched, patched twice, ...) and
times (onset, puncture to first patch, ...), counted per puncture kind; a target of
the validation report adds up the puncture kinds of its population and divides
one fact by another.
"""

from __future__ import annotations

from typing import Any

from pathway.simulate.natural import IN_SCOPE, LATE, NaturalHistory

HOUR = 60
DAY = 24 * HOUR

FACTS = (
    "pdph",
    "in_scope",
    "onset_24h",
    "onset_48h",
    "onset_72h",
    "patched",
    "patched_twice",
    "first_patch_complete",
    "refractory",
    "resolved_without_patch",
    "headache_24h_at_presentation",
    "untreated_7d_after_24h_headache",
    "complication",
    "complication_escalated",
    "escalated_on_return",
)
"""Boolean facts a target can use as numerator or denominator (plus complication.<id>,
complication.<id>.escalated and complication.<id>.on_return)."""

TIMES = ("onset", "puncture_to_first_patch", "onset_to_resolution")
"""Times (whole minutes) a target can take a median or mean of."""


class FactContext:
    """What the facts need from the loaded pathway and parameters."""

    def __init__(self, resolution: int, refractory: int, complications: tuple[str, ...]) -> None:
        self.resolution = resolution
        self.refractory = refractory
        self.complication_facts = tuple(f"complication.{name}" for name in complications)

    @property
    def names(self) -> tuple[str, ...]:
        per = [f"{fact}{suffix}" for fact in self.complication_facts for suffix in ("", ".escalated", ".on_return")]
        return (*FACTS, *per)


def patient_facts(
    course: Any, history: NaturalHistory, j: int, ctx: FactContext
) -> tuple[list[str], list[tuple[str, int]]]:
    """The facts and times of one PDPH patient's course (nothing for other presentations)."""
    if history.case[j] not in (IN_SCOPE, LATE):
        return [], []
    t_puncture, t_onset, t_present = history.t_puncture[j], history.t_onset[j], history.t_present[j]
    onset = t_onset - t_puncture
    facts = ["pdph", "in_scope"] if history.case[j] == IN_SCOPE else ["pdph"]
    times = [("onset", onset)]
    for hours, name in ((24, "onset_24h"), (48, "onset_48h"), (72, "onset_72h")):
        if onset <= hours * HOUR:
            facts.append(name)
    if course.patches:
        facts.append("patched")
        times.append(("puncture_to_first_patch", course.t_first_patch - t_puncture))
        if history.relief.item(j, 0) == 0:
            facts.append("first_patch_complete")
    if course.patches >= 2:
        facts.append("patched_twice")
    if course.state == ctx.refractory:
        facts.append("refractory")
    if course.state == ctx.resolution and course.t_end is not None:
        times.append(("onset_to_resolution", course.t_end - t_onset))
        if not course.patches:
            facts.append("resolved_without_patch")
    lasted = t_present - t_onset
    if DAY <= lasted < 7 * DAY:
        facts.append("headache_24h_at_presentation")
        if history.t_resolve[j] > t_present + 7 * DAY:
            facts.append("untreated_7d_after_24h_headache")
    if course.complication >= 0:
        which = ctx.complication_facts[course.complication]
        facts += ["complication", which]
        if course.t_escalated is not None:
            facts += ["complication_escalated", f"{which}.escalated"]
            if course.escalated_episode > 1:
                facts += ["escalated_on_return", f"{which}.on_return"]
    return facts, times
