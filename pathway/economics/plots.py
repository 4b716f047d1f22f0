"""PNG plots of the decision analysis: CE plane, acceptability curves, EVPI, tornado, Sobol (matplotlib, Agg).

Drawn from the analysis results only; files carry no timestamps, so the same results give
the same bytes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

DPI = 120
TOP = 15
"""Bars shown in a tornado or Sobol panel (the widest)."""


def _wrap(text: str, width: int = 70) -> str:
    return "\n".join(textwrap.wrap(text, width))


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    figure.savefig(tmp, dpi=DPI, metadata={"Software": None})
    plt.close(figure)
    tmp.replace(path)
    return path


def ce_plane(
    planes: Sequence[tuple[dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]]]], currency: str, path: Path
) -> Path:
    """One panel per effect: incremental effect (x) and cost (y) of each draw, per policy vs the reference."""
    figure, axes = plt.subplots(1, len(planes), figsize=(6 * len(planes), 4.8), squeeze=False)
    for ax, (effect, by_policy) in zip(axes[0], planes, strict=True):
        for policy, (de, dc) in by_policy.items():
            ax.scatter(de, dc, s=6, alpha=0.5, label=policy)
            ax.scatter([np.nanmean(de)], [np.nanmean(dc)], marker="x", s=60, color="black")
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(0, color="grey", lw=0.8)
        what = f"incremental {effect['text']}" if effect["better"] == "higher" else f"reduction in {effect['text']}"
        ax.set_xlabel(_wrap(f"{what}, per patient"), fontsize=8)
        ax.set_ylabel(f"incremental cost per patient ({currency})")
        ax.set_title("cost-effectiveness plane vs the reference policy")
        ax.legend(fontsize=8)
    return _save(figure, path)


def ceac(results: Sequence[dict[str, Any]], path: Path) -> Path:
    """Acceptability curves (probability each policy is optimal) over the willingness-to-pay range."""
    figure, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for ax, result in zip(axes[0], results, strict=True):
        wtp = [point["wtp"] for point in result["curve"]]
        policies = list(result["curve"][0]["probability"])
        for policy in policies:
            (line,) = ax.plot(wtp, [point["probability"][policy] for point in result["curve"]], label=policy)
            frontier = [point["wtp"] for point in result["curve"] if point["optimal"] == policy]
            if frontier:
                ax.plot(frontier, [1.03] * len(frontier), "s", ms=3, color=line.get_color())
        ax.set_ylim(-0.02, 1.06)
        ax.set_xlabel(f"willingness to pay ({result['wtp_unit']})")
        ax.set_ylabel("probability cost-effective")
        ax.set_title(
            f"acceptability: {result['text']}\n(squares: the frontier, highest expected net benefit)", fontsize=9
        )
        ax.legend(fontsize=8)
    return _save(figure, path)


def evpi(results: Sequence[dict[str, Any]], currency: str, per: int, path: Path) -> Path:
    figure, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.0), squeeze=False)
    for ax, result in zip(axes[0], results, strict=True):
        wtp = [point["wtp"] for point in result["curve"]]
        ax.plot(wtp, [point["evpi_per_patient"] * per for point in result["curve"]], color="tab:purple")
        ax.set_xlabel(f"willingness to pay ({result['wtp_unit']})")
        ax.set_ylabel(f"EVPI per {per:,} patients ({currency})")
        ax.set_title(_wrap(f"expected value of perfect information: {result['text']}"), fontsize=8)
    return _save(figure, path)


def tornado(rows: Sequence[dict[str, Any]], panels: Sequence[tuple[str, str, str]], path: Path) -> Path:
    """One panel per (outcome, policy, title): a bar per factor from its low-end to its high-end result."""
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 + 0.28 * TOP * len(panels)), squeeze=False)
    for ax, (name, policy, title) in zip(axes[:, 0], panels, strict=True):
        ends: dict[str, dict[str, float]] = {}
        base = None
        for row in rows:
            if row["outcome"] == name and row["policy"] == policy and row["value"] is not None:
                ends.setdefault(row["factor"], {})[row["end"]] = row["value"]
                base = row["base"]

        def width(pair: dict[str, float], base: float | None = base) -> float:
            return abs(pair.get("high", base or 0) - pair.get("low", base or 0))

        # factors that do not move this outcome are left out (a price the policy never pays, ...)
        moving = [(factor, pair) for factor, pair in ends.items() if width(pair) > 1e-9 * (abs(base or 0) + 1)]
        widest = sorted(moving, key=lambda item: -width(item[1]))[:TOP]
        widest.reverse()
        for y, (_factor, pair) in enumerate(widest):
            low, high = pair.get("low", base), pair.get("high", base)
            ax.barh(y, (low or 0) - (base or 0), left=base, color="tab:blue", alpha=0.8)
            ax.barh(y, (high or 0) - (base or 0), left=base, color="tab:orange", alpha=0.8)
        ax.set_yticks(range(len(widest)), [factor for factor, _ in widest], fontsize=7)
        if base is not None:
            ax.axvline(base, color="black", lw=0.8)
        ax.set_title(_wrap(f"{title} (blue: factor at its 2.5th percentile, orange: at its 97.5th)", 90), fontsize=9)
    return _save(figure, path)


def sobol(rows: Sequence[dict[str, Any]], policy: str, outcomes: Sequence[str], path: Path) -> Path:
    figure, axes = plt.subplots(len(outcomes), 1, figsize=(9, 2.5 + 0.28 * TOP * len(outcomes)), squeeze=False)
    for ax, name in zip(axes[:, 0], outcomes, strict=True):
        mine = [r for r in rows if r["outcome"] == name and r["policy"] == policy]
        mine = sorted(mine, key=lambda r: -r["ST"])[:TOP][::-1]
        y = np.arange(len(mine))
        ax.barh(y - 0.2, [r["ST"] for r in mine], height=0.4, xerr=[r["ST_conf"] for r in mine], label="total (ST)")
        ax.barh(
            y + 0.2, [r["S1"] for r in mine], height=0.4, xerr=[r["S1_conf"] for r in mine], label="first order (S1)"
        )
        ax.set_yticks(y, [r["factor"] for r in mine], fontsize=7)
        ax.set_title(
            f"Sobol indices: {name}, policy {policy}" if mine else f"{name}: no indices (see sobol.json)", fontsize=9
        )
        ax.legend(fontsize=7)
    return _save(figure, path)
