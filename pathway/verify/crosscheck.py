"""A second opinion from SPIN: the project's verdict and SPIN's, property by property.

The explorer (``pathway.verify.explore``) and SPIN read the same definition and the same
property catalogue, but through different code: the explorer runs the engine's semantics
in Python; SPIN searches the Promela model ``pathway.export.promela`` generates, against
LTL formulas ``pathway.export.ltl`` generates. Agreement is counted only where SPIN has a
verdict (LTL cannot state ``can_finish``; static and runtime kinds are not about behaviour).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable

import attrs

from pathway.export import spin
from pathway.model import Pathway
from pathway.verify.explore import Verification, verify
from pathway.verify.mutants import mutants
from pathway.verify.properties import STATIC_KINDS, Catalogue, load_catalogue


@attrs.frozen
class Row:
    prop: str
    kind: str
    project: bool
    spin: bool | None
    note: str = ""

    @property
    def agree(self) -> bool | None:
        return None if self.spin is None else self.project == self.spin


@attrs.frozen
class CrossCheck:
    rows: tuple[Row, ...]
    report: spin.SpinReport
    project: Verification
    seconds_project: float

    @property
    def compared(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.spin is not None)

    @property
    def agree(self) -> bool:
        return all(r.agree for r in self.compared)

    def rejects(self, who: str) -> bool:
        """Does this side find some behavioural property violated (where SPIN can judge)?"""
        return any(not (r.project if who == "project" else r.spin) for r in self.compared)


def cross_check(pathway: Pathway, catalogue: Catalogue | None = None) -> CrossCheck:
    catalogue = catalogue or load_catalogue()
    started = time.perf_counter()
    project = verify(pathway, catalogue)
    seconds = time.perf_counter() - started
    report = spin.check(pathway, catalogue)
    rows = tuple(
        Row(r.id, r.kind, r.holds, report.verdict(r.id).holds, report.verdict(r.id).note) for r in project.results
    )
    return CrossCheck(rows, report, project, seconds)


@attrs.frozen
class MutantRow:
    operator: str
    description: str
    project: tuple[str, ...]  # behavioural properties the project finds violated
    spin: tuple[str, ...]  # properties SPIN finds violated
    seconds_project: float
    seconds_spin: float

    @property
    def agree(self) -> bool:
        return self.project == self.spin


def mutant_rows(
    pathway: Pathway,
    catalogue: Catalogue | None = None,
    sample: int | None = None,
    seed: int = 13,
    progress: Callable[[int, int], None] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> list[MutantRow]:
    """SPIN and the project on every mutant (or a reproducible sample of them). A mutant that changes
    only citations or unconditional recommendations changes no property SPIN judges: both sides
    then find the behaviour intact, which the table shows as agreement on "holds"."""
    catalogue = catalogue or load_catalogue()
    chosen = list(mutants(pathway))
    if sample is not None and sample < len(chosen):
        chosen = random.Random(seed).sample(chosen, sample)
    index, count = shard  # every count-th mutant from the index-th: runs split over processes
    chosen = chosen[index::count]
    rows = []
    for index, mutant in enumerate(chosen):
        try:
            check = cross_check(mutant.pathway, catalogue)
        except spin.SpinFailed as err:  # reported as a disagreement, with why, rather than ending the table
            rows.append(MutantRow(mutant.operator, mutant.description, ("?",), (f"SPIN failed: {err}",), 0.0, 0.0))
            continue
        judged = {r.prop for r in check.compared}
        project = tuple(r.prop for r in check.rows if r.prop in judged and not r.project)
        by_spin = tuple(r.prop for r in check.compared if r.spin is False)
        report = check.report
        rows.append(
            MutantRow(
                mutant.operator,
                mutant.description,
                project,
                by_spin,
                check.seconds_project,
                report.seconds_compile + report.seconds_search,
            )
        )
        if progress is not None:
            progress(index + 1, len(chosen))
    return rows


def static_properties(rows: Iterable[Row]) -> list[str]:
    return [r.prop for r in rows if r.kind in STATIC_KINDS]
