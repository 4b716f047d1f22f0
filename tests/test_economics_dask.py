"""The PSA on a Dask cluster writes the same tables as local processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pathway.cli import main

pytest.importorskip("distributed")

from tests.test_simulate_dask import scheduler  # noqa: F401  (the fixture: a real scheduler and worker)


def test_dask_psa_equals_the_local_psa(scheduler: str, tmp_path: Path) -> None:  # noqa: F811
    common = ["simulate", "--psa", "2", "-n", "200", "--seed", "5", "-q", "--no-plots"]
    local = CliRunner().invoke(main, [*common, "--workers", "2", "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    remote = CliRunner().invoke(
        main, [*common, "--engine", "dask", "--scheduler", scheduler, "--out", str(tmp_path / "dask")]
    )
    assert remote.exit_code == 0, remote.output
    for name in ("psa.csv", "psa.parquet", "psa_summary.json", "ceac.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_an_unreachable_scheduler_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["economics", "tornado", "-n", "50", "-q", "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert "dask" in result.output and "Traceback" not in result.output
