"""Cohort runs: both engines agree on every course, results do not depend on workers or
chunking, the event files replay through `pathway run` to the same outcomes, and
summary.json keeps its contract."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.loader import load
from pathway.simulate import cohort, natural, summary
from pathway.simulate import params as params_io
from pathway.simulate.streams import patient_uniforms

POLICIES = ("guideline", "reflexive_imaging", "dismiss_red_flags")


def run_cohort(patients: int, seed: int, workers: int, chunk: int, **options: Any) -> dict[str, Any]:
    pathway = load()
    text, name = params_io.read_text()
    spec = cohort.make_spec(pathway, text, name, seed, options.pop("policies", POLICIES), **options)
    totals = cohort.run(spec, patients, cohort.local_results(spec, patients, workers, chunk))
    ctx = cohort.context(spec)
    return summary.build(totals, spec.policies, ctx.compiled, ctx.params, seed, engine_check=spec.check_engines)


@pytest.fixture(scope="module")
def checked() -> dict[str, Any]:
    """A cohort in which every course also ran through the python-statemachine engine."""
    return run_cohort(400, seed=11, workers=2, chunk=90, check_engines=True)


def test_both_engines_give_identical_traces_for_every_course(checked: dict[str, Any]) -> None:
    assert checked["engine_check"] == {"checked": 400 * len(POLICIES), "mismatches": 0}


def test_simulated_clinicians_send_no_refused_event(checked: dict[str, Any]) -> None:
    assert checked["rejected_events"] == 0
    assert checked["open_states"] == {}


def test_runtime_monitors_find_no_violation(checked: dict[str, Any]) -> None:
    assert checked["monitor_violations"] == 0
    for row in checked["by_policy"].values():
        assert row["monitor"]["checked"] == 400


def test_summary_contract(checked: dict[str, Any]) -> None:
    pathway = load()
    assert checked["patients"] == 400
    rows = checked["transitions"]
    assert {(r["transition"], r["source"]) for r in rows} == {(t.id, t.source) for t in pathway.transitions}
    for row in rows:
        assert set(row) == {"transition", "source", "target", "count", "patients"}
        assert 0 <= row["patients"] <= row["count"] and row["patients"] <= checked["patients"]
    assert sum(checked["final_states"].values()) == checked["patients"]
    assert sum(p["count"] for p in checked["paths"]) == checked["patients"]
    # every patient enters exactly one final state, once
    for state, count in checked["final_states"].items():
        assert sum(r["count"] for r in rows if r["target"] == state) == count
    for path in checked["paths"]:
        assert path["path"][0] == pathway.initial
        assert path["path"][-1] in pathway.final_state_ids
    # at every hour after presentation each patient is in exactly one state
    occupancy = checked["occupancy"]["states"]
    hours = checked["occupancy"]["hours"]
    assert all(sum(series[h] for series in occupancy.values()) == 400 for h in range(hours + 1))
    for state, counts in checked["time_to_end_hist"]["states"].items():
        assert sum(counts) == checked["final_states"][state]
    quant = checked["time_to_resolution_h"]
    median, p95 = quant["p50"], quant["p95"]
    order = [quant["min"], quant["p5"], quant["p25"], median["value"], quant["p75"], p95["value"], quant["max"]]
    assert order == sorted(order)
    assert median["low"] <= median["value"] <= median["high"] and median["n"] == checked["final_states"]["resolved"]


def test_summary_is_identical_whatever_the_workers_and_chunks() -> None:
    runs = [run_cohort(300, 5, workers, chunk) for workers, chunk in ((1, 300), (1, 7), (2, 64), (2, 1000))]
    texts = {summary.dumps(r) for r in runs}
    assert len(texts) == 1


def test_different_seeds_give_different_cohorts() -> None:
    a, b = run_cohort(200, 1, 1, 200, policies=("guideline",)), run_cohort(200, 2, 1, 200, policies=("guideline",))
    assert a["paths"] != b["paths"] or a["time_to_resolution_h"] != b["time_to_resolution_h"]


def test_each_patient_owns_its_random_stream() -> None:
    whole = patient_uniforms(42, 0, 100)
    assert np.array_equal(whole[37:], patient_uniforms(42, 37, 100))
    assert np.array_equal(whole[:10], patient_uniforms(42, 0, 10))
    assert not np.array_equal(whole, patient_uniforms(43, 0, 100))
    params = params_io.load()
    full, tail = natural.draw(params, 42, 0, 100), natural.draw(params, 42, 37, 100)
    assert full.t_present[37:] == tail.t_present and np.array_equal(full.relief[37:], tail.relief)


def cli(args: list[str]) -> Any:
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_cli_files_are_identical_with_one_or_two_workers(tmp_path: Path) -> None:
    outputs = []
    for workers, chunk in (("1", "50"), ("2", "173")):
        out = tmp_path / f"w{workers}"
        options = ["--workers", workers, "--chunk-size", chunk, "--out", str(out), "--no-plots", "-q", "--validate"]
        result = cli(["simulate", "-n", "500", "--seed", "9", *options, "--compare", "guideline,reflexive_imaging"])
        assert result.exit_code == 0, result.output
        outputs.append({p.name: p.read_bytes() for p in out.iterdir() if p.name != "run.json"})
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) == {
        "summary.json",
        "validation.json",
        "events.jsonl",
        "events.reflexive_imaging.jsonl",
        "events.parquet",
        "patients.parquet",
        "patients.csv",
        "imaging_orders.parquet",
        "imaging_orders.csv",
    }


def test_events_replay_through_pathway_run_to_the_same_outcomes(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = cli(["simulate", "-n", "300", "--seed", "4", "--policy", "dismiss_red_flags", "--out", str(out), "-q"])
    assert result.exit_code == 0
    replay = cli(["run", str(out / "events.jsonl"), "--json"])
    assert replay.exit_code == 0  # every simulated event is accepted
    traces: dict[tuple[str, str | None], Any] = {}
    for trace in map(json.loads, replay.stdout.splitlines()):
        traces[(trace["patient"], trace.get("episode"))] = trace
    with (out / "patients.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 300 and {row["policy"] for row in rows} == {"dismiss_red_flags"}
    assert len(traces) == sum(int(row["episodes"]) for row in rows)
    for row in rows:
        trace = traces[(row["patient"], None)]  # the first episode carries no episode label
        assert trace["state"] == row["final_state"]
        assert ">".join(trace["path"]) == row["path"]
        assert len(trace["steps"]) >= len(trace["path"]) - 1
        episodes = [traces[(row["patient"], None)]] + [
            traces[(row["patient"], str(k))] for k in range(2, int(row["episodes"]) + 1)
        ]
        assert int(row["events_accepted"]) == sum(len({s["line"] for s in t["steps"]}) for t in episodes)


def test_gzip_events_hold_the_same_lines(tmp_path: Path) -> None:
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    for out, flag in ((plain, "--no-gzip"), (packed, "--gzip")):
        result = cli(["simulate", "-n", "120", "--seed", "2", "--chunk-size", "50", flag, "--out", str(out), "-q"])
        assert result.exit_code == 0
    assert gzip.decompress((packed / "events.jsonl.gz").read_bytes()) == (plain / "events.jsonl").read_bytes()


def test_chunks_computed_on_threads_give_the_same_results() -> None:
    """Dask workers run several chunks at once on threads sharing one loaded context."""
    from concurrent.futures import ThreadPoolExecutor

    pathway = load()
    text, name = params_io.read_text()
    spec = cohort.make_spec(pathway, text, name, 8, ("guideline", "dismiss_red_flags"), events=True)
    bounds = list(cohort.chunks(800, 25))
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda b: cohort.run_chunk(spec, *b), bounds))
    for (start, stop), result in zip(bounds, threaded, strict=True):
        alone = cohort.run_chunk(spec, start, stop)
        assert result.events == alone.events
        assert all(result.aggregates[p].shapes == alone.aggregates[p].shapes for p in spec.policies)
        assert all(result.paired[p].sums == alone.paired[p].sums for p in spec.policies[1:])


def test_workers_get_the_definition_that_was_loaded_not_the_file_on_disk() -> None:
    from pathway.loader import DEFAULT_DEFINITION, loads
    from pathway.simulate import params as params_io
    from pathway.simulate.cohort import context, make_spec

    text = DEFAULT_DEFINITION.read_text(encoding="utf-8").replace("value = 48\n", "value = 36\n")
    edited = loads(text, "edited.toml")
    params_text, params_name = params_io.read_text(None)
    spec = make_spec(edited, params_text, params_name, 1, ("guideline",))
    rebuilt = context(spec).pathway
    assert rebuilt.parameter("reassess_min_h").value == 36
    assert rebuilt.transitions == edited.transitions
