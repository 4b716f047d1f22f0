"""The files of a simulation run, written chunk by chunk as results arrive in order."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any

from pathway.simulate.cohort import OUTCOME_COLUMNS, ChunkResult


def artifact(out: Path, stem: str, suffix: str, policy: str, primary: str) -> Path:
    """events.jsonl for the first policy, events.<policy>.jsonl for the others of a comparison."""
    return out / (f"{stem}{suffix}" if policy == primary else f"{stem}.{policy}{suffix}")


class CohortFiles:
    """Open per-policy event and outcome files; ``write`` appends one chunk."""

    def __init__(self, out: Path, policies: tuple[str, ...], events: bool, outcomes: bool, compress: bool) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.paths: list[Path] = []
        self.events: dict[str, IO[bytes]] = {}
        self.outcomes: dict[str, IO[str]] = {}
        primary = policies[0]
        for policy in policies:
            if events:
                path = artifact(out, "events", ".jsonl.gz" if compress else ".jsonl", policy, primary)
                self.events[policy] = path.open("wb")
                self.paths.append(path)
            if outcomes:
                path = artifact(out, "outcomes", ".csv", policy, primary)
                handle = path.open("w", encoding="utf-8", newline="")
                csv.writer(handle, lineterminator="\n").writerow(OUTCOME_COLUMNS)
                self.outcomes[policy] = handle
                self.paths.append(path)

    def write(self, result: ChunkResult) -> None:
        for policy, blob in result.events.items():
            self.events[policy].write(blob)
        for policy, text in result.outcomes.items():
            self.outcomes[policy].write(text)

    def close(self) -> None:
        for events in self.events.values():
            events.close()
        for outcomes in self.outcomes.values():
            outcomes.close()

    def __enter__(self) -> CohortFiles:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
