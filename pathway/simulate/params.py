"""The simulation parameter file (TOML) -> validated SimParams.

Like the pathway definition, a parameter file is untrusted input: it is parsed
as TOML, every entry is checked (unknown keys refused), nothing is evaluated,
and any problem raises ParamsError whose str() is one line naming the file, the
entry and what is wrong. ``check_against`` then checks the file's vocabulary
(event names, fields, recommendation codes, states) against a loaded Pathway.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import attrs

from pathway.events import EventError, parse_record, parse_time
from pathway.limits import TooLarge, read_bounded
from pathway.model import RATINGS, RRLS, Pathway
from pathway.simulate.distributions import DIST_KINDS, Dist, Number

DEFAULT_PARAMS = Path(__file__).parent / "params.toml"

ROLES = ("puncture", "presentation", "reassessment", "resolution", "red_flag", "patch", "patch_review")
"""The events a simulated course is made of; the file names the pathway event for each."""
ACTIONS = ("reassess", "patch")
"""What the simulated clinician does when the current state recommends it."""
OUTCOMES = ("resolution", "escalation")
CASES = ("no_puncture", "late", "atypical")
RESPONSES = ("resolved", "improving", "unchanged", "worsening")
RELIEF = ("complete", "partial", "none")
MAX_REVIEW_SLOTS = 12
MAX_VITALS = 4


class ParamsError(ValueError):
    """A broken parameter file; str() is one line: file: entry: problem."""

    def __init__(self, file: str, entry: str, problem: str) -> None:
        self.file, self.entry, self.problem = file, entry, problem
        super().__init__(f"{file}: {entry}: {problem}" if entry else f"{file}: {problem}")


Fields = dict[str, Any]


@attrs.frozen
class Choice:
    fields: Fields
    weight: Number


@attrs.frozen
class Puncture:
    id: str
    fields: Fields
    large_bore: bool
    share: Number
    pdph: Number


@attrs.frozen
class Complication:
    id: str
    rate: Number
    onset: Dist
    red_flag: Fields
    exam: Fields


@attrs.frozen
class ImagingChoice:
    codes: tuple[str, ...]
    weight: Number


@attrs.frozen
class Policy:
    name: str
    text: str
    order: dict[str, Number]
    at_presentation: tuple[ImagingChoice, ...]
    exam_red_flags: bool
    red_flag_delay: Dist


@attrs.frozen
class SimParams:
    file: str
    digest: str
    title: str
    vocabulary: dict[str, str]
    actions: dict[str, str]
    outcomes: dict[str, str]
    start: datetime
    spread_days: Number
    case_mix: dict[str, Number]
    punctures: tuple[Puncture, ...]
    onset: Dist
    present_after_onset: Dist
    late_after_puncture: Dist
    typical: Fields
    vitals: dict[str, Dist]
    atypical: tuple[Choice, ...]
    resolution_fine: Dist
    resolution_large_bore: Dist
    resolution_reported: Number
    review_first: Dist
    review_interval: Dist
    improving_within: Number
    worse: Number
    max_reviews: int
    responses: dict[str, Fields]
    patch_delay: Dist
    patch_review: Dist
    first_patch_large_bore: dict[str, Number]
    patch_fields: Fields
    first_patch: dict[str, Number]
    repeat_patch: dict[str, Number]
    relief_fields: dict[str, Fields]
    red_flag_notice: Dist
    complications: tuple[Complication, ...]
    contrast: tuple[str, ...]
    dose_msv: dict[str, Number]
    policies: dict[str, Policy]

    def policy(self, name: str) -> Policy:
        if name not in self.policies:
            raise KeyError(name)
        return self.policies[name]


# ---------------------------------------------------------------- reading


class _Entry:
    """One table of the file and where it is, for error messages."""

    def __init__(self, file: str, path: str, table: Any) -> None:
        self.file, self.path = file, path
        if not isinstance(table, Mapping):
            self.fail(f"expected a table, found {_kind(table)}")
        self.table: Mapping[str, Any] = table

    def fail(self, problem: str, key: str | None = None) -> Any:
        raise ParamsError(self.file, f"{self.path}.{key}" if key else self.path, problem)

    def only(self, *allowed: str) -> None:
        unknown = sorted(set(self.table) - set(allowed))
        if unknown:
            self.fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(allowed)})")

    def need(self, *keys: str) -> None:
        for key in keys:
            if key not in self.table:
                self.fail(f"missing {key!r}")

    def child(self, key: str) -> _Entry:
        self.need(key)
        return _Entry(self.file, f"{self.path}.{key}" if self.path else key, self.table[key])

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
        entry.only("value", "unit", "source", "derived")
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

    def dist(self, key: str, positive: bool = True) -> Dist:
        entry = self.child(key)
        kind = entry.text("dist")
        if kind not in DIST_KINDS:
            entry.fail(f"unknown distribution {kind!r} (known: {', '.join(DIST_KINDS)})", "dist")
        shape = {
            "fixed": ("value",),
            "uniform": ("low", "high"),
            "lognormal": ("median", "sigma"),
            "normal": ("mean", "sd"),
        }[kind]
        optional = ("low", "high") if kind == "normal" else ()
        entry.only("dist", *shape, *optional, "unit", "source", "derived")
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
                entry.fail(f"expected a string, number or boolean, found {_kind(value)}", name)
        return dict(entry.table)

    def items(self, key: str) -> list[_Entry]:
        self.need(key)
        value = self.table[key]
        if not isinstance(value, list) or not value:
            self.fail(f"expected a non-empty array of tables, found {_kind(value)}", key)
        return [
            _Entry(self.file, f"{self.path}.{key}[{i}]" if self.path else f"{key}[{i}]", v) for i, v in enumerate(value)
        ]

    def names(self, key: str, allowed: tuple[str, ...]) -> dict[str, str]:
        entry = self.child(key)
        entry.only(*allowed)
        entry.need(*allowed)
        return {name: entry.text(name) for name in allowed}


def _kind(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _weights(entries: list[_Entry], what: str, exact: bool) -> None:
    total = sum(e.number("weight", 0.0).value for e in entries)
    if exact and abs(total - 1.0) > 1e-9:
        entries[0].fail(f"{what} weights add up to {total:g}, not 1")
    if not exact and total > 1.0 + 1e-9:
        entries[0].fail(f"{what} weights add up to {total:g}, more than 1")


def parse(data: Mapping[str, Any], file: str, digest: str = "") -> SimParams:
    """Check a decoded parameter file and build SimParams (pathway-independent checks)."""
    root = _Entry(file, "", data)
    root.only(
        "meta",
        "vocabulary",
        "actions",
        "outcomes",
        "calendar",
        "case_mix",
        "punctures",
        "onset",
        "presentation",
        "resolution",
        "reassessment",
        "blood_patch",
        "red_flags",
        "complications",
        "imaging",
        "policies",
    )
    meta = root.child("meta")
    meta.only("title", "version")
    calendar = root.child("calendar")
    calendar.only("start", "spread_days")
    start_text = calendar.text("start")
    try:
        start = parse_time(start_text)
    except ValueError as err:
        calendar.fail(f"{start_text!r} is not an ISO 8601 time with an offset ({err})", "start")

    case = root.child("case_mix")
    case.only(*CASES)
    case_mix = {name: case.probability(name) for name in CASES}
    if sum(n.value for n in case_mix.values()) > 1.0 + 1e-9:
        case.fail("the out-of-scope shares add up to more than 1")

    punctures = []
    seen: set[str] = set()
    for item in root.items("punctures"):
        item.only("id", "fields", "large_bore", "share", "pdph")
        pid = item.text("id")
        if pid in seen:
            item.fail(f"duplicate id {pid!r}", "id")
        seen.add(pid)
        punctures.append(
            Puncture(
                pid, item.fields("fields"), item.flag("large_bore"), item.number("share", 0.0), item.probability("pdph")
            )
        )
    if sum(p.share.value * p.pdph.value for p in punctures) <= 0:
        root.fail("no puncture can cause a headache: every share x pdph is 0", "punctures")

    onset = root.child("onset")
    onset.only("after_puncture")
    present = root.child("presentation")
    present.only("after_onset", "late_after_puncture", "typical", "vitals", "atypical")
    vitals_entry = present.child("vitals")
    vitals = {name: vitals_entry.dist(name, positive=False) for name in vitals_entry.table}
    if len(vitals) > MAX_VITALS:
        vitals_entry.fail(f"at most {MAX_VITALS} vitals, found {len(vitals)}")
    atypical_entries = present.items("atypical")
    for item in atypical_entries:
        item.only("fields", "weight")
    _weights(atypical_entries, "atypical headache", exact=True)

    resolution = root.child("resolution")
    resolution.only("fine_needle", "large_bore", "reported")
    review = root.child("reassessment")
    review.only("first", "interval", "improving_within", "worse", "max_reviews", *RESPONSES)
    max_reviews = review.number("max_reviews", 1, MAX_REVIEW_SLOTS)
    if max_reviews.value != int(max_reviews.value):
        review.child("max_reviews").fail(f"expected a whole number, found {max_reviews.value:g}", "value")

    patch = root.child("blood_patch")
    patch.only("delay", "review", "fields", "first", "first_large_bore", "repeat", "relief")
    first, first_large, repeat = patch.child("first"), patch.child("first_large_bore"), patch.child("repeat")
    for table in (first, first_large, repeat):
        table.only(*RELIEF)
        total = sum(table.probability(name).value for name in RELIEF)
        if abs(total - 1.0) > 1e-9:
            table.fail(f"relief probabilities add up to {total:g}, not 1")
    relief = patch.child("relief")
    relief.only(*RELIEF)

    flags = root.child("red_flags")
    flags.only("notice")
    complications = []
    seen = set()
    for item in root.items("complications"):
        item.only("id", "rate", "onset", "red_flag", "exam")
        cid = item.text("id")
        if cid in seen:
            item.fail(f"duplicate id {cid!r}", "id")
        seen.add(cid)
        complications.append(
            Complication(
                cid, item.probability("rate"), item.dist("onset"), item.fields("red_flag"), item.fields("exam")
            )
        )
    if sum(c.rate.value for c in complications) > 1.0 + 1e-9:
        root.fail("complication rates add up to more than 1", "complications")

    imaging = root.child("imaging")
    imaging.only("contrast", "contrast_source", "dose_msv")
    contrast = imaging.table.get("contrast", [])
    if not isinstance(contrast, list) or not all(isinstance(c, str) for c in contrast):
        imaging.fail("expected an array of imaging codes", "contrast")
    imaging.text("contrast_source")
    doses = imaging.child("dose_msv")
    doses.only(*RRLS)
    dose_msv = {rrl: doses.number(rrl, 0.0) for rrl in doses.table}

    policies_entry = root.child("policies")
    policies = {}
    for name in policies_entry.table:
        item = policies_entry.child(name)
        item.only("text", "order", "at_presentation", "exam_red_flags", "red_flag_delay")
        order_entry = item.child("order")
        order_entry.only(*RATINGS)
        imaging_choices: list[ImagingChoice] = []
        if "at_presentation" in item.table:
            entries = item.items("at_presentation")
            for choice in entries:
                choice.only("codes", "weight")
                codes = choice.table.get("codes")
                if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
                    choice.fail("expected a non-empty array of imaging codes", "codes")
                imaging_choices.append(ImagingChoice(tuple(codes), choice.number("weight", 0.0)))  # type: ignore[arg-type]
            _weights(entries, "imaging at presentation", exact=False)
        policies[name] = Policy(
            name=name,
            text=item.text("text"),
            order={rating: order_entry.probability(rating) for rating in order_entry.table},
            at_presentation=tuple(imaging_choices),
            exam_red_flags=item.flag("exam_red_flags"),
            red_flag_delay=item.dist("red_flag_delay"),
        )
    if not policies:
        policies_entry.fail("no policy defined")

    return SimParams(
        file=file,
        digest=digest,
        title=meta.text("title"),
        vocabulary=root.names("vocabulary", ROLES),
        actions=root.names("actions", ACTIONS),
        outcomes=root.names("outcomes", OUTCOMES),
        start=start,
        spread_days=calendar.number("spread_days", 0.0),
        case_mix=case_mix,
        punctures=tuple(punctures),
        onset=onset.dist("after_puncture"),
        present_after_onset=present.dist("after_onset"),
        late_after_puncture=present.dist("late_after_puncture"),
        typical=present.fields("typical"),
        vitals=vitals,
        atypical=tuple(Choice(e.fields("fields"), e.number("weight", 0.0)) for e in atypical_entries),
        resolution_fine=resolution.dist("fine_needle"),
        resolution_large_bore=resolution.dist("large_bore"),
        resolution_reported=resolution.probability("reported"),
        review_first=review.dist("first"),
        review_interval=review.dist("interval"),
        improving_within=review.number("improving_within", 0.0),
        worse=review.probability("worse"),
        max_reviews=int(max_reviews.value),
        responses={name: review.fields(name) for name in RESPONSES},
        patch_delay=patch.dist("delay"),
        patch_review=patch.dist("review"),
        patch_fields=patch.fields("fields"),
        first_patch={name: first.probability(name) for name in RELIEF},
        first_patch_large_bore={name: first_large.probability(name) for name in RELIEF},
        repeat_patch={name: repeat.probability(name) for name in RELIEF},
        relief_fields={name: relief.fields(name) for name in RELIEF},
        red_flag_notice=flags.dist("notice"),
        complications=tuple(complications),
        contrast=tuple(contrast),
        dose_msv=dose_msv,
        policies=policies,
    )


def loads(text: str, file: str = "<params>") -> SimParams:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ParamsError(file, "", f"not valid TOML: {err}") from None
    return parse(data, file, hashlib.sha256(text.encode("utf-8")).hexdigest()[:16])


def read_text(path: str | Path | None = None) -> tuple[str, str]:
    """(text, display name) of a parameter file; the shipped one by default."""
    target = Path(path) if path is not None else DEFAULT_PARAMS
    name = target.name if path is None else str(path)
    try:
        return read_bounded(target).decode("utf-8"), name
    except (OSError, UnicodeDecodeError, TooLarge) as err:
        raise ParamsError(name, "", f"cannot read: {getattr(err, 'strerror', None) or err}") from None


def load(path: str | Path | None = None, pathway: Pathway | None = None) -> SimParams:
    """Read, validate and (given a pathway) cross-check a parameter file."""
    text, name = read_text(path)
    params = loads(text, name)
    if pathway is not None:
        check_against(params, pathway)
    return params


# ---------------------------------------------------------------- against the pathway


def check_against(params: SimParams, pathway: Pathway) -> None:
    """Every name in the file must mean something in the pathway; raises ParamsError."""
    file = params.file

    def fail(entry: str, problem: str) -> NoReturn:
        raise ParamsError(file, entry, problem)

    for role, name in params.vocabulary.items():
        if name not in pathway.event_names:
            fail(f"vocabulary.{role}", f"{name!r} is not an event of pathway {pathway.id!r}")
    vocab = params.vocabulary

    def check_fields(entry: str, role: str, fields: Fields, partial: bool = False) -> None:
        event = vocab[role]
        record: dict[str, Any] = {"event": event, "at": "2026-01-01T00:00:00Z", **fields}
        if partial:  # a fragment added to a complete record: fill the required fields
            for spec in pathway.event(event).fields:
                if spec.required and spec.name not in record:
                    record[spec.name] = spec.values[0] if spec.values else 0
        parsed = parse_record(record, 0, pathway)
        if isinstance(parsed, EventError):
            where = f"{entry}.{parsed.field}" if parsed.field in fields else entry
            fail(where, f"for event {event!r}: {parsed.problem}")

    for i, puncture in enumerate(params.punctures):
        check_fields(f"punctures[{i}].fields", "puncture", puncture.fields)
    check_fields("presentation.typical", "presentation", params.typical)
    for i, choice in enumerate(params.atypical):
        check_fields(f"presentation.atypical[{i}].fields", "presentation", choice.fields)
    examined = ("presentation", "reassessment")
    for name in params.vitals:
        for role in examined:
            spec = pathway.event(vocab[role]).field(name)
            if spec is None or spec.type != "number":
                fail(f"presentation.vitals.{name}", f"not a number field of event {vocab[role]!r}")
            dist = params.vitals[name]
            # every value drawn must be one the pathway accepts, or the events would not replay
            if dist.kind != "fixed" and (dist.low is None or dist.high is None):
                fail(f"presentation.vitals.{name}", "needs low and high, so that every drawn value is plausible")
            for bound in (dist.value,) if dist.kind == "fixed" else (dist.low, dist.high):
                if bound is None:
                    continue
                if (spec.minimum is not None and bound < spec.minimum) or (
                    spec.maximum is not None and bound > spec.maximum
                ):
                    fail(
                        f"presentation.vitals.{name}",
                        f"{bound:g} is outside the range {spec.minimum}..{spec.maximum} "
                        f"that event {vocab[role]!r} accepts",
                    )
    for name, fields in params.responses.items():
        check_fields(f"reassessment.{name}", "reassessment", fields)
    check_fields("blood_patch.fields", "patch", params.patch_fields)
    for name, fields in params.relief_fields.items():
        check_fields(f"blood_patch.relief.{name}", "patch_review", fields)
    for i, complication in enumerate(params.complications):
        check_fields(f"complications[{i}].red_flag", "red_flag", complication.red_flag)
        for role in examined:
            check_fields(f"complications[{i}].exam", role, complication.exam, partial=True)

    actions = {r.code for s in pathway.states for r in s.recommendations if r.kind == "action"}
    for role, code in params.actions.items():
        if code not in actions:
            fail(f"actions.{role}", f"{code!r} is not an action recommendation of pathway {pathway.id!r}")
    for role, state in params.outcomes.items():
        if state not in pathway.state_ids:
            fail(f"outcomes.{role}", f"{state!r} is not a state of pathway {pathway.id!r}")
        if not pathway.state(state).final:
            fail(f"outcomes.{role}", f"{state!r} is not a final state")

    imaging = [r for s in pathway.states for r in s.recommendations if r.kind == "imaging"]
    codes = {r.code for r in imaging}
    for code in params.contrast:
        if code not in codes:
            fail("imaging.contrast", f"{code!r} is not an imaging recommendation of pathway {pathway.id!r}")
    for rec in imaging:
        if rec.rrl not in params.dose_msv:
            fail("imaging.dose_msv", f"no dose for RRL {rec.rrl!r} (used by {rec.code!r})")
    initial = {r.code for r in pathway.state(pathway.initial).recommendations if r.kind == "imaging"}
    for name, policy in params.policies.items():
        for i, imaging_choice in enumerate(policy.at_presentation):
            for code in imaging_choice.codes:
                if code not in initial:
                    fail(
                        f"policies.{name}.at_presentation[{i}].codes",
                        f"{code!r} is not an imaging recommendation of the initial state {pathway.initial!r}",
                    )
