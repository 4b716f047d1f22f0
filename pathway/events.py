"""The event stream of the contract (docs/clinical-contract.md) section 3: JSON Lines in, validated records out.

The vocabulary (event names, fields, types, allowed values) comes from the loaded
pathway definition; this module only knows the envelope every record shares:
``event``, ``at`` and an optional ``patient`` and ``episode``. A course is keyed by
(patient, episode): an episode is a later, separate course of the same patient.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import attrs

from pathway.limits import MAX_LINE_BYTES
from pathway.model import EventSpec, FieldSpec, Pathway, TimeLimits
from pathway.per_pathway import PerPathway
from pathway.safe_text import has_surrogate, shown

# only a line holding a surrogate, or the JSON escape of one, can decode to a lone surrogate
_MAYBE_SURROGATE = re.compile("[\ud800-\udfff]|\\\\u[dD][89a-fA-F]")

ENVELOPE = ("event", "at", "patient", "episode")


@attrs.frozen
class Event:
    line: int
    name: str
    at: datetime
    at_text: str
    fields: Mapping[str, Any] = attrs.field(factory=dict)
    patient: str | None = None
    episode: str | None = None

    @property
    def course(self) -> tuple[str | None, str | None]:
        return (self.patient, self.episode)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"event": self.name, "at": self.at_text}
        if self.patient is not None:
            record["patient"] = self.patient
        if self.episode is not None:
            record["episode"] = self.episode
        record.update(self.fields)
        return record


@attrs.frozen
class EventError:
    """A record that cannot be used; str() is the one-line message for stderr."""

    line: int
    problem: str
    field: str | None = None
    patient: str | None = None
    episode: str | None = None

    @property
    def course(self) -> tuple[str | None, str | None]:
        return (self.patient, self.episode)

    def __str__(self) -> str:
        # field names and values come from the input: never let them reach a terminal raw
        where = f"field '{shown(self.field)}': " if self.field else ""
        return f"line {self.line}: {where}{shown(self.problem)}"


class LineTooLong(ValueError):
    """A line over MAX_LINE_BYTES: not an event stream (or a broken one); reading stops there."""


def read_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of a binary stream, never reading more than one line limit ahead (so /dev/zero is
    refused, not buffered until memory runs out)."""
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not (len(line) == MAX_LINE_BYTES + 1 and line.endswith(b"\n")):
            raise LineTooLong(f"longer than {MAX_LINE_BYTES:,} bytes; reading stopped here (one event per line)")
        yield line


def parse_time(text: str) -> datetime:
    """ISO 8601 with an offset or Z; a time without an offset is ambiguous and refused."""
    at = datetime.fromisoformat(text)
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("needs a UTC offset or 'Z'")
    return at


def implausible_time(at: datetime, limits: TimeLimits) -> str | None:
    """Why a parsed time cannot be a real event time (None when it can)."""
    most = limits.max_utc_offset_minutes
    if at.tzinfo is UTC and (most is None or most >= 0):
        pass  # 'Z' or +00:00 (fromisoformat's own UTC): whole minutes, and within any limit
    elif (offset := at.utcoffset() or timedelta(0)).seconds % 60 or offset.microseconds:
        return "the UTC offset must be whole minutes (+HH:MM)"
    elif most is not None and abs(offset) > timedelta(minutes=most):
        return f"the UTC offset is beyond +-{most // 60:02d}:{most % 60:02d} (limits.utc_offset_max of the definition)"
    first, last = limits.first_year, limits.last_year
    if first is not None and last is not None and not first <= at.year <= last:
        return f"year {at.year} is outside the plausible years {first}..{last} (limits.years of the definition)"
    return None


def _check_value(spec: FieldSpec, value: Any) -> str | None:
    if value is None:
        return "null is not allowed (leave the field out when it is unknown)"
    if spec.type in ("int", "number"):
        return _check_number(spec, value)
    if spec.type == "bool":
        return None if isinstance(value, bool) else "expected true or false"
    if spec.type == "string":
        return None if isinstance(value, str) else "expected a string"
    if not isinstance(value, str) or value not in spec.values:
        return f"{value!r} is not one of {', '.join(spec.values)}"
    return None


def _check_number(spec: FieldSpec, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "expected an integer" if spec.type == "int" else "expected a number"
    if spec.type == "int" and not isinstance(value, int):
        return "expected an integer"
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        finite = False
    if not finite:
        return "not a finite number of sensible size"
    low, high = spec.minimum, spec.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        return f"{value} is outside the plausible range {low}..{high}"
    return None


def _refuse_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, which are not JSON and would slip past thresholds
    raise ValueError(f"{name} is not valid JSON")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # with duplicates the last value would silently win, e.g. a second temperature hiding a fever
    record = dict(pairs)
    if len(record) == len(pairs):
        return record
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"field {key!r} appears twice")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means a repeated key")


Check = Callable[[Any], "str | None"]


def _checker(spec: FieldSpec) -> Check:
    """_check_value(spec, value), with the usual valid value accepted at once (the rest goes the long way)."""
    low, high = spec.minimum, spec.maximum
    if spec.type in ("int", "number"):
        kinds = (int,) if spec.type == "int" else (int, float)
        if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
            return lambda value: _check_value(spec, value)
        # a value between two finite bounds is finite: nothing else to check
        return lambda value: None if type(value) in kinds and low <= value <= high else _check_value(spec, value)
    if spec.type == "bool":
        return lambda value: None if type(value) is bool else _check_value(spec, value)
    if spec.type == "string":
        return lambda value: None if type(value) is str else _check_value(spec, value)
    values = frozenset(spec.values)
    return lambda value: None if type(value) is str and value in values else _check_value(spec, value)


# one decoder for every line (json.loads with options would build a new one per call)
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicates)


class _Vocabulary:
    """A pathway's event specs indexed for parse_record (built once per pathway)."""

    def __init__(self, pathway: Pathway) -> None:
        self.specs: dict[str, EventSpec] = {}
        for spec in pathway.events:
            self.specs.setdefault(spec.name, spec)
        self.known = ", ".join({spec.name: None for spec in pathway.events})
        self.fields: dict[str, dict[str, FieldSpec]] = {}
        self.checks: dict[str, dict[str, Check]] = {}
        self.required: dict[str, tuple[str, ...]] = {}
        for name, spec in self.specs.items():
            by_name: dict[str, FieldSpec] = {}
            for field_spec in spec.fields:
                by_name.setdefault(field_spec.name, field_spec)  # EventSpec.field: the first of a name
            self.fields[name] = by_name
            self.checks[name] = {key: _checker(field_spec) for key, field_spec in by_name.items()}
            self.required[name] = tuple(f.name for f in spec.fields if f.required)


_vocabulary = PerPathway(_Vocabulary)


def parse_record(record: Any, line: int, pathway: Pathway, vocabulary: _Vocabulary | None = None) -> Event | EventError:
    """Validate one decoded JSON value against the pathway's event vocabulary (``vocabulary``: the
    pathway's, when the caller already has it)."""
    if not isinstance(record, dict):
        return EventError(line, f"expected a JSON object, found {type(record).__name__}")
    # (the decoder makes plain str values: type() is isinstance() here)
    patient = record.get("patient")
    if type(patient) is not str and "patient" in record:
        return EventError(line, "expected a string", "patient")
    episode = record.get("episode")
    if type(episode) is not str and "episode" in record:
        return EventError(line, "expected a string", "episode", patient)
    if "event" not in record:
        return EventError(line, "missing", "event", patient, episode)
    name = record["event"]
    if not isinstance(name, str):
        return EventError(line, f"expected an event name, found {json.dumps(name)}", "event", patient, episode)
    vocabulary = vocabulary or _vocabulary(pathway)
    spec = vocabulary.specs.get(name)
    if spec is None:
        return EventError(line, f"unknown event {name!r} (known: {vocabulary.known})", "event", patient, episode)
    if "at" not in record:
        return EventError(line, "missing", "at", patient, episode)
    at_text = record["at"]
    if not isinstance(at_text, str):
        return EventError(line, "expected an ISO 8601 time string", "at", patient, episode)
    try:
        at = parse_time(at_text)
    except ValueError as err:
        if "needs a UTC offset" in str(err):
            reason = str(err)
        elif "offset" in str(err):
            reason = f"{at_text!r}: the UTC offset must be less than 24 hours"
        else:
            reason = f"{at_text!r} is not an ISO 8601 time"
        return EventError(line, reason, "at", patient, episode)
    implausible = implausible_time(at, pathway.time_limits)
    if implausible:
        return EventError(line, f"{at_text!r}: {implausible}", "at", patient, episode)
    checks = vocabulary.checks[name]
    fields: dict[str, Any] = {}
    for key, value in record.items():
        if key in ENVELOPE:
            continue
        check = checks.get(key)
        if check is None:
            known = ", ".join(f.name for f in spec.fields) or "none"
            return EventError(line, f"unknown field for event {name!r} (fields: {known})", key, patient, episode)
        problem = check(value)
        if problem:
            return EventError(line, problem, key, patient, episode)
        fields[key] = value
    for required in vocabulary.required[name]:
        if required not in fields:
            return EventError(line, f"missing (required for event {name!r})", required, patient, episode)
    # the vocabulary's own string: a long course holds one copy of each event name, not one per line
    return Event(line, spec.name, at, at_text, fields, patient, episode)


def _stopping_when_too_long(lines: Iterable[str | bytes]) -> Iterator[str | bytes | LineTooLong]:
    try:
        yield from lines
    except LineTooLong as err:
        yield err


_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]  # (the C scanner json.JSONDecoder sets up)


def _usual_object(text: str) -> dict[str, Any] | None:
    """_DECODER.decode(text) of the usual line, a JSON object and its line end, without decode's two
    whitespace matches; None for anything else (a blank line, a byte-order mark, an error), which
    decode_line then reads the long way, with its messages."""
    if text[:1] != "{":
        return None
    try:
        record, end = _SCAN(text, 0)
    except Exception:  # the long way below raises it again, and says what is wrong
        return None
    return record if end == len(text) or text[end:] == "\n" else None  # type: ignore[no-any-return]


def decode_line(number: int, raw: str | bytes) -> Any:
    """One line as the JSON value it holds: None for a blank line, an EventError when it is not JSON."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return EventError(number, "not UTF-8 text")
    else:
        text = raw
    record = _usual_object(text)
    if record is None:
        if number == 1:
            text = text.removeprefix("\ufeff")  # a byte-order mark some editors add
        if not text.strip():
            return None
        try:
            if text.startswith("\ufeff"):  # json.loads refuses a byte-order mark with its own message
                record = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicates)
            else:
                record = _DECODER.decode(text)
        except json.JSONDecodeError as err:
            return EventError(number, f"not valid JSON: {err.msg} at column {err.colno}")
        except ValueError as err:
            return EventError(number, f"not valid JSON: {err}")
        except RecursionError:
            return EventError(number, "not valid JSON: nested too deeply")
    # text decoded from UTF-8 holds no surrogate: only the JSON escape of one can make it
    maybe = "\\u" in text if isinstance(raw, bytes) else _MAYBE_SURROGATE.search(text) is not None
    if maybe and _MAYBE_SURROGATE.search(text) and isinstance(record, dict):
        # JSON can spell half a UTF-16 pair (\\ud800): no output could carry it, so the line is unusable
        for key, value in record.items():
            if has_surrogate(key) or (isinstance(value, str) and has_surrogate(value)):
                return EventError(number, "not valid Unicode text (a lone surrogate such as \\ud800)", key)
    return record


def course_named(record: Any) -> tuple[str | None, str | None] | None:
    """(patient, episode) a decoded line names, as parse_record will read them (None: not an object).

    A line that fails validation keeps the ids it named, so its refusal goes to its course;
    one whose ids cannot be read belongs to no patient.
    """
    if not isinstance(record, dict):
        return None
    patient, episode = record.get("patient"), record.get("episode")
    if not isinstance(patient, str):
        return (None, episode if isinstance(episode, str) else None)
    return (patient, episode if isinstance(episode, str) else None)


def read_events(lines: Iterable[str | bytes], pathway: Pathway, first: int = 1) -> Iterator[Event | EventError]:
    """Each non-blank line (text, or bytes decoded as UTF-8) as an Event or, when it cannot be used, an EventError.

    A line over the length limit (LineTooLong from read_lines) ends the stream with an EventError.
    ``first``: the number of the first line (a part of a stream replayed by a worker process).
    """
    vocabulary = _vocabulary(pathway)
    for number, raw in enumerate(_stopping_when_too_long(lines), start=first):
        if isinstance(raw, LineTooLong):
            yield EventError(number, str(raw))
            return
        record = decode_line(number, raw)
        if record is None:
            continue
        yield record if isinstance(record, EventError) else parse_record(record, number, pathway, vocabulary)


UNNAMED = "missing: other lines of this stream name their patient, so every line must"


def refuse_unnamed(items: list[Event | EventError]) -> list[Event | EventError]:
    """In a stream where some line names a patient, a line that names none is malformed.

    Such a line must not start a course of its own: a presentation whose patient id was lost
    would otherwise be reported as a patient with no dural puncture (contract section 3).
    """
    if not any(item.patient is not None for item in items):  # a malformed line that names one counts too
        return items
    return [unnamed_refusal(item) for item in items]


def unnamed_refusal(item: Event | EventError) -> Event | EventError:
    """``item`` in a stream where other lines name their patient: an Event naming none is refused."""
    if isinstance(item, Event) and item.patient is None:
        return EventError(item.line, UNNAMED, "patient", None, item.episode)
    return item


def dumps(event: Event) -> str:
    return json.dumps(event.to_record(), ensure_ascii=False, separators=(",", ":"))
