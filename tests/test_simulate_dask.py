"""The Dask engine gives the same summary as a local run, on a real scheduler and worker.

A `dask scheduler` and a `dask worker` are started as separate processes on the
loopback interface with random free ports, and always torn down. The test is skipped
only when dask.distributed is not installed (CI installs the `dask` extra).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pathway.cli import main

distributed = pytest.importorskip("distributed")

STARTUP_SECONDS = 60


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Address of a scheduler with one worker (two threads), both on 127.0.0.1."""
    dask = shutil.which("dask", path=str(Path(sys.executable).parent))
    if dask is None:
        pytest.fail("dask.distributed is installed but its `dask` command is missing")
    base = tmp_path_factory.mktemp("dask")
    scheduler_file = base / "scheduler.json"
    logs = [(base / "scheduler.log").open("wb"), (base / "worker.log").open("wb")]
    scheduler_args = ["--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)]
    worker_args = ["--host", "127.0.0.1", "--nthreads", "2", "--no-nanny", "--no-dashboard", "--memory-limit", "0"]
    processes = [
        subprocess.Popen(
            [dask, "scheduler", *scheduler_args],
            stdout=logs[0],
            stderr=subprocess.STDOUT,
            cwd=base,
        )
    ]
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not scheduler_file.exists() or not scheduler_file.read_text(encoding="utf-8").strip():
            if time.monotonic() > deadline or processes[0].poll() is not None:
                pytest.fail(f"dask scheduler did not start: {(base / 'scheduler.log').read_text(errors='replace')}")
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text(encoding="utf-8"))["address"]
        assert address.startswith("tcp://127.0.0.1:")
        processes.append(
            subprocess.Popen(
                [dask, "worker", address, *worker_args],
                stdout=logs[1],
                stderr=subprocess.STDOUT,
                cwd=base,
            )
        )
        with distributed.Client(address, timeout=STARTUP_SECONDS) as client:
            client.wait_for_workers(1, timeout=STARTUP_SECONDS)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)
        for log in logs:
            log.close()


def test_dask_summary_equals_the_local_summary(scheduler: str, tmp_path: Path) -> None:
    common = ["simulate", "-n", "600", "--seed", "21", "--chunk-size", "25", "-q", "--no-plots"]
    common += ["--compare", "guideline,dismiss_red_flags"]
    local = CliRunner().invoke(main, [*common, "--workers", "2", "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    remote = CliRunner().invoke(
        main, [*common, "--engine", "dask", "--scheduler", scheduler, "--out", str(tmp_path / "dask")]
    )
    assert remote.exit_code == 0, remote.output
    names = ("summary.json", "events.jsonl", "events.dismiss_red_flags.jsonl", "patients.parquet", "events.parquet")
    for name in (*names, "patients.csv", "imaging_orders.parquet"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    run = json.loads((tmp_path / "dask" / "run.json").read_text(encoding="utf-8"))
    assert run["engine"] == "dask" and run["scheduler"] == scheduler


def test_unreachable_scheduler_is_a_one_line_error(tmp_path: Path) -> None:
    from pathway.simulate import cohort
    from pathway.simulate.dask_backend import DaskUnavailable, dask_results

    spec = cohort.CohortSpec("", "x", "", "y", 1, ("guideline",))
    with pytest.raises(DaskUnavailable) as caught:
        next(dask_results(spec, 10, 5, "tcp://127.0.0.1:9", timeout=1.0))
    assert "\n" not in str(caught.value) and "127.0.0.1:9" in str(caught.value)
