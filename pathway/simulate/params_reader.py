"""Reading one table of an untrusted parameter file, with one-line errors naming the entry.

A parameter file is parsed as TOML and every entry is checked here: unknown keys
are refused, numbers must be finite, probabilities lie in [0, 1], distributions
have the shape their kind needs. Nothing is evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from pathway.simulate.distributions import DIST_KINDS, Dist, Number

DIST_SHAPES = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "lognormal": ("median", "sigma"),
    "normal": ("mean", "sd"),
}
"""The keys each kind of distribution needs (a normal may add clip bounds low and high)."""


class ParamsError(ValueError):
    """A broken parameter file; str() is one line: file: entry: problem."""

    def __init__(self, file: str, entry: str, problem: str) -> None:
        self.file, self.entry, self.problem = file, entry, problem
        super().__init__(f"{file}: {entry}: {problem}" if entry else f"{file}: {problem}")


Fields = dict[str, Any]


def kind_of(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


class Entry:
    """One table of the file and where it is, for error messages."""

    def __init__(self, file: str, path: str, table: Any) -> None:
        self.file, self.path = file, path
        if not isinstance(table, Mapping):
            self.fail(f"expected a table, found {kind_of(table)}")
        self.table: Mapping[str, Any] = table

    def fail(self, problem: str, key: str | None = None) -> NoReturn:
        raise ParamsError(self.file, f"{self.path}.{key}" if key else self.path, problem)

    def only(self, *allowed: str) -> None:
        unknown = sorted(set(self.table) - set(allowed))
        if unknown:
            self.fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(allowed)})")

    def need(self, *keys: str) -> None:
        for key in keys:
            if key not in self.table:
                self.fail(f"missing {key!r}")

    def child(self, key: str) -> Entry:
        self.need(key)
        return Entry(self.file, f"{self.path}.{key}" if self.path else key, self.table[key])

    def text(self, key: str, default: str | None = None) -> str:
        if key not in self.table:
            if default is None:
                self.fail(f"missing {key!r}")
            return default or ""
        value = self.table[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(f"expected a non-empty string, found {value!r}", key)
        return value

    def flag(self, key: str, default: bool | None = None) -> bool:
        if key not in self.table:
            if default is None:
                self.fail(f"missing {key!r}")
            return bool(default)
        value = self.table[key]
        if not isinstance(value, bool):
            self.fail(f"expected true or false, found {value!r}", key)
        return value

    def real(self, key: str, default: float | None = None) -> float | None:
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.fail(f"expected a number, found {value!r}", key)
        if value in (float("inf"), float("-inf")):
            self.fail("expected a finite number", key)
        return float(value)

    def number(self, key: str, low: float | None = None, high: float | None = None) -> Number:
        entry = self.child(key)
        # `uncertainty`: the distribution of this number for the decision analysis (pathway/economics reads it)
        entry.only("value", "unit", "source", "derived", "uncertainty")
        entry.need("value")
        value = entry.real("value")
        assert value is not None
        if low is not None and value < low:
            entry.fail(f"must be at least {low:g}, found {value:g}", "value")
        if high is not None and value > high:
            entry.fail(f"must be at most {high:g}, found {value:g}", "value")
        return Number(value, entry.text("unit", ""), entry.text("source"), entry.flag("derived", False))

    def probability(self, key: str) -> Number:
        return self.number(key, 0.0, 1.0)

    def whole(self, key: str, low: float, high: float) -> int:
        number = self.number(key, low, high)
        if number.value != int(number.value):
            self.child(key).fail(f"expected a whole number, found {number.value:g}", "value")
        return int(number.value)

    def dist(self, key: str, positive: bool = True) -> Dist:
        entry = self.child(key)
        kind = entry.text("dist")
        if kind not in DIST_KINDS:
            entry.fail(f"unknown distribution {kind!r} (known: {', '.join(DIST_KINDS)})", "dist")
        shape = DIST_SHAPES[kind]
        optional = ("low", "high") if kind == "normal" else ()
        entry.only("dist", *shape, *optional, "unit", "source", "derived", "uncertainty")
        entry.need(*shape)
        values = {name: entry.real(name) for name in (*shape, *optional) if name in entry.table}
        for name in ("sigma", "sd", "median"):
            if name in values and (values[name] or 0.0) <= 0:
                entry.fail(f"must be greater than 0, found {values[name]:g}", name)
        if "low" in values and "high" in values and values["low"] > values["high"]:  # type: ignore[operator]
            entry.fail(f"low {values['low']:g} is above high {values['high']:g}", "low")
        if positive:
            for name in ("value", "low"):
                if name in values and values[name] is not None and values[name] < 0:  # type: ignore[operator]
                    entry.fail(f"a time cannot be negative, found {values[name]:g}", name)
        return Dist(
            kind=kind,  # type: ignore[arg-type]
            unit=entry.text("unit", ""),
            source=entry.text("source"),
            derived=entry.flag("derived", False),
            **values,  # type: ignore[arg-type]
        )

    def fields(self, key: str) -> Fields:
        entry = self.child(key)
        for name, value in entry.table.items():
            if not isinstance(value, str | int | float | bool):
                entry.fail(f"expected a string, number or boolean, found {kind_of(value)}", name)
        return dict(entry.table)

    def items(self, key: str) -> list[Entry]:
        self.need(key)
        value = self.table[key]
        if not isinstance(value, list) or not value:
            self.fail(f"expected a non-empty array of tables, found {kind_of(value)}", key)
        return [
            Entry(self.file, f"{self.path}.{key}[{i}]" if self.path else f"{key}[{i}]", v) for i, v in enumerate(value)
        ]

    def names(self, key: str, allowed: tuple[str, ...]) -> dict[str, str]:
        entry = self.child(key)
        entry.only(*allowed)
        entry.need(*allowed)
        return {name: entry.text(name) for name in allowed}

    def shares(self, key: str, names: tuple[str, ...], what: str) -> dict[str, Number]:
        """Probabilities of mutually exclusive outcomes, which must add up to 1."""
        table = self.child(key)
        table.only(*names)
        probs = {name: table.probability(name) for name in names}
        total = sum(p.value for p in probs.values())
        if abs(total - 1.0) > 1e-9:
            table.fail(f"{what} probabilities add up to {total:g}, not 1")
        return probs


def check_weights(entries: list[Entry], what: str, exact: bool) -> None:
    total = sum(e.number("weight", 0.0).value for e in entries)
    if exact and abs(total - 1.0) > 1e-9:
        entries[0].fail(f"{what} weights add up to {total:g}, not 1")
    if not exact and total > 1.0 + 1e-9:
        entries[0].fail(f"{what} weights add up to {total:g}, more than 1")
