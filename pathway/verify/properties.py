"""The catalogue of safety properties: loading properties.toml and binding it to a pathway.

The catalogue is clinical content (state ids, red-flag findings, thresholds), so it
lives in a data file next to this module; this code only knows the property kinds.
Conditions are parsed by pathway.guards (never evaluated as Python) and resolved
against the pathway being checked: its event fields, states and events. They do not
read the definition's own predicates or parameters, so a wrong definition cannot
bend the property meant to catch it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import attrs

from pathway import guards, limits, precompiled
from pathway.attrs_repr import AttrsRepr
from pathway.model import Pathway

DEFAULT_PROPERTIES = Path(__file__).parent / "properties.toml"

EVENT_KINDS = (
    "escalate",
    "never_leads_to",
    "route",
    "entered_only_via",
    "entry_recommends",
    "transient",
    "absorbing",
    "complete",
)
"""Kinds checked on every single event, by the runtime monitor and the explorer alike."""
STATIC_KINDS = ("imaging_rating", "recommends", "cited")
"""Kinds checked on the definition itself."""
GRAPH_KINDS = ("deterministic", "reachable", "can_finish", "bounded")
"""Kinds that need every reachable situation: only the explorer checks them."""
TRACE_KINDS = ("trace_consistent", "named_courses")
"""Kinds that only make sense on reported traces: only the monitor checks them (named_courses on a whole stream)."""
KINDS = EVENT_KINDS + STATIC_KINDS + GRAPH_KINDS + TRACE_KINDS
# the options each kind reads: a misspelt option must fail, not silently weaken its property
OPTIONS: dict[str, tuple[str, ...]] = {
    "escalate": ("when", "to"),
    "never_leads_to": ("when", "states"),
    "entry_recommends": ("state", "when", "items", "no_other_imaging"),
    "can_finish": ("without",),
    "entered_only_via": ("when", "state", "via"),
    "imaging_rating": ("states", "rating"),
    "transient": ("states", "rating"),
    "recommends": ("plan", "state", "items"),
    "route": ("state", "rules"),
}
RULE_KEYS = ("on", "when", "to", "reject")


class PropertyError(ValueError):
    """A broken properties file; str() is one line naming the file, the entry and the problem."""


class UnboundError(ValueError):
    """The property names something the pathway under check does not have."""


@attrs.frozen(repr=False)
class Property(AttrsRepr):
    """One entry of the catalogue, as written."""

    id: str
    statement: str
    cite: str
    kind: str
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(repr=False)
class Condition(AttrsRepr):
    name: str
    expr: str
    text: str
    cite: str


@attrs.frozen(repr=False)
class Catalogue(AttrsRepr):
    title: str
    cite: str
    conditions: tuple[Condition, ...]
    properties: tuple[Property, ...]
    source: str = ""


# ---------------------------------------------------------------- loading


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    file = Path(path) if path is not None else DEFAULT_PROPERTIES
    return _load_cached(str(file))


@cache
def _load_cached(path: str) -> Catalogue:
    name = Path(path).name
    try:
        raw = limits.read_bounded(path)
    except limits.TooLarge as err:
        raise PropertyError(f"{name}: cannot read: {err}") from None
    except OSError as err:
        raise PropertyError(f"{name}: cannot read: {err.strerror or err}") from None
    data = precompiled.parsed(raw)  # the shipped catalogue, byte for byte: parsed ahead; still validated below
    if data is None:
        import tomllib  # here, not at the top: a run on the shipped catalogue never needs it (start-up)

        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise PropertyError(f"{name}: not valid TOML: {err}") from None
    return parse_catalogue(data, name)


def _need(table: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise PropertyError(f"{where}: '{key}' must be a non-empty {kind.__name__}")
    return value


def parse_catalogue(data: Mapping[str, Any], name: str = "properties.toml") -> Catalogue:
    head = data.get("catalogue", {})
    unknown_sections = sorted(set(data) - {"catalogue", "conditions", "properties"})
    if unknown_sections:
        raise PropertyError(f"{name}: unknown section {unknown_sections[0]!r}")
    if not isinstance(head, Mapping) or set(head) - {"pathway", "title", "cite"}:
        raise PropertyError(f"{name}: catalogue: only pathway, title and cite are allowed")
    conditions = []
    for cond_name, body in data.get("conditions", {}).items():
        where = f"{name}: conditions.{cond_name}"
        if not isinstance(body, Mapping):
            raise PropertyError(f"{where}: expected a table")
        expr = _need(body, "expr", str, where)
        try:
            guards.parse(expr)
        except guards.GuardSyntaxError as err:
            raise PropertyError(f"{where}: {err}") from None
        conditions.append(Condition(cond_name, expr, body.get("text", expr), _need(body, "cite", str, where)))
    properties = []
    seen: set[str] = set()
    for index, body in enumerate(data.get("properties", [])):
        where = f"{name}: properties[{index}]"
        if not isinstance(body, Mapping):
            raise PropertyError(f"{where}: expected a table")
        prop_id = _need(body, "id", str, where)
        if limits.bad_id(prop_id):  # a counterexample is written to <id>.jsonl
            raise PropertyError(f"{where}: id {prop_id[:80]!r} {limits.bad_id(prop_id)}")
        where = f"{name}: properties[{index}] ({prop_id})"
        if prop_id in seen:
            raise PropertyError(f"{where}: id used twice")
        seen.add(prop_id)
        kind = _need(body, "kind", str, where)
        if kind not in KINDS:
            raise PropertyError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        options = {k: v for k, v in body.items() if k not in ("id", "statement", "cite", "kind")}
        allowed = OPTIONS.get(kind, ())
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            known = ", ".join(allowed) or "none"
            raise PropertyError(f"{where}: unknown key {unknown[0]!r} for kind {kind!r} (options: {known})")
        for rule_index, rule in enumerate(options.get("rules", [])):
            extra = sorted(set(rule) - set(RULE_KEYS)) if isinstance(rule, Mapping) else []
            if extra:
                raise PropertyError(f"{where}: rules[{rule_index}]: unknown key {extra[0]!r} ({', '.join(RULE_KEYS)})")
        properties.append(
            Property(prop_id, _need(body, "statement", str, where), _need(body, "cite", str, where), kind, options)
        )
    if not properties:
        raise PropertyError(f"{name}: no properties")
    return Catalogue(
        title=str(head.get("title", "Safety properties")),
        cite=str(head.get("cite", "")),
        conditions=tuple(conditions),
        properties=tuple(properties),
        source=name,
    )


# ---------------------------------------------------------------- binding to a pathway


class Resolver:
    """Resolves property conditions against one pathway's vocabulary."""

    def __init__(self, pathway: Pathway, catalogue: Catalogue) -> None:
        self.pathway = pathway
        self.sources = {c.name: c for c in catalogue.conditions}
        self.resolved: dict[str, guards.Expr] = {}
        self.fields: dict[str, Any] = {}
        for spec in pathway.events:
            for field_spec in spec.fields:
                self.fields.setdefault(field_spec.name, field_spec)

    def condition(self, source: str, resolving: tuple[str, ...] = ()) -> guards.Expr:
        try:
            tree = guards.parse(source)
        except guards.GuardSyntaxError as err:
            raise UnboundError(f"condition {source!r}: {err}") from None
        return guards.transform(tree, lambda node: self._resolve(node, source, resolving))

    def named(self, name: str, resolving: tuple[str, ...] = ()) -> guards.Expr:
        if name not in self.resolved:
            if name in resolving:
                raise UnboundError(f"condition {name!r} refers to itself")
            cond = self.sources[name]
            expr = self.condition(cond.expr, (*resolving, name))
            self.resolved[name] = guards.PredicateRef(name, expr, cond.text)
        return self.resolved[name]

    def _resolve(self, node: guards.Expr, source: str, resolving: tuple[str, ...]) -> guards.Expr | None:
        pathway = self.pathway
        if isinstance(node, guards.Call):
            if node.func == "hours_since_entered":
                self.state(node.arg)
            elif node.arg not in pathway.event_names:
                raise UnboundError(f"condition {source!r}: the pathway has no event {node.arg!r}")
            return None
        if isinstance(node, guards.InList | guards.Compare):
            self._check_literals(node, source)
            return None
        if not isinstance(node, guards.Name):
            return None
        name = node.name
        if name == "event":
            return guards.EventName()
        if name in self.sources:
            return self.named(name, resolving)
        if name in self.fields:
            return guards.Field(name, self.fields[name].words())
        raise UnboundError(f"condition {source!r}: unknown name {name!r} (not a condition or an event field)")

    def _check_literals(self, node: guards.Expr, source: str) -> None:
        """A string compared with an enum field or `event` must be one of its values: catches typos."""
        if isinstance(node, guards.Compare) and isinstance(node.right, guards.Const):
            left, values = node.left, (node.right.value,)
        elif isinstance(node, guards.InList):
            left, values = node.left, node.values
        else:
            return
        # the tree is rebuilt bottom up, so the left side is already resolved
        if isinstance(left, guards.EventName):
            name, allowed = "event", set(self.pathway.event_names)
        elif isinstance(left, guards.Field) and self.fields[left.name].type == "enum":
            name = left.name
            allowed = {v for spec in self.pathway.events for f in spec.fields if f.name == left.name for v in f.values}
        else:
            return
        for value in values:
            if value not in allowed:
                raise UnboundError(f"condition {source!r}: {value!r} is not a value of {name!r}")

    def state(self, state_id: Any) -> str:
        if not isinstance(state_id, str) or state_id not in self.pathway.state_ids:
            raise UnboundError(f"the pathway has no state {state_id!r}")
        return state_id

    def event(self, name: Any) -> str:
        if not isinstance(name, str) or name not in self.pathway.event_names:
            raise UnboundError(f"the pathway has no event {name!r}")
        return name


@attrs.frozen(repr=False)
class Rule(AttrsRepr):
    """One row of a route: the first row whose events and condition match fixes the outcome."""

    events: tuple[str, ...]  # empty: any event
    when: guards.Expr | None
    when_text: str
    reject: bool
    to: tuple[str, ...]  # states entered, in order (empty when reject)

    def describe(self) -> str:
        on = "/".join(self.events) if self.events else ""
        when = f"when {self.when_text}" if self.when is not None else ""
        head = " ".join(part for part in (on, when) if part) or "any other event"
        outcome = "refused" if self.reject else " → ".join(self.to)
        return f"{head} → {outcome}"


@attrs.frozen(repr=False)
class Bound(AttrsRepr):
    """A property resolved against one pathway, ready to check (or why it cannot be)."""

    prop: Property
    problem: str = ""
    when: guards.Expr | None = None
    when_text: str = ""
    state: str = ""
    via: str = ""
    to: str = ""
    states: tuple[str, ...] = ()
    rating: str = ""
    rules: tuple[Rule, ...] = ()
    items: tuple[tuple[str, str, str | None], ...] = ()  # (state, code, rating or None)
    no_other_imaging: bool = False

    @property
    def id(self) -> str:
        return self.prop.id

    @property
    def kind(self) -> str:
        return self.prop.kind


def _names(value: Any, what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise UnboundError(f"'{what}' must be a name or a list of names")
    return tuple(items)


def _item(state: str, item: Any) -> tuple[str, str, str | None]:
    if not isinstance(item, Mapping) or not isinstance(item.get("code"), str):
        raise UnboundError("each item needs a 'code'")
    rating = item.get("rating")
    return (state, str(item["code"]), None if rating is None else str(rating))


def _bind_one(prop: Property, resolver: Resolver) -> Bound:
    opts = prop.options
    kind = prop.kind

    def cond(key: str, required: bool = True) -> tuple[guards.Expr | None, str]:
        source = opts.get(key)
        if source is None:
            if required:
                raise UnboundError(f"missing '{key}'")
            return None, ""
        if not isinstance(source, str):
            raise UnboundError(f"'{key}' must be a condition string")
        expr = resolver.condition(source)
        return expr, guards.words(expr)

    if kind == "escalate":
        when, text = cond("when")
        return Bound(prop, when=when, when_text=text, to=resolver.state(opts.get("to")))
    if kind == "never_leads_to":
        when, text = cond("when")
        states = tuple(resolver.state(s) for s in _names(opts.get("states"), "states"))
        return Bound(prop, when=when, when_text=text, states=states)
    if kind == "entry_recommends":
        when, text = cond("when")
        state = resolver.state(opts.get("state"))
        listed = opts.get("items", [])
        if not isinstance(listed, list):
            raise UnboundError("'items' must be a list of items")
        return Bound(
            prop,
            when=when,
            when_text=text,
            state=state,
            items=tuple(_item(state, item) for item in listed),
            no_other_imaging=bool(opts.get("no_other_imaging", False)),
        )
    if kind == "can_finish":
        when, text = cond("without", required=False)
        return Bound(prop, when=when, when_text=text)
    if kind == "entered_only_via":
        when, text = cond("when")
        return Bound(
            prop,
            when=when,
            when_text=text,
            state=resolver.state(opts.get("state")),
            via=resolver.state(opts.get("via")),
        )
    if kind in ("imaging_rating", "transient"):
        states = tuple(resolver.state(s) for s in _names(opts.get("states"), "states"))
        return Bound(prop, states=states, rating=str(opts.get("rating", "")))
    if kind == "recommends":
        plan = opts.get("plan") if "plan" in opts else {opts.get("state"): opts.get("items", [])}
        if not isinstance(plan, Mapping):
            raise UnboundError("'plan' must be a table of state = [items]")
        items: list[tuple[str, str, str | None]] = []
        for state_id, listed in plan.items():
            state = resolver.state(state_id)
            items += [_item(state, item) for item in (listed if isinstance(listed, list) else [listed])]
        return Bound(prop, items=tuple(items))
    if kind == "route":
        state = resolver.state(opts.get("state"))
        rules = []
        for row in opts.get("rules", []):
            if not isinstance(row, Mapping):
                raise UnboundError("each rule must be a table")
            events = tuple(resolver.event(e) for e in _names(row.get("on", []), "on"))
            source = row.get("when")
            when = resolver.condition(source) if isinstance(source, str) else None
            reject = bool(row.get("reject", False))
            to = () if reject else tuple(resolver.state(s) for s in _names(row.get("to"), "to"))
            if not reject and not to:
                raise UnboundError("a rule needs 'to' or 'reject = true'")
            rules.append(Rule(events, when, guards.words(when) if when is not None else "", reject, to))
        if not rules:
            raise UnboundError("a route needs rules")
        return Bound(prop, state=state, rules=tuple(rules))
    return Bound(prop)


def bind(catalogue: Catalogue, pathway: Pathway) -> tuple[Bound, ...]:
    """Every property resolved against ``pathway``; one the pathway cannot support carries its problem."""
    resolver = Resolver(pathway, catalogue)
    bound = []
    for prop in catalogue.properties:
        try:
            bound.append(_bind_one(prop, resolver))
        except UnboundError as err:
            bound.append(Bound(prop, problem=f"cannot be checked on this definition: {err}"))
    return tuple(bound)


def condition_exprs(bound: Iterable[Bound]) -> list[guards.Expr]:
    """Every condition the properties read: the explorer abstracts over these as well as the guards."""
    exprs: list[guards.Expr] = []
    for item in bound:
        if item.when is not None:
            exprs.append(item.when)
        exprs.extend(rule.when for rule in item.rules if rule.when is not None)
    return exprs


def cite_text(pathway: Pathway, cite: str) -> str:
    """A property's citation as a reader sees it; resolved through the pathway's citations when it can be."""
    parts = []
    for piece in cite.split(";"):
        ref, _, where = piece.strip().partition(":")
        try:
            title = pathway.citation(ref.strip()).title
        except KeyError:
            parts.append(piece.strip())
            continue
        parts.append(f"{title}: {where.strip()}" if where.strip() else title)
    return "; ".join(parts)
