"""The simulation parameter file (TOML) -> validated SimParams.

Like the pathway definition, a parameter file is untrusted input: it is parsed
as TOML, every entry is checked (unknown keys refused, params_reader.py), nothing
is evaluated, and any problem raises ParamsError whose str() is one line naming
the file, the entry and what is wrong. ``--set`` assignments (overrides.py) are
applied to the decoded file before those checks, so they are validated alike.
``check_against`` (params_check.py) then checks the file's vocabulary (event
names, fields, recommendation codes, states) against a loaded Pathway.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from pathway.events import parse_time
from pathway.limits import TooLarge, read_bounded
from pathway.model import RATINGS, RRLS, Pathway
from pathway.simulate import overrides
from pathway.simulate.distributions import Dist, Number
from pathway.simulate.params_reader import Entry, Fields, ParamsError, check_weights

__all__ = ["DEFAULT_PARAMS", "ParamsError", "SimParams", "check_against", "load", "loads", "read_text"]

DEFAULT_PARAMS = Path(__file__).parent / "params.toml"

ROLES = ("puncture", "presentation", "reassessment", "resolution", "red_flag", "patch", "patch_review")
"""The events a simulated course is made of; the file names the pathway event for each."""
ACTIONS = ("reassess", "patch")
"""What the simulated clinician does when the current state recommends it."""
OUTCOMES = ("resolution", "escalation", "refractory")
CASES = ("no_puncture", "late", "atypical")
RESPONSES = ("resolved", "improving", "unchanged", "worsening")
RELIEF = ("complete", "partial", "none")
MAX_REVIEW_SLOTS = 12
MAX_VITALS = 4
MAX_DISMISSED_RETURNS = 3


@attrs.frozen
class Choice:
    fields: Fields
    weight: Number


@attrs.frozen
class Group:
    """A natural-history group: how an untreated headache lasts and how blood patches work."""

    name: str
    text: str
    resolution: Dist
    first_patch: dict[str, Number]
    repeat_patch: dict[str, Number]


@attrs.frozen
class Puncture:
    id: str
    fields: Fields
    group: str
    share: Number
    pdph: Number


@attrs.frozen
class Sign:
    """How a complication first shows: the red flag sent, findings of any examination, of a review only."""

    weight: Number
    red_flag: Fields
    exam: Fields
    review: Fields


@attrs.frozen
class Complication:
    id: str
    rate: Number
    onset: Dist
    signs: tuple[Sign, ...]


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
    dismissed_returns: int


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
    groups: dict[str, Group]
    onset: Dist
    present_after_onset: Dist
    late_after_puncture: Dist
    typical: Fields
    vitals: dict[str, Dist]
    febrile_share: Number
    febrile_vitals: dict[str, Dist]
    atypical: tuple[Choice, ...]
    resolution_reported: Number
    review_first: Dist
    review_interval: Dist
    improving_within: Number
    worse: Number
    max_reviews: int
    debilitating: Number
    debilitating_fields: tuple[Fields, Fields]
    responses: dict[str, Fields]
    patch_delay: Dist
    patch_review: Dist
    patch_fields: Fields
    relief_fields: dict[str, Fields]
    red_flag_notice: Dist
    complications: tuple[Complication, ...]
    return_delay: Dist
    return_horizon_days: Number
    contrast: tuple[str, ...]
    dose_msv: dict[str, Number]
    policies: dict[str, Policy]
    overrides: tuple[str, ...] = ()

    def policy(self, name: str) -> Policy:
        if name not in self.policies:
            raise KeyError(name)
        return self.policies[name]

    def group_of(self, puncture: Puncture) -> Group:
        return self.groups[puncture.group]


# ---------------------------------------------------------------- reading

TOP_LEVEL = (
    "meta",
    "vocabulary",
    "actions",
    "outcomes",
    "calendar",
    "case_mix",
    "punctures",
    "groups",
    "onset",
    "presentation",
    "resolution",
    "reassessment",
    "blood_patch",
    "red_flags",
    "complications",
    "returns",
    "imaging",
    "policies",
)


def _punctures(root: Entry, groups: Mapping[str, Group]) -> tuple[Puncture, ...]:
    punctures = []
    seen: set[str] = set()
    for item in root.items("punctures"):
        item.only("id", "fields", "group", "share", "pdph")
        pid = item.text("id")
        if pid in seen:
            item.fail(f"duplicate id {pid!r}", "id")
        seen.add(pid)
        group = item.text("group")
        if group not in groups:
            item.fail(f"unknown group {group!r} (groups: {', '.join(groups)})", "group")
        punctures.append(
            Puncture(pid, item.fields("fields"), group, item.number("share", 0.0), item.probability("pdph"))
        )
    if sum(p.share.value * p.pdph.value for p in punctures) <= 0:
        root.fail("no puncture can cause a headache: every share x pdph is 0", "punctures")
    return tuple(punctures)


def _groups(root: Entry) -> dict[str, Group]:
    table = root.child("groups")
    groups = {}
    for name in table.table:
        item = table.child(name)
        item.only("text", "resolution", "first_patch", "repeat_patch")
        groups[name] = Group(
            name,
            item.text("text"),
            item.dist("resolution"),
            item.shares("first_patch", RELIEF, "relief"),
            item.shares("repeat_patch", RELIEF, "relief"),
        )
    if not groups:
        table.fail("no natural-history group defined")
    return groups


def _complications(root: Entry) -> tuple[Complication, ...]:
    complications = []
    seen: set[str] = set()
    for item in root.items("complications"):
        item.only("id", "rate", "onset", "red_flag", "exam", "review", "signs")
        cid = item.text("id")
        if cid in seen:
            item.fail(f"duplicate id {cid!r}", "id")
        seen.add(cid)
        if "signs" in item.table:  # several ways of showing, by weight
            if "red_flag" in item.table or "exam" in item.table:
                item.fail("give either signs or red_flag and exam, not both")
            entries = item.items("signs")
            for sign in entries:
                sign.only("weight", "red_flag", "exam", "review")
            check_weights(entries, "sign", exact=True)
        else:  # one way of showing: the complication's own red_flag and exam
            entries = [item]
        signs = tuple(
            Sign(
                e.number("weight", 0.0) if e is not item else Number(1.0, source="the only sign"),
                e.fields("red_flag"),
                e.fields("exam"),
                e.fields("review") if "review" in e.table else {},
            )
            for e in entries
        )
        complications.append(Complication(cid, item.probability("rate"), item.dist("onset"), signs))
    if sum(c.rate.value for c in complications) > 1.0 + 1e-9:
        root.fail("complication rates add up to more than 1", "complications")
    return tuple(complications)


def _policies(root: Entry) -> dict[str, Policy]:
    policies_entry = root.child("policies")
    policies = {}
    for name in policies_entry.table:
        item = policies_entry.child(name)
        item.only("text", "order", "at_presentation", "exam_red_flags", "red_flag_delay", "dismissed_returns")
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
            check_weights(entries, "imaging at presentation", exact=False)
        policies[name] = Policy(
            name=name,
            text=item.text("text"),
            order={rating: order_entry.probability(rating) for rating in order_entry.table},
            at_presentation=tuple(imaging_choices),
            exam_red_flags=item.flag("exam_red_flags"),
            red_flag_delay=item.dist("red_flag_delay"),
            dismissed_returns=item.whole("dismissed_returns", 0, MAX_DISMISSED_RETURNS),
        )
    if not policies:
        policies_entry.fail("no policy defined")
    return policies


def _vitals(entry: Entry) -> dict[str, Dist]:
    vitals = {name: entry.dist(name, positive=False) for name in entry.table}
    if len(vitals) > MAX_VITALS:
        entry.fail(f"at most {MAX_VITALS} vitals, found {len(vitals)}")
    return vitals


def parse(data: Mapping[str, Any], file: str, digest: str = "", assignments: Sequence[str] = ()) -> SimParams:
    """Check a decoded parameter file and build SimParams (pathway-independent checks)."""
    root = Entry(file, "", data)
    root.only(*TOP_LEVEL)
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

    groups = _groups(root)
    onset = root.child("onset")
    onset.only("after_puncture")
    present = root.child("presentation")
    present.only("after_onset", "late_after_puncture", "typical", "vitals", "febrile_without_infection", "atypical")
    vitals = _vitals(present.child("vitals"))
    febrile = present.child("febrile_without_infection")
    febrile.only("share", "vitals")
    febrile_vitals = _vitals(febrile.child("vitals"))
    for name in febrile_vitals:
        if name not in vitals:
            febrile.child("vitals").fail(f"{name!r} is not one of the vitals ({', '.join(vitals)})", name)
    atypical_entries = present.items("atypical")
    for item in atypical_entries:
        item.only("fields", "weight")
    check_weights(atypical_entries, "atypical headache", exact=True)

    resolution = root.child("resolution")
    resolution.only("reported")
    review = root.child("reassessment")
    review.only(
        "first",
        "interval",
        "improving_within",
        "worse",
        "max_reviews",
        "debilitating",
        "debilitating_yes",
        "debilitating_no",
        *RESPONSES,
    )
    patch = root.child("blood_patch")
    patch.only("delay", "review", "fields", "relief")
    relief = patch.child("relief")
    relief.only(*RELIEF)
    flags = root.child("red_flags")
    flags.only("notice")
    returns = root.child("returns")
    returns.only("delay", "horizon")

    imaging = root.child("imaging")
    imaging.only("contrast", "contrast_source", "dose_msv")
    contrast = imaging.table.get("contrast", [])
    if not isinstance(contrast, list) or not all(isinstance(c, str) for c in contrast):
        imaging.fail("expected an array of imaging codes", "contrast")
    imaging.text("contrast_source")
    doses = imaging.child("dose_msv")
    doses.only(*RRLS)

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
        punctures=_punctures(root, groups),
        groups=groups,
        onset=onset.dist("after_puncture"),
        present_after_onset=present.dist("after_onset"),
        late_after_puncture=present.dist("late_after_puncture"),
        typical=present.fields("typical"),
        vitals=vitals,
        febrile_share=febrile.probability("share"),
        febrile_vitals=febrile_vitals,
        atypical=tuple(Choice(e.fields("fields"), e.number("weight", 0.0)) for e in atypical_entries),
        resolution_reported=resolution.probability("reported"),
        review_first=review.dist("first"),
        review_interval=review.dist("interval"),
        improving_within=review.number("improving_within", 0.0),
        worse=review.probability("worse"),
        max_reviews=review.whole("max_reviews", 1, MAX_REVIEW_SLOTS),
        debilitating=review.probability("debilitating"),
        debilitating_fields=(review.fields("debilitating_no"), review.fields("debilitating_yes")),
        responses={name: review.fields(name) for name in RESPONSES},
        patch_delay=patch.dist("delay"),
        patch_review=patch.dist("review"),
        patch_fields=patch.fields("fields"),
        relief_fields={name: relief.fields(name) for name in RELIEF},
        red_flag_notice=flags.dist("notice"),
        complications=_complications(root),
        return_delay=returns.dist("delay"),
        return_horizon_days=returns.number("horizon", 0.0),
        contrast=tuple(contrast),
        dose_msv={rrl: doses.number(rrl, 0.0) for rrl in doses.table},
        policies=_policies(root),
        overrides=tuple(assignments),
    )


def loads(text: str, file: str = "<params>", assignments: Sequence[str] = ()) -> SimParams:
    """Parse and check a parameter file's text, after applying ``--set`` assignments."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ParamsError(file, "", f"not valid TOML: {err}") from None
    digest = hashlib.sha256("\n".join([text, *assignments]).encode("utf-8")).hexdigest()[:16]
    if not assignments:
        return parse(data, file, digest)
    changed = overrides.apply(data, assignments)
    try:
        return parse(changed, file, digest, assignments)
    except ParamsError as err:
        parse(data, file)  # a problem of the file itself is reported as such
        raise ParamsError(overrides.WHERE, err.entry, err.problem) from None


def read_text(path: str | Path | None = None) -> tuple[str, str]:
    """(text, display name) of a parameter file; the shipped one by default."""
    target = Path(path) if path is not None else DEFAULT_PARAMS
    name = target.name if path is None else str(path)
    try:
        return read_bounded(target).decode("utf-8"), name
    except (OSError, UnicodeDecodeError, TooLarge) as err:
        raise ParamsError(name, "", f"cannot read: {getattr(err, 'strerror', None) or err}") from None


def load(path: str | Path | None = None, pathway: Pathway | None = None, assignments: Sequence[str] = ()) -> SimParams:
    """Read, validate and (given a pathway) cross-check a parameter file."""
    text, name = read_text(path)
    params = loads(text, name, assignments)
    if pathway is not None:
        check_against(params, pathway)
    return params


def check_against(params: SimParams, pathway: Pathway) -> None:
    """Every name in the file must mean something in the pathway; raises ParamsError."""
    from pathway.simulate.params_check import check_against as check

    check(params, pathway)
