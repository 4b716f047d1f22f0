"""Every command answers unusable output places and impossible options with one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.loader import DEFAULT_DEFINITION
from pathway.simulate import params as params_io

ROOT = Path(__file__).parent.parent
EARLY_PATCH = ROOT / "tests" / "broken_definitions" / "early_blood_patch.toml"


@pytest.fixture
def not_a_directory(tmp_path: Path) -> Path:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return blocker / "out"


@pytest.mark.parametrize(
    "command",
    [
        ["verify", "--definition", str(EARLY_PATCH), "--out", "{out}"],
        ["demo", "-n", "10", "--out", "{out}"],
        ["simulate", "-n", "10", "-q", "--out", "{out}"],
        ["diagram", "-f", "dot", "--out", "{out}"],
    ],
    ids=lambda c: c[0],
)
def test_unusable_output_directory_is_one_line(command: list[str], not_a_directory: Path) -> None:
    args = [part.replace("{out}", str(not_a_directory)) for part in command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Not a directory" in result.stderr or "not a directory" in result.stderr.lower()
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("address", ["junk", "tcp://", "http://127.0.0.1:1", "tcp://127.0.0.1:abc", "tcp://h:99999"])
def test_malformed_scheduler_address_is_refused_at_once(address: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["simulate", "-n", "10", "-q", "--engine", "dask", "--scheduler", address, "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "expected tcp://HOST:PORT" in result.stderr


def test_simulated_vitals_must_be_values_the_pathway_accepts(tmp_path: Path) -> None:
    text, _ = params_io.read_text()
    hot = tmp_path / "hot.toml"
    hot.write_text(
        text.replace(
            "mean = 36.57, sd = 0.42, low = 34.5, high = 39.5", "mean = 56.8, sd = 0.3, low = 55.8, high = 57.6"
        )
    )
    result = CliRunner().invoke(
        main, ["simulate", "-n", "10", "-q", "--params", str(hot), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "presentation.vitals.temperature_c: 55.8 is outside the range 25.0..45.0" in result.stderr


def test_verify_refuses_counts_too_large_to_explore(tmp_path: Path) -> None:
    many = tmp_path / "many.toml"
    many.write_text(
        DEFAULT_DEFINITION.read_text().replace(
            "[parameters.max_patches]\nvalue = 2", "[parameters.max_patches]\nvalue = 200"
        )
    )
    result = CliRunner().invoke(main, ["verify", "--definition", str(many)])
    assert result.exit_code == 2
    assert "count(blood_patch) with 200" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["describe", "--json", "--markdown"], "choose one of --json, --markdown and --format"),
        (["describe", "--json", "--format", "html"], "choose one of --json, --markdown and --format"),
        (["describe", "--into", "README.md"], "use it with --markdown"),
    ],
)
def test_describe_refuses_contradictory_options(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_property_condition_comparing_a_clock_with_text_is_a_broken_file(tmp_path: Path) -> None:
    shipped = (ROOT / "pathway" / "verify" / "properties.toml").read_text()
    start = shipped.index("[conditions.trial_complete]")
    expr = shipped.index('expr = "', start)
    bad = tmp_path / "props.toml"
    bad.write_text(
        shipped[:expr]
        + "expr = \"hours_since_entered(conservative_therapy) >= 'x'\""
        + shipped[shipped.index("\n", expr) :]
    )
    result = CliRunner().invoke(main, ["verify", "--properties", str(bad)])
    assert result.exit_code == 2
    assert "compares values of different kinds" in result.stderr
