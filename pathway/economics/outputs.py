"""The files of the decision analysis: PSA tables, summaries, curves and plots, each written atomically."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from pathway.economics import analysis, plots, psa
from pathway.economics.costs import CostTable
from pathway.economics.ledger import BINARY, CONDITIONAL_NAMES, describe
from pathway.economics.model_inputs import Context, EconomicSpec

PER = 1000


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rows_csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()})
    return out.getvalue()


def psa_descriptions(layout: psa.Layout, table: CostTable) -> dict[str, tuple[str, str]]:
    """Unit and meaning of every PSA column (the data dictionary and the Parquet metadata)."""
    out = {
        "sample": ("", "PSA draw, from 1 (hesim `sample`; one row of dampack's frames)"),
        "strategy_id": ("", "policy number, from 1, in the order of --compare (hesim `strategy_id`)"),
        "strategy": ("", "policy name (dampack `strategies`)"),
        "grp_id": ("", "subgroup (always 1: one population; hesim `grp_id`)"),
        "dr": ("", "discount rate (0: the horizon is days, nothing is discounted; hesim `dr`)"),
        "costs": (
            table.currency,
            f"mean cost per patient, {table.currency} (price years per item in costs.toml;"
            " hesim `costs`, dampack `cost`)",
        ),
    }
    for name, (unit, meaning) in describe().items():
        if name in BINARY:
            out[name] = (unit, f"share of {meaning}")
        elif name in CONDITIONAL_NAMES:
            out[name] = (unit, f"mean {meaning}")
        elif name != "cost":
            out[name] = (unit, f"mean per patient: {meaning}")
    for item in table.items:
        times = f", each costing {item.quantity:g} x the amount" if item.quantity != 1 else ""
        out[f"count_{item.id}"] = (
            "per patient",
            f"mean times per patient '{item.text}' ({item.code}) was counted{times}",
        )
    for file, path in layout.parameters:
        where = "pathway/simulate/params.toml" if file == "params" else "pathway/economics/costs.toml"
        out[psa.column_name(file, path)] = ("", f"the drawn value of `{path}` in {where}")
    return out


def write_psa(
    out: Path, spec: EconomicSpec, ctx: Context, rows: list[list[Any]], draws: int, plots_wanted: bool
) -> list[Path]:
    """psa.parquet / psa.csv (long), dampack frames, the manifest, the CEA summary, curves and plots."""
    layout = psa.layout(ctx)
    table = ctx.model().table
    names = layout.names
    written = []
    arrow = psa.to_arrow(psa.table_spec(layout, psa_descriptions(layout, table)), rows)
    psa.write_parquet(arrow, out / "psa.parquet")
    written.append(out / "psa.parquet")
    for name, text in (
        ("psa.csv", psa.csv_text(names, rows)),
        ("psa_cost.csv", psa.wide(names, rows, "costs", spec.policies)),
        ("psa_parameters.csv", psa.parameters_frame(names, rows, layout)),
        ("psa_manifest.json", psa.manifest(spec, draws, ctx)),
    ):
        psa.write_text(text, out / name)
        written.append(out / name)
    for effect in table.effects:
        effectiveness = psa.signed_wide(names, rows, effect.measure, effect.sign(), spec.policies)
        path = out / f"psa_effectiveness_{effect.measure}.csv"
        psa.write_text(effectiveness, path)
        written.append(path)
    arrays = analysis.from_rows(names, rows, spec.policies, layout.measures)
    results = [analysis.cea(arrays, effect, table.reference_policy) for effect in table.effects]
    summary = {
        "draws": draws,
        "patients_per_draw": spec.patients,
        "seed": spec.seed,
        "currency": table.currency,
        "price_year": table.price_year,
        "horizon_days": table.horizon_days,
        "reference_policy": table.reference_policy,
        "per": PER,
        "policies": analysis.summarise(arrays, table.reference_policy),
        "cost_effectiveness": results,
    }
    psa.write_text(dumps(summary), out / "psa_summary.json")
    written.append(out / "psa_summary.json")
    curve_rows = [
        {
            "measure": r["measure"],
            "wtp": p["wtp"],
            "optimal": p["optimal"],
            "evpi_per_patient": p["evpi_per_patient"],
            "evpi_per_1000": None if p["evpi_per_patient"] is None else round(p["evpi_per_patient"] * PER, 6),
            **{f"p_{k}": v for k, v in p["probability"].items()},
        }
        for r in results
        for p in r["curve"]
    ]
    psa.write_text(rows_csv(curve_rows), out / "ceac.csv")
    written.append(out / "ceac.csv")
    if plots_wanted:
        planes = [
            (r, analysis.plane(arrays, e, table.reference_policy)) for r, e in zip(results, table.effects, strict=True)
        ]
        written.append(plots.ce_plane(planes, table.currency, out / "ce_plane.png"))
        written.append(plots.ceac(results, out / "ceac.png"))
        written.append(plots.evpi(results, table.currency, PER, out / "evpi.png"))
    return written
