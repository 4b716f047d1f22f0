"""Every way a real process can end is one line and a clear status, never a traceback.

Reproducers 1, 2 and 9 of issue 12, and the untrusted text of reproducer 11 (escape
sequences and newlines in ids reaching the terminal or forging stderr lines). These run
real processes: encodings, closed pipes, full devices and signals only exist there.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MULTI = ROOT / "examples" / "multi_patient_stream.jsonl"
PUNCTURE = '{"event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"lumbar_puncture"}'
PRESENT = '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic"}'


def pathway(*args: str, stdout: object = subprocess.PIPE, **options: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-m", "pathway", *args],
        cwd=ROOT,
        stdout=stdout,
        stderr=subprocess.PIPE,
        check=False,
        **{"timeout": 300, **options},
    )


def no_traceback(stderr: bytes) -> str:
    text = stderr.decode("utf-8")
    assert "Traceback" not in text and "Exception ignored" not in text, text
    return text


# ---------------------------------------------------------------- 1: text no output can carry


@pytest.mark.parametrize("where", ["patient", "field name", "level"])
@pytest.mark.parametrize("view", [["--json"], []], ids=["json", "table"])
def test_a_lone_surrogate_is_a_malformed_line_not_a_crash(tmp_path: Path, where: str, view: list[str]) -> None:
    line = {
        "patient": '{"patient":"\\ud800","event":"headache_resolved","at":"2026-05-03T09:00:00Z"}',
        "field name": '{"event":"headache_resolved","at":"2026-05-03T09:00:00Z","x\\udc00":1}',
        "level": '{"event":"blood_patch","at":"2026-05-03T09:00:00Z","level":"L3\\ud83d"}',
    }[where]
    stream = tmp_path / "s.jsonl"
    stream.write_text("\n".join([PUNCTURE, PRESENT, line]) + "\n")
    done = pathway("run", str(stream), *view)
    err = no_traceback(done.stderr)
    assert done.returncode == 2
    assert err.strip().splitlines() == [err.strip()] and err.startswith("line 3: field '")
    out = done.stdout.decode("utf-8")  # the whole report came out, as UTF-8
    if view:
        assert json.loads(out)["state"] == "conservative_therapy"
    else:
        assert "Conservative therapy" in out


# ---------------------------------------------------------------- 2: full or closed output


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args", [["run", str(MULTI), "--json"], ["describe", "--json"], ["verify", "--json"], ["describe"]], ids=str
)
def test_a_full_output_is_one_line_and_exit_2(args: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        done = pathway(*args, stdout=full)
    err = no_traceback(done.stderr)
    assert done.returncode == 2
    assert err.strip() == "pathway: error: cannot write the output: No space left on device"


@pytest.mark.parametrize("args", [["run", str(MULTI), "--json"], ["run", str(MULTI)], ["describe"]], ids=str)
def test_a_reader_that_leaves_early_ends_the_run_quietly(args: list[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "pathway", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()  # like `| head -c 10`
    err = process.stderr.read()
    assert process.wait(timeout=120) == 128 + signal.SIGPIPE
    assert no_traceback(err) == ""


# ---------------------------------------------------------------- 9: clusters and signals


@pytest.fixture
def not_a_scheduler() -> Iterator[int]:
    """A TCP service that answers every connection with an HTTP error, as a web server on the wrong port would."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            with client:
                client.settimeout(5)
                try:
                    client.recv(1024)
                    client.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 20)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_an_address_that_is_not_a_dask_scheduler_is_one_line(not_a_scheduler: int, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{not_a_scheduler}"
    done = pathway(
        "simulate",
        "-n",
        "50",
        "-q",
        "--engine",
        "dask",
        "--scheduler",
        address,
        "--out",
        str(tmp_path / "o"),
        timeout=60,
    )
    err = no_traceback(done.stderr)
    assert done.returncode == 2
    assert err.strip().splitlines() == [
        f"pathway: error: dask: cannot use {address} as a Dask scheduler: it does not answer as a Dask scheduler"
    ]


def test_nothing_listening_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = pathway(
        "simulate",
        "-n",
        "50",
        "-q",
        "--engine",
        "dask",
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        "--out",
        str(tmp_path / "o"),
        timeout=60,
    )
    err = no_traceback(done.stderr)
    assert done.returncode == 2 and "cannot reach the Dask scheduler" in err and len(err.strip().splitlines()) == 1


def _wait_until_writing(out: Path, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if out.is_dir() and any(out.iterdir()):
            time.sleep(0.5)  # the workers are busy with chunks now
            return
        assert process.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.1)
    raise AssertionError("the run never started writing")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # ended, waiting to be reaped


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to find the workers")
@pytest.mark.parametrize("target", ["process", "group"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_workers_quietly_and_leaves_no_partial_file(tmp_path: Path, signum: int, target: str) -> None:
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "pathway", "simulate", "-n", "2000000", "--workers", "2", "--chunk-size", "2000",
         "-q", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    _wait_until_writing(out, process)
    workers = _children(process.pid)
    assert workers, "the run has no worker processes"
    if target == "group":
        os.killpg(process.pid, signum)  # as Ctrl-C in a terminal or a batch scheduler would
    else:
        os.kill(process.pid, signum)  # as `kill PID` would
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    text = no_traceback(err)
    assert text.strip() == ("pathway: interrupted" if signum == signal.SIGINT else "pathway: terminated")
    assert sorted(p.name for p in out.iterdir()) == []  # no partial file, no manifest: nothing looks complete
    for _ in range(100):
        if all(_gone(pid) for pid in workers):
            break
        time.sleep(0.1)
    assert all(_gone(pid) for pid in workers), "a worker outlived the run"


# ---------------------------------------------------------------- 11: untrusted text on the terminal


def test_escape_sequences_in_ids_never_reach_the_terminal_raw(tmp_path: Path) -> None:
    evil = "\x1b]0;owned\x07\x1b[2J\u202e\x9b31m"
    stream = tmp_path / "s.jsonl"
    lines = [
        json.dumps({"patient": evil, "event": "dural_puncture", "at": "2026-05-01T09:00:00Z", "procedure": "epidural"}),
        json.dumps({"patient": evil, "event": "presentation", "at": "2026-05-02T09:00:00Z", "headache": evil}),
    ]
    stream.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for view in ([], ["--json"]):
        done = pathway("run", str(stream), *view, env={**os.environ, "COLUMNS": "300"})
        out, err = done.stdout.decode("utf-8"), no_traceback(done.stderr)
        for text in (out, err):
            assert not any(ch in text for ch in "\x1b\x07\x9b\u202e"), repr(text)
        assert "\\x1b" in err  # shown escaped, so the reader still sees what was sent
        if view:  # the JSON escapes carry the exact id back to a program
            assert json.loads(out)["patient"] == evil


def test_a_newline_in_a_field_name_cannot_forge_a_line_on_stderr(tmp_path: Path) -> None:
    stream = tmp_path / "s.jsonl"
    forged = {"event": "presentation", "at": "2026-05-02T09:00:00Z", "headache": "orthostatic"}
    forged["x\nline 99: field 'at': forged"] = 1
    stream.write_text(PUNCTURE + "\n" + json.dumps(forged) + "\n", encoding="utf-8")
    done = pathway("run", str(stream))
    err = no_traceback(done.stderr)
    assert done.returncode == 2
    assert err.strip().splitlines() == [err.strip()] and err.startswith("line 2: field 'x\\nline 99")
