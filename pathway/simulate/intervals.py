"""95 % intervals for the figures of a simulated cohort, computed from exact integer totals.

Each figure is an Estimate: a value with its interval, the n it rests on, the
method, and whether n is too small for the interval to be trusted. Methods:

* a share of patients (k of n): Wilson score interval;
* a mean of per-patient counts or doses (e.g. imaging studies per 1,000): normal
  approximation with the sample variance, from the sums of x and x squared;
* a quantile of times: distribution-free interval between two order statistics
  whose ranks come from the binomial(n, q) distribution (normal approximation);
* a paired difference between two policies on the same patients: the mean of the
  per-patient differences with its normal interval, and for a difference of two
  shares Newcombe's hybrid score interval for paired proportions (method 10,
  Newcombe 1998, without continuity correction), which uses the discordant pairs.

Everything is deterministic: no resampling, so a summary is reproducible byte for byte.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

Z95 = 1.959963984540054
"""The standard normal quantile of 0.975."""
SMALL_EVENTS = 10
"""A share resting on fewer events (or non-events) than this is flagged small_n."""
SMALL_N = 30
"""A mean or quantile resting on fewer observations than this is flagged small_n."""
DIGITS = 6


def _r(x: float) -> float:
    return round(x, DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0


def estimate(
    value: float, low: float | None, high: float | None, n: int, method: str, small: bool, **extra: Any
) -> dict[str, Any]:
    """The JSON shape every figure with an interval has."""
    out: dict[str, Any] = {"value": _r(value), "low": None, "high": None, "n": n, "method": method, "small_n": small}
    if low is not None and high is not None:
        out["low"], out["high"] = _r(low), _r(high)
    out.update(extra)
    return out


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def share(k: int, n: int, scale: float = 1.0) -> dict[str, Any]:
    """k of n as a share (scale 1) or per 1,000 (scale 1000), Wilson interval."""
    low, high = wilson(k, n)
    small = n == 0 or min(k, n - k) < SMALL_EVENTS
    return estimate(k / n * scale if n else 0.0, low * scale, high * scale, n, "wilson", small, count=k)


def mean_of(n: int, total: float, squares: float, scale: float = 1.0) -> dict[str, Any]:
    """Mean of n per-patient values from their sum and sum of squares; normal interval."""
    if n == 0:
        return estimate(0.0, None, None, 0, "normal", True)
    mean = total / n
    if n < 2:
        return estimate(mean * scale, None, None, n, "normal", True)
    variance = max(squares - n * mean * mean, 0.0) / (n - 1)
    half = Z95 * math.sqrt(variance / n)
    return estimate(mean * scale, (mean - half) * scale, (mean + half) * scale, n, "normal", n < SMALL_N)


class Ordered:
    """Order statistics of integer values kept as counts per value (times in minutes)."""

    def __init__(self, counts: Counter[int]) -> None:
        self.keys = sorted(counts)
        self.cumulative: list[int] = []
        running = 0
        for key in self.keys:
            running += counts[key]
            self.cumulative.append(running)
        self.n = running

    def kth(self, k: int) -> int:
        """The k-th smallest value, k from 0."""
        lo, hi = 0, len(self.keys) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.cumulative[mid] > k:
                hi = mid
            else:
                lo = mid + 1
        return self.keys[lo]

    def quantile(self, q: float) -> float:
        """Linear between the order statistics around q (n - 1)."""
        position = q * (self.n - 1)
        lower = int(position)
        low, high = self.kth(lower), self.kth(min(lower + 1, self.n - 1))
        return low + (high - low) * (position - lower)

    def interval(self, q: float) -> tuple[int, int] | None:
        """Distribution-free 95 % interval for the q-quantile, or None when n is too small for one."""
        n = self.n
        spread = Z95 * math.sqrt(n * q * (1 - q))
        lower = math.floor(n * q - spread)  # ranks from 1
        upper = math.ceil(n * q + spread) + 1
        if lower < 1 or upper > n:
            return None
        return self.kth(lower - 1), self.kth(upper - 1)


def quantile(ordered: Ordered, q: float, scale: float) -> dict[str, Any]:
    if ordered.n == 0:
        return estimate(0.0, None, None, 0, "order_statistic", True)
    bounds = ordered.interval(q)
    value = ordered.quantile(q) / scale
    small = ordered.n < SMALL_N or bounds is None
    if bounds is None:
        return estimate(value, None, None, ordered.n, "order_statistic", small)
    return estimate(value, bounds[0] / scale, bounds[1] / scale, ordered.n, "order_statistic", small)


def times(counts: Counter[int], scale: float = 60.0) -> dict[str, Any]:
    """A block of time figures (minutes in, hours out): n, mean and median and p95 with intervals, p5-p95, range."""
    ordered = Ordered(counts)
    n = ordered.n
    if n == 0:
        return {"n": 0}
    total = sum(k * c for k, c in counts.items())
    squares = sum(k * k * c for k, c in counts.items())
    out: dict[str, Any] = {
        "n": n,
        "mean": mean_of(n, total / scale, squares / (scale * scale)),
        "p50": quantile(ordered, 0.5, scale),
        "p95": quantile(ordered, 0.95, scale),
    }
    for q in (0.05, 0.25, 0.75):
        out[f"p{round(q * 100)}"] = _r(ordered.quantile(q) / scale)
    out["min"] = _r(ordered.keys[0] / scale)
    out["max"] = _r(ordered.keys[-1] / scale)
    return out


def paired_mean(n: int, total: float, squares: float, scale: float = 1.0) -> dict[str, Any]:
    """Mean of per-patient differences (policy minus reference) with its normal interval."""
    result = mean_of(n, total, squares, scale)
    result["method"] = "paired_normal"
    return result


def newcombe_paired(both: int, only_policy: int, only_reference: int, n: int, scale: float = 1.0) -> dict[str, Any]:
    """Difference of two paired shares (policy minus reference), Newcombe's method 10.

    Cells of the 2x2 table of patients: both, only under the policy, only under the
    reference, neither (the rest of n).
    """
    a, b, c = both, only_policy, only_reference
    d = n - a - b - c
    discordant = b + c
    if n == 0:
        return estimate(0.0, None, None, 0, "newcombe_paired", True, discordant=0)
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n)
    l2, u2 = wilson(a + c, n)
    product = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(product) if product > 0 else 0.0
    delta = math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    epsilon = math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    theta = p1 - p2
    small = discordant < SMALL_EVENTS
    return estimate(
        theta * scale,
        (theta - delta) * scale,
        (theta + epsilon) * scale,
        n,
        "newcombe_paired",
        small,
        discordant=discordant,
    )


def overlap(a_low: float | None, a_high: float | None, b_low: float, b_high: float) -> bool:
    if a_low is None or a_high is None:
        return False
    return a_low <= b_high and b_low <= a_high
