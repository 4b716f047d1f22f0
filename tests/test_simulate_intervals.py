"""The 95 % intervals: known values, and coverage of the true value in repeated seeded samples."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway.simulate import intervals

REPEATS = 1500


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe, Stat Med 1998;17:857 (method 3, the Wilson score interval)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    got = intervals.wilson(k, n)
    assert got == pytest.approx((low, high), abs=6e-5)


@given(st.integers(0, 500), st.integers(1, 500))
def test_a_share_is_inside_its_interval(k: int, n: int) -> None:
    k = min(k, n)
    estimate = intervals.share(k, n, 1000)
    assert 0 <= estimate["low"] <= estimate["value"] <= estimate["high"] <= 1000
    assert estimate["count"] == k and estimate["n"] == n
    assert estimate["small_n"] == (min(k, n - k) < intervals.SMALL_EVENTS)


def _coverage(hits: list[bool]) -> float:
    return sum(hits) / len(hits)


def test_wilson_covers_the_true_share() -> None:
    rng = np.random.default_rng(1)
    p, n = 0.07, 300
    hits = []
    for k in rng.binomial(n, p, REPEATS):
        low, high = intervals.wilson(int(k), n)
        hits.append(low <= p <= high)
    assert 0.93 <= _coverage(hits) <= 0.975


def test_the_mean_interval_covers_the_true_mean() -> None:
    rng = np.random.default_rng(2)
    hits = []
    for _ in range(REPEATS):
        x = rng.poisson(1.2, 400)  # e.g. imaging studies per patient
        estimate = intervals.mean_of(len(x), float(x.sum()), float((x * x).sum()))
        hits.append(estimate["low"] <= 1.2 <= estimate["high"])
    assert 0.93 <= _coverage(hits) <= 0.97


def test_the_quantile_interval_covers_the_true_median_and_95th_centile() -> None:
    rng = np.random.default_rng(3)
    true = {0.5: 96.0, 0.95: 96.0 * float(np.exp(0.6 * 1.6448536))}
    hits: dict[float, list[bool]] = {0.5: [], 0.95: []}
    for _ in range(REPEATS):
        minutes = np.rint(rng.lognormal(np.log(96.0), 0.6, 300) * 60).astype(int)
        ordered = intervals.Ordered(Counter(minutes.tolist()))
        for q, value in true.items():
            estimate = intervals.quantile(ordered, q, 60.0)
            hits[q].append(estimate["low"] <= value <= estimate["high"])
    for q in true:
        assert 0.93 <= _coverage(hits[q]) <= 0.985, q


def test_newcombe_paired_covers_the_true_difference() -> None:
    """Paired 0/1 outcomes of the same patients under two policies, correlated as policies are."""
    rng = np.random.default_rng(4)
    # joint probabilities of (policy, reference): both, only policy, only reference, neither
    cells = np.array([0.05, 0.03, 0.01, 0.91])
    true = cells[0] + cells[1] - (cells[0] + cells[2])
    hits = []
    for counts in rng.multinomial(500, cells, REPEATS):
        a, b, c, _ = (int(x) for x in counts)
        estimate = intervals.newcombe_paired(a, b, c, 500)
        hits.append(estimate["low"] <= true <= estimate["high"])
    assert 0.93 <= _coverage(hits) <= 0.98


@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60), st.integers(0, 60))
def test_newcombe_paired_is_antisymmetric_and_contains_the_difference(a: int, b: int, c: int, d: int) -> None:
    n = a + b + c + d
    if n == 0:
        return
    forward = intervals.newcombe_paired(a, b, c, n)
    backward = intervals.newcombe_paired(a, c, b, n)
    assert forward["low"] <= forward["value"] <= forward["high"]
    assert forward["low"] >= -1 and forward["high"] <= 1
    assert forward["value"] == pytest.approx(-backward["value"], abs=1e-6)
    assert forward["low"] == pytest.approx(-backward["high"], abs=1e-6)
    assert forward["discordant"] == b + c


def test_times_block_gives_intervals_for_the_mean_and_centiles() -> None:
    counts = Counter({60 * h: 1 for h in range(1, 101)})  # 1 h .. 100 h
    block = intervals.times(counts)
    assert block["n"] == 100
    assert block["p50"]["value"] == pytest.approx(50.5)
    assert block["p50"]["low"] < 50.5 < block["p50"]["high"]
    assert block["mean"]["value"] == pytest.approx(50.5)
    assert block["min"] == 1 and block["max"] == 100
    assert intervals.times(Counter()) == {"n": 0}
    few = intervals.times(Counter({60: 3}))
    assert few["p95"]["small_n"] and few["p95"]["low"] is None
