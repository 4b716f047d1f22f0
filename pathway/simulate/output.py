"""The files of a simulation run, written chunk by chunk as results arrive in order."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import IO, Any

from pathway.outdir import OutputDir
from pathway.simulate.cohort import OUTCOME_COLUMNS, ChunkResult


def artifact(stem: str, suffix: str, policy: str, primary: str) -> str:
    """events.jsonl for the first policy, events.<policy>.jsonl for the others of a comparison."""
    return f"{stem}{suffix}" if policy == primary else f"{stem}.{policy}{suffix}"


class CohortFiles:
    """Per-policy event and outcome files of one run; ``write`` appends one chunk.

    They are written under temporary names (OutputDir.start) and take their real names
    only when the whole cohort has been written: an interrupted run leaves no file that
    looks complete.
    """

    def __init__(self, out: OutputDir, policies: tuple[str, ...], events: bool, outcomes: bool, compress: bool) -> None:
        self.out = out
        self.names: list[str] = []
        self.events: dict[str, IO[bytes]] = {}
        self.outcomes: dict[str, IO[str]] = {}
        primary = policies[0]
        for policy in policies:
            if events:
                name = artifact("events", ".jsonl.gz" if compress else ".jsonl", policy, primary)
                self.events[policy] = out.start(name)
                self.names.append(name)
            if outcomes:
                name = artifact("outcomes", ".csv", policy, primary)
                handle = io.TextIOWrapper(out.start(name), encoding="utf-8", newline="")
                csv.writer(handle, lineterminator="\n").writerow(OUTCOME_COLUMNS)
                self.outcomes[policy] = handle
                self.names.append(name)

    def write(self, result: ChunkResult) -> None:
        for policy, blob in result.events.items():
            self.events[policy].write(blob)
        for policy, text in result.outcomes.items():
            self.outcomes[policy].write(text)

    def close(self, failed: bool = False) -> None:
        handles: list[IO[Any]] = [*self.events.values(), *self.outcomes.values()]
        for handle in handles:
            try:
                handle.close()
            except OSError:
                if not failed:
                    raise  # the disk filled up on the last bytes: the run failed after all

    @property
    def paths(self) -> list[Path]:
        return [self.out.path / name for name in self.names]

    def __enter__(self) -> CohortFiles:
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        self.close(failed=kind is not None)  # after a failure, files that will not close are discarded anyway
        if kind is None:
            for name in self.names:
                self.out.finish(name)
