"""The validation report: published outcomes next to the same measure on the simulated cohort.

Targets live in validation.toml (data, each with its source and population); this
module checks them against the parameter file (puncture kinds, policies) and the
facts the cohort records, computes the simulated measure with its 95 % interval on
the matching subgroup, and gives a verdict: consistent when the intervals overlap,
not consistent otherwise, not assessable when the subgroup is empty. A target that
fails stays in the report with its reason; calibration targets (used to set a
parameter) and validation targets (not used) are counted apart.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import attrs

from pathway.simulate import intervals
from pathway.simulate.aggregate import Aggregate
from pathway.simulate.cohort_facts import TIMES, FactContext
from pathway.simulate.params import SimParams
from pathway.simulate.params_reader import Entry, ParamsError

DEFAULT_TARGETS = Path(__file__).parent / "validation.toml"
USES = ("calibration", "validation")
MEASURES = ("share", "median")
UNITS = {"h": 60.0, "d": 1440.0}
CONSISTENT, INCONSISTENT, NOT_ASSESSABLE = "consistent", "not consistent", "not assessable"


@attrs.frozen
class Published:
    value: float
    low: float
    high: float
    n: int | None
    interval: str


@attrs.frozen
class Target:
    id: str
    use: str
    measure: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    time: str
    unit: str
    punctures: tuple[str, ...]
    policy: str
    source: str
    population: str
    published: Published
    note: str


def _published(entry: Entry) -> Published:
    entry.only("value", "k", "n", "low", "high", "tolerance")
    table = entry.table
    if "k" in table:
        k, n = entry.real("k"), entry.real("n")
        if k is None or n is None or n != int(n) or k != int(k) or not 0 <= k <= n or n < 1:
            entry.fail("k and n must be whole numbers with 0 <= k <= n")
        whole_k, whole_n = int(k), int(n)
        low, high = intervals.wilson(whole_k, whole_n)
        return Published(whole_k / whole_n, low, high, whole_n, f"Wilson 95 % on {whole_k} of {whole_n}")
    value = entry.real("value")
    if value is None:
        entry.fail("give k and n, or a value with n, low and high, or tolerance")
    if "n" in table:
        n = entry.real("n")
        if n is None or n < 1 or n != int(n):
            entry.fail("n must be a whole number of at least 1", "n")
        whole_n = int(n)
        # Wilson's formula holds for a share given as a percentage of n (k need not be whole)
        low, high = _wilson_share(value, whole_n)
        return Published(value, low, high, whole_n, f"Wilson 95 % on {value:.3g} of {whole_n}")
    if "low" in table or "high" in table:
        bottom, top = entry.real("low"), entry.real("high")
        if bottom is None or top is None or not bottom <= value <= top:
            entry.fail("low and high must both be given, around the value")
        return Published(value, bottom, top, None, "published 95 % interval")
    tolerance = entry.real("tolerance")
    if tolerance is None or not 0 < tolerance < 1:
        entry.fail("a value alone needs n, low and high, or a tolerance between 0 and 1")
    return Published(value, value * (1 - tolerance), value * (1 + tolerance), None, f"+-{tolerance:.0%} (our band)")


def _wilson_share(p: float, n: int) -> tuple[float, float]:
    z = intervals.Z95
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def load_targets(facts: FactContext, path: Path = DEFAULT_TARGETS) -> tuple[Target, ...]:
    """Read and check the targets file against the facts a cohort records.

    Puncture kinds and policies are checked when the report is made: a target whose subgroup the
    run does not have (another parameter file, a policy not compared) is reported as not assessable.
    """
    file = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ParamsError(file, "", f"cannot read: {err}") from None
    root = Entry(file, "", data)
    root.only("targets")
    known_facts = set(facts.names)
    targets, seen = [], set()
    for item in root.items("targets"):
        item.only(
            "id",
            "use",
            "measure",
            "numerator",
            "denominator",
            "time",
            "unit",
            "punctures",
            "policy",
            "source",
            "population",
            "published",
            "note",
        )
        tid = item.text("id")
        if tid in seen:
            item.fail(f"duplicate id {tid!r}", "id")
        seen.add(tid)
        use, measure = item.text("use"), item.text("measure")
        if use not in USES:
            item.fail(f"use must be one of {', '.join(USES)}", "use")
        if measure not in MEASURES:
            item.fail(f"measure must be one of {', '.join(MEASURES)}", "measure")
        names: dict[str, tuple[str, ...]] = {}
        for key in ("numerator", "denominator", "punctures"):
            value = item.table.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                item.fail("expected an array of names", key)
            names[key] = tuple(value)
        for key in ("numerator", "denominator"):
            for name in names[key]:
                if name not in known_facts:
                    item.fail(f"unknown fact {name!r}", key)
        if not names["denominator"] or (measure == "share" and not names["numerator"]):
            item.fail("a share needs numerator and denominator facts; a median needs denominator facts")
        time, unit = item.text("time", ""), item.text("unit", "h")
        if measure == "median" and time not in TIMES:
            item.fail(f"time must be one of {', '.join(TIMES)}", "time")
        if unit not in UNITS:
            item.fail(f"unit must be one of {', '.join(UNITS)}", "unit")
        policy = item.text("policy", "guideline")
        targets.append(
            Target(
                tid,
                use,
                measure,
                names["numerator"],
                names["denominator"],
                time,
                unit,
                names["punctures"],
                policy,
                item.text("source"),
                item.text("population"),
                _published(item.child("published")),
                item.text("note", ""),
            )
        )
    return tuple(targets)


def simulated(target: Target, aggregate: Aggregate, params: SimParams) -> dict[str, Any]:
    """The target's measure on the simulated subgroup, with its interval."""
    ids = [p.id for p in params.punctures]
    chosen = {ids.index(p) for p in target.punctures} if target.punctures else set(range(len(ids)))

    facts = aggregate.facts()

    def count(names: tuple[str, ...]) -> int:
        return sum(facts[(p, name)] for p in chosen for name in names)

    if target.measure == "share":
        return intervals.share(count(target.numerator), count(target.denominator))
    minutes: Counter[int] = Counter()
    for (p, name), counts in aggregate.fact_times.items():
        if p in chosen and name == target.time:
            for value, n in counts.items():
                minutes[value] += n
    ordered = intervals.Ordered(minutes)
    return intervals.quantile(ordered, 0.5, UNITS[target.unit])


def verdict(published: Published, estimate: dict[str, Any]) -> tuple[str, str]:
    low, high = estimate["low"], estimate["high"]
    if not estimate["n"] or low is None:
        return NOT_ASSESSABLE, f"the simulated subgroup has {estimate['n']} patients: too few for an interval"
    if intervals.overlap(low, high, published.low, published.high):
        return CONSISTENT, ""
    side = "above" if low > published.high else "below"
    return (
        INCONSISTENT,
        f"simulated {low:.4g}-{high:.4g} lies {side} the published {published.low:.4g}-{published.high:.4g}",
    )


def missing(target: Target, aggregates: dict[str, Aggregate], params: SimParams) -> str:
    """Why the run has no subgroup for this target ('' when it has one)."""
    if target.policy not in aggregates:
        return f"policy {target.policy!r} was not simulated in this run (add it with --compare)"
    kinds = {p.id for p in params.punctures}
    unknown = [name for name in target.punctures if name not in kinds]
    return f"the parameter file has no puncture kind {unknown[0]!r}" if unknown else ""


def report(targets: tuple[Target, ...], aggregates: dict[str, Aggregate], params: SimParams) -> dict[str, Any]:
    """validation.json: every target with both figures and its verdict, and the counts by use."""
    rows = []
    counts = {use: {CONSISTENT: 0, INCONSISTENT: 0, NOT_ASSESSABLE: 0} for use in USES}
    for target in targets:
        why = missing(target, aggregates, params)
        if why:
            estimate, (outcome, reason) = intervals.estimate(0.0, None, None, 0, "none", True), (NOT_ASSESSABLE, why)
        else:
            estimate = simulated(target, aggregates[target.policy], params)
            outcome, reason = verdict(target.published, estimate)
        counts[target.use][outcome] += 1
        published = attrs.asdict(target.published)
        rows.append(
            {
                "id": target.id,
                "use": target.use,
                "measure": target.measure if target.measure == "share" else f"median {target.time} ({target.unit})",
                "subgroup": {
                    "policy": target.policy,
                    "punctures": list(target.punctures) or "all",
                    "numerator": list(target.numerator),
                    "denominator": list(target.denominator),
                },
                "source": target.source,
                "population": target.population,
                "published": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in published.items()},
                "simulated": estimate,
                "verdict": outcome,
                "reason": reason,
                "note": target.note,
            }
        )
    return {"targets": rows, "counts": counts}
