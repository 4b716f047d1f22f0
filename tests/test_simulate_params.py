"""The simulation parameter file is validated like the definition: one line naming file and entry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.loader import load
from pathway.simulate import params as params_io
from pathway.simulate.distributions import Dist, norm_cdf, norm_ppf
from pathway.simulate.params import DEFAULT_PARAMS, ParamsError

SHIPPED = DEFAULT_PARAMS.read_text(encoding="utf-8")
VALIDATION_TEXT = (DEFAULT_PARAMS.parent / "validation.toml").read_text(encoding="utf-8")


def broken(old: str, new: str) -> str:
    assert old in SHIPPED, old
    return SHIPPED.replace(old, new, 1)


def test_shipped_parameters_load_and_match_the_pathway() -> None:
    params = params_io.load(pathway=load())
    assert set(params.policies) >= {"guideline", "reflexive_imaging", "dismiss_red_flags"}
    assert abs(sum(c.weight.value for c in params.atypical) - 1.0) < 1e-12


def test_every_number_names_its_source() -> None:
    params = params_io.load()
    numbers = [
        params.spread_days,
        *params.case_mix.values(),
        *(p.share for p in params.punctures),
        *(p.pdph for p in params.punctures),
        params.febrile_share,
        params.resolution_reported,
        params.improving_within,
        params.worse,
        *(n for g in params.groups.values() for n in (*g.first_patch.values(), *g.repeat_patch.values())),
        *(c.rate for c in params.complications),
        *params.dose_msv.values(),
    ]
    dists = [
        params.onset,
        params.present_after_onset,
        params.late_after_puncture,
        *params.vitals.values(),
        *params.febrile_vitals.values(),
        *(g.resolution for g in params.groups.values()),
        params.review_first,
        params.review_interval,
        params.patch_delay,
        params.patch_review,
        params.red_flag_notice,
        *(c.onset for c in params.complications),
    ]
    for item in [*numbers, *dists]:
        assert item.source.strip(), item
    # published figures are not marked derived; modelling choices are
    assert not params.groups["fine_needle"].first_patch["complete"].derived
    assert params.case_mix["atypical"].derived
    for item in [*numbers, *dists]:
        if item.source.startswith("assumption"):
            assert item.derived, item


EVIDENCE = Path(__file__).parent.parent / "docs" / "evidence.md"


def cited_ids(text: str) -> set[str]:
    """Citation ids at the start of every source: 'id: what was taken' (several ids joined by '; ')."""
    ids = set()
    for source in re.findall(r'source = "([^"]*)"', text):
        parts = source.split("; ")
        heads = [part.split(":", 1)[0].strip() for part in parts if ":" in part] or [source.strip()]
        ids.update(head for head in heads if re.fullmatch(r"[a-z][a-z0-9_]*", head))
    return ids


def test_every_citation_id_of_the_parameters_has_an_evidence_entry() -> None:
    ids = cited_ids(SHIPPED) | cited_ids(VALIDATION_TEXT)
    headings = set(re.findall(r"^## (\S+)", EVIDENCE.read_text(encoding="utf-8"), re.MULTILINE))
    assert ids - {"assumption"} <= headings, sorted(ids - {"assumption"} - headings)
    assert {"lybecker1995", "moore2019", "guglielminotti2019", "moen2004"} <= ids


def test_accidental_punctures_are_a_small_share_of_punctures() -> None:
    """The issue's finding: ADP was 15 % of punctures and a third of PDPH; now about 1-1.5 % of epidurals."""
    params = params_io.load()
    weights = {p.id: p.share.value * p.pdph.value for p in params.punctures}
    shares = {p.id: p.share.value / sum(q.share.value for q in params.punctures) for p in params.punctures}
    assert shares["epidural_adp_17g"] < 0.01
    assert weights["epidural_adp_17g"] / sum(weights.values()) < 0.02


def test_meningitis_is_a_rate_per_pdph_patient() -> None:
    params = params_io.load()
    meningitis = next(c for c in params.complications if c.id == "meningitis")
    per_block = 29 / 1_710_000  # Moen 2004
    assert 10 * per_block < meningitis.rate.value < 40 * per_block


CASES = {
    "unknown top-level key": (broken("[meta]", "[metadata]"), "params.toml", "unknown key 'metadata'"),
    "unknown key in an entry": (
        broken("worse = { value = 0.3, source", "worse = { value = 0.3, weight = 2, source"),
        "reassessment.worse",
        "unknown key 'weight'",
    ),
    "probability above 1": (
        broken("worse = { value = 0.3, source", "worse = { value = 1.3, source"),
        "reassessment.worse.value",
        "at most 1",
    ),
    "number that is a string": (
        broken("spread_days = { value = 365,", 'spread_days = { value = "365",'),
        "calendar.spread_days.value",
        "expected a number",
    ),
    "missing source": (
        broken(
            'reported = { value = 0.5, source = "assumption: share of spontaneous resolutions the patient '
            'reports before the next review", ',
            "reported = { value = 0.5, ",
        ),
        "resolution.reported",
        "missing 'source'",
    ),
    "puncture in an unknown group": (
        broken('group = "large_bore"', 'group = "huge_bore"'),
        "punctures[5].group",
        "unknown group 'huge_bore'",
    ),
    "febrile vital that is not a vital": (
        broken("vitals = { temperature_c = {", "vitals = { pulse = {"),
        "presentation.febrile_without_infection.vitals.pulse",
        "not one of the vitals",
    ),
    "unknown distribution": (
        broken('first = { dist = "uniform"', 'first = { dist = "gamma"'),
        "reassessment.first.dist",
        "unknown distribution 'gamma'",
    ),
    "distribution with a negative time": (
        broken('first = { dist = "uniform", low = 36', 'first = { dist = "uniform", low = -36'),
        "reassessment.first.low",
        "cannot be negative",
    ),
    "relief probabilities that do not add up": (
        broken("complete = { value = 0.75,", "complete = { value = 0.85,"),
        "groups.fine_needle.first_patch",
        "add up to 1.1",
    ),
    "not TOML": ("[meta\n", "params.toml", "not valid TOML"),
    "an expression is not evaluated": (
        broken("spread_days = { value = 365,", "spread_days = { value = \"__import__('os')\","),
        "calendar.spread_days.value",
        "expected a number",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_broken_parameter_files_fail_with_one_line(name: str) -> None:
    text, entry, problem = CASES[name]
    with pytest.raises(ParamsError) as caught:
        params_io.check_against(params_io.loads(text, "params.toml"), load())
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("params.toml: ")
    assert entry in message and problem in message


AGAINST_PATHWAY = {
    "unknown event": (broken('patch = "blood_patch"', 'patch = "bloodpatch"'), "vocabulary.patch", "not an event"),
    "field value the event does not allow": (
        broken('procedure = "myelography"', 'procedure = "myelogram"'),
        "punctures[4].fields.procedure",
        "'myelogram' is not one of",
    ),
    "unknown exam field": (
        broken("exam = { seizure = true }", "exam = { fits = true }"),
        "complications[1].exam",
        "unknown field",
    ),
    "action code the pathway lacks": (
        broken('reassess = "reassess_48_72h"', 'reassess = "reassess_24h"'),
        "actions.reassess",
        "not an action recommendation",
    ),
    "outcome that is not final": (
        broken('resolution = "resolved"', 'resolution = "blood_patch"'),
        "outcomes.resolution",
        "not a final state",
    ),
    "imaging at presentation the initial state does not list": (
        broken('codes = ["ct_head_without_contrast"]', 'codes = ["pet_head"]'),
        "policies.reflexive_imaging.at_presentation[0].codes",
        "'pet_head' is not an imaging recommendation",
    ),
}


@pytest.mark.parametrize("name", AGAINST_PATHWAY)
def test_names_are_checked_against_the_pathway(name: str) -> None:
    text, entry, problem = AGAINST_PATHWAY[name]
    params = params_io.loads(text, "params.toml")
    with pytest.raises(ParamsError) as caught:
        params_io.check_against(params, load())
    assert entry in str(caught.value) and problem in str(caught.value)


def test_cli_refuses_a_broken_parameter_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(CASES["probability above 1"][0], encoding="utf-8")
    result = CliRunner().invoke(main, ["simulate", "-n", "5", "--params", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "reassessment.worse.value" in lines[0]
    assert not (tmp_path / "o").exists()


def test_normal_quantile_is_accurate() -> None:
    u = np.array([1e-6, 0.001, 0.025, 0.1, 0.5, 0.9, 0.975, 0.999])
    # reference values of the standard normal quantile
    expected = np.array([-4.753424, -3.090232, -1.959964, -1.281552, 0.0, 1.281552, 1.959964, 3.090232])
    assert np.allclose(norm_ppf(u), expected, atol=1e-5)
    assert np.allclose(norm_cdf(norm_ppf(u)), u, rtol=1e-6)


def test_lognormal_draws_have_the_stated_median_and_spread() -> None:
    dist = Dist("lognormal", median=18.5, sigma=0.68)
    draws = dist.sample((np.arange(100_000) + 0.5) / 100_000)
    assert abs(np.median(draws) - 18.5) < 0.01
    # the onset source: 65 % within 24 h, 92 % within 48 h (the fit is within a few points)
    assert abs(np.mean(draws <= 24) - 0.65) < 0.03
    assert abs(np.mean(draws <= 48) - 0.92) < 0.02


def test_truncated_draws_stay_above_the_floor() -> None:
    dist = Dist("lognormal", median=96, sigma=0.6)
    floor = np.full(10_000, 150.0)
    draws = dist.sample_above((np.arange(10_000) + 0.5) / 10_000, floor)
    assert draws.min() >= 150.0 - 1e-6
    assert np.median(draws) > 150.0


SETS = {
    "unknown name": (["reassessment.wors=0.2"], "--set: reassessment.wors", "unknown parameter 'wors'"),
    "unknown entry of an array": (["complications.meningits.rate=0.1"], "complications.meningits", "no entry"),
    "a distribution as a whole": (["onset.after_puncture=20"], "onset.after_puncture", "is a distribution"),
    "a value out of range": (["reassessment.worse=1.5"], "--set: reassessment.worse.value", "at most 1"),
    "a number that is text": (["punctures.lp_22g_cutting.share=many"], "punctures[0].share.value", "expected a number"),
    "no equals sign": (["reassessment.worse"], "--set: reassessment.worse", "expected PATH=VALUE"),
    "a table as the value": (["reassessment.worse={value=1}"], "reassessment.worse", "not a table"),
}


@pytest.mark.parametrize("name", SETS)
def test_set_is_validated_like_the_file(name: str) -> None:
    assignments, entry, problem = SETS[name]
    with pytest.raises(ParamsError) as caught:
        params_io.loads(SHIPPED, "params.toml", assignments)
    message = str(caught.value)
    assert "\n" not in message and entry in message and problem in message, message


def test_set_changes_one_number_and_keeps_its_source() -> None:
    base = params_io.loads(SHIPPED, "params.toml")
    changed = params_io.loads(
        SHIPPED,
        "params.toml",
        ["complications.meningitis.rate=0.01", "onset.after_puncture.median=30", "presentation.atypical.1.weight=0.6"],
    )
    meningitis = {c.id: c for c in changed.complications}["meningitis"]
    assert meningitis.rate.value == 0.01
    assert meningitis.rate.source == {c.id: c for c in base.complications}["meningitis"].rate.source
    assert changed.onset.median == 30 and base.onset.median != 30
    assert changed.digest != base.digest and changed.overrides
    assert changed.punctures == base.punctures


def test_set_on_the_command_line_changes_the_cohort(tmp_path: Path) -> None:
    def escalations(*extra: str) -> int:
        out = tmp_path / str(len(extra))
        args = ["simulate", "-n", "400", "--summary-only", "--no-plots", "-q", "--out", str(out), *extra]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert summary["params"]["overrides"] == ([extra[1]] if extra else [])
        return int(summary["figures"]["escalations_count"])

    assert escalations("--set", "complications.meningitis.rate=0.2") > escalations() + 40


def test_cli_refuses_an_unknown_set_name_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["simulate", "-n", "5", "--set", "onset.typo=3", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--set: onset.typo" in lines[0] and "unknown parameter" in lines[0]
    assert not (tmp_path / "o").exists()
