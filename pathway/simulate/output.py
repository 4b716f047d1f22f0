"""The files of a simulation run: one place that creates, streams and replaces them.

Every file is written under a temporary name in the output directory and renamed
into place when complete, so a reader never sees half a file. Before a run writes
anything it removes the files an earlier simulate run left there (only names this
command writes: summary, run manifest, validation, events, tables, plots), so a
directory never mixes two runs; other files are left alone. run.json, the manifest
with every file of the run and its size, is written last.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from pathway.simulate.cohort import ChunkResult

OWNED = re.compile(
    r"(summary\.json|run\.json|validation\.json"
    r"|(events|outcomes)(\.[A-Za-z0-9_-]+)?\.jsonl(\.gz)?|outcomes(\.[A-Za-z0-9_-]+)?\.csv"
    r"|(patients|events|imaging_orders)\.(parquet|csv)"
    r"|(time_to_resolution|occupancy|outcomes|policy_comparison)\.png)"
)
"""Names a simulate run writes (and older versions wrote): an earlier run's files to clear."""
TEMP_PREFIX = ".tmp-"
ROW_GROUP = 65_536
"""Rows per Parquet row group: fixed, so the files do not depend on the chunk size."""


class OutputDir:
    """An output directory being written by one run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written: list[Path] = []

    def prepare(self) -> list[str]:
        """Create the directory and remove an earlier run's files; returns the names removed."""
        self.path.mkdir(parents=True, exist_ok=True)
        removed = []
        for entry in sorted(self.path.iterdir()):
            stale_temp = entry.name.startswith(TEMP_PREFIX)
            if (OWNED.fullmatch(entry.name) or stale_temp) and entry.is_file() and not entry.is_symlink():
                entry.unlink()
                removed.append(entry.name)
        return removed

    def temp(self, name: str) -> Path:
        return self.path / f"{TEMP_PREFIX}{os.getpid()}-{name}"

    def commit(self, temp: Path, name: str) -> Path:
        final = self.path / name
        os.replace(temp, final)
        self.written.append(final)
        return final

    def write_text(self, name: str, text: str) -> Path:
        temp = self.temp(name)
        temp.write_text(text, encoding="utf-8")
        return self.commit(temp, name)

    def write_bytes(self, name: str, data: bytes) -> Path:
        temp = self.temp(name)
        temp.write_bytes(data)
        return self.commit(temp, name)

    def manifest(self, info: dict[str, Any]) -> Path:
        """run.json, last: the run's details and every file it wrote with its size."""
        files = [{"name": p.name, "bytes": p.stat().st_size} for p in self.written]
        return self.write_text("run.json", json.dumps({**info, "files": files}, indent=2) + "\n")

    def discard(self) -> None:
        """Remove temporary files of this run (after a failure)."""
        for entry in self.path.glob(f"{TEMP_PREFIX}{os.getpid()}-*"):
            with contextlib.suppress(OSError):
                entry.unlink()


def artifact(stem: str, suffix: str, policy: str, primary: str) -> str:
    """events.jsonl for the first policy, events.<policy>.jsonl for the others of a comparison."""
    return f"{stem}{suffix}" if policy == primary else f"{stem}.{policy}{suffix}"


CSV_TABLES = ("patients", "imaging_orders")
"""Tables also written as CSV (the events are already in the JSONL streams)."""


class TableWriter:
    """One table streamed to Parquet (and CSV) in fixed-size row groups."""

    def __init__(self, out: OutputDir, name: str, schema: pa.Schema) -> None:
        self.out, self.name, self.schema = out, name, schema
        self.parquet_temp, self.csv_temp = out.temp(f"{name}.parquet"), out.temp(f"{name}.csv")
        self.parquet = pq.ParquetWriter(self.parquet_temp, schema, compression="zstd", write_statistics=True)
        self.csv = None
        if name in CSV_TABLES:
            options = pa_csv.WriteOptions(quoting_style="needed")
            self.csv = pa_csv.CSVWriter(self.csv_temp, schema, write_options=options)
        self.pending: list[pa.Table] = []
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.rows += table.num_rows
        if self.rows >= ROW_GROUP:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        combined = pa.concat_tables(self.pending) if self.pending else self.schema.empty_table()
        offset = 0
        while combined.num_rows - offset >= ROW_GROUP or (final and offset < combined.num_rows):
            group = combined.slice(offset, ROW_GROUP)
            self.parquet.write_table(group, row_group_size=ROW_GROUP)
            if self.csv is not None:
                self.csv.write_table(group)
            offset += group.num_rows
        rest = combined.slice(offset)
        self.pending = [rest] if rest.num_rows else []
        self.rows = rest.num_rows

    def close(self) -> list[Path]:
        self._flush(final=True)
        self.parquet.close()
        files = [self.out.commit(self.parquet_temp, f"{self.name}.parquet")]
        if self.csv is not None:
            self.csv.close()
            files.append(self.out.commit(self.csv_temp, f"{self.name}.csv"))
        return files

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.parquet.close()
        with contextlib.suppress(Exception):
            if self.csv is not None:
                self.csv.close()


class CohortFiles:
    """Per-policy event streams and the tables; ``write`` appends one chunk, ``close`` commits them."""

    def __init__(
        self, out: OutputDir, policies: tuple[str, ...], events: bool, compress: bool, schemas: dict[str, pa.Schema]
    ) -> None:
        self.out = out
        self.event_files: dict[str, tuple[Path, str, IO[bytes]]] = {}
        for policy in policies:
            if events:
                name = artifact("events", ".jsonl.gz" if compress else ".jsonl", policy, policies[0])
                temp = out.temp(name)
                self.event_files[policy] = (temp, name, temp.open("wb"))
        self.tables = {name: TableWriter(out, name, schema) for name, schema in schemas.items()}

    def write(self, result: ChunkResult) -> None:
        for policy, blob in result.events.items():
            self.event_files[policy][2].write(blob)
        for name, table in result.tables.items():
            self.tables[name].add(table)

    def close(self) -> None:
        for temp, name, handle in self.event_files.values():
            handle.close()
            self.out.commit(temp, name)
        for writer in self.tables.values():
            writer.close()

    def abort(self) -> None:
        for _, _, handle in self.event_files.values():
            handle.close()
        for writer in self.tables.values():
            writer.abort()
        self.out.discard()
