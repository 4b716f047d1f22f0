"""The field sets a cohort's events can carry, numbered once so that arrays can refer to them.

The simulated clinician sends a small, fixed repertoire of field sets: each puncture
kind, the typical and each atypical presentation, each review response, each patch
review, each red flag, with or without the findings of a complication's examination.
Only the vital signs drawn at presentation vary from patient to patient; they are
``Vital`` placeholders here, filled from a per-patient array. A vectorised run refers
to "plan" numbers instead of dicts; this table turns a plan back into the exact dict
(same keys, same order, same values) the per-patient engine builds, and gives guards
one column per field name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from pathway.model import Pathway
from pathway.simulate.array_guards import FLAG, NUM, TEXT, Col, TextCodes, encode, kind_of


@attrs.frozen
class Vital:
    """A value drawn per patient: column ``slot`` of the vitals array."""

    slot: int


Fields = Mapping[str, Any]


class FieldTable:
    """Numbered (event, field set) pairs; ``freeze`` turns them into columns for the guards."""

    def __init__(self, pathway: Pathway) -> None:
        self.event_names = pathway.event_names
        self.kinds: dict[str, str] = {}
        for spec in pathway.events:
            for field in spec.fields:
                kind = NUM if field.type in ("int", "number") else FLAG if field.type == "bool" else TEXT
                self.kinds.setdefault(field.name, kind)
        self.plans: list[dict[str, Any]] = []
        self.events: list[int] = []
        self._index: dict[tuple[Any, ...], int] = {}
        self.frozen = False

    def add(self, event: int, fields: Fields) -> int:
        """The plan number of ``fields`` sent with ``event`` (the same dict in the same order: the same number)."""
        items = tuple((name, (type(value), value)) for name, value in fields.items())
        key = (event, items)
        plan = self._index.get(key)
        if plan is None:
            if self.frozen:
                raise RuntimeError("field table already frozen")
            plan = self._index[key] = len(self.plans)
            self.plans.append(dict(fields))
            self.events.append(event)
        return plan

    def strings(self) -> set[str]:
        return {v for plan in self.plans for v in plan.values() if isinstance(v, str)}

    def freeze(self, codes: TextCodes) -> None:
        """Columns per field name over all plans: encoded value, presence, vital slot (-1: none)."""
        self.frozen = True
        self.codes = codes
        self.plan_event = np.array(self.events, dtype=np.int64)
        n = len(self.plans)
        self.columns: dict[str, tuple[str, np.ndarray, np.ndarray, np.ndarray | None]] = {}
        names = {name for plan in self.plans for name in plan}
        for name in names:
            vals, ok, slots = np.zeros(n), np.zeros(n, dtype=bool), np.full(n, -1, dtype=np.int64)
            kind = self.kinds.get(name)
            for i, plan in enumerate(self.plans):
                if name not in plan:
                    continue
                value = plan[name]
                ok[i] = True
                if isinstance(value, Vital):
                    slots[i] = value.slot
                    kind = kind or NUM
                else:
                    kind = kind or kind_of(value)
                    vals[i] = encode(value, codes)
            self.columns[name] = (kind or NUM, vals, ok, slots if (slots >= 0).any() else None)

    def column(self, name: str, plans: np.ndarray, patients: np.ndarray, vitals: np.ndarray | None) -> Col:
        """Field ``name`` of each event of a batch (absent where its plan lacks it)."""
        entry = self.columns.get(name)
        if entry is None:
            return Col(NUM, 0.0, False)
        kind, vals, ok, slots = entry
        values = vals[plans]
        if slots is not None and vitals is not None:
            slot = slots[plans]
            drawn = slot >= 0
            if drawn.any():
                values[drawn] = vitals[patients[drawn], slot[drawn]]
        return Col(kind, values, ok[plans])

    def fields(self, plan: int, vitals: Sequence[float] = ()) -> dict[str, Any]:
        """The dict the per-patient engine sends for ``plan``, vitals filled in."""
        return {
            name: vitals[value.slot] if isinstance(value, Vital) else value for name, value in self.plans[plan].items()
        }


def pathway_strings(pathway: Pathway, extra: Iterable[str] = ()) -> TextCodes:
    """Every string of the pathway a guard can compare (enum values, event names, literals) plus ``extra``."""
    from pathway import guards

    strings: set[str] = set(pathway.event_names) | set(extra)
    for spec in pathway.events:
        for field in spec.fields:
            strings.update(field.values)
    trees = [t.guard for t in pathway.transitions] + [r.guard for r in pathway.rejections]
    trees += [rec.when for state in pathway.states for rec in state.recommendations]
    for tree in trees:
        if tree is None:
            continue
        for node in guards.walk(tree, into_predicates=True):
            if isinstance(node, guards.Const | guards.Param) and isinstance(node.value, str):
                strings.add(node.value)
            if isinstance(node, guards.InList):
                strings.update(v for v in node.values if isinstance(v, str))
    return TextCodes(strings)
