"""The shipped definition keeps to the vocabulary and rules of the clinical contract 1.1 (docs/clinical-contract.md)."""

from __future__ import annotations

from pathway.loader import load

STATES = {
    "presentation": "initial",
    "conservative_therapy": "active",
    "reassessment": "active",
    "blood_patch": "active",
    "resolved": "final",
    "red_flag_escalation": "final",
    "refer_spontaneous_intracranial_hypotension": "final",
    "refer_persistent_headache": "final",
    "refer_alternative_diagnosis": "final",
    "refractory_leak": "final",
}
EVENTS = {
    "dural_puncture": {
        "procedure": [
            "lumbar_puncture",
            "spinal_anesthesia",
            "epidural",
            "myelography",
            "intrathecal_injection",
            "spinal_surgery",
        ],
        "needle_gauge": "int",
        "needle_tip": ["cutting", "atraumatic"],
        "accidental": "bool",
    },
    "presentation": {"headache": ["orthostatic", "non_orthostatic", "thunderclap"]},
    "reassessment": {
        "headache": ["resolved", "improving", "unchanged", "worse"],
        "debilitating": "bool",
        "positional": "bool",
    },
    "red_flag": {
        "finding": [
            "fever",
            "nuchal_rigidity",
            "altered_mental_status",
            "obtundation",
            "seizure",
            "focal_deficit",
            "non_positional_headache",
            "systemic_infection",
        ]
    },
    "headache_resolved": {},
    "blood_patch": {"level": "string"},
    "patch_review": {"relief": ["complete", "partial", "none"]},
}
FINDINGS = {
    "temperature_c": "number",
    "nuchal_rigidity": "bool",
    "mental_status": ["normal", "altered", "obtunded"],
    "seizure": "bool",
    "focal_deficit": "bool",
}
IMAGING = {
    "ct_head_without_contrast",
    "mri_head_without_and_with_contrast",
    "mri_spine_without_and_with_contrast",
    "ct_myelography",
    "digital_subtraction_myelography",
}
ACTIONS = {
    "hydration",
    "caffeine",
    "analgesia",
    "return_precautions",
    "reassess_48_72h",
    "epidural_blood_patch",
    "neurology_consult",
    "refer",
}


def _field_shape(spec) -> object:  # type: ignore[no-untyped-def]
    return list(spec.values) if spec.type == "enum" else spec.type


def test_state_ids_and_kinds() -> None:
    pathway = load()
    assert {s.id: s.kind for s in pathway.states} == STATES
    assert pathway.initial == "presentation"


def test_event_vocabulary() -> None:
    pathway = load()
    assert set(pathway.event_names) == set(EVENTS)
    for name, fields in EVENTS.items():
        spec = pathway.event(name)
        wanted = dict(fields)
        if name in ("presentation", "reassessment"):
            wanted.update(FINDINGS)
        assert {f.name: _field_shape(f) for f in spec.fields} == wanted, name


def test_required_fields() -> None:
    pathway = load()
    required = {(e.name, f.name) for e in pathway.events for f in e.fields if f.required}
    assert required == {
        ("dural_puncture", "procedure"),
        ("presentation", "headache"),
        ("reassessment", "headache"),
        ("red_flag", "finding"),
        ("patch_review", "relief"),
    }


def test_recommendation_codes_and_kinds() -> None:
    pathway = load()
    for state in pathway.states:
        for rec in state.recommendations:
            assert rec.code in (IMAGING if rec.kind == "imaging" else ACTIONS), (state.id, rec.code)
            if rec.kind == "imaging":
                assert rec.rating and rec.rrl


def test_no_imaging_is_appropriate_in_conservative_therapy_or_at_presentation() -> None:
    pathway = load()
    for state_id in ("presentation", "conservative_therapy"):
        imaging = [r for r in pathway.state(state_id).recommendations if r.kind == "imaging"]
        assert imaging, state_id
        assert {r.rating for r in imaging} == {"usually_not_appropriate"}
    conservative = {r.code for r in pathway.state("conservative_therapy").recommendations}
    assert {"hydration", "caffeine", "analgesia", "return_precautions", "reassess_48_72h"} <= conservative


def test_red_flag_escalation_recommends_urgent_mri_and_neurology() -> None:
    recs = {r.code: r for r in load().state("red_flag_escalation").recommendations}
    assert recs["mri_head_without_and_with_contrast"].rating == "usually_appropriate"
    assert recs["mri_head_without_and_with_contrast"].rrl == "O"
    assert "neurology_consult" in recs


def test_rrl_of_named_studies() -> None:
    pathway = load()
    for state in pathway.states:
        for rec in state.recommendations:
            if rec.code == "ct_head_without_contrast":
                assert rec.rrl == "☢☢☢"
            if rec.code.startswith("mri_"):
                assert rec.rrl == "O"


def test_blood_patch_and_refer_states_carry_their_actions() -> None:
    pathway = load()
    assert "epidural_blood_patch" in {r.code for r in pathway.state("blood_patch").recommendations}
    for state in pathway.states:
        if state.id.startswith("refer_") or state.id == "refractory_leak":
            assert "refer" in {r.code for r in state.recommendations}


def test_thunderclap_hand_off_carries_an_urgent_ct_head_and_nothing_else_is_imaged() -> None:
    state = load().state("refer_alternative_diagnosis")
    thunderclap = {r.code: r for r in state.recommendations_for({"headache": "thunderclap"})}
    assert thunderclap["ct_head_without_contrast"].rating == "usually_appropriate"
    assert thunderclap["ct_head_without_contrast"].rrl == "☢☢☢"
    assert "refer" in thunderclap
    other = state.recommendations_for({"headache": "non_orthostatic"})
    assert [r.code for r in other] == ["refer"]


def test_leak_imaging_in_a_refractory_leak_lists_both_myelographies_and_marks_prose_ratings_derived() -> None:
    recs = {r.code: r for r in load().state("refractory_leak").recommendations}
    assert {"ct_myelography", "digital_subtraction_myelography", "mri_spine_without_and_with_contrast"} <= set(recs)
    for code in ("ct_myelography", "digital_subtraction_myelography"):
        assert recs[code].rrl == "☢☢☢☢"
        assert recs[code].rrl_cite is not None and recs[code].rrl_cite.ref == "acr_myelopathy"
    assert all(r.derived for r in recs.values() if r.rating == "may_be_appropriate")


def test_headline_source_is_the_acr_criteria_and_the_seed_comes_second() -> None:
    pathway = load()
    assert pathway.cite.ref == "acr_ih"
    assert [c.ref for c in pathway.also_cite] == ["seed"]


def test_return_precautions_name_the_seed_warning_signs() -> None:
    pathway = load()
    for state_id in ("conservative_therapy", "resolved"):
        text = {r.code: r.text for r in pathway.state(state_id).recommendations}["return_precautions"].lower()
        for sign in ("drowsiness", "confusion", "vision", "weakness", "fever", "neck stiffness", "positional"):
            assert sign in text, (state_id, sign)


def test_every_entry_carries_a_citation_that_resolves() -> None:
    pathway = load()
    refs = {c.id for c in pathway.citations}
    cites = [
        pathway.cite,
        *(s.cite for s in pathway.states),
        *(t.cite for t in pathway.transitions),
        *(r.cite for s in pathway.states for r in s.recommendations),
        *(p.cite for p in pathway.parameters),
        *(r.cite for r in pathway.rejections),
        *(p.cite for p in pathway.predicates),
    ]
    assert cites and all(c.ref in refs for c in cites)


def test_thresholds_are_the_clinical_ones() -> None:
    pathway = load()
    assert pathway.parameter("puncture_window_h").value == 72
    assert pathway.parameter("reassess_min_h").value == 48
    assert pathway.parameter("fever_threshold_c").value == 38.0
    assert pathway.parameter("max_patches").value == 2


def test_every_non_final_state_has_a_red_flag_transition_first() -> None:
    pathway = load()
    for state in pathway.states:
        if state.final:
            continue
        outgoing = pathway.transitions_from(state.id)
        assert outgoing[0].target == "red_flag_escalation", state.id
        assert "red_flag" in outgoing[0].events
