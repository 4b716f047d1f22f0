"""The compiled pathway run for a whole chunk of patients at once, on arrays.

``ArrayMachine`` holds what does not change between patients: for each (state,
event) cell the candidate transitions in definition order, each state's eventless
transitions, and every guard compiled to array expressions (array_guards.py).
``ArrayRun`` holds one chunk's courses: state, clocks and counters of every patient
as numpy arrays. ``ArrayRun.send`` applies one event to each patient of a batch
with exactly the rules of ``pathway.compiled.LeanRun.send`` (itself the
python-statemachine engine's behaviour): eventless transitions of the current
state first, with the new event in scope; then the event's transitions, the first
whose guard holds wins; then eventless transitions again; a refused event leaves
the reported state alone; facts are updated only for accepted events, after all
guards of the event were read. Nothing clinical is here.
"""

from __future__ import annotations

import numpy as np

from pathway import guards
from pathway.compiled import MAX_EVENTLESS_CHAIN, CompiledPathway, CompileError
from pathway.simulate.array_guards import NUM, Col, GuardCompiler
from pathway.simulate.field_table import FieldTable, pathway_strings

MISSING = np.iinfo(np.int64).min
"""A time that has not happened (no event of that kind yet, state never entered)."""
US_PER_SECOND = 1_000_000

Candidate = tuple[int, "PlanGuard | None", int]
Stage = tuple[np.ndarray, int]
"""Positions in the batch of the patients that took transition ``int`` at this stage of a send."""


class ArrayMachine:
    """A compiled pathway's tables with guards over arrays, and the field sets its events carry."""

    def __init__(self, compiled: CompiledPathway, table: FieldTable) -> None:
        pathway = compiled.pathway
        self.compiled = compiled
        self.table = table
        codes = pathway_strings(pathway, table.strings())
        table.freeze(codes)
        self.event_code = np.array([codes[name] for name in compiled.event_names], dtype=np.float64)
        compiler = GuardCompiler(compiled.event_names, compiled.state_ids, codes)
        guard_fns = [None if t.guard is None else PlanGuard(t.guard, compiler, self) for t in pathway.transitions]
        self.n_states, self.n_events = len(compiled.state_ids), len(compiled.event_names)
        self.final = np.array(compiled.final, dtype=bool)
        self.targets = np.array(compiled.targets, dtype=np.int64)
        self.initial = compiled.initial
        self.eventless: list[list[Candidate]] = [[] for _ in range(self.n_states)]
        self.cells: dict[int, list[Candidate]] = {}
        for i, transition in enumerate(pathway.transitions):
            source = compiled.state_index[transition.source]
            if transition.immediate:
                self.eventless[source].append((i, guard_fns[i], compiled.targets[i]))
            for event in transition.events:
                key = source * self.n_events + compiled.event_index[event]
                self.cells.setdefault(key, []).append((i, guard_fns[i], compiled.targets[i]))
        self.has_eventless = np.array([bool(cell) for cell in self.eventless], dtype=bool)
        self.clocked = compiled.clocked_targets  # only the entry times some guard reads are kept
        self.compiler = compiler

    def run(self, size: int, vitals: np.ndarray | None = None) -> ArrayRun:
        return ArrayRun(self, size, vitals)


class PlanGuard:
    """A transition's guard for a batch; one that reads nothing but the event is decided once per field set.

    Most guards read only the event (its name and fields), and a batch carries a few
    dozen distinct field sets, so their value per field set is computed here once
    and looked up. Field sets with vital signs the guard reads are evaluated per patient.
    """

    def __init__(self, expr: guards.Expr, compiler: GuardCompiler, machine: ArrayMachine) -> None:
        self.fn = compiler.guard(expr)
        self.static: np.ndarray | None = None
        self.dynamic: np.ndarray | None = None
        nodes = list(guards.walk(expr, into_predicates=True))
        if any(isinstance(node, guards.Call) for node in nodes):
            return
        table = machine.table
        plans = np.arange(len(table.plans))
        dynamic = np.zeros(len(plans), dtype=bool)
        for node in nodes:
            if isinstance(node, guards.Field) and node.name in table.columns:
                slots = table.columns[node.name][3]
                if slots is not None:
                    dynamic |= slots >= 0
        scope = _PlanScope(table, plans, machine.event_code[table.plan_event])
        try:
            self.static = np.array(self.fn(scope), dtype=bool)
        except TypeError:  # e.g. text ordered against a number on a field set the guard never meets
            return
        self.dynamic = dynamic if dynamic.any() else None

    def decide(
        self, run: ArrayRun, patients: np.ndarray, plans: np.ndarray, at: np.ndarray, where: np.ndarray
    ) -> np.ndarray:
        """The guard for the patients at positions ``where`` of a batch."""
        if self.static is None:
            return self.fn(BatchScope(run, patients[where], plans[where], at[where]))
        batch_plans = plans[where]
        mask = self.static[batch_plans]
        if self.dynamic is not None:
            drawn = np.flatnonzero(self.dynamic[batch_plans])
            if drawn.size:
                picked = where[drawn]
                mask[drawn] = self.fn(BatchScope(run, patients[picked], plans[picked], at[picked]))
        return mask


class _PlanScope:
    """Every field set once (no patient): for guards that read only the event."""

    def __init__(self, table: FieldTable, plans: np.ndarray, event_text: np.ndarray) -> None:
        self.table, self.plans, self.text = table, plans, event_text
        self.size = len(plans)

    def field(self, name: str) -> Col:
        return self.table.column(name, self.plans, self.plans, None)

    def event_text(self) -> np.ndarray:
        return self.text

    def hours_since(self, event: int) -> Col:
        raise AssertionError("not a guard of the event alone")

    hours_since_entered = hours_since

    def count(self, event: int) -> np.ndarray:
        raise AssertionError("not a guard of the event alone")

    occurred = count


class BatchScope:
    """What the guards read for some patients of a run, each sending its own event."""

    __slots__ = ("at", "patients", "plans", "run", "size")

    def __init__(self, run: ArrayRun, patients: np.ndarray, plans: np.ndarray, at: np.ndarray) -> None:
        self.run, self.patients, self.plans, self.at = run, patients, plans, at
        self.size = len(patients)

    def field(self, name: str) -> Col:
        return self.run.machine.table.column(name, self.plans, self.patients, self.run.vitals)

    def event_text(self) -> np.ndarray:
        machine = self.run.machine
        return machine.event_code[machine.table.plan_event[self.plans]]

    def _hours(self, then: np.ndarray) -> Col:
        present = then != MISSING
        # the arithmetic of timedelta.total_seconds() / 3600 on exact microseconds
        elapsed = self.at - then if present.all() else np.where(present, self.at - np.where(present, then, 0), 0)
        return Col(NUM, (elapsed / US_PER_SECOND) / 3600.0, present)

    def hours_since(self, event: int) -> Col:
        return self._hours(self.run.last_at[event][self.patients])

    def hours_since_entered(self, state: int) -> Col:
        return self._hours(self.run.entered_at[state][self.patients])

    def count(self, event: int) -> np.ndarray:
        return self.run.counts[event][self.patients]

    def occurred(self, event: int) -> np.ndarray:
        return self.run.counts[event][self.patients] > 0


_EMPTY = np.zeros(0, dtype=np.int64)


def _split(items: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(items where mask holds, the others), in order. A guard splits a batch at random, where numpy's
    boolean-mask gather costs ~4x a gather by index (branch mispredictions); all or none costs nothing."""
    hits = np.flatnonzero(mask)
    if hits.size == items.size:
        return items, _EMPTY
    if not hits.size:
        return _EMPTY, items
    return items[hits], items[np.flatnonzero(~mask)]


class ArrayRun:
    """The courses of ``size`` patients on one machine; patients are rows 0..size-1."""

    def __init__(self, machine: ArrayMachine, size: int, vitals: np.ndarray | None) -> None:
        self.machine = machine
        self.vitals = vitals
        self.state = np.full(size, machine.initial, dtype=np.int64)
        self.machine_state = self.state.copy()
        self.last_time = np.full(size, MISSING, dtype=np.int64)
        # one row per event or state, one column per patient: a guard reads one event's or state's row for
        # a batch of patients, contiguous in memory (patient-major rows would cost a cache line per patient)
        self.counts = np.zeros((machine.n_events, size), dtype=np.int64)
        self.last_at = np.full((machine.n_events, size), MISSING, dtype=np.int64)
        self.entered_at = np.full((machine.n_states, size), MISSING, dtype=np.int64)

    def reset(self, patients: np.ndarray) -> None:
        """These patients start a new course (an episode) in the initial state, with no facts."""
        self.state[patients] = self.machine_state[patients] = self.machine.initial
        self.last_time[patients] = MISSING
        self.counts[:, patients] = 0
        self.last_at[:, patients] = MISSING
        self.entered_at[:, patients] = MISSING

    def send(self, patients: np.ndarray, plans: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, list[Stage]]:
        """One event per patient (``patients`` distinct); (accepted mask, transitions taken by accepted patients).

        ``at`` is in microseconds. The stages come in the order the transitions were
        taken, so each patient's transitions read in stage order are its own sequence.
        """
        machine = self.machine
        events = machine.table.plan_event[plans]
        size = len(patients)
        accepted = np.zeros(size, dtype=bool)
        if (at >= self.last_time[patients]).all():  # the usual case: no event out of time order
            self.last_time[patients] = at
            start = self.machine_state[patients]
            live = ~machine.final[start]
            pos = np.arange(size) if live.all() else np.flatnonzero(live)
        else:
            in_order = np.flatnonzero(at >= self.last_time[patients])  # MISSING is below any time
            self.last_time[patients[in_order]] = at[in_order]
            start = self.machine_state[patients]
            pos = in_order[~machine.final[start[in_order]]]
        states = start[pos]
        stages: list[Stage] = []
        dropped = dropped_states = _EMPTY
        if machine.has_eventless[states].any():
            states = self._eventless(patients, plans, at, pos, states, stages)
            open_ = ~machine.final[states]
            if not open_.all():  # final during the eventless phase: the event is dropped, and accepted
                dropped, dropped_states = pos[~open_], states[~open_]
                pos, states = pos[open_], states[open_]

        after = states.copy()
        fired = np.zeros(len(pos), dtype=bool)
        keys = states * machine.n_events + events[pos]
        cells = np.flatnonzero(np.bincount(keys)) if keys.size else _EMPTY
        for key in cells.tolist():
            remaining = np.arange(len(keys)) if len(cells) == 1 else np.flatnonzero(keys == key)
            for transition, guard, target in machine.cells.get(key, ()):
                if guard is None:
                    hit, remaining = remaining, _EMPTY
                else:
                    hit, remaining = _split(remaining, guard.decide(self, patients, plans, at, pos[remaining]))
                if hit.size:
                    stages.append((pos[hit], transition))
                    after[hit] = target
                    fired[hit] = True
                if not remaining.size:
                    break
        everyone = fired.all()
        if not everyone:
            refused = ~fired
            self.machine_state[patients[pos[refused]]] = states[refused]  # an eventless move before a refusal stays
        chained = np.flatnonzero(fired & machine.has_eventless[after])
        if chained.size:
            after[chained] = self._eventless(patients, plans, at, pos[chained], after[chained], stages)

        if everyone and not dropped.size:
            taken_pos, new_states = pos, after
        else:
            taken_pos = np.concatenate((dropped, pos[fired]))
            new_states = np.concatenate((dropped_states, after[fired]))
        accepted[taken_pos] = True
        rows = patients[taken_pos]
        self.state[rows] = new_states
        self.machine_state[rows] = new_states
        cells_of = events[taken_pos] * len(self.state) + rows
        np.add.at(self.counts.reshape(-1), cells_of, 1)  # distinct cells: a += by index, without its gather
        self.last_at.reshape(-1)[cells_of] = at[taken_pos]
        all_accepted = len(taken_pos) == size
        kept: list[Stage] = []
        for where, transition in stages:
            if not all_accepted:
                where = where[accepted[where]]
                if not where.size:
                    continue
            kept.append((where, transition))
            if machine.clocked[transition]:
                target = machine.targets[transition]
                clock = self.entered_at[target]
                first = where[clock[patients[where]] == MISSING]  # a state's clock starts at its first entry only
                clock[patients[first]] = at[first]
        return accepted, kept

    def _eventless(
        self,
        patients: np.ndarray,
        plans: np.ndarray,
        at: np.ndarray,
        pos: np.ndarray,
        states: np.ndarray,
        stages: list[Stage],
    ) -> np.ndarray:
        """States after the eventless transitions from ``states`` (one per position ``pos`` of the batch)."""
        machine = self.machine
        states = states.copy()
        todo = np.flatnonzero(machine.has_eventless[states] & ~machine.final[states])
        moved: list[np.ndarray] = []
        for _ in range(MAX_EVENTLESS_CHAIN):
            if not todo.size:
                return states
            moved = []
            current = states[todo]
            for state in np.flatnonzero(np.bincount(current)).tolist():  # small ints: no sort
                remaining = todo[current == state]
                for transition, guard, target in machine.eventless[state]:
                    if guard is None:
                        hit, remaining = remaining, _EMPTY
                    else:
                        hit, remaining = _split(remaining, guard.decide(self, patients, plans, at, pos[remaining]))
                    if hit.size:
                        stages.append((pos[hit], transition))
                        states[hit] = target
                        moved.append(hit)
                    if not remaining.size:
                        break
            todo = np.concatenate(moved) if moved else _EMPTY
            todo = todo[machine.has_eventless[states[todo]] & ~machine.final[states[todo]]] if todo.size else todo
        if moved:  # the chain was still moving after MAX_EVENTLESS_CHAIN steps, as LeanRun refuses
            state_id = machine.compiled.state_ids[int(states[moved[0][0]])]
            raise CompileError(f"state {state_id!r}: eventless transitions loop for ever")
        return states
