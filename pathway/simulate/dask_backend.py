"""Runs a cohort's chunks on a Dask distributed cluster (the optional `dask` extra).

The chunks and their results are the same as in local runs (cohort.run_chunk);
only where they are computed changes, so the summary is identical. A bounded
window of chunks is in flight at a time, and results are taken in chunk order,
so memory stays flat whatever the cohort size.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from pathway.simulate.cohort import ChunkResult, CohortSpec, chunks, run_chunk

PROBE_S = 5.0
CONNECT_S = 10.0


class DaskUnavailable(RuntimeError):
    """dask.distributed is missing or the scheduler cannot be reached; str() is one line."""


def _client(scheduler: str, timeout: float) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise DaskUnavailable("the dask engine needs the optional extra: pip install 'pdph-pathway[dask]'") from None
    host, _, port = scheduler.split("://", 1)[1].rpartition(":")
    try:  # nothing listening is found out in seconds, not after the client's own retries
        socket.create_connection((host.strip("[]"), int(port)), timeout=min(timeout, PROBE_S)).close()
    except OSError as err:
        raise DaskUnavailable(f"cannot reach the Dask scheduler at {scheduler}: {err.strerror or err}") from None
    client = Client.__new__(Client)
    try:
        Client.__init__(client, scheduler, timeout=timeout, set_as_default=False)
    except Exception as err:
        _abandon(client)
        # something answered, but not in Dask's protocol: its bytes read as a frame length can
        # ask for exabytes (MemoryError); name the address, not the symptom
        why = "it does not answer as a Dask scheduler" if isinstance(err, MemoryError) else _first_line(err)
        raise DaskUnavailable(f"cannot use {scheduler} as a Dask scheduler: {why}") from None
    return client


def _abandon(client: Any) -> None:
    """A client whose start failed: close it briefly, once, so its finaliser does not wait to close it again."""
    with suppress(Exception):
        client.close(timeout=1)
    client.status = "closed"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def dask_results(
    spec: CohortSpec, patients: int, chunk_size: int, scheduler: str, timeout: float = CONNECT_S
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
