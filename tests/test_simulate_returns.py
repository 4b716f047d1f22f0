"""Return visits, the 1.1 inputs (debilitating review, loss of the postural pattern) and the temperatures.

A complication whose signs show after the first episode has ended brings the patient back as a new
episode that the guideline escalates; a policy that dismisses red flags sends the first return home.
The checks read the per-patient tables and replay the event streams through `pathway run`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.simulate import params as params_io

FREQUENT = ["--set", "complications.subdural_haematoma.rate=0.1", "--set", "complications.meningitis.rate=0.05"]


def simulate(out: Path, *args: str) -> None:
    command = ["simulate", "-n", "1500", "--seed", "17", "--no-plots", "-q", "--out", str(out), *FREQUENT, *args]
    result = CliRunner().invoke(main, command, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("returns")
    simulate(out, "--compare", "guideline,dismiss_red_flags")
    return out


def patients(out: Path, policy: str) -> pl.DataFrame:
    return pl.read_parquet(out / "patients.parquet").filter(pl.col("policy") == policy)


def test_guideline_escalates_in_the_first_episode_at_once_and_otherwise_at_the_return(cohort: Path) -> None:
    notice = params_io.load().red_flag_notice.high
    assert notice is not None
    table = patients(cohort, "guideline").filter(pl.col("complication").is_not_null())
    first = table.filter(pl.col("escalated_episode") == 1)
    returned = table.filter(pl.col("escalated_episode") > 1)
    assert first.height > 50 and returned.height > 20
    assert first["hours_to_escalation"].max() <= notice + 1 / 60  # minutes
    # a return: the first episode had ended, the signs came later or were still unheeded, and the escalation
    # is in the next episode, after both
    assert (returned["escalated_episode"] == 2).all() and (returned["episodes"] == 2).all()
    assert (returned["escalated_at"] >= returned["ended_at"]).all()
    assert (returned["escalated_at"] >= returned["complication_signs_at"]).all()
    # never escalated: only signs that came long after the first episode, their return beyond the 42-day horizon
    missed = table.filter(pl.col("escalated_at").is_null())
    assert missed.height <= table.height // 50
    assert (missed["complication_signs_at"] > missed["ended_at"]).all()
    assert (missed["complication_signs_at"] > missed["presented_at"] + timedelta(days=20)).all()


def test_a_short_horizon_leaves_the_late_returns_unescalated(tmp_path: Path) -> None:
    simulate(tmp_path, "--set", "returns.horizon=3", "--summary-only")
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    short = summary["figures"]["complications_not_escalated_count"]
    assert short > 0
    assert summary["returns"]["patients_count"] < summary["figures"]["complications_count"]


def test_dismissing_red_flags_dismisses_the_first_return_too(cohort: Path) -> None:
    table = patients(cohort, "dismiss_red_flags").filter(pl.col("episodes") > 1)
    assert table.height > 20
    assert (table["escalated_episode"].fill_null(0) != 1).all()
    events = pl.read_parquet(cohort / "events.parquet").filter(pl.col("policy") == "dismiss_red_flags")
    second = events.filter((pl.col("episode") == 2) & pl.col("patient").is_in(table["patient"].implode()))
    # the first return is a presentation without findings, which the pathway hands off
    assert set(second.filter(pl.col("seq") == 1)["event"].to_list()) == {"presentation"}
    assert set(second.filter(pl.col("seq") == 1)["state"].to_list()) <= {
        "refer_spontaneous_intracranial_hypotension",  # an episode does not carry the puncture over
        "refer_alternative_diagnosis",
    }
    assert (
        second.filter(pl.col("event") == "presentation")["temperature_c"].null_count()
        == second.filter(pl.col("event") == "presentation").height
    )


def test_events_with_episodes_replay_through_pathway_run(cohort: Path) -> None:
    replay = CliRunner().invoke(main, ["run", str(cohort / "events.dismiss_red_flags.jsonl"), "--json"])
    assert replay.exit_code == 0, replay.stderr  # every event of every episode accepted, no monitor violation
    traces: dict[tuple[str, str | None], Any] = {
        (t["patient"], t.get("episode")): t for t in map(json.loads, replay.stdout.splitlines())
    }
    table = patients(cohort, "dismiss_red_flags")
    assert len(traces) == int(table["episodes"].sum())
    for row in table.filter(pl.col("episodes") > 1).iter_rows(named=True):
        first = traces[(row["patient"], "1")]
        assert first["state"] == row["final_state"]
        last = traces[(row["patient"], str(row["episodes"]))]
        if row["escalated_episode"] is not None:
            escalated = traces[(row["patient"], str(row["escalated_episode"]))]
            assert escalated["state"] == "red_flag_escalation"
        assert last["final"]


def test_loss_of_the_postural_pattern_is_how_some_subdural_haematomas_show(cohort: Path) -> None:
    events = pl.read_parquet(cohort / "events.parquet").filter(pl.col("policy") == "guideline")
    flags = events.filter(pl.col("event") == "red_flag")["finding"].value_counts()
    findings = dict(zip(flags["finding"].to_list(), flags["count"].to_list(), strict=True))
    assert findings.get("non_positional_headache", 0) > 20 and findings.get("altered_mental_status", 0) > 0
    lost = events.filter((pl.col("event") == "reassessment") & (pl.col("positional") == False))  # noqa: E712
    assert lost.height > 0 and (lost["state"] == "red_flag_escalation").all()


def test_debilitating_is_reported_at_every_review_of_a_headache_still_present(cohort: Path) -> None:
    reviews = pl.read_parquet(cohort / "events.parquet").filter(pl.col("event") == "reassessment")
    resolved = reviews.filter(pl.col("headache") == "resolved")
    present = reviews.filter(pl.col("headache") != "resolved")
    assert resolved["debilitating"].null_count() == resolved.height
    assert present["debilitating"].null_count() == 0
    share = present["debilitating"].mean()
    assert share is not None and 0.4 < float(share) < 0.6  # drawn with the parameter's 0.5
    # the pathway, not the simulator, decides: an improving but debilitating headache after 48 h is patched
    improving = present.filter((pl.col("headache") == "improving") & pl.col("debilitating"))
    assert set(improving["state"].to_list()) <= {"blood_patch", "conservative_therapy", "red_flag_escalation"}
    assert "blood_patch" in set(improving["state"].to_list())


def test_temperatures_include_borderline_and_febrile_patients_without_infection(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["simulate", "-n", "20000", "--seed", "3", "--no-plots", "-q", "--no-events", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["figures"]["complications_count"] < summary["figures"]["escalations_count"]  # fever alone escalates
    rerun = CliRunner().invoke(
        main, ["simulate", "-n", "20000", "--seed", "3", "--no-plots", "-q", "--out", str(tmp_path / "e")]
    )
    assert rerun.exit_code == 0
    events = pl.read_parquet(tmp_path / "e" / "events.parquet").filter(pl.col("event") == "presentation")
    temperatures = events["temperature_c"].drop_nulls()
    assert (temperatures == 37.9).sum() > 0 and (temperatures == 38.0).sum() > 0
    fever = events.filter(pl.col("temperature_c") >= 38.0)
    assert fever.height > 60 and (fever["state"] == "red_flag_escalation").all()
    assert (events.filter(pl.col("temperature_c") == 37.9)["state"] != "red_flag_escalation").all()
