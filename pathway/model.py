"""Value types of a loaded pathway definition.

Everything here is frozen data: the clinical content comes from the definition
file and nothing in this module knows anything clinical.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from pathway.attrs_repr import AttrsRepr
from pathway.guards import Expr, compile_expr, words

FieldType = Literal["enum", "int", "number", "bool", "string"]
StateKind = Literal["initial", "active", "final"]
RecommendationKind = Literal["imaging", "action"]

RATINGS = ("usually_appropriate", "may_be_appropriate", "usually_not_appropriate")
RRLS = ("O", "☢", "☢☢", "☢☢☢", "☢☢☢☢", "☢☢☢☢☢")


@attrs.frozen(repr=False)
class Citation(AttrsRepr):
    id: str
    title: str
    source: str
    quality: str = ""


@attrs.frozen(repr=False)
class Cite(AttrsRepr):
    """A reference to a citation plus where in it (section, table, pitfall)."""

    ref: str
    where: str = ""

    def __str__(self) -> str:
        return f"{self.ref}: {self.where}" if self.where else self.ref


@attrs.frozen(repr=False)
class Parameter(AttrsRepr):
    name: str
    value: float | int | str | bool
    unit: str
    text: str
    cite: Cite
    derived: bool = False

    def display(self) -> str:
        if isinstance(self.value, bool) or not self.unit:
            return str(self.value)
        return f"{self.value} {self.unit}"


@attrs.frozen(repr=False)
class FieldSpec(AttrsRepr):
    name: str
    type: FieldType
    required: bool = False
    values: tuple[str, ...] = ()
    label: str = ""
    minimum: float | None = None
    maximum: float | None = None

    def words(self) -> str:
        return self.label or self.name.replace("_", " ")


@attrs.frozen(repr=False)
class EventSpec(AttrsRepr):
    name: str
    label: str
    fields: tuple[FieldSpec, ...]
    cite: Cite

    def field(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None


@attrs.frozen(repr=False)
class Predicate(AttrsRepr):
    name: str
    expr: Expr
    text: str
    cite: Cite
    text_not: str = ""


@attrs.frozen(repr=False)
class Recommendation(AttrsRepr):
    """One item of a state's care plan. ``when`` limits it to entries by an event whose fields meet it."""

    code: str
    kind: RecommendationKind
    text: str
    cite: Cite
    rating: str | None = None
    rrl: str | None = None
    note: str = ""
    when: Expr | None = None
    when_source: str = ""
    derived: bool = False  # the rating is read from prose, not from an ACR table
    rrl_cite: Cite | None = None

    @property
    def condition_words(self) -> str:
        """'' for an unconditional item, else its condition as a reader sees it."""
        return words(self.when) if self.when is not None else ""

    def applies(self, fields: Mapping[str, Any]) -> bool:
        """Whether the item applies to a course that entered its state with an event carrying ``fields``."""
        return self.when is None or bool(_compiled(self.when)(_FieldsOnly(fields)))


_compiled = functools.lru_cache(maxsize=1024)(compile_expr)  # trees are frozen, so hashable


@attrs.frozen(repr=False)
class _FieldsOnly(AttrsRepr):
    """The scope of a recommendation's condition: the loader allows it to read event fields only."""

    fields: Mapping[str, Any]

    @property
    def event_name(self) -> str:
        return ""

    def field(self, name: str) -> Any:
        return self.fields.get(name)

    def hours_since(self, event: str) -> float | None:
        return None

    def hours_since_entered(self, state: str) -> float | None:
        return None

    def count(self, event: str) -> int:
        return 0

    def occurred(self, event: str) -> bool:
        return False


@attrs.frozen(repr=False)
class State(AttrsRepr):
    id: str
    kind: StateKind
    title: str
    text: str
    group: str
    cite: Cite
    recommendations: tuple[Recommendation, ...] = ()
    gist: str = ""

    @property
    def final(self) -> bool:
        return self.kind == "final"

    def recommendations_for(self, fields: Mapping[str, Any]) -> tuple[Recommendation, ...]:
        """The items that apply to a course that entered this state with an event carrying ``fields``."""
        return tuple(rec for rec in self.recommendations if rec.applies(fields))

    @property
    def unconditional(self) -> tuple[Recommendation, ...]:
        return tuple(rec for rec in self.recommendations if rec.when is None)


@attrs.frozen(repr=False)
class Transition(AttrsRepr):
    """One guarded transition. ``events`` empty means it fires on entering ``source``."""

    id: str
    source: str
    events: tuple[str, ...]
    target: str
    guard: Expr | None
    guard_source: str
    reason: str
    cite: Cite
    label: str = ""

    @property
    def immediate(self) -> bool:
        return not self.events

    @property
    def guard_words(self) -> str:
        """The condition as a reader sees it: the definition's label, else the guard in words."""
        return self.label or words(self.guard)


@attrs.frozen(repr=False)
class Rejection(AttrsRepr):
    """An explicit refusal of an event in a state, with the reason reported to the user."""

    id: str
    source: str
    events: tuple[str, ...]
    guard: Expr | None
    guard_source: str
    reason: str
    cite: Cite


@attrs.frozen(repr=False)
class TimeLimits(AttrsRepr):
    """Plausible event times, from the definition's [limits]: a time outside them is a typing
    error (0226 for 2026) and is refused as malformed. None: that bound is not checked."""

    first_year: int | None = None
    last_year: int | None = None
    max_utc_offset_minutes: int | None = None
    cite: Cite | None = None


@attrs.frozen(cache_hash=True, repr=False)  # machines and tables are cached per pathway: hash it once
class Pathway(AttrsRepr):
    id: str
    title: str
    version: str
    description: str
    cite: Cite
    initial: str
    citations: tuple[Citation, ...]
    parameters: tuple[Parameter, ...]
    events: tuple[EventSpec, ...]
    predicates: tuple[Predicate, ...]
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    rejections: tuple[Rejection, ...]
    also_cite: tuple[Cite, ...] = ()  # secondary sources of the whole pathway, after the headline ``cite``
    time_limits: TimeLimits = TimeLimits()
    source_path: str = ""
    source_text: str = ""  # the definition as read, so worker processes run exactly this one

    def state(self, state_id: str) -> State:
        for state in self.states:
            if state.id == state_id:
                return state
        raise KeyError(state_id)

    def event(self, name: str) -> EventSpec:
        for spec in self.events:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def parameter(self, name: str) -> Parameter:
        for param in self.parameters:
            if param.name == name:
                return param
        raise KeyError(name)

    def citation(self, ref: str) -> Citation:
        for citation in self.citations:
            if citation.id == ref:
                return citation
        raise KeyError(ref)

    @property
    def state_ids(self) -> tuple[str, ...]:
        return tuple(state.id for state in self.states)

    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.events)

    @property
    def final_state_ids(self) -> tuple[str, ...]:
        return tuple(state.id for state in self.states if state.final)

    def transitions_from(self, state_id: str) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if t.source == state_id)

    def cite_text(self, cite: Cite) -> str:
        """The citation as a reader sees it: short title plus where in the source."""
        citation = self.citation(cite.ref)
        return f"{citation.title}: {cite.where}" if cite.where else citation.title
