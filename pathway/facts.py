"""Folding accepted events into the clinical context that guards read.

Pure functions over frozen values: the engine keeps one Facts per patient and
replaces it after every accepted event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs

from pathway.attrs_repr import AttrsRepr
from pathway.events import Event

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@attrs.frozen(repr=False)
class Facts(AttrsRepr):
    """What has happened to one patient so far (accepted events only)."""

    last_at: Mapping[str, datetime] = _EMPTY
    counts: Mapping[str, int] = _EMPTY
    entered_at: Mapping[str, datetime] = _EMPTY


def record(facts: Facts, event: Event, entered: Iterable[str] = ()) -> Facts:
    """Facts after ``event`` was accepted and the patient entered the ``entered`` states."""
    counts = dict(facts.counts)
    counts[event.name] = counts.get(event.name, 0) + 1
    last_at = dict(facts.last_at)
    last_at[event.name] = event.at
    entered_at = dict(facts.entered_at)
    for state in entered:
        # therapy "began" at the first entry: a return to a state does not restart its clock
        entered_at.setdefault(state, event.at)
    return Facts(MappingProxyType(last_at), MappingProxyType(counts), MappingProxyType(entered_at))


def _hours(later: datetime, earlier: datetime | None) -> float | None:
    return None if earlier is None else (later - earlier).total_seconds() / 3600.0


@attrs.frozen(repr=False)
class EventScope(AttrsRepr):
    """The guards' view: the facts before this event plus the event's own fields."""

    facts: Facts
    event: Event

    @property
    def event_name(self) -> str:
        return self.event.name

    def field(self, name: str) -> Any:
        return self.event.fields.get(name)

    def hours_since(self, event: str) -> float | None:
        return _hours(self.event.at, self.facts.last_at.get(event))

    def hours_since_entered(self, state: str) -> float | None:
        return _hours(self.event.at, self.facts.entered_at.get(state))

    def count(self, event: str) -> int:
        return self.facts.counts.get(event, 0)

    def occurred(self, event: str) -> bool:
        return event in self.facts.counts
