"""Runs independent tasks (PSA draws, sensitivity points) here, in local processes or on Dask, in order.

Each task's result depends only on (spec, task), so whoever computes it returns the same
numbers, and results are handed back in task order: tables written from them are the same
bytes whatever the workers. A bounded window of tasks is in flight at a time.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pathway.clean_exit import reset_in_worker
from pathway.simulate.dask_backend import DaskUnavailable, _client

TaskFn = Callable[[Any, Any], Any]

_SPEC: Any = None
_FN: TaskFn | None = None


def _init(fn: TaskFn, spec: Any) -> None:
    global _SPEC, _FN
    _SPEC, _FN = spec, fn
    # as the simulator's workers: the pool's SIGTERM at the end ends a worker quietly (no Stopped traceback)
    reset_in_worker()


def _call(task: Any) -> Any:
    assert _FN is not None
    return _FN(_SPEC, task)


def ordered(
    fn: TaskFn, spec: Any, tasks: Sequence[Any], workers: int = 1, scheduler: str | None = None
) -> Iterator[Any]:
    """``fn(spec, task)`` for every task, yielded in task order."""
    if scheduler is not None:
        yield from _dask(fn, spec, tasks, scheduler)
        return
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield fn(spec, task)
        return
    # fork: workers start at once and inherit the imported modules
    with multiprocessing.get_context("fork").Pool(workers, initializer=_init, initargs=(fn, spec)) as pool:
        pending: deque[Any] = deque()
        for task in tasks:
            pending.append(pool.apply_async(_call, (task,)))
            if len(pending) >= 4 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _dask(fn: TaskFn, spec: Any, tasks: Sequence[Any], scheduler: str, timeout: float = 20.0) -> Iterator[Any]:
    client = _client(scheduler, timeout)
    try:
        threads = sum(client.nthreads().values()) or 1
        shared = client.scatter(spec, broadcast=True)
        pending: deque[Any] = deque()
        for task in tasks:
            pending.append(client.submit(fn, shared, task, pure=False))
            if len(pending) >= 2 * threads + 1:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        client.close()


__all__ = ["DaskUnavailable", "ordered"]
