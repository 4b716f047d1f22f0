"""Runs a cohort's chunks on a Dask distributed cluster (the optional `dask` extra).

The chunks and their results are the same as in local runs (cohort.run_chunk);
only where they are computed changes, so the summary is identical. A bounded
window of chunks is in flight at a time, and results are taken in chunk order,
so memory stays flat whatever the cohort size.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from pathway.simulate.cohort import ChunkResult, CohortSpec, chunks, run_chunk


class DaskUnavailable(RuntimeError):
    """dask.distributed is missing or the scheduler cannot be reached; str() is one line."""


def _client(scheduler: str, timeout: float) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise DaskUnavailable("the dask engine needs the optional extra: pip install 'pdph-pathway[dask]'") from None
    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise DaskUnavailable(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None


def dask_results(
    spec: CohortSpec, patients: int, chunk_size: int, scheduler: str, timeout: float = 20.0
) -> Iterator[ChunkResult]:
    """Chunk results in order, computed by the workers of the cluster at ``scheduler``."""
    client = _client(scheduler, timeout)
    try:
        threads = sum(client.nthreads().values()) or 1
        window = 2 * threads + 1
        shared = client.scatter(spec, broadcast=True)
        pending: deque[Any] = deque()
        for start, stop in chunks(patients, chunk_size):
            pending.append(client.submit(run_chunk, shared, start, stop, pure=False))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        client.close()
