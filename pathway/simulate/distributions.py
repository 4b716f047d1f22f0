"""Distributions of the parameter file, sampled by inverse CDF from given uniforms.

Sampling from uniforms the caller supplies (rather than from a generator) keeps
each patient's draws tied to fixed slots of that patient's own random stream:
the same patient gets the same onset time whatever the chunking, the worker or
the policy being compared.
"""

from __future__ import annotations

import math
from typing import Literal

import attrs
import numpy as np

DistKind = Literal["fixed", "uniform", "lognormal", "normal"]
DIST_KINDS: tuple[str, ...] = ("fixed", "uniform", "lognormal", "normal")

# Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9)
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02, -3.066479806614716e01)
_A5 = 2.506628274794650e00
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01, -1.328068155288572e01)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
)
_C5 = 2.938163982698783e00
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_LOW = 0.02425
_EPS = 1e-12


def _poly(coeffs: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """Horner's scheme, in place: each step is the same ``out * x + c`` (c0 * x is x * c0 exactly)."""
    out = x * coeffs[0]
    out += coeffs[1]
    for c in coeffs[2:]:
        out *= x
        out += c
    return out


# Chebyshev fit of erfc (Numerical Recipes, erfcc): fractional error below 1.2e-7 everywhere
_ERFC = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)


def erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function, elementwise and vectorised."""
    x = np.asarray(x, dtype=np.float64)
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    # (0 + c9) * t, then (series + c) * t: in place, the same operations in the same order
    series = t * _ERFC[-1]
    for c in reversed(_ERFC[1:-1]):
        series += c
        series *= t
    exponent = -z * z
    exponent += _ERFC[0]
    exponent += series
    tail = t * np.exp(exponent)
    return np.where(x >= 0, tail, 2.0 - tail)


def norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF, elementwise."""
    return 0.5 * erfc(-np.asarray(x, dtype=np.float64) / math.sqrt(2.0))


def norm_ppf(u: np.ndarray) -> np.ndarray:
    """Standard normal quantile of each uniform (clamped away from 0 and 1)."""
    if np.ndim(u) == 0:
        return norm_ppf(np.reshape(u, 1)).reshape(())
    u = np.clip(np.asarray(u, dtype=np.float64), _EPS, 1.0 - _EPS)
    # the central formula on every uniform (elementwise, so the central ones get exactly the values they
    # would alone), then the tails (about 5 %) overwritten: no gather and scatter of the 95 %
    q = u - 0.5
    r = q * q
    numerator = _poly(_A, r)
    numerator *= r
    numerator += _A5
    numerator *= q
    denominator = _poly(_B, r)
    denominator *= r
    denominator += 1.0
    out = numerator
    out /= denominator
    low = u < _LOW
    high = u > 1.0 - _LOW
    for mask, sign, p in ((low, 1.0, u[low]), (high, -1.0, 1.0 - u[high])):
        if not p.size:
            continue
        t = np.sqrt(-2.0 * np.log(p))
        out[mask] = sign * (_poly(_C, t) * t + _C5) / (_poly(_D, t) * t + 1.0)
    return out


@attrs.frozen
class Number:
    """One number of the parameter file with where it comes from."""

    value: float
    unit: str = ""
    source: str = ""
    derived: bool = False


@attrs.frozen
class Dist:
    kind: DistKind
    value: float = 0.0
    low: float | None = None
    high: float | None = None
    median: float = 0.0
    sigma: float = 0.0
    mean: float = 0.0
    sd: float = 0.0
    unit: str = ""
    source: str = ""
    derived: bool = False

    def sample(self, u: np.ndarray) -> np.ndarray:
        """One draw per uniform in ``u``."""
        u = np.asarray(u, dtype=np.float64)
        if self.kind == "fixed":
            return np.full_like(u, self.value)
        if self.kind == "uniform":
            assert self.low is not None and self.high is not None
            return self.low + (self.high - self.low) * u
        if self.kind == "lognormal":
            return self.median * np.exp(self.sigma * norm_ppf(u))
        drawn = self.mean + self.sd * norm_ppf(u)
        if self.low is not None or self.high is not None:
            drawn = np.clip(drawn, self.low, self.high)
        return drawn

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """P(draw <= x) before clipping, elementwise."""
        x = np.asarray(x, dtype=np.float64)
        if self.kind == "fixed":
            return (x >= self.value).astype(np.float64)
        if self.kind == "uniform":
            assert self.low is not None and self.high is not None
            if self.high == self.low:
                return (x >= self.low).astype(np.float64)
            return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)
        if self.kind == "lognormal":
            with np.errstate(divide="ignore"):
                z = (np.log(np.maximum(x, 0.0)) - math.log(self.median)) / self.sigma
            return norm_cdf(z)
        return norm_cdf((x - self.mean) / self.sd)

    def sample_above(self, u: np.ndarray, floor: np.ndarray) -> np.ndarray:
        """Draws conditional on exceeding ``floor`` (inverse CDF of the truncated distribution)."""
        base = self.cdf(floor)
        return self.sample(base + np.asarray(u) * (1.0 - base))


def lognormal_above(dists: list[Dist], which: np.ndarray, u: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """``dists[which[i]].sample_above(u[i], floor[i])`` for lognormal ``dists``, in one pass over the arrays.

    Each element gets exactly the operations ``Dist.cdf`` and ``Dist.sample`` apply to it
    (with its own distribution's median, log median and sigma), so the draws are the same
    to the last bit as one call per distribution on the elements of each.
    """
    median = np.array([d.median for d in dists])[which]
    log_median = np.array([math.log(d.median) for d in dists])[which]
    sigma = np.array([d.sigma for d in dists])[which]
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(floor, 0.0)) - log_median) / sigma
    base = norm_cdf(z)
    return median * np.exp(sigma * norm_ppf(base + np.asarray(u) * (1.0 - base)))
