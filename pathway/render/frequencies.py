"""Reading how often a cohort took each transition, for the cohort-flow diagram.

Two shapes of JSON are accepted:

* the simulator's summary: ``{"patients": N, "transitions": [{"transition": id, "source": s,
  "target": t, "count": times_taken, "patients": patients_who_took_it}, ...], ...}``
  (other keys are ignored; without ``patients`` on every row, shares are relative to the busiest edge);
* a plain mapping ``{"source->target": count, ...}``: shares are relative to the busiest edge.

The file is untrusted input: every entry is checked against the loaded pathway and a
problem raises FrequencyError with one line naming the file and the entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from pathway.limits import MAX_SUMMARY_BYTES, TooLarge, read_bounded
from pathway.model import Pathway

ARROW = "->"


class FrequencyError(ValueError):
    """A summary that cannot be drawn; str() is one line naming the file and the entry."""


@attrs.frozen
class FrequencyRow:
    transition: str | None
    source: str
    target: str
    count: int
    patients: int | None = None


@attrs.frozen
class Frequencies:
    cohort: int | None
    rows: tuple[FrequencyRow, ...]


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FrequencyError(f"{where}: expected a non-negative integer, found {json.dumps(value)[:40]}")
    return value


def _name(value: Any, where: str, known: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str):
        raise FrequencyError(f"{where}: expected a {what} id (string), found {json.dumps(value)[:40]}")
    if value not in known:
        raise FrequencyError(f"{where}: unknown {what} {value!r}")
    return value


def parse_frequencies(data: Any, pathway: Pathway, file: str = "<summary>") -> Frequencies:
    if not isinstance(data, dict):
        raise FrequencyError(f"{file}: expected a JSON object, found {type(data).__name__}")
    if "transitions" in data:
        return _summary(data, pathway, file)
    return _mapping(data, pathway, file)


def _summary(data: dict[str, Any], pathway: Pathway, file: str) -> Frequencies:
    cohort = _count(data.get("patients"), f"{file}: patients") if "patients" in data else None
    rows_data = data["transitions"]
    if not isinstance(rows_data, list):
        raise FrequencyError(f"{file}: transitions: expected a list, found {type(rows_data).__name__}")
    states = pathway.state_ids
    taken = {(t.id, t.source): t.target for t in pathway.transitions}
    rows = []
    for index, item in enumerate(rows_data):
        where = f"{file}: transitions[{index}]"
        if not isinstance(item, dict):
            raise FrequencyError(f"{where}: expected an object, found {type(item).__name__}")
        for key in ("transition", "source", "target", "count"):
            if key not in item:
                raise FrequencyError(f"{where}: missing {key!r}")
        transition = item["transition"]
        if not isinstance(transition, str):
            raise FrequencyError(f"{where}.transition: expected a transition id (string)")
        source = _name(item["source"], f"{where}.source", states, "state")
        target = _name(item["target"], f"{where}.target", states, "state")
        if (transition, source) not in taken:
            raise FrequencyError(f"{where}: no transition {transition!r} from {source!r} in the definition")
        if taken[(transition, source)] != target:
            raise FrequencyError(
                f"{where}.target: transition {transition!r} from {source!r} goes to "
                f"{taken[(transition, source)]!r}, not {target!r}"
            )
        count = _count(item["count"], f"{where}.count")
        patients = _count(item["patients"], f"{where}.patients") if "patients" in item else None
        if cohort is not None and patients is not None and patients > cohort:
            raise FrequencyError(f"{where}.patients: {patients} is more than the cohort of {cohort}")
        rows.append(FrequencyRow(transition, source, target, count, patients))
    return Frequencies(cohort, tuple(rows))


def _mapping(data: dict[str, Any], pathway: Pathway, file: str) -> Frequencies:
    if not data:
        raise FrequencyError(f"{file}: no transitions (expected 'transitions' or 'source->target' keys)")
    pairs = {(t.source, t.target) for t in pathway.transitions}
    rows = []
    for key, value in data.items():
        where = f"{file}: {key}"
        source, arrow, target = key.partition(ARROW)
        if not arrow:
            raise FrequencyError(f"{where}: expected a 'source->target' key or a 'transitions' list")
        source, target = source.strip(), target.strip()
        _name(source, where, pathway.state_ids, "state")
        _name(target, where, pathway.state_ids, "state")
        if (source, target) not in pairs:
            raise FrequencyError(f"{where}: no transition from {source!r} to {target!r} in the definition")
        rows.append(FrequencyRow(None, source, target, _count(value, where)))
    return Frequencies(None, tuple(rows))


def read_frequencies(path: str | Path, pathway: Pathway) -> Frequencies:
    file = str(path)
    try:
        text = read_bounded(path, MAX_SUMMARY_BYTES).decode("utf-8")
    except TooLarge as err:
        raise FrequencyError(f"{file}: {err}") from None
    except OSError as err:
        raise FrequencyError(f"{file}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise FrequencyError(f"{file}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise FrequencyError(f"{file}: line {err.lineno}: not valid JSON: {err.msg} at column {err.colno}") from None
    except RecursionError:
        raise FrequencyError(f"{file}: not valid JSON: nested too deeply") from None
    return parse_frequencies(data, pathway, file)
