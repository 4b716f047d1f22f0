"""Where a cohort's chunks are computed (here, or a pool of local processes) and how results merge.

Chunks are made lazily and a bounded number is in flight, so memory does not grow
with the cohort size; results are taken in chunk order, and aggregates merge as
integer sums, so the totals do not depend on the workers or the chunk size.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pathway.clean_exit import reset_in_worker
from pathway.simulate.aggregate import Aggregate
from pathway.simulate.measures import Paired

if TYPE_CHECKING:
    from pathway.simulate.cohort import ChunkResult, CohortSpec


def chunks(patients: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """Patient index ranges, made as they are needed: memory must not grow with the cohort size."""
    if patients < 0 or chunk_size < 1:
        raise ValueError("patients must be >= 0 and chunk size >= 1")
    return ((a, min(a + chunk_size, patients)) for a in range(0, patients, chunk_size))


_WORKER_SPEC: CohortSpec | None = None


def _init_worker(spec: CohortSpec) -> None:
    from pathway.simulate.cohort import context

    global _WORKER_SPEC
    reset_in_worker()  # an interrupt is the parent's to handle; it then ends the pool quietly
    _WORKER_SPEC = spec
    context(spec)


def _worker_chunk(bounds: tuple[int, int]) -> ChunkResult:
    from pathway.simulate.cohort import run_chunk

    assert _WORKER_SPEC is not None
    return run_chunk(_WORKER_SPEC, *bounds)


def local_results(spec: CohortSpec, patients: int, workers: int, chunk_size: int) -> Iterator[ChunkResult]:
    """Chunk results in order, computed here (1 worker) or by a pool of processes."""
    from pathway.simulate.cohort import run_chunk

    bounds = chunks(patients, chunk_size)
    if workers <= 1 or patients <= chunk_size:
        for start, stop in bounds:
            yield run_chunk(spec, start, stop)
        return
    # fork: workers start in milliseconds and inherit the imported modules
    pool_context = multiprocessing.get_context("fork")
    with pool_context.Pool(workers, initializer=_init_worker, initargs=(spec,)) as pool:
        # a bounded window of chunks in flight (Pool.imap would queue every chunk up front)
        pending: deque[Any] = deque()
        for chunk in bounds:
            pending.append(pool.apply_async(_worker_chunk, (chunk,)))
            if len(pending) >= 4 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


class Totals:
    """A cohort's merged aggregates (one per policy) and paired differences (one per compared policy)."""

    def __init__(self, aggregates: dict[str, Aggregate], paired: dict[str, Paired]) -> None:
        self.aggregates = aggregates
        self.paired = paired

    def __getitem__(self, policy: str) -> Aggregate:
        return self.aggregates[policy]

    def values(self) -> Any:
        return self.aggregates.values()


def run(
    spec: CohortSpec,
    patients: int,
    results: Iterator[ChunkResult],
    sink: Callable[[ChunkResult], None] | None = None,
) -> Totals:
    """Merge chunk results (in order) into one aggregate per policy; ``sink`` sees each chunk first."""
    from pathway.simulate.cohort import context

    aggregates: dict[str, Aggregate] = {}
    paired: dict[str, Paired] = {}
    done = 0
    for result in results:
        if result.start != done:
            raise RuntimeError(f"chunk {result.start}..{result.stop} arrived out of order (expected {done})")
        done = result.stop
        if sink is not None:
            sink(result)
        for policy, aggregate in result.aggregates.items():
            if policy in aggregates:
                aggregates[policy].merge(aggregate)
            else:
                aggregates[policy] = aggregate
        for policy, pairs in result.paired.items():
            if policy in paired:
                paired[policy].merge(pairs)
            else:
                paired[policy] = pairs
        result.events.clear()
        result.tables.clear()
        result.fhir.clear()
    if done != patients:
        raise RuntimeError(f"cohort stopped after {done} of {patients} patients")
    if not aggregates:
        ctx = context(spec)
        aggregates = {policy: ctx.aggregate() for policy in spec.policies}
        paired = {policy: Paired() for policy in spec.policies[1:]}
    return Totals(aggregates, paired)
