"""Figures of a simulated cohort, drawn from its summary.json (matplotlib, Agg backend).

Every figure with a rate or a time shows its 95 % interval; axes carry their
units and start at zero where a count does. Everything comes from the summary and
the loaded pathway (state titles, which states are final); nothing clinical is
written here. The parameter file says which final state is "resolution", and that
arrives as an argument. Files go through the run's output helper (atomic writes).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pathway.model import Pathway

DPI = 200
Z95 = 1.959963984540054
STYLE: Any = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}
COMPARISON = (
    ("imaging_studies_per_1000", "Imaging studies", "studies per 1,000 patients"),
    ("radiation_msv_per_1000", "Radiation", "mSv per 1,000 patients"),
    ("blood_patches_per_1000", "Blood patches", "patches per 1,000 patients"),
    ("escalations_per_1000", "Red-flag escalations", "escalations per 1,000 patients"),
    ("complications_not_escalated_per_1000", "Complications never escalated", "per 1,000 patients"),
)


class Output(Protocol):
    """Where figures go: the run's output directory (pathway.outdir.OutputDir: temporary name, then rename)."""

    def write_bytes(self, name: str, data: bytes) -> Path: ...


def _colours(pathway: Pathway) -> dict[str, Any]:
    cmap = plt.get_cmap("tab10")
    return {state: cmap(i % 10) for i, state in enumerate(pathway.state_ids)}


def _policy_colours(policies: list[str]) -> dict[str, Any]:
    cmap = plt.get_cmap("Dark2")
    return {name: cmap(i % 8) for i, name in enumerate(policies)}


def _title(pathway: Pathway, state: str) -> str:
    return pathway.state(state).title if state in pathway.state_ids else state


def _save(figure: Figure, out: Output, name: str) -> Path:
    figure.tight_layout()
    png = io.BytesIO()
    # no timestamps in the file, so the same summary gives the same bytes
    figure.savefig(png, dpi=DPI, metadata={"Software": None}, format="png")
    plt.close(figure)
    return out.write_bytes(name, png.getvalue())


def _wilson(k: float, n: int) -> tuple[float, float]:
    if n <= 0:
        return (0.0, 0.0)
    p = k / n
    denominator = 1 + Z95 * Z95 / n
    centre = (p + Z95 * Z95 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 * Z95 / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def _interval_points(axis: Axes, labels: list[str], estimates: list[dict[str, Any]], colours: list[Any]) -> None:
    """One point per policy with its 95 % interval as an error bar; the axis starts at zero."""
    top = 0.0
    for x, (estimate, colour) in enumerate(zip(estimates, colours, strict=True)):
        value = estimate["value"]
        low = estimate["low"] if estimate.get("low") is not None else value
        high = estimate["high"] if estimate.get("high") is not None else value
        axis.errorbar([x], [value], yerr=[[value - low], [high - value]], fmt="o", color=colour, capsize=4, ms=5)
        top = max(top, high, value)
    axis.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    axis.set_xlim(-0.6, len(labels) - 0.4)
    axis.set_ylim(0, top * 1.15 if top > 0 else 1)


def policy_comparison(summary: Mapping[str, Any], out: Output) -> Path:
    """Each headline figure per policy with its 95 % interval (the same patients under each policy)."""
    policies = list(summary["by_policy"])
    colours = _policy_colours(policies)
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(2, 3, figsize=(10, 6.2))
        panels = list(axes.flat)
        for axis, (key, title, unit) in zip(panels, COMPARISON, strict=False):
            estimates = [summary["by_policy"][p]["figures"][key] for p in policies]
            _interval_points(axis, policies, estimates, [colours[p] for p in policies])
            axis.set_title(title)
            axis.set_ylabel(unit)
        axis = panels[len(COMPARISON)]
        timing = [summary["by_policy"][p]["figures"]["time_to_escalation_h"] for p in policies]
        shown = [(p, t["p50"]) for p, t in zip(policies, timing, strict=True) if t.get("n")]
        if shown:
            _interval_points(axis, [p for p, _ in shown], [e for _, e in shown], [colours[p] for p, _ in shown])
        axis.set_title("Time from first sign to escalation")
        axis.set_ylabel("median hours (95 % interval)")
        figure.suptitle(f"Policies compared on the same {summary['patients']:,} simulated patients (95 % intervals)")
        return _save(figure, out, "policy_comparison.png")


def time_to_resolution(summary: Mapping[str, Any], resolution: str, pathway: Pathway, out: Output) -> Path:
    """Cumulative share resolved by hours after presentation, per policy, with pointwise 95 % bands."""
    policies = list(summary["by_policy"])
    colours = _policy_colours(policies)
    with plt.rc_context(STYLE):
        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [2.2, 1]})
        last_bin, top = 0, 0.0
        for name in policies:
            body = summary["by_policy"][name]
            hist = body["time_to_end_hist"]
            counts = hist["states"].get(resolution, [])
            n = body["patients"]
            running, xs, ys, lows, highs = 0, [0.0], [0.0], [0.0], [0.0]
            for i, count in enumerate(counts[:-1]):
                running += count
                low, high = _wilson(running, n)
                xs.append((i + 1) * hist["step_h"])
                ys.append(100 * running / n if n else 0.0)
                lows.append(100 * low)
                highs.append(100 * high)
                if count:
                    last_bin = max(last_bin, i + 1)
            top = max(top, *highs)
            left.step(xs, ys, where="post", color=colours[name], label=name)
            left.fill_between(xs, lows, highs, step="post", color=colours[name], alpha=0.2, linewidth=0)
        step = summary["time_to_end_hist"]["step_h"]
        left.set_xlim(0, max(last_bin + 1, 2) * step)
        left.set_ylim(0, min(100.0, top * 1.08) if top else 100.0)
        left.set_xlabel("hours after presentation")
        left.set_ylabel(f"% of patients {_title(pathway, resolution).lower()}")
        left.set_title("Cumulative share resolved (95 % band; the same patients, so curves may overlap)")
        left.legend(loc="lower right")
        medians = [summary["by_policy"][p]["time_to_resolution_h"] for p in policies]
        shown = [(p, m["p50"]) for p, m in zip(policies, medians, strict=True) if m.get("n")]
        if shown:
            _interval_points(right, [p for p, _ in shown], [e for _, e in shown], [colours[p] for p, _ in shown])
        right.set_title("Median time to resolution")
        right.set_ylabel("hours after presentation (95 % interval)")
        return _save(figure, out, "time_to_resolution.png")


def occupancy(summary: Mapping[str, Any], pathway: Pathway, out: Output) -> Path:
    """Patients in each state, hour by hour after presentation (stacked), one panel per policy."""
    policies = list(summary["by_policy"])
    colours = _colours(pathway)
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(1, len(policies), figsize=(4.2 * len(policies) + 2, 4), sharey=True, squeeze=False)
        for axis, name in zip(axes[0], policies, strict=True):
            series: dict[str, list[int]] = summary["by_policy"][name]["occupancy"]["states"]
            order = [s for s in pathway.state_ids if s in series and not pathway.state(s).final]
            if order:
                hours = list(range(len(series[order[0]])))
                axis.stackplot(
                    hours,
                    *[series[s] for s in order],
                    labels=[_title(pathway, s) for s in order],
                    colors=[colours[s] for s in order],
                )
                active = [h for h in hours if any(series[s][h] for s in order)]
                axis.set_xlim(0, (max(active) + 1) if active else hours[-1])
            axis.set_title(f"{name}")
            axis.set_xlabel("hours after presentation")
        axes[0][0].set_ylabel("patients under care")
        handles, labels = axes[0][0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="center right", fontsize=8)
        figure.suptitle(f"Patients in each active state ({summary['patients']:,} per policy)")
        figure.tight_layout(rect=(0, 0, 0.8, 1))
        return _save(figure, out, "occupancy.png")


def outcomes(summary: Mapping[str, Any], pathway: Pathway, out: Output) -> Path:
    """Final states per policy (share of each cohort)."""
    by_policy: Mapping[str, Any] = summary["by_policy"]
    states = [s for s in pathway.state_ids if pathway.state(s).final]
    policies = list(by_policy)
    colours = _colours(pathway)
    with plt.rc_context(STYLE):
        figure, axis = plt.subplots(figsize=(10, 2.2 + 0.7 * len(policies)))
        for row, policy in enumerate(policies):
            counts = by_policy[policy]["final_states"]
            total = max(by_policy[policy]["patients"], 1)
            left = 0.0
            for state in states:
                share = 100.0 * counts.get(state, 0) / total
                label = _title(pathway, state) if row == 0 else None
                axis.barh(row, share, left=left, color=colours[state], label=label)
                if share >= 4:
                    axis.text(left + share / 2, row, f"{share:.0f}%", ha="center", va="center", fontsize=8)
                left += share
        axis.set_yticks(range(len(policies)), policies)
        axis.set_xlim(0, 100)
        axis.set_xlabel("% of patients")
        axis.set_title(f"Final state of the first episode ({summary['patients']:,} patients per policy)")
        axis.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3)
        return _save(figure, out, "outcomes.png")


def cohort_plots(summary: Mapping[str, Any], pathway: Pathway, resolution: str, out: Output) -> list[Path]:
    """All figures into the run's output; returns the files written."""
    return [
        policy_comparison(summary, out),
        time_to_resolution(summary, resolution, pathway, out),
        occupancy(summary, pathway, out),
        outcomes(summary, pathway, out),
    ]
