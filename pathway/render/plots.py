"""PNG plots of a simulated cohort, drawn from its summary.json (matplotlib, Agg backend).

Everything comes from the summary and the loaded pathway (state titles, which
states are final); nothing clinical is written here. The simulator's parameter
file says which final state is "resolution", and that arrives as an argument.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from pathway.model import Pathway
from pathway.outdir import OutputDir

DPI = 120


def _colours(pathway: Pathway) -> dict[str, Any]:
    cmap = plt.get_cmap("tab10")
    return {state: cmap(i % 10) for i, state in enumerate(pathway.state_ids)}


def _title(pathway: Pathway, state: str) -> str:
    return pathway.state(state).title if state in pathway.state_ids else state


def _save(figure: Figure, out: OutputDir, name: str) -> Path:
    figure.tight_layout()
    png = io.BytesIO()
    # no timestamps in the file, so the same summary gives the same bytes
    figure.savefig(png, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(figure)
    return out.write_bytes(name, png.getvalue())


def time_to_end(summary: Mapping[str, Any], pathway: Pathway, resolution: str, out: OutputDir, name: str) -> Path:
    """Share of the cohort that has reached each final state, by hours after presentation."""
    hist = summary["time_to_end_hist"]
    step = hist["step_h"]
    patients = max(summary["patients"], 1)
    colours = _colours(pathway)
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    resolved = hist["states"].get(resolution, [])
    hours = [i * step for i in range(len(resolved))]
    left.bar(hours[:-1], resolved[:-1], width=step * 0.9, align="edge", color=colours.get(resolution, "C0"))
    quant = summary.get("time_to_resolution_h", {})
    if "p50" in quant:
        left.axvline(quant["p50"], color="black", linestyle="--", linewidth=1)
        left.text(quant["p50"], max(resolved[:-1] or [0]) * 0.95, f" median {quant['p50']:.0f} h", fontsize=9)
    left.set_title(f"Time to {_title(pathway, resolution).lower()} ({quant.get('n', 0)} patients)")
    left.set_xlabel("hours after presentation")
    left.set_ylabel("patients per 6 h")
    for state, counts in sorted(hist["states"].items()):
        running, share = 0, []
        for count in counts:
            running += count
            share.append(100.0 * running / patients)
        xs = [(i + 1) * step for i in range(len(share))]
        right.step(xs, share, where="post", label=_title(pathway, state), color=colours.get(state))
    used = [i for counts in hist["states"].values() for i, count in enumerate(counts[:-1]) if count]
    if used:
        for axis in (left, right):
            axis.set_xlim(0, (max(used) + 2) * step)
    right.set_title("Reached a final state (cumulative)")
    right.set_xlabel("hours after presentation")
    right.set_ylabel("% of cohort")
    right.legend(fontsize=8, loc="upper left")
    return _save(figure, out, name)


def occupancy(summary: Mapping[str, Any], pathway: Pathway, out: OutputDir, name: str) -> Path:
    """Patients in each state, hour by hour after presentation (stacked)."""
    series: dict[str, list[int]] = summary["occupancy"]["states"]
    colours = _colours(pathway)
    order = [s for s in pathway.state_ids if s in series]
    figure, axis = plt.subplots(figsize=(10, 5))
    if order:
        hours = list(range(len(series[order[0]])))
        axis.stackplot(
            hours,
            *[series[s] for s in order],
            labels=[_title(pathway, s) for s in order],
            colors=[colours[s] for s in order],
        )
        axis.set_xlim(0, hours[-1])
    axis.set_title(f"State occupancy over time ({summary['patients']} patients, policy {summary['policy']})")
    axis.set_xlabel("hours after presentation")
    axis.set_ylabel("patients")
    axis.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(figure, out, name)


def outcomes(summary: Mapping[str, Any], pathway: Pathway, out: OutputDir, name: str) -> Path:
    """Final states per policy (share of each cohort)."""
    by_policy: Mapping[str, Any] = summary["by_policy"]
    states = [s for s in pathway.state_ids if pathway.state(s).final]
    policies = list(by_policy)
    colours = _colours(pathway)
    figure, axis = plt.subplots(figsize=(10, 2.2 + 0.7 * len(policies)))
    for row, policy in enumerate(policies):
        counts = by_policy[policy]["final_states"]
        total = max(by_policy[policy]["patients"], 1)
        left = 0.0
        for state in states:
            share = 100.0 * counts.get(state, 0) / total
            axis.barh(row, share, left=left, color=colours[state], label=_title(pathway, state) if row == 0 else None)
            if share >= 4:
                axis.text(left + share / 2, row, f"{share:.0f}%", ha="center", va="center", fontsize=8)
            left += share
    axis.set_yticks(range(len(policies)), policies)
    axis.set_xlim(0, 100)
    axis.set_xlabel("% of patients")
    axis.set_title(f"Outcome breakdown ({summary['patients']} patients per policy)")
    axis.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3)
    return _save(figure, out, name)


def cohort_plots(summary: Mapping[str, Any], pathway: Pathway, resolution: str, out: OutputDir) -> list[Path]:
    """All three plots into the run's directory; returns the files written."""
    return [
        time_to_end(summary, pathway, resolution, out, "time_to_resolution.png"),
        occupancy(summary, pathway, out, "occupancy.png"),
        outcomes(summary, pathway, out, "outcomes.png"),
    ]
