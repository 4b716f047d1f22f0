"""The cost table (costs.toml) -> validated CostTable, checked against the pathway it prices.

Like the other data files it is untrusted input: parsed as TOML, every entry checked
(unknown keys refused), nothing evaluated; a problem raises CostError whose str() is one
line naming the file, the entry and what is wrong.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import attrs

from pathway.model import Pathway

DEFAULT_COSTS = Path(__file__).parent / "costs.toml"
TRIGGERS = ("event", "imaging", "action", "state", "episode")
MEASURE_DIRECTIONS = ("higher", "lower")


class CostError(ValueError):
    """A broken cost table; str() is one line: file: entry: problem."""


@attrs.frozen
class CostItem:
    id: str
    text: str
    trigger: str  # one of TRIGGERS
    target: str  # the event, imaging code, action code or state it counts
    code: str
    amount: float
    quantity: float
    price_year: int
    source: str
    derived: bool

    @property
    def unit_cost(self) -> float:
        """What one trigger costs (amount times quantity)."""
        return self.amount * self.quantity


@attrs.frozen
class Effect:
    """An effect the cost-effectiveness analysis weighs against cost, and its willingness-to-pay range."""

    measure: str
    text: str
    better: str
    wtp: tuple[float, ...]
    wtp_unit: str

    def sign(self) -> float:
        return 1.0 if self.better == "higher" else -1.0


@attrs.frozen
class CostTable:
    file: str
    title: str
    currency: str
    price_year: int
    perspective: str
    horizon_days: float
    reference_policy: str
    effects: tuple[Effect, ...]
    items: tuple[CostItem, ...]

    def item(self, item_id: str) -> CostItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)


def _fail(file: str, entry: str, problem: str) -> NoReturn:
    raise CostError(f"{file}: {entry}: {problem}")


def _table(file: str, entry: str, value: Any, allowed: tuple[str, ...], needed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(file, entry, f"expected a table, found {type(value).__name__}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        _fail(file, entry, f"unknown key {unknown[0]!r} (allowed: {', '.join(allowed)})")
    for key in needed:
        if key not in value:
            _fail(file, entry, f"missing {key!r}")
    return value


def _text(file: str, entry: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(file, entry, f"expected a non-empty string, found {value!r}")
    return str(value)


def _positive(file: str, entry: str, value: Any, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or abs(value) == float("inf"):
        _fail(file, entry, f"expected a finite number, found {value!r}")
    if value < 0 or (value == 0 and not zero):
        _fail(file, entry, f"must be greater than {'or equal to ' if zero else ''}0, found {value!r}")
    return float(value)


def _wtp(file: str, entry: str, value: Any) -> tuple[tuple[float, ...], str]:
    table = _table(file, entry, value, ("low", "high", "step", "unit"), ("low", "high", "step", "unit"))
    low, high = (
        _positive(file, f"{entry}.low", table["low"], zero=True),
        _positive(file, f"{entry}.high", table["high"]),
    )
    step = _positive(file, f"{entry}.step", table["step"])
    if high <= low or (high - low) / step > 10_000:
        _fail(file, entry, "needs low < high and at most 10,000 steps")
    count = round((high - low) / step) + 1
    return tuple(low + i * step for i in range(count)), _text(file, f"{entry}.unit", table["unit"])


def parse(data: Mapping[str, Any], file: str, measures: tuple[str, ...]) -> CostTable:
    """Check a decoded cost table; ``measures`` are the per-patient measures an effect may name."""
    root = _table(file, "(file)", data, ("meta", "analysis", "items"), ("meta", "analysis", "items"))
    meta = _table(file, "meta", root["meta"], ("title", "version", "currency", "price_year", "perspective"), ())
    currency = _text(file, "meta.currency", meta.get("currency"))
    price_year = meta.get("price_year")
    if not isinstance(price_year, int) or isinstance(price_year, bool) or not 1900 < price_year < 2200:
        _fail(file, "meta.price_year", f"expected a year, found {price_year!r}")
    analysis = _table(file, "analysis", root["analysis"], ("horizon_days", "reference_policy", "effects"), ())
    horizon = _table(
        file, "analysis.horizon_days", analysis.get("horizon_days"), ("value", "unit", "source", "derived"), ("value",)
    )
    effects = []
    raw_effects = analysis.get("effects")
    if not isinstance(raw_effects, list) or not raw_effects:
        _fail(file, "analysis.effects", "expected a non-empty array of tables")
    for i, raw in enumerate(raw_effects):
        entry = f"analysis.effects[{i}]"
        table = _table(file, entry, raw, ("measure", "text", "better", "wtp"), ("measure", "text", "wtp"))
        measure = _text(file, f"{entry}.measure", table["measure"])
        if measure not in measures:
            _fail(file, f"{entry}.measure", f"unknown measure {measure!r} (known: {', '.join(measures)})")
        better = table.get("better", "higher")
        if better not in MEASURE_DIRECTIONS:
            _fail(file, f"{entry}.better", f"expected 'higher' or 'lower', found {better!r}")
        wtp, unit = _wtp(file, f"{entry}.wtp", table["wtp"])
        effects.append(Effect(measure, _text(file, f"{entry}.text", table["text"]), str(better), wtp, unit))

    items = []
    raw_items = root["items"]
    if not isinstance(raw_items, Mapping) or not raw_items:
        _fail(file, "items", "expected at least one cost item")
    for item_id, raw in raw_items.items():
        entry = f"items.{item_id}"
        table = _table(file, entry, raw, ("text", "on", "code", "amount", "quantity"), ("text", "on", "code", "amount"))
        on = _table(file, f"{entry}.on", table["on"], TRIGGERS, ())
        if len(on) != 1:
            _fail(file, f"{entry}.on", f"name exactly one of {', '.join(TRIGGERS)}")
        trigger, target = next(iter(on.items()))
        amount = _table(
            file,
            f"{entry}.amount",
            table["amount"],
            ("value", "currency", "price_year", "source", "derived", "uncertainty"),
            ("value", "currency", "price_year", "source"),
        )
        if amount["currency"] != currency:
            _fail(file, f"{entry}.amount.currency", f"{amount['currency']!r} is not the table's currency {currency!r}")
        year = amount["price_year"]
        if not isinstance(year, int) or isinstance(year, bool) or not 1900 < year <= price_year:
            _fail(file, f"{entry}.amount.price_year", f"expected a year up to {price_year}, found {year!r}")
        quantity = 1.0
        if "quantity" in table:
            q = _table(
                file,
                f"{entry}.quantity",
                table["quantity"],
                ("value", "unit", "source", "derived", "uncertainty"),
                ("value", "source"),
            )
            quantity = _positive(file, f"{entry}.quantity.value", q["value"])
        derived = amount.get("derived", False)
        if not isinstance(derived, bool):
            _fail(file, f"{entry}.amount.derived", "expected true or false")
        items.append(
            CostItem(
                id=str(item_id),
                text=_text(file, f"{entry}.text", table["text"]),
                trigger=str(trigger),
                target=_text(file, f"{entry}.on.{trigger}", target),
                code=_text(file, f"{entry}.code", table["code"]),
                amount=_positive(file, f"{entry}.amount.value", amount["value"], zero=True),
                quantity=quantity,
                price_year=int(year),
                source=_text(file, f"{entry}.amount.source", amount["source"]),
                derived=derived,
            )
        )
    return CostTable(
        file=file,
        title=_text(file, "meta.title", meta.get("title")),
        currency=currency,
        price_year=int(price_year),
        perspective=_text(file, "meta.perspective", meta.get("perspective")),
        horizon_days=_positive(file, "analysis.horizon_days.value", horizon["value"]),
        reference_policy=_text(file, "analysis.reference_policy", analysis.get("reference_policy")),
        effects=tuple(effects),
        items=tuple(items),
    )


def decode(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CostError(f"{file}: not valid TOML: {err}") from None


def read_text(path: str | Path | None = None) -> tuple[str, str]:
    target = Path(path) if path is not None else DEFAULT_COSTS
    name = target.name if path is None else str(path)
    try:
        return target.read_text(encoding="utf-8"), name
    except (OSError, UnicodeDecodeError) as err:
        raise CostError(f"{name}: cannot read: {getattr(err, 'strerror', None) or err}") from None


def check_against(table: CostTable, pathway: Pathway, policies: tuple[str, ...]) -> None:
    """Every trigger must name something of the pathway; raises CostError."""
    imaging = {r.code for s in pathway.states for r in s.recommendations if r.kind == "imaging"}
    for item in table.items:
        entry = f"items.{item.id}.on.{item.trigger}"
        if item.trigger == "episode" and item.target != "each":
            _fail(table.file, entry, f"expected 'each' (every episode of a course: a visit), found {item.target!r}")
        if item.trigger == "event" and item.target not in pathway.event_names:
            _fail(table.file, entry, f"{item.target!r} is not an event of pathway {pathway.id!r}")
        if item.trigger == "imaging" and item.target not in imaging:
            _fail(table.file, entry, f"{item.target!r} is not an imaging recommendation of pathway {pathway.id!r}")
        if item.trigger == "state" and item.target not in pathway.state_ids:
            _fail(table.file, entry, f"{item.target!r} is not a state of pathway {pathway.id!r}")
        if item.trigger == "action":
            recs = [
                r for s in pathway.states for r in s.recommendations if r.code == item.target and r.kind == "action"
            ]
            if not recs:
                _fail(table.file, entry, f"{item.target!r} is not an action recommendation of pathway {pathway.id!r}")
            if any(r.when is not None for r in recs):
                _fail(table.file, entry, f"{item.target!r} is recommended conditionally somewhere: price its state")
    if table.reference_policy not in policies:
        _fail(table.file, "analysis.reference_policy", f"unknown policy {table.reference_policy!r}")
