"""Every routing case of the contract (docs/clinical-contract.md) section 1 and every course rule of section 2."""

from __future__ import annotations

import pytest

from tests.helpers import PUNCTURE, course, presented

# ------------------------------------------------------------------ section 1: routing at presentation


def test_in_scope_goes_to_conservative_therapy() -> None:
    trace = course(PUNCTURE, presented(20))
    assert trace.state == "conservative_therapy"
    assert trace.path == ("presentation", "conservative_therapy")


@pytest.mark.parametrize(
    ("hours", "state"),
    [
        (72.0, "conservative_therapy"),
        (71.99, "conservative_therapy"),
        (72.0 + 1 / 60, "refer_persistent_headache"),
        (100.0, "refer_persistent_headache"),
    ],
)
def test_72_hour_window_boundary(hours: float, state: str) -> None:
    assert course(PUNCTURE, presented(hours)).state == state


def test_no_puncture_refers_to_sih() -> None:
    assert course(presented(5)).state == "refer_spontaneous_intracranial_hypotension"


@pytest.mark.parametrize("headache", ["thunderclap", "non_orthostatic"])
def test_atypical_headache_refers_to_alternative_diagnosis(headache: str) -> None:
    assert course(PUNCTURE, ("presentation", 10, {"headache": headache})).state == "refer_alternative_diagnosis"


def test_precedence_red_flag_beats_everything() -> None:
    # no puncture, late, thunderclap and fever all at once: the red flag wins
    trace = course(("presentation", 10, {"headache": "thunderclap", "temperature_c": 39.0}))
    assert trace.state == "red_flag_escalation"


# [1.1] an atypical headache is never PDPH: it is handed off before the puncture and timing rules
@pytest.mark.parametrize("headache", ["thunderclap", "non_orthostatic"])
def test_precedence_atypical_headache_beats_no_puncture(headache: str) -> None:
    assert course(("presentation", 10, {"headache": headache})).state == "refer_alternative_diagnosis"


@pytest.mark.parametrize("headache", ["thunderclap", "non_orthostatic"])
def test_precedence_atypical_headache_beats_the_window(headache: str) -> None:
    # a thunderclap headache on day 4 is a possible subarachnoid haemorrhage, not a persistent leak
    trace = course(PUNCTURE, ("presentation", 80, {"headache": headache}))
    assert trace.state == "refer_alternative_diagnosis"


def test_precedence_no_puncture_beats_the_window_for_an_orthostatic_headache() -> None:
    assert course(presented(100)).state == "refer_spontaneous_intracranial_hypotension"


def test_thunderclap_hand_off_is_urgent_with_a_ct_head_and_other_atypical_ones_carry_no_study() -> None:
    thunderclap = course(PUNCTURE, ("presentation", 80, {"headache": "thunderclap"}))
    ct = [r for r in thunderclap.recommendations if r.kind == "imaging"]
    assert [(r.code, r.rating) for r in ct] == [("ct_head_without_contrast", "usually_appropriate")]
    other = course(PUNCTURE, ("presentation", 10, {"headache": "non_orthostatic"}))
    assert other.state == thunderclap.state
    assert [r.code for r in other.recommendations] == ["refer"]


def test_most_recent_puncture_starts_the_window() -> None:
    trace = course(PUNCTURE, ("dural_puncture", 60, {"procedure": "epidural"}), presented(100))
    assert trace.state == "conservative_therapy"


@pytest.mark.parametrize(("temperature", "state"), [(37.9, "conservative_therapy"), (38.0, "red_flag_escalation")])
def test_fever_boundary(temperature: float, state: str) -> None:
    assert course(PUNCTURE, presented(20, temperature_c=temperature)).state == state


@pytest.mark.parametrize(
    "finding",
    [
        {"temperature_c": 38.4},
        {"nuchal_rigidity": True},
        {"mental_status": "altered"},
        {"mental_status": "obtunded"},
        {"seizure": True},
        {"focal_deficit": True},
    ],
)
def test_each_red_flag_finding_at_presentation_escalates(finding: dict[str, object]) -> None:
    trace = course(PUNCTURE, presented(20, **finding))
    assert trace.state == "red_flag_escalation"
    assert trace.final


@pytest.mark.parametrize(
    "absent", [{"nuchal_rigidity": False}, {"mental_status": "normal"}, {"seizure": False}, {"focal_deficit": False}]
)
def test_normal_findings_are_not_red_flags(absent: dict[str, object]) -> None:
    assert course(PUNCTURE, presented(20, **absent)).state == "conservative_therapy"


# ------------------------------------------------------------------ red flags from every non-final state

FLAGS = ["fever", "nuchal_rigidity", "altered_mental_status", "obtundation", "seizure", "focal_deficit"]
FINDING_FOR = {
    "fever": {"temperature_c": 38.0},
    "nuchal_rigidity": {"nuchal_rigidity": True},
    "altered_mental_status": {"mental_status": "altered"},
    "obtundation": {"mental_status": "obtunded"},
    "seizure": {"seizure": True},
    "focal_deficit": {"focal_deficit": True},
}
LEAD_IN = {
    "presentation": [PUNCTURE],
    "conservative_therapy": [PUNCTURE, presented(10)],
    "blood_patch": [PUNCTURE, presented(10), ("reassessment", 60, {"headache": "worse"})],
    "blood_patch_after_patch": [
        PUNCTURE,
        presented(10),
        ("reassessment", 60, {"headache": "worse"}),
        ("blood_patch", 62),
    ],
}


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("where", sorted(LEAD_IN))
def test_red_flag_event_escalates_from_every_non_final_state(flag: str, where: str) -> None:
    trace = course(*LEAD_IN[where], ("red_flag", 70, {"finding": flag}))
    assert trace.state == "red_flag_escalation"
    assert trace.steps[-1].event == "red_flag"
    assert not trace.rejected


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("hours", [30.0, 60.0])
def test_red_flag_finding_on_a_reassessment_escalates_whatever_the_headache(flag: str, hours: float) -> None:
    # at 60 h the reassessment would pass through the reassessment state; the red flag still wins
    trace = course(PUNCTURE, presented(10), ("reassessment", hours, {"headache": "resolved", **FINDING_FOR[flag]}))
    assert trace.state == "red_flag_escalation"


@pytest.mark.parametrize("flag", FLAGS)
def test_red_flag_finding_on_reassessment_in_blood_patch_state_escalates(flag: str) -> None:
    lead = LEAD_IN["blood_patch_after_patch"]
    trace = course(*lead, ("reassessment", 70, {"headache": "improving", **FINDING_FOR[flag]}))
    assert trace.state == "red_flag_escalation"


# ------------------------------------------------------------------ section 2: conservative therapy and reassessment


def test_headache_resolved_on_therapy() -> None:
    trace = course(PUNCTURE, presented(10), ("headache_resolved", 30))
    assert trace.path == ("presentation", "conservative_therapy", "resolved")


@pytest.mark.parametrize(
    ("headache", "state", "path_tail"),
    [
        ("resolved", "resolved", ("reassessment", "resolved")),
        ("improving", "conservative_therapy", ("reassessment", "conservative_therapy")),
        ("unchanged", "blood_patch", ("reassessment", "blood_patch")),
        ("worse", "blood_patch", ("reassessment", "blood_patch")),
    ],
)
def test_reassessment_after_48h_passes_through_reassessment(
    headache: str, state: str, path_tail: tuple[str, ...]
) -> None:
    trace = course(PUNCTURE, presented(10), ("reassessment", 58, {"headache": headache}))
    assert trace.state == state
    assert trace.path == ("presentation", "conservative_therapy", *path_tail)
    assert [s.line for s in trace.steps if s.source == "conservative_therapy"] == [3]


@pytest.mark.parametrize(("hours_in_therapy", "state"), [(47.99, "conservative_therapy"), (48.0, "blood_patch")])
def test_48_hour_boundary(hours_in_therapy: float, state: str) -> None:
    trace = course(PUNCTURE, presented(10), ("reassessment", 10 + hours_in_therapy, {"headache": "unchanged"}))
    assert trace.state == state


@pytest.mark.parametrize("headache", ["improving", "unchanged", "worse"])
def test_early_reassessment_never_leads_to_a_patch(headache: str) -> None:
    trace = course(PUNCTURE, presented(10), ("reassessment", 40, {"headache": headache}))
    assert trace.state == "conservative_therapy"
    assert "reassessment" not in trace.path
    assert not trace.rejected


def test_early_reassessment_resolved_resolves() -> None:
    assert course(PUNCTURE, presented(10), ("reassessment", 20, {"headache": "resolved"})).state == "resolved"


def test_clock_runs_from_when_therapy_began_not_from_an_early_review() -> None:
    trace = course(
        PUNCTURE,
        presented(10),
        ("reassessment", 40, {"headache": "unchanged"}),
        ("reassessment", 58, {"headache": "unchanged"}),
    )
    assert trace.state == "blood_patch"


def test_improving_then_unchanged_leads_to_patch() -> None:
    trace = course(
        PUNCTURE,
        presented(10),
        ("reassessment", 60, {"headache": "improving"}),
        ("reassessment", 80, {"headache": "unchanged"}),
    )
    assert trace.state == "blood_patch"
    assert trace.path.count("reassessment") == 2


# ------------------------------------------------------------------ section 2: blood patch

IN_PATCH = [PUNCTURE, presented(10), ("reassessment", 60, {"headache": "worse"})]


def test_complete_relief_resolves() -> None:
    trace = course(*IN_PATCH, ("blood_patch", 61), ("patch_review", 70, {"relief": "complete"}))
    assert trace.state == "resolved"


@pytest.mark.parametrize("relief", ["partial", "none"])
def test_first_failed_patch_means_another_patch(relief: str) -> None:
    trace = course(*IN_PATCH, ("blood_patch", 61), ("patch_review", 70, {"relief": relief}))
    assert trace.state == "blood_patch"
    assert trace.path[-1] == "blood_patch" and trace.path.count("blood_patch") == 1  # self-transitions do not repeat


@pytest.mark.parametrize("relief", ["partial", "none"])
def test_second_failed_patch_is_refractory(relief: str) -> None:
    trace = course(
        *IN_PATCH,
        ("blood_patch", 61),
        ("patch_review", 70, {"relief": "none"}),
        ("blood_patch", 72),
        ("patch_review", 80, {"relief": relief}),
    )
    assert trace.state == "refractory_leak"
    assert trace.final


def test_patch_review_before_any_patch_is_out_of_sequence() -> None:
    trace = course(*IN_PATCH, ("patch_review", 61, {"relief": "complete"}))
    assert trace.state == "blood_patch"
    assert [r.line for r in trace.rejected] == [4]
    assert "before any blood patch" in trace.rejected[0].reason


@pytest.mark.parametrize("name,fields", [("blood_patch", {}), ("patch_review", {"relief": "complete"})])
@pytest.mark.parametrize("lead", [[PUNCTURE], [PUNCTURE, presented(10)]])
def test_patch_events_outside_blood_patch_are_out_of_sequence(name: str, fields: dict, lead: list) -> None:
    trace = course(*lead, (name, 30, fields))
    assert len(trace.rejected) == 1
    assert trace.rejected[0].kind == "out_of_sequence"
    assert trace.state == ("presentation" if len(lead) == 1 else "conservative_therapy")


def test_blood_patch_is_never_reached_without_a_48h_reassessment() -> None:
    trace = course(
        PUNCTURE, presented(10), ("blood_patch", 20), ("reassessment", 30, {"headache": "worse"}), ("blood_patch", 31)
    )
    assert "blood_patch" not in trace.path
    assert len(trace.rejected) == 2


@pytest.mark.parametrize(
    "final_lead",
    [
        [PUNCTURE, presented(10), ("headache_resolved", 30)],
        [PUNCTURE, presented(10, seizure=True)],
        [presented(10)],
    ],
)
@pytest.mark.parametrize(
    "name,fields",
    [
        ("red_flag", {"finding": "fever"}),
        ("reassessment", {"headache": "worse"}),
        ("headache_resolved", {}),
        ("presentation", {"headache": "orthostatic"}),
    ],
)
def test_final_states_accept_no_further_events(final_lead: list, name: str, fields: dict) -> None:
    before = course(*final_lead)
    trace = course(*final_lead, (name, 90, fields))
    assert before.final
    assert trace.state == before.state
    assert len(trace.rejected) == 1
    assert "final" in trace.rejected[0].reason


def test_rejected_events_do_not_stop_the_rest() -> None:
    trace = course(PUNCTURE, ("reassessment", 5, {"headache": "worse"}), presented(10), ("headache_resolved", 20))
    assert trace.state == "resolved"
    assert [r.line for r in trace.rejected] == [2]


def test_time_going_backwards_is_refused_with_its_line() -> None:
    trace = course(PUNCTURE, presented(10), ("headache_resolved", 5))
    assert trace.state == "conservative_therapy"
    assert [(r.line, r.kind) for r in trace.rejected] == [(3, "time_order")]
    assert "line 2" in trace.rejected[0].reason


def test_steps_record_event_time_reason_guard_and_citation() -> None:
    trace = course(PUNCTURE, presented(10), ("reassessment", 60, {"headache": "worse"}))
    last = trace.steps[-1]
    assert (last.line, last.event, last.source, last.target) == (3, "reassessment", "reassessment", "blood_patch")
    assert "48" in trace.steps[-2].guard  # the threshold appears in words
    assert last.citation and last.reason


# ------------------------------------------------------------------ [1.1] new red flags and the debilitating headache

NEW_FLAGS = ["non_positional_headache", "systemic_infection"]


@pytest.mark.parametrize("flag", NEW_FLAGS)
@pytest.mark.parametrize("where", sorted(LEAD_IN))
def test_new_red_flag_findings_escalate_from_every_non_final_state(flag: str, where: str) -> None:
    trace = course(*LEAD_IN[where], ("red_flag", 70, {"finding": flag}))
    assert trace.state == "red_flag_escalation"
    assert not trace.rejected


@pytest.mark.parametrize("where", sorted(LEAD_IN))
@pytest.mark.parametrize("headache", ["resolved", "improving", "unchanged", "worse"])
def test_loss_of_the_postural_pattern_escalates_from_every_state(where: str, headache: str) -> None:
    trace = course(*LEAD_IN[where], ("reassessment", 70, {"headache": headache, "positional": False}))
    assert trace.state == "red_flag_escalation"
    assert trace.steps[-1].transition == "postural_pattern_lost"
    assert not trace.rejected


@pytest.mark.parametrize("hours", [30.0, 60.0])
def test_a_headache_that_stays_positional_is_no_red_flag(hours: float) -> None:
    trace = course(PUNCTURE, presented(10), ("reassessment", hours, {"headache": "improving", "positional": True}))
    assert trace.state == "conservative_therapy"


@pytest.mark.parametrize(
    ("hours_in_therapy", "headache", "state"),
    [
        (48.0, "improving", "blood_patch"),
        (60.0, "improving", "blood_patch"),
        (60.0, "unchanged", "blood_patch"),
        (47.99, "improving", "conservative_therapy"),  # the 48 h rule holds for a debilitating headache too
        (47.99, "worse", "conservative_therapy"),
        (60.0, "resolved", "resolved"),  # a resolved headache is not debilitating: resolution wins
    ],
)
def test_debilitating_headache_at_the_review_leads_to_a_patch_only_from_48h(
    hours_in_therapy: float, headache: str, state: str
) -> None:
    review = ("reassessment", 10 + hours_in_therapy, {"headache": headache, "debilitating": True})
    trace = course(PUNCTURE, presented(10), review)
    assert trace.state == state
    if state == "blood_patch":
        assert trace.path[-2:] == ("reassessment", "blood_patch")


def test_improving_and_not_debilitating_continues_therapy() -> None:
    review = ("reassessment", 60, {"headache": "improving", "debilitating": False})
    assert course(PUNCTURE, presented(10), review).state == "conservative_therapy"
