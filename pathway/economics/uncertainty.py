"""Parameter uncertainty: a distribution fitted to the source of each uncertain number.

An uncertain number carries an ``uncertainty`` table beside its value (in the cost table and
in the simulator's parameter file). Four families, as health-economic practice fits them
(Briggs, Claxton and Sculpher, *Decision Modelling for Health Economic Evaluation*, 2006, ch. 4):

* ``beta`` for a probability: from the source's counts (``events`` of ``trials``), or, when
  the source gives no counts, from an effective sample size ``n`` around the value (derived);
* ``dirichlet`` for shares that add up: the entries of one ``group`` each give a ``count``,
  or the group gives a concentration ``n`` (derived); draws keep the shares' total;
* ``lognormal`` for ratios and times: median at the value, ``sigma`` given or from a 95 %
  range ``low``..``high``;
* ``gamma`` for costs: mean at the value, ``sd`` or ``cv`` given or from a 95 % range.

``same_as = PATH`` makes a number take the value drawn for another (one source, drawn once).
Every draw is an inverse CDF of a uniform, so a draw is a pure function of its uniforms and
the one-way and Sobol analyses use the same distributions as the PSA.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import attrs
import numpy as np
from scipy import stats

from pathway.economics import paths

KINDS = ("beta", "dirichlet", "lognormal", "gamma")
Z95 = 1.959963984540054
FIT_TOLERANCE = 0.1
"""A distribution from counts must put its mean within 10 % (relative) of the entry's value."""


class UncertaintyError(ValueError):
    """A badly specified distribution; str() is one line: file: path: problem."""


@attrs.frozen
class Uncertain:
    """One factor of the uncertainty analysis: a distribution setting one number, or a group of shares."""

    name: str
    file: str  # "params" or "costs": which data file the paths point into
    kind: str
    paths: tuple[str, ...]
    base: tuple[float, ...]
    shape: tuple[float, ...]  # beta (a, b); dirichlet alphas; lognormal (median, sigma); gamma (k, theta)
    source: str
    derived: bool
    followers: tuple[tuple[str, int], ...] = ()  # (path, index of the path it takes its value from)

    @property
    def dims(self) -> int:
        """Uniforms one draw takes."""
        return len(self.paths)

    @property
    def all_paths(self) -> tuple[str, ...]:
        """The numbers a draw sets: its own paths, then the ones that follow them (``same_as``)."""
        return self.paths + tuple(path for path, _ in self.followers)

    def with_followers(self, values: np.ndarray) -> np.ndarray:
        """Append the followers' columns to draws of ``paths``."""
        if not self.followers:
            return values
        return np.column_stack([values, *(values[:, i] for _, i in self.followers)])

    def values(self, u: np.ndarray) -> np.ndarray:
        """Values for each row of uniforms ``u`` (shape (k, dims)) -> shape (k, len(all_paths))."""
        return self.with_followers(self._values(u))

    def _values(self, u: np.ndarray) -> np.ndarray:
        u = np.clip(np.asarray(u, dtype=np.float64).reshape(-1, self.dims), 1e-12, 1 - 1e-12)
        if self.kind == "beta":
            return np.asarray(stats.beta.ppf(u, self.shape[0], self.shape[1]))
        if self.kind == "lognormal":
            return np.asarray(self.shape[0] * np.exp(self.shape[1] * stats.norm.ppf(u)))
        if self.kind == "gamma":
            return np.asarray(stats.gamma.ppf(u, self.shape[0], scale=self.shape[1]))
        gammas = np.column_stack([stats.gamma.ppf(u[:, i], a) for i, a in enumerate(self.shape)])
        return np.asarray(gammas / gammas.sum(axis=1, keepdims=True) * sum(self.base))

    def interval(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Values at the 2.5th and 97.5th percentile (one-way analysis).

        For a group of shares the first share moves along its marginal (a beta) and the
        others take up the difference in proportion, so the total stays the same.
        """
        if self.kind != "dirichlet":
            low, high = self._values(np.array([[0.025], [0.975]]))[:, 0]
            return self.follow((float(low),)), self.follow((float(high),))
        total, alpha0 = sum(self.base), sum(self.shape)
        ends = []
        for q in (0.025, 0.975):
            first = float(stats.beta.ppf(q, self.shape[0], alpha0 - self.shape[0])) * total
            rest = sum(self.base[1:])
            scale = (total - first) / rest if rest else 0.0
            ends.append(self.follow((first, *(b * scale for b in self.base[1:]))))
        return ends[0], ends[1]

    def follow(self, values: tuple[float, ...]) -> tuple[float, ...]:
        return values + tuple(values[i] for _, i in self.followers)


def _number(spec: Mapping[str, Any], key: str, fail: Callable[[str], NoReturn], positive: bool = True) -> float:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        fail(f"{key!r} must be a number, found {value!r}")
    if positive and value <= 0:
        fail(f"{key!r} must be greater than 0, found {value!r}")
    return float(value)


ALLOWED = {
    "beta": ({"events", "trials", "n"}, ()),
    "dirichlet": ({"group", "count", "n"}, ()),
    "lognormal": ({"sigma", "low", "high"}, ()),
    "gamma": ({"sd", "cv", "low", "high"}, ()),
}
COMMON = {"dist", "source", "derived", "of"}


def _spread_from_range(spec: Mapping[str, Any], fail: Callable[[str], NoReturn]) -> tuple[float, float]:
    low, high = _number(spec, "low", fail), _number(spec, "high", fail)
    if low >= high:
        fail(f"low {low:g} must be below high {high:g}")
    return low, high


def scalar(file: str, path: str, base: float, spec: Mapping[str, Any], where: str) -> Uncertain | None:
    """A beta, lognormal or gamma factor for one number; None for a Dirichlet share (grouped later)."""

    def fail(problem: str) -> NoReturn:
        raise UncertaintyError(f"{where}: {path}: uncertainty: {problem}")

    kind = spec.get("dist")
    if kind not in KINDS:
        fail(f"unknown dist {kind!r} (known: {', '.join(KINDS)})")
    unknown = sorted(set(spec) - COMMON - ALLOWED[str(kind)][0])
    if unknown:
        fail(f"unknown key {unknown[0]!r} for a {kind} distribution")
    source = spec.get("source")
    if not isinstance(source, str) or not source.strip():
        fail("needs a 'source' saying where the spread comes from")
    derived = spec.get("derived", False)
    if not isinstance(derived, bool):
        fail("'derived' must be true or false")
    if kind == "dirichlet":
        return None
    shape: tuple[float, ...]
    if kind == "beta":
        if not 0 < base < 1:
            fail(f"a beta needs a value strictly between 0 and 1, found {base:g}")
        if "events" in spec or "trials" in spec:
            events, trials = _number(spec, "events", fail), _number(spec, "trials", fail)
            if events >= trials:
                fail(f"events {events:g} must be fewer than trials {trials:g}")
            shape = (events, trials - events)
            if abs(events / trials - base) > FIT_TOLERANCE * base:
                fail(f"{events:g} of {trials:g} ({events / trials:.4g}) does not fit the value {base:g}")
        else:
            n = _number(spec, "n", fail)
            shape = (base * n, (1 - base) * n)
    elif kind == "lognormal":
        if base <= 0:
            fail(f"a lognormal needs a positive value, found {base:g}")
        if "sigma" in spec:
            sigma = _number(spec, "sigma", fail)
        else:
            low, high = _spread_from_range(spec, fail)
            sigma = math.log(high / low) / (2 * Z95)
        shape = (base, sigma)
    else:
        if base <= 0:
            fail(f"a gamma needs a positive value, found {base:g}")
        if "sd" in spec:
            sd = _number(spec, "sd", fail)
        elif "cv" in spec:
            sd = _number(spec, "cv", fail) * base
        else:
            low, high = _spread_from_range(spec, fail)
            sd = (high - low) / (2 * Z95)
        shape = ((base / sd) ** 2, sd * sd / base)
    return Uncertain(path, file, str(kind), (path,), (base,), shape, str(source), bool(derived))


def dirichlet(file: str, group: str, members: list[tuple[str, float, Mapping[str, Any]]], where: str) -> Uncertain:
    """One factor for the shares of a group (each member: path, value, spec)."""

    def fail(problem: str) -> NoReturn:
        raise UncertaintyError(f"{where}: dirichlet group {group!r}: {problem}")

    if len(members) < 2:
        fail("needs at least two shares")
    bases = tuple(value for _, value, _ in members)
    if any(b <= 0 for b in bases):
        fail("every share must be greater than 0")
    counts = [spec.get("count") for _, _, spec in members]
    concentrations = {spec.get("n") for _, _, spec in members} - {None}
    if all(c is not None for c in counts):
        shape = tuple(_number(spec, "count", fail) for _, _, spec in members)
        total_count, total_base = sum(shape), sum(bases)
        for (path, value, _), count in zip(members, shape, strict=True):
            if abs(count / total_count - value / total_base) > FIT_TOLERANCE * (value / total_base):
                fail(f"{path}: count {count:g} of {total_count:g} does not fit the share {value:g}")
    elif len(concentrations) == 1 and not any(c is not None for c in counts):
        n = _number({"n": concentrations.pop()}, "n", fail)
        shape = tuple(n * b / sum(bases) for b in bases)
    else:
        fail("give every share a 'count', or every share the same concentration 'n'")
    first = members[0][2]
    return Uncertain(
        group,
        file,
        "dirichlet",
        tuple(path for path, _, _ in members),
        bases,
        shape,
        str(first.get("source")),
        any(bool(spec.get("derived", False)) for _, _, spec in members),
    )


def collect(file: str, data: Mapping[str, Any], specs: Mapping[str, Mapping[str, Any]], where: str) -> list[Uncertain]:
    """The factors of one data file from ``specs`` (path -> uncertainty table), in the specs' order."""
    factors: list[Uncertain] = []
    groups: dict[str, list[tuple[str, float, Mapping[str, Any]]]] = {}
    followers: list[tuple[str, float, str]] = []
    for path, spec in specs.items():
        if not isinstance(spec, Mapping):
            raise UncertaintyError(f"{where}: {path}: uncertainty: expected a table")
        try:
            base = paths.get(data, path)
        except paths.PathError as err:
            raise UncertaintyError(f"{where}: {err}") from None
        if "same_as" in spec:
            unknown = sorted(set(spec) - {"same_as", "source", "derived"})
            if unknown or not isinstance(spec.get("source"), str):
                raise UncertaintyError(f"{where}: {path}: uncertainty: same_as takes only a 'source' (and 'derived')")
            followers.append((path, base, str(spec["same_as"])))
            continue
        factor = scalar(file, path, base, spec, where)
        if factor is not None:
            factors.append(factor)
            continue
        group = spec.get("group")
        if not isinstance(group, str) or not group:
            raise UncertaintyError(f"{where}: {path}: uncertainty: a dirichlet share needs a 'group' name")
        if group not in groups:
            groups[group] = []
            factors.append(Uncertain(group, file, "pending", (), (), (), "", False))  # keeps the group's place
        groups[group].append((path, base, spec))
    built = [dirichlet(file, f.name, groups[f.name], where) if f.kind == "pending" else f for f in factors]
    return _attach(built, followers, where)


def _attach(factors: list[Uncertain], followers: list[tuple[str, float, str]], where: str) -> list[Uncertain]:
    """Numbers that take the drawn value of another (``same_as``): the same source, drawn once."""
    out = list(factors)
    for path, base, leader in followers:
        for k, factor in enumerate(out):
            # the leader may itself follow another number: take the value it takes
            chained = dict(factor.followers)
            if leader in factor.paths or leader in chained:
                index = factor.paths.index(leader) if leader in factor.paths else chained[leader]
                if abs(factor.base[index] - base) > 1e-12 * max(1.0, abs(base)):
                    raise UncertaintyError(f"{where}: {path}: same_as {leader!r}, but {base:g} is not its value")
                out[k] = attrs.evolve(factor, base=factor.base, followers=(*factor.followers, (path, index)))
                break
        else:
            raise UncertaintyError(f"{where}: {path}: same_as {leader!r}, which has no distribution")
    return out


def in_entries(data: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The ``uncertainty`` tables a data file carries beside its numbers, by the path of the number."""
    found: dict[str, Mapping[str, Any]] = {}
    for path, table in paths.numbers_with(data, "uncertainty"):
        spec = table["uncertainty"]
        of = spec.get("of") if isinstance(spec, Mapping) else None
        found[f"{path}.{of}" if of else path] = spec
    return found
