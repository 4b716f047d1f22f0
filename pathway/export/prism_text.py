"""Writing PRISM text: updates with their probabilities, and guards over situation variables."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from pathway.export.encoding import ExportError

PRUNE = 1e-12  # probabilities below this are dropped (and the rest renormalised) to keep the text small


def updates(choices: Mapping[str, float]) -> str:
    """PRISM updates "p1:(a'=1) + p2:(...)", merged, pruned and renormalised."""
    kept = {u: p for u, p in choices.items() if p > PRUNE}
    total = sum(kept.values())
    if not kept:
        raise ExportError("a distribution with no mass left")
    return " + ".join(f"{p / total:.15g}:{u}" for u, p in kept.items())


def pmf_items(pmf: np.ndarray) -> Iterator[tuple[int, float]]:
    for k, p in enumerate(pmf):
        if p > PRUNE:
            yield k, float(p)


def parsed(text: str) -> dict[str, float]:
    """PRISM updates "p1:u1 + p2:u2" back into {u: p}."""
    out: dict[str, float] = {}
    for part in text.split(" + "):
        q, update = part.split(":", 1)
        out[update] = out.get(update, 0.0) + float(q)
    return out


def varies(table: Mapping[tuple[Any, ...], str], axis: int) -> bool:
    """Does the answer change along one situation variable, the others held?"""
    seen: dict[tuple[Any, ...], str] = {}
    for key, text in table.items():
        rest = key[:axis] + key[axis + 1 :]
        if seen.setdefault(rest, text) != text:
            return True
    return False


def compact(parts: list[str]) -> str:
    """Situations as a guard; runs of consecutive clock values become ranges."""
    by_rest: dict[str, list[int]] = {}
    plain = []
    for part in parts:
        terms = part.split(" & ")
        clock = [t for t in terms if t.startswith("tau=")]
        if not clock:
            plain.append(part)
            continue
        rest = " & ".join(t for t in terms if not t.startswith("tau="))
        by_rest.setdefault(rest, []).append(int(clock[0][4:]))
    for rest, values in by_rest.items():
        values.sort()
        runs: list[list[int]] = []
        for v in values:
            if runs and runs[-1][1] == v - 1:
                runs[-1][1] = v
            else:
                runs.append([v, v])
        clocks = " | ".join(f"(tau>={a} & tau<={b})" if a != b else f"tau={a}" for a, b in runs)
        plain.append(f"{rest} & ({clocks})" if rest else f"({clocks})")
    return " | ".join(f"({p})" for p in plain)
