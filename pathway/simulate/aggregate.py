"""Cohort aggregates that add up patient by patient and merge across chunks.

Everything is an integer count (times in whole minutes, imaging as study counts
by state and code), so merging chunks in any order gives identical totals; the
few floats of the summary (rates, quantiles, mSv) are computed once, at the end,
from those integers. Memory does not grow with the number of patients: times
are kept as counts per minute value (numpy histograms, minute_counts.py), paths
as counts per distinct path.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pathway.compiled import CompiledPathway
from pathway.simulate.clinician import Course
from pathway.simulate.minute_counts import MinuteCounts
from pathway.simulate.natural import CASE_NAMES

OCCUPANCY_HOURS = 21 * 24
"""State occupancy is counted hourly for three weeks after presentation."""

Facts = tuple[list[str], list[tuple[str, int]]]


class Aggregate:
    """Running totals of one policy's cohort."""

    def __init__(self, n_states: int, n_transitions: int, n_events: int, n_complications: int) -> None:
        self.patients = 0
        self.cases = [0] * len(CASE_NAMES)
        self.end_states = [0] * n_states
        self.open = 0
        self.paths: Counter[tuple[int, ...]] = Counter()
        self.transition_count = [0] * n_transitions
        self.transition_patients = [0] * n_transitions
        self.event_count = [0] * n_events
        self.event_patients = [0] * n_events
        self.field_values: Counter[tuple[int, str, Any]] = Counter()
        self.shapes: Counter[tuple[Any, ...]] = Counter()
        self.rejected = 0
        self.time_to_end = [MinuteCounts() for _ in range(n_states)]
        self.complication_patients = [0] * n_complications
        self.complication_escalated = [0] * n_complications
        self.complication_missed = [0] * n_complications
        self.time_to_escalation = [MinuteCounts() for _ in range(n_complications)]
        self.imaging: Counter[tuple[int, str, str, str]] = Counter()
        self.patients_imaged = 0
        self.patients_contrast = 0
        self.returned = 0  # patients who came back after their first episode ended
        self.return_episodes = 0
        self.return_final = [0] * n_states  # the state each return episode ended in
        self.escalated_on_return = 0
        self.measures: Counter[tuple[int, ...]] = Counter()  # patients per MEASURES vector
        self.fact_sets: Counter[tuple[int, tuple[str, ...]]] = Counter()  # (puncture, facts) -> patients
        self.fact_times: dict[tuple[int, str], MinuteCounts] = {}  # (puncture, time) -> patients per minutes
        self.reviews: Counter[int] = Counter()
        self.patches: Counter[int] = Counter()
        self.occupancy = [[0] * (OCCUPANCY_HOURS + 2) for _ in range(n_states)]
        self.monitor_checked = 0
        self.monitor_violations = 0
        self.monitor_examples: list[str] = []
        self.engine_checked = 0
        self.engine_mismatches = 0

    def add(
        self,
        course: Course,
        case: int,
        counted_fields: list[tuple[str, ...]],
        contrast: frozenset[str],
        measures: tuple[int, ...],
        puncture: int,
        facts: Facts,
    ) -> None:
        # Most patients share one of a few hundred course shapes: count the shapes, expand them once later.
        accepted = course.accepted
        shape = (
            case,
            course.state,
            tuple(course.taken),
            tuple([event for event, _ in accepted]),
            course.rejected,
            course.reviews,
            course.patches,
            course.t_end is None,
        )
        self.shapes[shape] += 1
        values = self.field_values
        for event, fields in accepted:
            for name in counted_fields[event]:
                if name in fields:
                    values[(event, name, fields[name])] += 1
        if course.t_end is not None:
            self.time_to_end[course.state].add(course.t_end - course.t_present)
        if course.complication >= 0:
            k = course.complication
            self.complication_patients[k] += 1
            if course.t_escalated is not None and course.t_manifest is not None:
                self.complication_escalated[k] += 1
                self.time_to_escalation[k].add(max(course.t_escalated - course.t_manifest, 0))
            else:
                self.complication_missed[k] += 1
        if course.imaging:
            self.patients_imaged += 1
            for order in course.imaging:
                self.imaging[order[:4]] += 1
            if any(order[1] in contrast for order in course.imaging):
                self.patients_contrast += 1
        if course.return_states:
            self.returned += 1
            self.return_episodes += len(course.return_states)
            for state in course.return_states:
                self.return_final[state] += 1
            if course.escalated_episode > 1:
                self.escalated_on_return += 1
        self.measures[measures] += 1
        names, times = facts
        if names:
            self.fact_sets[(puncture, tuple(names))] += 1  # one count per patient; split by fact() later
        for name, minutes in times:
            self.fact_time(puncture, name).add(minutes)
        self._occupy(course)

    def fact_time(self, puncture: int, name: str) -> MinuteCounts:
        """The distribution of one study time among the patients of one puncture kind."""
        found = self.fact_times.get((puncture, name))
        if found is None:
            found = self.fact_times[(puncture, name)] = MinuteCounts()
        return found

    def facts(self) -> Counter[tuple[int, str]]:
        """Patients per (puncture, fact)."""
        out: Counter[tuple[int, str]] = Counter()
        for (puncture, names), count in self.fact_sets.items():
            for name in names:
                out[(puncture, name)] += count
        return out

    def expand(self, initial: int, targets: tuple[int, ...]) -> None:
        """Per-patient totals from the course shapes (call once, after the last merge)."""
        self.patients = 0
        for key in ("cases", "end_states", "transition_count", "transition_patients", "event_count", "event_patients"):
            setattr(self, key, [0] * len(getattr(self, key)))
        self.paths, self.reviews, self.patches = Counter(), Counter(), Counter()
        self.rejected = self.open = 0
        for (case, state, taken, events, rejected, reviews, patches, still_open), n in self.shapes.items():
            self.patients += n
            self.cases[case] += n
            self.end_states[state] += n
            path = [initial]
            for index in taken:
                self.transition_count[index] += n
                if targets[index] != path[-1]:
                    path.append(targets[index])
            for index in set(taken):
                self.transition_patients[index] += n
            self.paths[tuple(path)] += n
            for event in events:
                self.event_count[event] += n
            for event in set(events):
                self.event_patients[event] += n
            self.rejected += rejected * n
            self.open += n if still_open else 0
            self.reviews[reviews] += n
            self.patches[patches] += n

    def _occupy(self, course: Course) -> None:
        segments = course.segments
        origin = course.t_present
        last = len(segments) - 1
        for k, (state, entered) in enumerate(segments):
            begin = -(-(entered - origin) // 60)  # first whole hour at or after entry
            end = OCCUPANCY_HOURS + 1 if k == last else -(-(segments[k + 1][1] - origin) // 60)
            if begin > OCCUPANCY_HOURS or end <= begin:
                continue
            row = self.occupancy[state]
            row[max(begin, 0)] += 1
            row[min(end, OCCUPANCY_HOURS + 1)] -= 1

    def merge(self, other: Aggregate) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(value, Counter):
                mine.update(value)
            elif name == "fact_times":
                for key, counts in value.items():
                    self.fact_time(*key).merge(counts)
            elif isinstance(value, list) and value and isinstance(value[0], MinuteCounts):
                for a, b in zip(mine, value, strict=True):
                    a.merge(b)
            elif isinstance(value, list) and value and isinstance(value[0], list):
                for a, b in zip(mine, value, strict=True):
                    for i, x in enumerate(b):
                        a[i] += x
            elif name == "monitor_examples":
                mine.extend(value[: max(0, 5 - len(mine))])
            elif isinstance(value, list):
                for i, x in enumerate(value):
                    mine[i] += x
            else:
                setattr(self, name, mine + value)


def occupancy_series(aggregate: Aggregate, compiled: CompiledPathway) -> dict[str, list[int]]:
    """Patients in each state at each whole hour after presentation (states ever occupied)."""
    series: dict[str, list[int]] = {}
    for index, row in enumerate(aggregate.occupancy):
        running, values = 0, []
        for delta in row[: OCCUPANCY_HOURS + 1]:
            running += delta
            values.append(running)
        if any(values):
            series[compiled.state_ids[index]] = values
    return series
