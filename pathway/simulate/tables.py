"""The rows of a chunk's tables (patients, events, imaging_orders) as typed Arrow tables.

Built in the worker that ran the chunk, column by column in the order of
schema.py, with the rows ordered by patient and then by policy: chunks are
consecutive patient ranges, so concatenating them in chunk order gives the same
table whatever the chunk size or the number of workers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from pathway.compiled import CompiledPathway
from pathway.simulate.clinician import Course
from pathway.simulate.natural import CASE_NAMES, NEVER, NaturalHistory
from pathway.simulate.params import SimParams
from pathway.simulate.schema import IMAGING_ORDERS, PATIENTS, TableSpec, field_column_name

MILLIS_PER_MINUTE = 60_000


def patient_id(index: int) -> str:
    return f"p{index:07d}"


def _millis(minute: int | None) -> int | None:
    return None if minute is None or minute >= NEVER else minute * MILLIS_PER_MINUTE


class TableRows:
    """Column lists for one chunk; ``tables()`` turns them into Arrow tables."""

    def __init__(self, compiled: CompiledPathway, params: SimParams, events_spec: TableSpec) -> None:
        self.compiled, self.params = compiled, params
        self.events_spec = events_spec
        self.patients: dict[str, list[Any]] = {name: [] for name in PATIENTS.names}
        self.events: dict[str, list[Any]] = {name: [] for name in events_spec.names}
        self.imaging: dict[str, list[Any]] = {name: [] for name in IMAGING_ORDERS.names}
        self.dose = {rrl: number.value for rrl, number in params.dose_msv.items()}
        self.contrast = frozenset(params.contrast)
        self.field_columns = {
            spec.name: field_column_name(spec.name) for event in compiled.pathway.events for spec in event.fields
        }

    def add(self, course: Course, policy: str, history: NaturalHistory, j: int) -> None:
        self._patient(course, policy, history, j)
        for state, code, rating, rrl, minute, episode in course.imaging:
            row = self.imaging
            row["patient"].append(patient_id(course.index))
            row["policy"].append(policy)
            row["episode"].append(episode)
            row["ordered_at"].append(_millis(minute))
            row["state"].append(self.compiled.state_ids[state])
            row["code"].append(code)
            row["rating"].append(rating)
            row["rrl"].append(rrl)
            row["msv"].append(self.dose[rrl])
            row["contrast"].append(code in self.contrast)
        if course.events is not None:
            self._events(course, policy)

    def _patient(self, course: Course, policy: str, history: NaturalHistory, j: int) -> None:
        compiled, params = self.compiled, self.params
        row = self.patients
        puncture = history.puncture[j]
        fields = params.punctures[puncture].fields if puncture >= 0 else {}
        hours_to_escalation = None
        if course.t_escalated is not None and course.t_manifest is not None:
            hours_to_escalation = max(course.t_escalated - course.t_manifest, 0) / 60
        values = {
            "patient": patient_id(course.index),
            "policy": policy,
            "case": CASE_NAMES[history.case[j]],
            "puncture": params.punctures[puncture].id if puncture >= 0 else None,
            "procedure": fields.get("procedure"),
            "needle_gauge": fields.get("needle_gauge"),
            "needle_tip": fields.get("needle_tip"),
            "accidental": fields.get("accidental"),
            "puncture_group": params.punctures[puncture].group if puncture >= 0 else None,
            "complication": params.complications[course.complication].id if course.complication >= 0 else None,
            "final_state": compiled.state_ids[course.state],
            "final": compiled.final[course.state],
            "path": ">".join(compiled.state_ids[s] for s in course.path),
            "punctured_at": _millis(history.t_puncture[j]) if puncture >= 0 else None,
            "headache_onset_at": _millis(history.t_onset[j]) if puncture >= 0 else None,
            "presented_at": _millis(course.t_present),
            "ended_at": _millis(course.t_end),
            "hours_to_end": (course.t_end - course.t_present) / 60 if course.t_end is not None else None,
            "events_accepted": len(course.accepted) + course.return_events,
            "events_rejected": course.rejected,
            "reviews": course.reviews,
            "blood_patches": course.patches,
            "first_patch_at": _millis(course.t_first_patch) if course.patches else None,
            "imaging_studies": len(course.imaging),
            "radiation_msv": round(sum(self.dose[order[3]] for order in course.imaging), 6),
            "contrast_exposures": sum(1 for order in course.imaging if order[1] in self.contrast),
            "complication_signs_at": _millis(course.t_manifest),
            "escalated_at": _millis(course.t_escalated),
            "hours_to_escalation": hours_to_escalation,
            "episodes": course.episodes,
            "escalated_episode": course.escalated_episode or None,
        }
        for name, value in values.items():
            row[name].append(value)

    def _events(self, course: Course, policy: str) -> None:
        assert course.events is not None
        compiled = self.compiled
        row = self.events
        patient = patient_id(course.index)
        length = len(row["patient"])
        seq, episode_now = 0, 0
        for (event, minute, fields, episode), state, accepted in zip(
            course.events, course.states, course.event_accepted, strict=True
        ):
            seq = seq + 1 if episode == episode_now else 1
            episode_now = episode
            row["patient"].append(patient)
            row["policy"].append(policy)
            row["episode"].append(episode)
            row["seq"].append(seq)
            row["event"].append(compiled.event_names[event])
            row["at"].append(minute * MILLIS_PER_MINUTE)
            row["accepted"].append(accepted)
            row["state"].append(compiled.state_ids[state])
            for name, value in fields.items():
                row[self.field_columns[name]].append(value)
            length += 1
            for values in row.values():  # fields this event does not have stay empty
                if len(values) < length:
                    values.append(None)

    def tables(self) -> dict[str, pa.Table]:
        return {
            "patients": _table(PATIENTS, self.patients),
            "events": _table(self.events_spec, self.events),
            "imaging_orders": _table(IMAGING_ORDERS, self.imaging),
        }


def _table(spec: TableSpec, columns: Mapping[str, Sequence[Any]]) -> pa.Table:
    arrays = [pa.array(columns[c.name], type=c.arrow) for c in spec.columns]
    return pa.Table.from_arrays(arrays, schema=spec.schema())
