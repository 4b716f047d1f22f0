"""`pathway run` imports only what a run needs (issue 10, start-up), checked without timing.

Start-up is the time to import the machinery, so the property is which modules a fresh
interpreter holds after a real `pathway run`: never numpy, python-statemachine (with the
default engine), the simulator or the verifier beyond its runtime monitor; and with
``--json``, not even rich's console. The figure itself is measured by
``benchmarks/bench_vectorised.py --only startup`` (docs/limits.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from array import array
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pathway import stream
from pathway.cli import main

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "examples" / "two_failed_patches_refractory_leak.jsonl"
# what the runtime monitor is made of; the rest of pathway.verify (explorer, prover, mutants) is not for a run
MONITOR = {"pathway.verify", "pathway.verify.monitor", "pathway.verify.checks", "pathway.verify.properties"}
MONITOR |= {"pathway.verify.semantics", "pathway.verify.verdicts"}
NEVER = ("numpy", "pathway.simulate", "pathway.economics", "pathway.export", "pathway.render", "pathway.report")
# run as the `pathway` program does; the modules are listed when the command has ended (it always exits)
PROGRAM = """
import json, os, sys
from pathway.cli import entry
listing, sys.argv = sys.argv[1], ["pathway", *sys.argv[2:]]
def written():
    with open(listing, "w") as out:
        json.dump(sorted(sys.modules), out)
leave = os._exit  # `pathway run` ends with os._exit (no teardown): list the modules on the way
os._exit = lambda code: (written(), leave(code))
try:
    entry()
finally:
    written()
"""


def modules_after(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    listing = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(listing), *args], cwd=ROOT, capture_output=True, check=False, timeout=120
    )
    assert done.stderr == b""
    assert b"refractory" in done.stdout.lower()  # the course was reported
    return done.returncode, set(json.loads(listing.read_text()))


def under(modules: set[str], package: str) -> set[str]:
    return {m for m in modules if m == package or m.startswith(package + ".")}


@pytest.mark.parametrize("view", [["--json"], []], ids=["json", "text"])
def test_a_run_imports_neither_numpy_nor_statemachine_nor_the_explorers(tmp_path: Path, view: list[str]) -> None:
    code, modules = modules_after(tmp_path, "run", str(COURSE), *view)
    assert code == 0
    for package in (*NEVER, "statemachine", "pathway.engine", "pathway.machine"):
        assert not under(modules, package), package
    assert "tomllib" not in modules  # the shipped definition and catalogue come parsed (pathway/precompiled.json)
    assert under(modules, "pathway.verify") == MONITOR  # the monitor watches every course, nothing more
    assert not under(modules, "pathway.verify") - MONITOR
    if view:
        assert not under(modules, "rich.console")  # JSON output needs no terminal machinery
    else:
        assert "rich.console" in modules  # the tables are rich's
        assert "rich._emoji_codes" not in modules  # titles and headers are Text: no markup, no emoji table


def test_an_id_is_shown_as_written_not_as_markup_or_emoji(tmp_path: Path) -> None:
    patient = "a:smile:[b]x[/b]"
    lines = [json.dumps({**json.loads(line), "patient": patient}) for line in COURSE.read_text().splitlines()]
    stream = tmp_path / "s.jsonl"
    stream.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "pathway", "run", str(stream)], cwd=ROOT, capture_output=True, check=False, timeout=120
    )
    assert done.returncode == 0
    assert f"patient {patient}" in done.stdout.decode("utf-8")


def test_the_reference_engine_is_still_there_and_brings_its_library(tmp_path: Path) -> None:
    # also shows that the check above can fail: asking for psm imports python-statemachine
    code, modules = modules_after(tmp_path, "run", str(COURSE), "--json", "--engine", "psm")
    assert code == 0
    assert "statemachine" in modules and "pathway.engine" in modules
    assert not under(modules, "numpy")


@given(hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(-3, 3)))
def test_a_short_stream_finds_course_ends_exactly_as_numpy_does(digests: np.ndarray) -> None:
    # digests 0 are unnamed lines: never a course end; few distinct values, so courses repeat
    keys = array("q", digests.tolist())
    short = stream._last_of_each(keys)
    original = stream.SMALL_STREAM_LINES
    try:
        stream.SMALL_STREAM_LINES = -1  # the numpy path, as for a long stream
        long = stream._last_of_each(keys)
    finally:
        stream.SMALL_STREAM_LINES = original
    assert short == long
    ends, count = short
    assert count == len(set(digests.tolist()) - {0})
    for line, digest in enumerate(digests.tolist(), start=1):
        assert ends[line] == (digest != 0 and digest not in digests[line:].tolist())


def test_a_reader_that_leaves_a_long_table_early_ends_the_run_quietly(tmp_path: Path) -> None:
    # rich meets the closed pipe itself (its tables do not fit in the pipe's buffer): still 128+SIGPIPE
    lines = COURSE.read_text().splitlines()
    patients = [json.dumps({**json.loads(line), "patient": f"p{n}"}) for n in range(300) for line in lines]
    long = tmp_path / "long.jsonl"
    long.write_text("\n".join(patients) + "\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "pathway", "run", str(long)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=120) == 128 + signal.SIGPIPE
    assert err == b""


def _cases(tmp_path: Path) -> dict[str, list[str]]:
    examples = ROOT / "examples"
    lines = COURSE.read_text().splitlines()
    long = tmp_path / "long.jsonl"  # far more than a pipe's buffer: everything must still arrive
    long.write_text("\n".join(json.dumps({**json.loads(x), "patient": f"p{n}"}) for n in range(300) for x in lines))
    malformed = tmp_path / "malformed.jsonl"
    malformed.write_text(lines[0] + "\n{not json\n" + "\n".join(lines[1:]) + "\n")
    return {
        "one course": [str(COURSE)],
        "refused events": [str(examples / "events_after_final_state_are_refused.jsonl")],
        "several patients": [str(examples / "multi_patient_stream.jsonl")],
        "malformed line": [str(malformed)],
        "long stream": [str(long)],
    }


@pytest.mark.parametrize("view", [["--json"], []], ids=["json", "text"])
def test_a_run_ending_without_teardown_still_delivers_all_its_output_and_status(
    tmp_path: Path, view: list[str]
) -> None:
    # the program ends with os._exit; the same command run in-process (click's runner) is the reference.
    # Buffered output, as a program has it by default: what the exit does not flush would be lost
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    codes = set()
    for name, args in _cases(tmp_path).items():
        command = [sys.executable, "-m", "pathway", "run", *args, *view]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120, env=env)
        reference = CliRunner().invoke(main, ["run", *args, *view])
        assert done.stdout == reference.stdout_bytes, name
        assert done.stderr == reference.stderr_bytes, name
        assert done.returncode == reference.exit_code, name
        codes.add(done.returncode)
    assert codes == {0, 2, 3}  # accepted, malformed, refused: each status survives the quick exit
