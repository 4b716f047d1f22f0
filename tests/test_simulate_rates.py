"""The cohort's rates match the parameter file, within explicit binomial confidence bounds.

Each check compares a count k out of n with the probability p the parameters imply:
|k - n p| must be within Z standard deviations (Z = 3.29: a two-sided 99.9 % interval,
plus 0.5 for continuity). The cohorts are seeded, so the checks are deterministic; the
bound says how far chance alone could have moved them.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from pathway.loader import load
from pathway.simulate import cohort, summary
from pathway.simulate import params as params_io
from pathway.simulate.params import SimParams

Z = 3.29
N = 20_000


def within(k: int, n: int, p: float, what: str) -> None:
    bound = Z * math.sqrt(n * p * (1 - p)) + 0.5
    assert abs(k - n * p) <= bound, f"{what}: {k} of {n}, expected {n * p:.1f} ± {bound:.1f} (p = {p})"


def cohort_summary(text: str, policies: tuple[str, ...], seed: int) -> tuple[dict[str, Any], SimParams]:
    pathway = load()
    spec = cohort.make_spec(pathway, text, "params.toml", seed, policies, monitor_all_below=0, monitor_every=10**12)
    totals = cohort.run(spec, N, cohort.local_results(spec, N, 2, 2500))
    ctx = cohort.context(spec)
    return summary.build(totals, policies, ctx.compiled, ctx.params, seed), ctx.params


@pytest.fixture(scope="module")
def shipped() -> tuple[dict[str, Any], SimParams]:
    text, _ = params_io.read_text()
    return cohort_summary(text, ("guideline", "reflexive_imaging"), seed=101)


def edited(*changes: tuple[str, str]) -> str:
    text, _ = params_io.read_text()
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def frequent_complications() -> tuple[dict[str, Any], SimParams]:
    """Complications made common (and patch outcomes made uniform) so their rates can be checked."""
    text = edited(
        ("rate = { value = 0.00146,", "rate = { value = 0.05,"),
        ("rate = { value = 0.00166,", "rate = { value = 0.03,"),
        ("rate = { value = 0.00057,", "rate = { value = 0.02,"),
        ("complete = { value = 0.67,", "complete = { value = 0.75,"),
        ("partial = { value = 0.28,", "partial = { value = 0.18,"),
        ("none = { value = 0.05,", "none = { value = 0.07,"),
        ("horizon = { value = 42,", "horizon = { value = 365,"),  # every return inside the horizon
    )
    return cohort_summary(text, ("guideline", "dismiss_red_flags"), seed=202)


def test_case_mix_matches_the_parameters(shipped: tuple[dict[str, Any], SimParams]) -> None:
    result, params = shipped
    mix = result["case_mix"]
    out_of_scope = 0.0
    for name, number in params.case_mix.items():
        within(mix[name], N, number.value, f"case {name}")
        out_of_scope += number.value
    within(mix["in_scope"], N, 1 - out_of_scope, "in scope")


def test_atypical_headaches_split_as_weighted(shipped: tuple[dict[str, Any], SimParams]) -> None:
    result, params = shipped
    headaches = result["field_values"]["presentation"]["headache"]
    atypical = result["case_mix"]["atypical"]
    for choice in params.atypical:
        value = choice.fields["headache"]
        within(headaches[value], atypical, choice.weight.value, f"atypical headache {value}")


def test_puncture_mix_follows_share_times_incidence(shipped: tuple[dict[str, Any], SimParams]) -> None:
    result, params = shipped
    punctured = result["events"]["dural_puncture"]["patients"]
    assert punctured == N - result["case_mix"]["no_puncture"]
    total = sum(p.share.value * p.pdph.value for p in params.punctures)
    expected: dict[str, float] = {}
    for puncture in params.punctures:
        procedure = puncture.fields["procedure"]
        expected[procedure] = expected.get(procedure, 0.0) + puncture.share.value * puncture.pdph.value / total
    seen = result["field_values"]["dural_puncture"]["procedure"]
    for procedure, p in expected.items():
        within(seen.get(procedure, 0), punctured, p, f"procedure {procedure}")


def test_guideline_orders_only_usually_appropriate_imaging(shipped: tuple[dict[str, Any], SimParams]) -> None:
    result, params = shipped
    imaging, figures = result["imaging"], result["figures"]
    escalations = figures["escalations_count"]  # in the first episode or at a return visit
    by_code = imaging["by_code_count"]
    assert set(imaging["by_rating_count"]) <= {"usually_appropriate"}
    assert by_code["mri_head_without_and_with_contrast"] == escalations  # one urgent MRI head each
    # [1.1] the only other study: the urgent CT head of a thunderclap hand-off, never for other atypical ones
    ct = by_code.get("ct_head_without_contrast", 0)
    assert set(by_code) <= {"mri_head_without_and_with_contrast", "ct_head_without_contrast"}
    thunderclaps = result["field_values"]["presentation"]["headache"]["thunderclap"]
    assert 0 < ct <= thunderclaps < result["final_states"]["refer_alternative_diagnosis"]
    assert figures["imaging_studies_count"] == escalations + ct
    assert figures["radiation_msv_total"] == pytest.approx(ct * params.dose_msv["☢☢☢"].value)


def test_reflexive_imaging_orders_at_presentation_as_weighted(shipped: tuple[dict[str, Any], SimParams]) -> None:
    result, params = shipped
    row = result["by_policy"]["reflexive_imaging"]
    by_code = row["imaging"]["by_code_count"]
    escalations = row["figures"]["escalations_count"]  # each also gets the urgent MRI head
    thunderclap_ct = result["imaging"]["by_code_count"].get("ct_head_without_contrast", 0)  # the guideline's own CTs
    ordered = {
        "ct_head_without_contrast": by_code.get("ct_head_without_contrast", 0) - thunderclap_ct,
        "mri_head_without_and_with_contrast": by_code.get("mri_head_without_and_with_contrast", 0) - escalations,
    }
    for code, count in ordered.items():
        p = sum(c.weight.value for c in params.policy("reflexive_imaging").at_presentation if code in c.codes)
        within(count, N, p, f"reflexive {code}")
    assert row["imaging"]["by_rating_count"]["usually_not_appropriate"] == sum(ordered.values())
    # radiation follows from the studies: every CT head at the dose the parameters give its RRL
    ct_dose = params.dose_msv["☢☢☢"].value
    figures = row["figures"]
    all_ct = ordered["ct_head_without_contrast"] + thunderclap_ct
    assert figures["radiation_msv_total"] == pytest.approx(all_ct * ct_dose)
    rate = figures["radiation_msv_per_1000"]
    assert rate["value"] == pytest.approx(figures["radiation_msv_total"] * summary.PER / N, abs=1e-3)
    assert rate["low"] < rate["value"] < rate["high"] and rate["n"] == N


def test_complications_occur_at_their_rates(frequent_complications: tuple[dict[str, Any], SimParams]) -> None:
    result, params = frequent_complications
    eligible = result["case_mix"]["in_scope"] + result["case_mix"]["late"]
    for complication in params.complications:
        seen = result["complications"][complication.id]["patients_count"]
        within(seen, eligible, complication.rate.value, f"complication {complication.id}")


def test_patch_relief_matches_the_parameters(frequent_complications: tuple[dict[str, Any], SimParams]) -> None:
    result, params = frequent_complications
    relief = result["field_values"]["patch_review"]["relief"]
    reviews = sum(relief.values())
    assert reviews > 1000
    for name, number in params.groups["fine_needle"].first_patch.items():
        value = params.relief_fields[name]["relief"]
        within(relief.get(value, 0), reviews, number.value, f"relief {value}")


def test_guideline_escalates_every_complication_in_the_first_episode_or_at_the_return(
    frequent_complications: tuple[dict[str, Any], SimParams],
) -> None:
    result, _ = frequent_complications
    figures = result["by_policy"]["guideline"]["figures"]
    returns = result["by_policy"]["guideline"]["returns"]
    assert figures["complications_count"] > 1000
    assert figures["complications_not_escalated_count"] == 0  # the horizon is a year here
    # escalated in the first episode (a final state) or at a return visit, never both
    first = result["by_policy"]["guideline"]["final_states"]["red_flag_escalation"]
    assert figures["escalations_count"] == first + returns["escalated_count"]
    assert returns["escalated_count"] == returns["patients_count"] > 0  # the guideline escalates every return
    assert set(returns["final_states"]) == {"red_flag_escalation"}


def test_dismissing_red_flags_delays_and_misses_escalation(
    frequent_complications: tuple[dict[str, Any], SimParams],
) -> None:
    result, params = frequent_complications
    guideline, dismissed = (result["by_policy"][p]["figures"] for p in ("guideline", "dismiss_red_flags"))
    assert dismissed["complications_count"] == guideline["complications_count"]  # the same patients
    delay = params.policy("dismiss_red_flags").red_flag_delay
    dismissed_median = dismissed["time_to_escalation_h"]["p50"]
    assert dismissed_median["low"] > guideline["time_to_escalation_h"]["p50"]["high"]
    assert dismissed_median["value"] >= delay.median * 0.5
    difference = result["differences"]["policies"]["dismiss_red_flags"]
    assert difference["time_to_escalation_h_mean"]["low"] > delay.median * 0.5  # paired, same patients
    # the pitfall at the return visit too: a first return ends in a hand-off, the patient comes back again
    returns = result["by_policy"]["dismiss_red_flags"]["returns"]
    assert returns["episodes_count"] > returns["patients_count"]
    assert sum(n for state, n in returns["final_states"].items() if state != "red_flag_escalation") > 0
