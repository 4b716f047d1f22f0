"""What `pathway simulate` prints: every figure with its 95 % interval and n, for every policy.

Tables are built from summary.json and validation.json, so what is printed is what
was written. They are Listings: on a terminal narrower than 100 columns each row becomes a
block, so no figure or interval is ever cut short. A figure resting on too few patients or events for its interval to be
trusted is marked with a dagger.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from pathway.terminal.listing import Column, Listing

SMALL = "†"
FOOTNOTE = f"{SMALL} small n: fewer than 10 events (or 30 observations); the interval is imprecise"

RATE_ROWS = (
    ("imaging_studies_per_1000", "imaging studies per 1,000"),
    ("usually_not_appropriate_studies_per_1000", "  of them usually not appropriate"),
    ("radiation_msv_per_1000", "radiation, mSv per 1,000"),
    ("contrast_exposures_per_1000", "contrast exposures per 1,000"),
    ("patients_imaged_share", "patients imaged"),
    ("blood_patches_per_1000", "blood patches per 1,000"),
    ("patients_patched_share", "patients patched"),
    ("escalations_per_1000", "escalations per 1,000"),
    ("complications_per_1000", "complications per 1,000"),
    ("complications_not_escalated_per_1000", "never escalated per 1,000"),
    ("complications_not_escalated_share", "  share of complications"),
    ("under_care_72h_share", "still under care at 72 h"),
    ("under_care_168h_share", "still under care at 7 days"),
)
DIFFERENCE_ROWS = (
    ("imaging_studies_per_1000", "imaging studies per 1,000"),
    ("usually_not_appropriate_studies_per_1000", "usually not appropriate per 1,000"),
    ("radiation_msv_per_1000", "radiation, mSv per 1,000"),
    ("contrast_exposures_per_1000", "contrast exposures per 1,000"),
    ("blood_patches_per_1000", "blood patches per 1,000"),
    ("escalations_per_1000", "escalations per 1,000"),
    ("complications_not_escalated_per_1000", "never escalated per 1,000"),
    ("time_to_escalation_h_mean", "hours to escalation (mean)"),
    ("time_to_resolution_h_mean", "hours to resolution (mean)"),
)


def _number(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:,.1f}"
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def _scaled(share: bool, value: float) -> tuple[float, str]:
    """A share as % (or per 1,000 when it is below 1 %), anything else as it is."""
    if not share:
        return 1.0, ""
    return (1000.0, " per 1,000") if abs(value) < 0.01 else (100.0, " %")


def _interval(value: float, low: float, high: float, scale: float) -> str:
    between = " to " if min(low, high) < 0 else "–"
    return f"{_number(value * scale)} ({_number(low * scale)}{between}{_number(high * scale)})"


def estimate(value: dict[str, Any], share: bool = False, signed: bool = False, n: bool = False) -> str:
    """'12.3 (10.1–14.8)', shares in % (or per 1,000), a dagger when n is small."""
    scale, unit = _scaled(share, value["value"])
    if value.get("low") is not None:
        text = _interval(value["value"], value["low"], value["high"], scale)
    else:
        text = _number(value["value"] * scale)
    if signed and value["value"] > 0:
        text = "+" + text
    text += unit
    if n:
        text += f" n={value['n']:,}"
    return text + (f" {SMALL}" if value.get("small_n") else "")


def timing(block: dict[str, Any], key: str) -> str:
    if not block.get("n"):
        return "-"
    return estimate(block[key], n=key == "p50")


def _policy_listing(title: str, first: str, policies: list[str]) -> Listing:
    columns = [Column(first, key=True), *(Column(name, justify="right") for name in policies)]
    return Listing(columns, title=title)


def _with_footnote(table: Listing) -> RenderableType:
    return Group(table, Text(FOOTNOTE, style="dim"))


def figures_table(summary: dict[str, Any]) -> RenderableType:
    """One column per policy, one row per figure (the same patients under each policy)."""
    policies = list(summary["by_policy"])
    title = f"{summary['patients']:,} patients; 95 % intervals"
    if len(policies) > 1:
        title += " (the same simulated patients under each policy)"
    table = _policy_listing(title, "figure", policies)
    bodies = [summary["by_policy"][name] for name in policies]
    for key, label in RATE_ROWS:
        table.add_row(label, *(estimate(b["figures"][key], share=key.endswith("_share")) for b in bodies))
    for label, block, key in (
        ("hours to escalation, median", "time_to_escalation_h", "p50"),
        ("hours to escalation, p95", "time_to_escalation_h", "p95"),
    ):
        table.add_row(label, *(timing(b["figures"][block], key) for b in bodies))
    table.add_row("hours to resolution, median", *(timing(b["time_to_resolution_h"], "p50") for b in bodies))
    table.add_row("hours to resolution, mean", *(timing(b["time_to_resolution_h"], "mean") for b in bodies))
    return _with_footnote(table)


def final_states_table(summary: dict[str, Any]) -> Listing:
    policies = list(summary["by_policy"])
    table = _policy_listing("final states (share of patients, 95 % interval)", "final state", policies)
    states = list(summary["by_policy"][policies[0]]["final_state_shares"])
    for state in states:
        table.add_row(
            state, *(estimate(summary["by_policy"][p]["final_state_shares"][state], share=True) for p in policies)
        )
    for name in policies:
        for state, count in summary["by_policy"][name]["open_states"].items():
            table.add_row(f"{state} (still open, {name})", *(f"{count:,}" if p == name else "" for p in policies))
    return table


def differences_table(summary: dict[str, Any]) -> RenderableType:
    """Paired differences from the first policy, on the same patients."""
    reference = summary["differences"]["reference"]
    others = summary["differences"]["policies"]
    title = f"paired differences from {reference} (same patients; 95 % interval)"
    table = _policy_listing(title, "figure", [f"{name} − {reference}" for name in others])
    for key, label in DIFFERENCE_ROWS:
        table.add_row(label, *(estimate(others[name][key], signed=True, n=key.endswith("_mean")) for name in others))
    return _with_footnote(table)


def _published(published: dict[str, Any], share: bool) -> str:
    scale, unit = _scaled(share, published["value"])
    text = _interval(published["value"], published["low"], published["high"], scale) + unit
    return text + (f" n={published['n']:,}" if published.get("n") else "")


def validation_table(report: dict[str, Any]) -> Listing:
    columns = [
        Column("target (source)", key=True),
        Column("use"),
        Column("published", justify="right"),
        Column("simulated", justify="right"),
        Column("verdict"),
    ]
    table = Listing(columns, title="validation against published outcomes (95 % intervals)")
    for row in report["targets"]:
        share = row["measure"] == "share"
        unit = "" if share else f" {row['measure'].rsplit('(', 1)[-1].rstrip(')')}"
        table.add_row(
            f"{row['id']} ({row['source']})",
            row["use"],
            _published(row["published"], share) + unit,
            estimate(row["simulated"], share=share, n=True),
            row["verdict"],
        )
    return table


def validation_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for use, counts in report["counts"].items():
        lines.append(f"{use} targets: " + ", ".join(f"{n} {verdict}" for verdict, n in counts.items()))
    for row in report["targets"]:
        if row["reason"]:
            lines.append(f"  {row['id']}: {row['reason']}" + (f" ({row['note']})" if row["note"] else ""))
    return lines
