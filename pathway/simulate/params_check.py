"""A parameter file against a loaded pathway: every name it uses must mean something there.

Event names and their fields, the values the clinician sends, the action codes it
acts on, the outcome states it labels, the imaging codes and RRLs it prices: all are
checked against the definition, so a parameter file written for another version of
the pathway fails with one line naming the entry rather than producing refused events.
"""

from __future__ import annotations

from typing import Any, NoReturn

from pathway.events import EventError, parse_record
from pathway.model import Pathway
from pathway.simulate.distributions import Dist
from pathway.simulate.params import SimParams
from pathway.simulate.params_reader import Fields, ParamsError

EXAMINED = ("presentation", "reassessment")
"""The roles whose events carry examination findings (vitals and red-flag findings)."""


class _Checker:
    def __init__(self, params: SimParams, pathway: Pathway) -> None:
        self.params, self.pathway = params, pathway

    def fail(self, entry: str, problem: str) -> NoReturn:
        raise ParamsError(self.params.file, entry, problem)

    def fields(self, entry: str, role: str, fields: Fields, partial: bool = False) -> None:
        event = self.params.vocabulary[role]
        record: dict[str, Any] = {"event": event, "at": "2026-01-01T00:00:00Z", **fields}
        if partial:  # a fragment added to a complete record: fill the required fields
            for spec in self.pathway.event(event).fields:
                if spec.required and spec.name not in record:
                    record[spec.name] = spec.values[0] if spec.values else 0
        parsed = parse_record(record, 0, self.pathway)
        if isinstance(parsed, EventError):
            where = f"{entry}.{parsed.field}" if parsed.field in fields else entry
            self.fail(where, f"for event {event!r}: {parsed.problem}")

    def vital(self, entry: str, name: str, dist: Dist) -> None:
        vocab = self.params.vocabulary
        for role in EXAMINED:
            spec = self.pathway.event(vocab[role]).field(name)
            if spec is None or spec.type != "number":
                self.fail(entry, f"not a number field of event {vocab[role]!r}")
            # every value drawn must be one the pathway accepts, or the events would not replay
            if dist.kind != "fixed" and (dist.low is None or dist.high is None):
                self.fail(entry, "needs low and high, so that every drawn value is plausible")
            for bound in (dist.value,) if dist.kind == "fixed" else (dist.low, dist.high):
                if bound is None:
                    continue
                if (spec.minimum is not None and bound < spec.minimum) or (
                    spec.maximum is not None and bound > spec.maximum
                ):
                    self.fail(
                        entry,
                        f"{bound:g} is outside the range {spec.minimum}..{spec.maximum} "
                        f"that event {vocab[role]!r} accepts",
                    )

    def events(self) -> None:
        params, pathway = self.params, self.pathway
        for role, name in params.vocabulary.items():
            if name not in pathway.event_names:
                self.fail(f"vocabulary.{role}", f"{name!r} is not an event of pathway {pathway.id!r}")
        for i, puncture in enumerate(params.punctures):
            self.fields(f"punctures[{i}].fields", "puncture", puncture.fields)
        self.fields("presentation.typical", "presentation", params.typical)
        for i, choice in enumerate(params.atypical):
            self.fields(f"presentation.atypical[{i}].fields", "presentation", choice.fields)
        for name, dist in params.vitals.items():
            self.vital(f"presentation.vitals.{name}", name, dist)
        for name, dist in params.febrile_vitals.items():
            self.vital(f"presentation.febrile_without_infection.vitals.{name}", name, dist)
        for name, fields in params.responses.items():
            self.fields(f"reassessment.{name}", "reassessment", fields)
        self.fields("blood_patch.fields", "patch", params.patch_fields)
        for name, fields in params.relief_fields.items():
            self.fields(f"blood_patch.relief.{name}", "patch_review", fields)
        for name, fields in zip(("debilitating_no", "debilitating_yes"), params.debilitating_fields, strict=True):
            self.fields(f"reassessment.{name}", "reassessment", fields, partial=True)
        for i, complication in enumerate(params.complications):
            for k, sign in enumerate(complication.signs):
                where = f"complications[{i}].signs[{k}]" if len(complication.signs) > 1 else f"complications[{i}]"
                self.fields(f"{where}.red_flag", "red_flag", sign.red_flag)
                for role in EXAMINED:
                    self.fields(f"{where}.exam", role, sign.exam, partial=True)
                self.fields(f"{where}.review", "reassessment", sign.review, partial=True)

    def states_and_codes(self) -> None:
        params, pathway = self.params, self.pathway
        actions = {r.code for s in pathway.states for r in s.recommendations if r.kind == "action"}
        for role, code in params.actions.items():
            if code not in actions:
                self.fail(f"actions.{role}", f"{code!r} is not an action recommendation of pathway {pathway.id!r}")
        for role, state in params.outcomes.items():
            if state not in pathway.state_ids:
                self.fail(f"outcomes.{role}", f"{state!r} is not a state of pathway {pathway.id!r}")
            if not pathway.state(state).final:
                self.fail(f"outcomes.{role}", f"{state!r} is not a final state")
        imaging = [r for s in pathway.states for r in s.recommendations if r.kind == "imaging"]
        codes = {r.code for r in imaging}
        for code in params.contrast:
            if code not in codes:
                self.fail("imaging.contrast", f"{code!r} is not an imaging recommendation of pathway {pathway.id!r}")
        for rec in imaging:
            if rec.rrl not in params.dose_msv:
                self.fail("imaging.dose_msv", f"no dose for RRL {rec.rrl!r} (used by {rec.code!r})")
        initial = {r.code for r in pathway.state(pathway.initial).recommendations if r.kind == "imaging"}
        for name, policy in params.policies.items():
            for i, imaging_choice in enumerate(policy.at_presentation):
                for code in imaging_choice.codes:
                    if code not in initial:
                        self.fail(
                            f"policies.{name}.at_presentation[{i}].codes",
                            f"{code!r} is not an imaging recommendation of the initial state {pathway.initial!r}",
                        )


def check_against(params: SimParams, pathway: Pathway) -> None:
    """Every name in the file must mean something in the pathway; raises ParamsError."""
    checker = _Checker(params, pathway)
    checker.events()
    checker.states_and_codes()
