"""The vectorised cohort engine writes exactly what the per-patient reference writes.

Hypothesis draws seeds, cohort and chunk sizes, the policies compared (in any order),
--set overrides of the parameters and the definition (the shipped one or a broken one);
both engines run the same cohort and must give byte-identical summary.json and
events.jsonl, equal tables (patients, events, imaging orders, with their metadata), the
same course shapes and paired sums. Around that, the pieces the vectorised engine builds
its files from are checked against the functions the reference uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.cli import main
from pathway.compiled import CompileError, compile_pathway
from pathway.events import ENVELOPE
from pathway.loader import load, loads
from pathway.model import Pathway
from pathway.simulate import array_aggregate, cohort, natural, summary, vector_chunk
from pathway.simulate import params as params_io
from pathway.simulate.course_arrays import CourseArrays
from pathway.simulate.field_table import FieldTable, Vital
from pathway.simulate.output_lines import EventLines, iso_times
from pathway.simulate.tables import patient_id

POLICIES = ("guideline", "reflexive_imaging", "dismiss_red_flags")
BROKEN = sorted((Path(__file__).parent / "broken_definitions").glob("*.toml"))
DEFINITIONS: dict[str, Pathway] = {"shipped": load()} | {p.stem: load(p) for p in BROKEN}
PARAMS = params_io.read_text()[0]

# --set overrides that reach the branches a default cohort rarely does
FREQUENT = tuple(
    f"complications.{c}.rate=0.15" for c in ("subdural_haematoma", "venous_sinus_thrombosis", "meningitis")
)
OVERRIDES: dict[str, tuple[str, ...]] = {
    "frequent complications": FREQUENT,
    "findings not examined": ("policies.guideline.exam_red_flags=false",),
    "often febrile": ("presentation.febrile_without_infection.share=0.5",),
    "two reviews at most": ("reassessment.max_reviews=2",),
    "every resolution reported": ("resolution.reported=1.0",),
    "resolutions never reported": ("resolution.reported=0.0",),
    "always debilitating": ("reassessment.debilitating=1",),
    "imaging by chance": ("policies.guideline.order.usually_appropriate=0.5",),
    "dismissed twice": ("policies.dismiss_red_flags.dismissed_returns=2",),
    "quick returns": ("returns.delay.median=1", "returns.horizon=90"),
    "red flags heard late": ("policies.guideline.red_flag_delay.value=30",),
}


def run(engine: str, pathway: Pathway, **options: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(summary.json, the file pieces, the aggregates and paired sums) of one cohort on one engine."""
    patients, chunk, seed = options.pop("patients"), options.pop("chunk"), options.pop("seed")
    policies = options.pop("policies")
    options.setdefault("monitor_all_below", 25)  # the monitors are slow: a sample of patients (both engines alike)
    options.setdefault("monitor_every", 37)
    spec = cohort.make_spec(
        pathway, PARAMS, "params.toml", seed, policies, engine=engine, events=True, tables=True, **options
    )
    files: dict[str, Any] = {}

    def sink(result: cohort.ChunkResult) -> None:
        for policy, blob in result.events.items():
            files[f"events.{policy}"] = files.get(f"events.{policy}", b"") + blob
        for name, table in result.tables.items():
            files.setdefault(name, []).append(table)
        for policy, bundles in result.fhir.items():
            files[f"fhir.{policy}"] = files.get(f"fhir.{policy}", []) + bundles

    totals = cohort.run(spec, patients, cohort.local_results(spec, patients, 1, chunk), sink)
    for name in ("patients", "events", "imaging_orders"):
        files[name] = pa.concat_tables(files[name]) if name in files else None
    ctx = cohort.context(spec)
    kept = {policy: dict(totals[policy].shapes) for policy in policies}
    kept |= {f"paired.{policy}": vars(pairs) for policy, pairs in totals.paired.items()}
    built = summary.build(totals, policies, ctx.compiled, ctx.params, seed, engine_check=spec.check_engines)
    return summary.dumps(built), files, kept


def same_cohort(pathway: Pathway, **options: Any) -> dict[str, Any]:
    """Both engines on one cohort; the reference's files (for tests that look further)."""
    reference = run("reference", pathway, **dict(options))
    vectorised = run("vectorised", pathway, **dict(options))
    assert vectorised[0] == reference[0]  # summary.json
    assert vectorised[1].keys() == reference[1].keys()
    for name, expected in reference[1].items():
        if isinstance(expected, pa.Table):
            assert vectorised[1][name].equals(expected, check_metadata=True), name
        else:
            assert vectorised[1][name] == expected, name
    assert vectorised[2] == reference[2]
    return reference[1]


DIFFERENTIAL = settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
SOME_OVERRIDES = st.lists(st.sampled_from(sorted(OVERRIDES)), max_size=3, unique=True).map(
    lambda names: tuple(a for name in names for a in OVERRIDES[name])
)


@DIFFERENTIAL
@given(
    seed=st.integers(0, 2**32),
    patients=st.integers(1, 300),
    chunk=st.integers(1, 400),
    policies=st.lists(st.sampled_from(POLICIES), min_size=1, max_size=3, unique=True),
    overrides=SOME_OVERRIDES,
)
def test_engines_write_identical_files(
    seed: int, patients: int, chunk: int, policies: list[str], overrides: tuple[str, ...]
) -> None:
    same_cohort(
        DEFINITIONS["shipped"],
        seed=seed,
        patients=patients,
        chunk=chunk,
        policies=tuple(policies),
        overrides=overrides,
    )


@pytest.mark.parametrize("name", [p.stem for p in BROKEN])
@settings(DIFFERENTIAL, max_examples=2)
@given(seed=st.integers(0, 2**32), chunk=st.integers(1, 200), overrides=SOME_OVERRIDES)
def test_engines_agree_on_broken_definitions(name: str, seed: int, chunk: int, overrides: tuple[str, ...]) -> None:
    pathway = DEFINITIONS[name]
    try:
        compile_pathway(pathway)
    except CompileError:
        pytest.skip("the simulator cannot run this definition")
    same_cohort(pathway, seed=seed, patients=120, chunk=chunk, policies=POLICIES, overrides=overrides)


def test_engines_agree_when_every_course_is_checked() -> None:
    """--check-engines and the monitors see the same courses (every episode) on both engines."""
    options = {"seed": 3, "patients": 150, "chunk": 50, "policies": POLICIES}
    same_cohort(DEFINITIONS["shipped"], check_engines=True, overrides=FREQUENT, **options)
    same_cohort(DEFINITIONS["shipped"], monitor_all_below=10, monitor_every=7, **options)


def test_engines_write_the_same_fhir_bundles() -> None:
    """simulate --format fhir: one Bundle per episode, return visits included."""
    options = {"seed": 4, "patients": 60, "chunk": 25, "policies": ("guideline", "dismiss_red_flags")}
    files = same_cohort(DEFINITIONS["shipped"], fhir=True, overrides=FREQUENT, **options)
    bundles = files["fhir.dismiss_red_flags"]
    assert len(bundles) > 60  # one Bundle per episode: some patients came back


def test_a_large_cohort_agrees_with_the_chunking_changed() -> None:
    pathway = DEFINITIONS["shipped"]
    options = {"seed": 21, "patients": 4000, "policies": POLICIES, "overrides": FREQUENT}
    assert run("vectorised", pathway, chunk=1777, **options) == run("reference", pathway, chunk=4000, **options)


def test_the_cli_writes_the_same_files_with_either_engine(tmp_path: Path) -> None:
    outputs = []
    for engine in ("reference", "vectorised"):
        out = tmp_path / engine
        args = ["simulate", "-n", "300", "--seed", "8", "--engine", engine, "--workers", "2", "--chunk-size", "70"]
        args += ["--compare", "guideline,dismiss_red_flags", "--set", FREQUENT[0], "--no-plots", "-q"]
        result = CliRunner().invoke(main, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append({p.name: p.read_bytes() for p in out.iterdir() if p.name != "run.json"})
        assert json.loads((out / "run.json").read_text(encoding="utf-8"))["engine"] == engine
    assert outputs[0] == outputs[1]
    assert {"summary.json", "events.jsonl", "patients.parquet", "events.parquet"} <= set(outputs[0])


# ---------------------------------------------------------------- the pieces


@settings(max_examples=200)
@given(st.lists(st.integers(-62_135_596_800 // 60, 253_402_300_799 // 60), max_size=20))
def test_times_are_formatted_as_the_reference_formats_them(minutes: list[int]) -> None:
    assert iso_times(np.array(minutes, dtype=np.int64)) == [cohort.iso(m) for m in minutes]


VALUES = st.one_of(st.text(), st.booleans(), st.integers(-1000, 1000), st.floats(allow_nan=False, allow_infinity=False))
NAMES = st.text(min_size=1).filter(lambda name: name not in ENVELOPE)


@given(st.dictionaries(NAMES, VALUES, max_size=5), st.integers(1, 3), st.data())
def test_event_lines_are_the_lines_json_dumps_writes(fields: dict[str, Any], episode: int, data: st.DataObject) -> None:
    pathway = DEFINITIONS["shipped"]
    table = FieldTable(pathway)
    names = list(fields)
    drawn = data.draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    plan = table.add(1, {name: Vital(k) if name in drawn else fields[name] for k, name in enumerate(names)})
    vitals = np.array([[data.draw(st.floats(30, 45)) for _ in names]], dtype=np.float64).reshape(1, -1)
    courses = CourseArrays(41, np.zeros(1, dtype=np.int64), 0)
    courses.episode[0] = episode
    courses.sent.append(np.array([0]), plan=plan, at=29_000_000, ok=True, episode=episode, state=0)
    record = {"event": pathway.event_names[1], "at": cohort.iso(29_000_000), "patient": patient_id(41)}
    if episode > 1:
        record["episode"] = str(episode)
    record |= table.fields(plan, vitals[0].tolist())
    expected = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    lines = EventLines(pathway.event_names, table)
    assert lines.text([patient_id(41)], courses.sent, vitals, courses.episode) == expected


def test_course_shapes_by_fingerprint_equal_shapes_by_full_sequence() -> None:
    """The fallback for a fingerprint collision counts the same shapes as the fingerprints do, and shapes
    named from the cache other chunks and policies filled are those the chunk's own sequences spell."""
    pathway = DEFINITIONS["shipped"]
    spec = cohort.make_spec(pathway, PARAMS, "p.toml", 5, POLICIES, engine="vectorised", overrides=FREQUENT)
    vec = vector_chunk.vector_context(spec)
    cache: array_aggregate.ShapeCache = {}
    for start in (0, 2000):
        history = natural.draw_columns(vec.ctx.params, 5, start, start + 2000)
        for policy in POLICIES:
            draws = natural.policy_columns(vec.ctx.params, policy, history.uniforms)
            courses = vec.clinicians[policy].courses(history, draws)
            fast, exact, cached = vec.ctx.aggregate(), vec.ctx.aggregate(), vec.ctx.aggregate()
            array_aggregate._shapes(fast, courses, history.case, vec.table)
            array_aggregate._shapes_exactly(exact, courses, history.case, vec.table)
            known = len(cache)
            array_aggregate._shapes(cached, courses, history.case, vec.table, cache)
            assert fast.shapes == exact.shapes == cached.shapes and sum(fast.shapes.values()) == 2000
            assert start == 0 or len(cache) - known < len(cached.shapes)  # some shapes came from the cache


def test_chunks_computed_on_threads_give_the_same_results() -> None:
    """Dask workers run several chunks at once on threads sharing one vectorised context."""
    from concurrent.futures import ThreadPoolExecutor

    spec = cohort.make_spec(
        DEFINITIONS["shipped"], PARAMS, "p.toml", 8, POLICIES, engine="vectorised", events=True, tables=True
    )
    bounds = list(cohort.chunks(900, 75))
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda b: cohort.run_chunk(spec, *b), bounds))
    for (start, stop), result in zip(bounds, threaded, strict=True):
        alone = cohort.run_chunk(spec, start, stop)
        assert result.events == alone.events
        assert all(result.tables[name].equals(alone.tables[name]) for name in alone.tables)
        assert all(result.aggregates[p].shapes == alone.aggregates[p].shapes for p in POLICIES)


def test_a_return_visit_whose_red_flag_does_not_escalate_stops_both_engines_instead_of_looping() -> None:
    # a definition that ignores a red_flag event at presentation: the return visit would come back for ever
    shipped = Path(DEFINITIONS["shipped"].source_path).read_text()
    rule = 'id = "red_flag_reported"\nfrom = "*"'
    assert rule in shipped
    deaf = loads(shipped.replace(rule, 'id = "red_flag_reported"\nfrom = ["conservative_therapy", "blood_patch"]'))
    options = {"overrides": (*FREQUENT, "returns.delay.median=1", "returns.horizon=90")}
    for engine in ("reference", "vectorised"):
        with pytest.raises(RuntimeError, match="return for ever"):
            run(engine, deaf, patients=400, chunk=200, seed=3, policies=("guideline",), **dict(options))


@pytest.mark.parametrize(
    "command",
    [
        ("simulate", "--workers", "2"),
        ("simulate", "--workers", "1", "--engine", "reference"),
        ("economics", "evaluate", "--workers", "1"),
    ],
)
def test_a_definition_that_lets_returns_loop_is_one_line_of_error_not_a_traceback(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    shipped = Path(DEFINITIONS["shipped"].source_path).read_text()
    rule = 'id = "red_flag_reported"\nfrom = "*"'
    deaf = tmp_path / "deaf.toml"
    deaf.write_text(shipped.replace(rule, 'id = "red_flag_reported"\nfrom = ["conservative_therapy", "blood_patch"]'))
    sets = [a for o in (*FREQUENT, "returns.delay.median=1", "returns.horizon=90") for a in ("--set", o)]
    done = subprocess.run(
        [sys.executable, "-m", "pathway", *command, "-n", "2000", "--definition", str(deaf), *sets],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("pathway: error: the definition does not escalate a return visit's red flag")
