"""`pathway run --json --workers N` prints, byte for byte, what one worker prints, and exits the same way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway import replay_pool, stream
from pathway.cli import main
from pathway.stream import StreamIndex, _last_of_each

ROOT = Path(__file__).resolve().parents[1]
BROKEN = ROOT / "tests" / "broken_definitions" / "early_blood_patch.toml"
START = datetime(2026, 5, 1, 9, tzinfo=UTC)
RECORDS = [
    {"event": "dural_puncture", "procedure": "lumbar_puncture"},
    {"event": "presentation", "headache": "orthostatic", "temperature_c": 36.8},
    {"event": "presentation", "headache": "orthostatic", "temperature_c": 39.5},
    {"event": "reassessment", "headache": "unchanged"},
    {"event": "blood_patch"},
    {"event": "patch_review", "relief": "complete"},
    {"event": "headache_resolved"},
    {"event": "red_flag", "flag": "focal_deficit"},
    {"event": "presentation", "headache": "sideways"},  # not in the vocabulary: an input problem
]


def at(hours: int) -> str:
    return (START + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def line(patient: str | None, episode: str | None, record: int, hours: int) -> str:
    ids = ({"patient": patient} if patient is not None else {}) | ({"episode": episode} if episode else {})
    return json.dumps({**ids, "at": at(hours), **RECORDS[record]})


LINES = st.builds(
    line,
    st.sampled_from(["a", "b", "c", "d", "e"]),
    st.sampled_from([None, None, None, "e2"]),
    st.integers(0, len(RECORDS) - 1),
    st.integers(0, 400),
)
ODD = st.sampled_from(["", "{garbage", '{"event":"presentation","at":"2026-05-01T09:00:00Z"}', '{"patient":7}'])


def patients_in_turn(draw: st.DrawFn) -> list[str]:
    """Patients one after another (a part may end between them), some lines out of time order."""
    lines: list[str] = []
    for patient in range(draw(st.integers(0, 12))):
        hours = sorted(draw(st.lists(st.integers(0, 400), min_size=1, max_size=6)))
        if draw(st.booleans()):
            hours.reverse()  # time going backwards: input problems on stderr, exit status 2
        records = draw(st.lists(st.integers(0, len(RECORDS) - 1), min_size=len(hours), max_size=len(hours)))
        episode = draw(st.sampled_from([None, "e2"]))
        lines += [line(f"p{patient}", episode, r, h) for r, h in zip(records, hours, strict=True)]
    return lines


STREAMS = st.one_of(
    st.composite(patients_in_turn)(),
    st.lists(LINES, max_size=40),  # interleaved patients
    st.lists(LINES | ODD, max_size=30),  # lines that name no patient, or that are not JSON: one process's path
)


def run(path: Path, *options: str) -> tuple[str, str, int]:
    result = CliRunner().invoke(main, ["run", str(path), "--json", *options])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.stdout, result.stderr, result.exit_code


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of a few lines, so that the short streams of a test are shared out among the workers."""
    monkeypatch.setattr(replay_pool, "PART_LINES", 3)
    monkeypatch.setattr(replay_pool, "MAX_PART_LINES", 12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=STREAMS, workers=st.sampled_from([2, 3]), engine=st.sampled_from(["compiled", "psm"]))
def test_workers_print_what_one_worker_prints(
    tmp_path: Path, small_parts: None, lines: list[str], workers: int, engine: str
) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("".join(f"{text}\n" for text in lines))
    one = run(path, "--engine", engine)
    assert run(path, "--engine", engine, "--workers", str(workers)) == one


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.composite(patients_in_turn)())
def test_a_definition_that_breaks_a_property_gives_the_same_monitor_messages(
    tmp_path: Path, small_parts: None, lines: list[str]
) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("".join(f"{text}\n" for text in lines))
    one = run(path, "--definition", str(BROKEN))
    assert run(path, "--definition", str(BROKEN), "--workers", "2") == one


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINES, min_size=1, max_size=30))
def test_courses_whose_digests_collide_are_printed_where_one_worker_prints_them(
    tmp_path: Path, small_parts: None, monkeypatch: pytest.MonkeyPatch, lines: list[str]
) -> None:
    # few digests for many courses: a course the index cannot see end waits for the end of the stream
    monkeypatch.setattr(stream, "_digest", lambda key: hash(key) % 2 + 1)
    path = tmp_path / "s.jsonl"
    path.write_text("".join(f"{text}\n" for text in lines))
    one = run(path)
    assert run(path, "--workers", "2") == one


def test_an_over_long_line_stops_the_stream_as_with_one_worker(tmp_path: Path, small_parts: None) -> None:
    path = tmp_path / "s.jsonl"
    lines = [line(f"p{p}", None, 0, p) for p in range(8)]
    path.write_bytes("".join(f"{text}\n" for text in lines).encode() + b"x" * (stream.MAX_LINE_BYTES + 10) + b"\n")
    one = run(path)
    assert one[2] == 2 and "reading stopped here" in one[1]
    assert run(path, "--workers", "2") == one


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=40), st.integers(1, 6))
def test_a_part_ends_only_where_no_patient_begun_has_lines_still_to_come(digests: list[int], part: int) -> None:
    patients = array("q", digests)
    ends, _ = _last_of_each(patients)
    found = StreamIndex(named=True, patient_ends=ends)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(replay_pool, "PART_LINES", part)
        patch.setattr(replay_pool, "MAX_PART_LINES", 10_000)
        cuts = replay_pool.part_ends(found, patients)
    assert cuts is not None
    # where a part may end: after line n when no patient (0: a blank line) of lines 1..n reappears after it
    allowed = [n for n in range(1, len(digests) + 1) if not ({*digests[:n]} & {*digests[n:]}) - {0}]
    assert all(cut in allowed for cut in cuts)
    assert cuts == sorted(set(cuts)) and (cuts[-1] == len(digests) if digests else cuts == [])
    starts = [0, *cuts][:-1]
    # each part as short as it can be: at least PART_LINES lines, ending at the first place allowed
    for begin, cut in zip(starts, cuts, strict=True):
        assert cut == min([n for n in allowed if n >= begin + part] or [len(digests)])


def test_interleaving_past_the_part_limit_is_replayed_by_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    patients = array("q", [1, 2, 3, 1, 2, 3])
    ends, _ = _last_of_each(patients)
    monkeypatch.setattr(replay_pool, "MAX_PART_LINES", 3)
    assert replay_pool.part_ends(StreamIndex(named=True, patient_ends=ends), patients) is None


def big_stream(path: Path, patients: int) -> None:
    with path.open("w") as out:
        for p in range(patients):
            out.write(line(f"p{p}", None, 0, 0) + "\n" + line(f"p{p}", None, 1, 30) + "\n")


def test_a_closed_pipe_ends_the_workers_as_it_ends_one_worker(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    big_stream(path, 60_000)
    pathway = [sys.executable, "-m", "pathway", "run", str(path), "--json"]
    codes = []
    for workers in ("1", "2"):
        shell = f"{' '.join(pathway)} --workers {workers} | head -c 100 >/dev/null; echo ${{PIPESTATUS[0]}}"
        done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120, cwd=ROOT)
        codes.append((done.stdout, "Traceback" in done.stderr))
    assert codes[0] == codes[1] == (f"{128 + signal.SIGPIPE}\n", False)


def test_ctrl_c_ends_the_workers_and_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    big_stream(path, 200_000)
    command = [sys.executable, "-m", "pathway", "run", str(path), "--json", "--workers", "2"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    children: list[str] = []
    deadline = time.monotonic() + 60  # a slow machine takes longer to start the pool
    while not children and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    assert children  # the pool is running
    time.sleep(0.5)  # into the replay
    os.kill(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGINT
    assert stderr.strip().splitlines() == ["pathway: interrupted"]
    time.sleep(0.5)
    for child in children:  # no worker outlives the run
        assert not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text()
