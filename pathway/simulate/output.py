"""The files of a simulation run: the event streams and tables, streamed chunk by chunk.

Everything goes through the run's pathway.outdir.OutputDir: each file is written under a
temporary name and renamed into place when complete, the files of an earlier simulate run
that this run does not rewrite are removed, and run.json, the manifest with every file and
its size, is written last.
"""

from __future__ import annotations

import contextlib
from typing import IO

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from pathway.outdir import OutputDir
from pathway.simulate.cohort import ChunkResult

ROW_GROUP = 65_536
"""Rows per Parquet row group: fixed, so the files do not depend on the chunk size."""


def artifact(stem: str, suffix: str, policy: str, primary: str) -> str:
    """events.jsonl for the first policy, events.<policy>.jsonl for the others of a comparison."""
    return f"{stem}{suffix}" if policy == primary else f"{stem}.{policy}{suffix}"


CSV_TABLES = ("patients", "imaging_orders")
"""Tables also written as CSV (the events are already in the JSONL streams)."""


class TableWriter:
    """One table streamed to Parquet (and CSV) in fixed-size row groups."""

    def __init__(self, out: OutputDir, name: str, schema: pa.Schema) -> None:
        self.out, self.name, self.schema = out, name, schema
        self.files: dict[str, IO[bytes]] = {f"{name}.parquet": out.start(f"{name}.parquet")}
        self.parquet = pq.ParquetWriter(
            self.files[f"{name}.parquet"], schema, compression="zstd", write_statistics=True
        )
        self.csv = None
        if name in CSV_TABLES:
            options = pa_csv.WriteOptions(quoting_style="needed")
            self.files[f"{name}.csv"] = out.start(f"{name}.csv")
            self.csv = pa_csv.CSVWriter(self.files[f"{name}.csv"], schema, write_options=options)
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

    def close(self) -> None:
        self._flush(final=True)
        self.parquet.close()
        if self.csv is not None:
            self.csv.close()
        for name, handle in self.files.items():
            handle.close()
            self.out.finish(name)

    def abort(self) -> None:
        """Close what is open; the OutputDir removes the temporary files when the run fails."""
        with contextlib.suppress(Exception):
            self.parquet.close()
        with contextlib.suppress(Exception):
            if self.csv is not None:
                self.csv.close()
        for handle in self.files.values():
            with contextlib.suppress(OSError):
                handle.close()


class CohortFiles:
    """Per-policy event streams and the tables; ``write`` appends one chunk, ``close`` commits them."""

    def __init__(
        self, out: OutputDir, policies: tuple[str, ...], events: bool, compress: bool, schemas: dict[str, pa.Schema]
    ) -> None:
        self.out = out
        self.event_files: dict[str, tuple[str, IO[bytes]]] = {}
        for policy in policies:
            if events:
                name = artifact("events", ".jsonl.gz" if compress else ".jsonl", policy, policies[0])
                self.event_files[policy] = (name, out.start(name))
        self.tables = {name: TableWriter(out, name, schema) for name, schema in schemas.items()}

    def write(self, result: ChunkResult) -> None:
        for policy, blob in result.events.items():
            self.event_files[policy][1].write(blob)
        for name, table in result.tables.items():
            self.tables[name].add(table)

    def close(self) -> None:
        for name, handle in self.event_files.values():
            handle.close()
            self.out.finish(name)
        for writer in self.tables.values():
            writer.close()

    def abort(self) -> None:
        """Close what is open; the OutputDir removes the temporary files when the run fails."""
        for _, handle in self.event_files.values():
            with contextlib.suppress(OSError):
                handle.close()
        for writer in self.tables.values():
            writer.abort()
