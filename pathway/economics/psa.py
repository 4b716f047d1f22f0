"""Probabilistic sensitivity analysis: K seeded parameter draws, the same N patients under every policy.

Draw k sets every uncertain factor from its own stream (seed, k, factor), then the cohort
runs with the patients' streams of the seed: the same patients in every draw and under
every policy, so differences between draws come from the parameters (common random
numbers). The table has one row per draw and policy, in the long shape hesim's ``ce``
tables take (``sample``, ``strategy_id``, ``grp_id``, ``dr``, ``costs``) with the drawn
parameters alongside, the columns dampack's ``make_psa_obj`` is built from.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.parquet as pq

from pathway.economics import evaluate, model_inputs
from pathway.economics.ledger import ALL_NAMES
from pathway.economics.model_inputs import Context, EconomicSpec, Values
from pathway.simulate.schema import Column, TableSpec

KEY_COLUMNS = ("sample", "strategy_id", "strategy", "grp_id", "dr", "costs")


@attrs.frozen
class Layout:
    """The PSA table's columns for one spec (measures, item counts, drawn parameters)."""

    measures: tuple[str, ...]
    parameters: tuple[tuple[str, str], ...]  # (file, path) per parameter column

    @property
    def names(self) -> tuple[str, ...]:
        return (*KEY_COLUMNS, *self.measures, *(column_name(f, p) for f, p in self.parameters))


def column_name(file: str, path: str) -> str:
    """A drawn value's column: its path in the parameter file, or costs.<path> for the cost table."""
    return model_inputs.column(file, path)


@functools.cache
def layout(ctx: Context) -> Layout:
    table = ctx.model().table
    parameters = tuple((f.file, path) for f in ctx.factors for path in f.all_paths)
    return Layout(evaluate.columns(table)[1:], parameters)  # the cost is the `costs` column


def rows_for(ctx: Context, sample: int, values: Values, totals: evaluate.Totals) -> list[list[Any]]:
    """The table rows of one evaluated parameter set (one per policy)."""
    drawn = [values[file][path] for file, path in layout(ctx).parameters]
    rows = []
    for strategy_id, policy in enumerate(ctx.spec.policies, start=1):
        means = [float(x) for x in totals.means(policy)]
        rows.append([sample, strategy_id, policy, 1, 0.0, means[0], *means[1:], *drawn])
    return rows


def psa_draw(spec: EconomicSpec, number: int) -> list[list[Any]]:
    """Task: the rows of draw ``number`` (0-based; ``sample`` = number + 1)."""
    ctx = model_inputs.context(spec)
    values = model_inputs.draw(ctx, number)
    return rows_for(ctx, number + 1, values, ctx.totals(values))


INTEGER_COLUMNS = ("sample", "strategy_id", "grp_id")


def table_spec(layout_: Layout, descriptions: dict[str, tuple[str, str]]) -> TableSpec:
    """The PSA table in the simulator's one schema (types, units, meanings; Parquet metadata)."""
    columns = []
    for name in layout_.names:
        kind = "string" if name == "strategy" else "int32" if name in INTEGER_COLUMNS else "float64"
        unit, meaning = descriptions.get(name, ("", ""))
        columns.append(Column(name, kind, unit, meaning))
    return TableSpec(
        "psa", "one row per PSA draw and policy: the drawn parameters, mean costs and effects", tuple(columns)
    )


def to_arrow(spec: TableSpec, rows: Iterable[list[Any]]) -> pa.Table:
    rows = list(rows)
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [() for _ in spec.columns]
    schema = spec.schema()
    arrays = [
        pa.array([None if isinstance(v, float) and math.isnan(v) else v for v in values], type=field.type)
        for values, field in zip(columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def write_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd", write_statistics=False)
    tmp.replace(path)


def csv_text(names: tuple[str, ...], rows: Iterable[list[Any]]) -> str:
    """CSV with every float written as its shortest exact form (the same bytes for the same numbers)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(
            ["" if isinstance(v, float) and math.isnan(v) else repr(v) if isinstance(v, float) else v for v in row]
        )
    return out.getvalue()


def write_text(text: str, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def wide(names: tuple[str, ...], rows: list[list[Any]], column: str, policies: tuple[str, ...]) -> str:
    """One row per draw, one column per policy: the cost or effectiveness frame make_psa_obj takes."""
    index = names.index(column)
    by_sample: dict[int, dict[str, Any]] = {}
    for row in rows:
        by_sample.setdefault(row[0], {})[row[2]] = row[index]
    return csv_text(policies, ([by_sample[s][p] for p in policies] for s in sorted(by_sample)))


def parameters_frame(names: tuple[str, ...], rows: list[list[Any]], layout_: Layout) -> str:
    first = len(KEY_COLUMNS) + len(layout_.measures)
    seen: dict[int, list[Any]] = {}
    for row in rows:
        seen.setdefault(row[0], row[first:])
    return csv_text(names[first:], (seen[s] for s in sorted(seen)))


def signed_wide(
    names: tuple[str, ...], rows: list[list[Any]], measure: str, sign: float, policies: tuple[str, ...]
) -> str:
    """The effectiveness frame of one measure, signed so that more is better (as dampack assumes)."""
    index = names.index(measure)
    signed = [[*row[:index], sign * row[index] + 0.0, *row[index + 1 :]] for row in rows]
    return wide(names, signed, measure, policies)


def manifest(spec: EconomicSpec, draws: int, ctx: Context) -> str:
    """What produced the table (no timings or host details: same inputs, same bytes)."""
    factors = [
        {
            "name": f.name,
            "file": f.file,
            "dist": f.kind,
            "paths": list(f.all_paths),  # its own, then those that take the same value (same_as)
            "base": list(f.follow(f.base)),
            "shape": [round(x, 12) for x in f.shape],
            "source": f.source,
            "derived": f.derived,
        }
        for f in ctx.factors
    ]
    info = {
        "seed": spec.seed,
        "draws": draws,
        "patients": spec.patients,
        "policies": list(spec.policies),
        "params": spec.params_file,
        "costs": spec.costs_file,
        "factors": factors,
    }
    return json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


__all__ = ["ALL_NAMES", "Layout", "csv_text", "layout", "psa_draw", "rows_for", "table_spec", "to_arrow", "wide"]
