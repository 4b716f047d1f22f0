"""Output directories a reader can trust (reproducers 3, 8, 10 and 11 of issue 12).

Every file appears whole or not at all, a run's directory holds that run only, its
run.json is written last and lists every file with its size, a second run into the same
directory refuses, and nothing is ever written through a link or outside the directory.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pathway.cli import main

ROOT = Path(__file__).resolve().parents[1]
BROKEN = ROOT / "tests" / "broken_definitions" / "early_blood_patch.toml"


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_line(result: Result) -> str:
    assert "Traceback" not in result.output + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def complete(out: Path) -> dict[str, int]:
    """The files run.json lists, after checking each is there with the size it says; nothing else of ours."""
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    files = {item["name"]: item["bytes"] for item in manifest["files"]}
    for name, size in files.items():
        path = out / name
        assert path.is_file() and not path.is_symlink(), name
        assert path.stat().st_size == size, name
    present = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert present - set(files) == {"run.json"}, present - set(files)
    return files


def limited_process(args: list[str], file_bytes: int) -> subprocess.CompletedProcess[str]:
    """`pathway ARGS` in a process that cannot write a file beyond ``file_bytes``: a disk that fills up."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))

    return subprocess.run(
        [sys.executable, "-m", "pathway", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
        check=False,
    )


# ---------------------------------------------------------------- 3: a full disk


def test_a_disk_full_while_writing_the_summary_leaves_no_truncated_summary(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = limited_process(["simulate", "-n", "300", "--summary-only", "--no-plots", "-q", "--out", str(out)], 2000)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "File too large" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == []  # no summary.json that is not JSON, no partial file


def test_a_disk_full_while_drawing_leaves_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "diagrams"
    done = limited_process(["diagram", "-f", "dot,mermaid", "--out", str(out)], 5000)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert all(p.stat().st_size > 0 and not p.name.endswith(".partial") for p in out.iterdir())
    assert not (out / "run.json").exists()  # the run did not finish: nothing says it did


# ---------------------------------------------------------------- 8: one run per directory


def test_a_second_run_into_a_busy_directory_refuses_and_the_first_stays_whole(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = subprocess.Popen(
        [sys.executable, "-m", "pathway", "simulate", "-n", "20000", "--workers", "1", "--chunk-size", "500", "-q",
         "--no-plots", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    while not (out.is_dir() and any(out.iterdir())):
        assert first.poll() is None, first.communicate()
        time.sleep(0.05)
    second = cli("simulate", "-n", "100", "-q", "--no-plots", "--out", str(out))
    assert second.exit_code == 2
    assert "another pathway run is writing into this directory" in one_line(second)
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    files = complete(out)
    assert {"events.jsonl", "patients.parquet", "summary.json"} <= set(files)
    with (out / "events.jsonl").open(encoding="utf-8") as events:
        for line in events:
            json.loads(line)  # no line of one run cut into by another's
    assert json.loads((out / "summary.json").read_text())["patients"] == 20000


def test_a_later_run_leaves_none_of_the_earlier_runs_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert cli("simulate", "-n", "50", "-q", "--out", str(out)).exit_code == 0
    assert {"events.jsonl", "patients.csv", "occupancy.png"} <= set(complete(out))
    assert cli("simulate", "-n", "60", "-q", "--summary-only", "--no-plots", "--out", str(out)).exit_code == 0
    assert set(complete(out)) == {"summary.json"}
    assert sorted(p.name for p in out.iterdir()) == ["run.json", "summary.json"]


def test_files_that_are_not_the_runs_own_are_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli("simulate", "-n", "50", "-q", "--summary-only", "--out", str(out)).exit_code == 0
    assert cli("simulate", "-n", "50", "-q", "--summary-only", "--no-plots", "--out", str(out)).exit_code == 0
    assert (out / "notes.txt").read_text() == "mine"


def test_a_directory_holding_another_commands_run_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert cli("simulate", "-n", "50", "-q", "--summary-only", "--no-plots", "--out", str(out)).exit_code == 0
    result = cli("diagram", "-f", "dot", "--out", str(out))
    assert result.exit_code == 2
    assert "holds the files of a `pathway simulate` run" in one_line(result)
    assert (out / "summary.json").is_file()


def test_an_interrupted_run_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert cli("simulate", "-n", "50", "-q", "--out", str(out)).exit_code == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "pathway", "simulate", "-n", "2000000", "--workers", "1", "-q", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    while (out / "run.json").exists() or not any(out.iterdir()):
        assert process.poll() is None
        time.sleep(0.05)
    time.sleep(1)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    # the old run's summary is gone with its manifest: no summary.json beside another run's files
    assert sorted(p.name for p in out.iterdir()) == []


# ---------------------------------------------------------------- 10: links and names


def test_links_inside_the_output_directory_are_replaced_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").symlink_to(victim)
    (out / "red_flag_escalates.jsonl").symlink_to(victim)
    assert cli("simulate", "-n", "50", "-q", "--summary-only", "--no-plots", "--out", str(out)).exit_code == 0
    assert victim.read_text() == "precious"
    assert not (out / "summary.json").is_symlink()
    json.loads((out / "summary.json").read_text())


def test_a_linked_subdirectory_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "demo"
    out.mkdir()
    (out / "diagrams").symlink_to(elsewhere, target_is_directory=True)
    result = cli("demo", "-n", "20", "--out", str(out))
    assert result.exit_code == 2
    assert "symbolic link" in one_line(result)
    assert list(elsewhere.iterdir()) == []


def test_counterexamples_are_written_atomically_with_a_manifest(tmp_path: Path) -> None:
    out = tmp_path / "cex"
    result = cli("verify", "--definition", str(BROKEN), "--out", str(out))
    assert result.exit_code == 1
    files = complete(out)
    assert files and all(name.endswith(".jsonl") for name in files)


@pytest.mark.parametrize("patients", [["..", ".", " "], ["A", "a/b", "a_b"]], ids=["dots", "separators"])
def test_distinct_patients_never_share_a_trace_file(tmp_path: Path, patients: list[str]) -> None:
    stream = tmp_path / "s.jsonl"
    lines = [
        json.dumps({"patient": p, "event": "presentation", "at": "2026-05-02T09:00:00Z", "headache": "orthostatic"})
        for p in patients
    ]
    stream.write_text("\n".join(lines) + "\n")
    names = set()
    for patient in patients:
        out = tmp_path / f"d{len(names)}"
        result = cli("diagram", "--trace", str(stream), "--patient", patient, "-f", "dot", "--out", str(out))
        assert result.exit_code == 0, result.stderr
        (written,) = [p.name for p in out.iterdir() if p.name != "run.json"]
        assert "/" not in written and not written.startswith(".")
        names.add(written)
    assert len(names) == len(patients)


# ---------------------------------------------------------------- 11: empty names


@pytest.mark.parametrize("command", ["simulate", "demo", "verify", "diagram"])
def test_an_empty_output_directory_is_refused(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(command, "--out", "")
    assert result.exit_code == 2  # a usage error, as click reports every bad option
    assert "an empty directory name" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_empty_format_is_refused(tmp_path: Path) -> None:
    result = cli("diagram", "-f", "", "--out", str(tmp_path / "d"))
    assert result.exit_code == 2
    assert "empty format" in one_line(result)
    assert not (tmp_path / "d").exists()


def test_the_committed_diagrams_have_a_manifest_that_matches_them() -> None:
    complete(ROOT / "diagrams")
    assert os.path.isfile(ROOT / "diagrams" / "run.json")
