"""Small builders for tests: courses written as hours after a fixed start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pathway.engine import run_course
from pathway.events import Event, parse_record
from pathway.loader import load
from pathway.model import Pathway
from pathway.trace import Trace

START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def at(hours: float) -> str:
    return (START + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def event(name: str, hours: float, pathway: Pathway | None = None, line: int = 0, **fields: Any) -> Event:
    parsed = parse_record({"event": name, "at": at(hours), **fields}, line, pathway or load())
    assert isinstance(parsed, Event), str(parsed)
    return parsed


def course(*items: tuple[str, float, dict[str, Any]] | tuple[str, float], pathway: Pathway | None = None) -> Trace:
    """Run a course given as (event, hours[, fields]) tuples; lines are numbered from 1."""
    pathway = pathway or load()
    events = []
    for line, item in enumerate(items, start=1):
        name, hours = item[0], item[1]
        fields = item[2] if len(item) > 2 else {}  # type: ignore[misc]
        events.append(event(name, hours, pathway, line, **fields))
    return run_course(pathway, events)


PUNCTURE = ("dural_puncture", 0.0, {"procedure": "lumbar_puncture"})


def presented(hours: float = 24.0, **fields: Any) -> tuple[str, float, dict[str, Any]]:
    return ("presentation", hours, {"headache": "orthostatic", **fields})
