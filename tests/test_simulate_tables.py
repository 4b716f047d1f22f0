"""The tidy outputs: Parquet tables load with pandas and polars in the documented types, they agree
with summary.json, they carry the data dictionary, and the dictionary lists every key written."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.loader import load
from pathway.simulate import summary_keys
from pathway.simulate.dictionary import markdown
from pathway.simulate.schema import tables

DICTIONARY = Path(__file__).parent.parent / "docs" / "data-dictionary.md"
POLARS = {"string": pl.String, "int16": pl.Int16, "int32": pl.Int32, "float64": pl.Float64, "bool": pl.Boolean}
POLICIES = ("guideline", "reflexive_imaging", "dismiss_red_flags")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tidy")
    args = ["simulate", "-n", "400", "--seed", "5", "--compare", ",".join(POLICIES), "--validate", "--no-plots", "-q"]
    result = CliRunner().invoke(main, [*args, "--chunk-size", "70", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_tables_load_with_pandas_and_polars_in_the_documented_types(run: Path) -> None:
    for spec in tables(load()):
        path = run / f"{spec.name}.parquet"
        frame = pd.read_parquet(path, dtype_backend="pyarrow")
        assert list(frame.columns) == list(spec.names)
        for column in spec.columns:
            assert frame[column.name].dtype == pd.ArrowDtype(column.arrow), column.name
        polars_frame = pl.read_parquet(path)
        assert polars_frame.columns == list(spec.names)
        for column in spec.columns:
            dtype = polars_frame.schema[column.name]
            if column.type == "timestamp":
                assert dtype == pl.Datetime("ms", "UTC"), column.name
            else:
                assert dtype == POLARS[column.type], column.name


def test_parquet_files_carry_the_data_dictionary(run: Path) -> None:
    for spec in tables(load()):
        schema = pq.read_schema(run / f"{spec.name}.parquet")
        metadata = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
        assert metadata["pathway.table"] == spec.name
        documented = {c["name"]: c for c in json.loads(metadata["pathway.data_dictionary"])}
        assert set(documented) == set(spec.names)
        for column in spec.columns:
            field = schema.field(column.name)
            assert field.metadata[b"meaning"].decode() == column.meaning == documented[column.name]["meaning"]


def test_tables_agree_with_the_summary(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    patients = pl.read_parquet(run / "patients.parquet")
    orders = pl.read_parquet(run / "imaging_orders.parquet")
    events = pl.read_parquet(run / "events.parquet")
    assert patients.height == 400 * len(POLICIES)
    # rows ordered by patient, then by policy in the order compared
    assert patients["patient"].to_list() == sorted(patients["patient"].to_list())
    assert patients["policy"].to_list()[: len(POLICIES)] == list(POLICIES)
    for policy in POLICIES:
        figures = summary["by_policy"][policy]["figures"]
        mine = patients.filter(pl.col("policy") == policy)
        assert orders.filter(pl.col("policy") == policy).height == figures["imaging_studies_count"]
        assert int(mine["blood_patches"].sum()) == figures["blood_patches_count"]
        assert mine["radiation_msv"].sum() == pytest.approx(figures["radiation_msv_total"])
        states = Counter(mine["final_state"].to_list())
        assert {s: n for s, n in summary["by_policy"][policy]["final_states"].items() if n} == dict(states)
        accepted = events.filter((pl.col("policy") == policy) & pl.col("accepted"))
        assert accepted.height == int(mine["events_accepted"].sum())
    # a puncture's procedure, gauge and tip are typed columns of their own
    punctured = patients.filter(pl.col("puncture").is_not_null())
    assert punctured["procedure"].null_count() == 0 and punctured["needle_gauge"].min() >= 10


def test_events_table_holds_the_jsonl_events(run: Path) -> None:
    events = pl.read_parquet(run / "events.parquet").filter(pl.col("policy") == "guideline")
    lines = [json.loads(line) for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert events.height == len(lines)
    for row, line in zip(events.iter_rows(named=True), lines, strict=True):
        assert row["patient"] == line["patient"] and row["event"] == line["event"]
        assert row["at"].strftime("%Y-%m-%dT%H:%M:%SZ") == line["at"]
        for key, value in line.items():
            if key not in ("patient", "event", "at", "episode"):
                assert row[key] == value, (key, line)


def test_the_data_dictionary_is_not_stale() -> None:
    assert DICTIONARY.read_text(encoding="utf-8") == markdown(load()), (
        "docs/data-dictionary.md is stale: run `.venv/bin/pathway data-dictionary --into docs/data-dictionary.md`"
    )


def _paths(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every (path, value) of a JSON document, lists as []."""
    out = [(prefix, node)] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(node, list) and node and isinstance(node[0], dict):
        for value in node:
            out += _paths(value, f"{prefix}[]")
    return out


def _documented(path: str, keys: tuple[summary_keys.Key, ...]) -> str | None:
    """The type of the documented key this path matches, or None."""
    parts = path.replace("[]", ".[]").split(".")
    for pattern, kind, _, _ in keys:
        wanted = pattern.replace("[]", ".[]").split(".")
        if len(wanted) == len(parts) and all(
            w == p or (w.startswith("<") and w.endswith(">")) for w, p in zip(wanted, parts, strict=True)
        ):
            return kind
    return None


def _check(document: dict[str, Any], keys: tuple[summary_keys.Key, ...]) -> None:
    nested = {"estimate": summary_keys.ESTIMATE, "times": summary_keys.TIMES}
    inside: list[str] = []
    for path, value in _paths(document):
        if any(path.startswith(f"{done}.") for done in inside):
            continue
        kind = _documented(path, keys)
        if kind is None:
            # a prefix of a documented key (an intermediate table) needs no entry of its own
            assert any(_prefix(pattern, path) for pattern, *_ in keys), f"{path} is not in the data dictionary"
            continue
        if kind in nested:
            inside.append(path)
            for sub in value:
                assert sub in {k for k, *_ in nested[kind]}, f"{path}.{sub}"
                if kind == "times" and isinstance(value[sub], dict):
                    assert set(value[sub]) <= {k for k, *_ in summary_keys.ESTIMATE}, f"{path}.{sub}"
        elif kind in ("body", "differences"):
            inside.append(path)
            _check(value, summary_keys.BODY if kind == "body" else summary_keys.DIFFERENCES)


def _prefix(pattern: str, path: str) -> bool:
    wanted = pattern.replace("[]", ".[]").split(".")
    parts = path.replace("[]", ".[]").split(".")
    return len(parts) < len(wanted) and all(
        w == p or (w.startswith("<") and w.endswith(">")) for w, p in zip(wanted, parts, strict=False)
    )


def test_every_key_written_is_in_the_data_dictionary(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    body = set(summary["by_policy"]["guideline"])
    top = {k: v for k, v in summary.items() if k not in body}
    _check(top, summary_keys.SUMMARY)
    _check({k: summary[k] for k in body}, summary_keys.BODY)
    _check(json.loads((run / "validation.json").read_text(encoding="utf-8")), summary_keys.VALIDATION)
    _check(json.loads((run / "run.json").read_text(encoding="utf-8")), summary_keys.RUN)


def test_per_1000_figures_and_counts_never_share_a_name(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    for name, value in summary["figures"].items():
        if name.endswith("_per_1000") or name.endswith("_share"):
            assert isinstance(value, dict) and {"value", "low", "high", "n"} <= set(value), name
        elif name.endswith("_count"):
            assert isinstance(value, int), name
