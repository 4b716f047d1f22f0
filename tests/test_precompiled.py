"""The precompiled shipped files (pathway/precompiled.json): fresh, exact, and used only for their own bytes.

The artefact spares a run tomllib (start-up, issue 10). It must never change what a definition
means: it answers only for bytes equal to the text it was made from, and what it answers is
tomllib's own data, which the loader then validates as usual.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway import precompiled
from pathway.loader import DEFAULT_DEFINITION, DefinitionError, load, loads
from pathway.verify.properties import DEFAULT_PROPERTIES, load_catalogue, parse_catalogue

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {path.read_bytes(): path for path in (DEFAULT_DEFINITION, DEFAULT_PROPERTIES)}


@pytest.fixture
def artefact_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Lets a test point the module at another artefact; the cached one is restored afterwards."""
    precompiled._entries.cache_clear()
    yield
    monkeypatch.undo()
    precompiled._entries.cache_clear()


def test_the_artefact_is_fresh() -> None:
    assert precompiled.ARTEFACT.read_text(encoding="utf-8") == precompiled.artefact_text(), (
        "stale: run python scripts/precompile.py"
    )


def test_the_script_checks_this_checkout_whatever_is_installed() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "scripts/precompile.py", "--check"], cwd=ROOT, capture_output=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr.decode()


def test_it_covers_every_toml_file_a_run_reads() -> None:
    covered = {ROOT / "pathway" / name for name in precompiled.SOURCES}
    assert covered == set(SOURCES.values())


@pytest.mark.parametrize("path", [DEFAULT_DEFINITION, DEFAULT_PROPERTIES], ids=lambda p: p.name)
def test_it_answers_for_a_shipped_file_exactly_what_tomllib_reads(path: Path) -> None:
    raw = path.read_bytes()
    answer = precompiled.parsed(raw)
    assert answer is not None
    assert precompiled.same_data(answer, tomllib.loads(raw.decode("utf-8")))


def test_same_data_tells_types_apart() -> None:
    # the check the artefact's maker relies on: JSON must not turn 2.0 into 2 or a flag into a number
    assert precompiled.same_data({"a": [1, 2.5, "x", True]}, {"a": [1, 2.5, "x", True]})
    assert not precompiled.same_data({"a": 2.0}, {"a": 2})
    assert not precompiled.same_data([True], [1])
    assert not precompiled.same_data({"a": 1}, {"b": 1})


def test_the_shipped_definition_and_catalogue_are_the_same_objects_either_way() -> None:
    # loads() always parses with tomllib; load() of the shipped file takes the artefact
    text = DEFAULT_DEFINITION.read_text(encoding="utf-8")
    shipped = load()
    assert shipped == attrs.evolve(loads(text, DEFAULT_DEFINITION.name), source_path=shipped.source_path)
    data = tomllib.loads(DEFAULT_PROPERTIES.read_text(encoding="utf-8"))
    assert load_catalogue() == parse_catalogue(data, DEFAULT_PROPERTIES.name)


@given(st.sampled_from(sorted(SOURCES)), st.data())
def test_any_other_bytes_are_not_answered(raw: bytes, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(raw)))
    edit = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    byte = data.draw(st.binary(min_size=1, max_size=1))
    if edit == "insert":
        changed = raw[:at] + byte + raw[at:]
    elif edit == "delete":
        changed = raw[: max(at - 1, 0)] + raw[at:]
    else:
        changed = raw[: max(at - 1, 0)] + byte + raw[at:]
    if changed not in SOURCES:
        assert precompiled.parsed(changed) is None


def test_an_edited_copy_of_the_shipped_definition_is_read_from_its_own_text(tmp_path: Path) -> None:
    text = DEFAULT_DEFINITION.read_text(encoding="utf-8")
    edited = text.replace('version = "', 'version = "edited ', 1)
    assert edited != text
    copy = tmp_path / "pdph.toml"
    copy.write_text(edited, encoding="utf-8")
    assert load(copy).version == "edited " + load().version
    broken = tmp_path / "broken.toml"  # the shipped text and then a TOML error
    broken.write_text(text + "\n[oops\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="TOML syntax error"):
        load(broken)


def test_a_stale_artefact_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, artefact_at: None) -> None:
    # an artefact made from other text (the shipped file edited since) answers nothing for the file as it is
    artefact = json.loads(precompiled.ARTEFACT.read_text(encoding="utf-8"))
    for entry in artefact["files"]:
        entry["text"] += "# edited\n"
        entry["data"] = {"title": "not what the file says"}
    stale = tmp_path / "precompiled.json"
    stale.write_text(json.dumps(artefact), encoding="utf-8")
    monkeypatch.setattr(precompiled, "ARTEFACT", stale)
    for raw in SOURCES:
        assert precompiled.parsed(raw) is None
    assert precompiled.parsed(next(iter(SOURCES)) + b"# edited\n") is not None


@pytest.mark.parametrize("content", [None, "{not json", '{"files": "no"}'], ids=["missing", "damaged", "wrong"])
def test_without_a_usable_artefact_everything_is_parsed_from_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, artefact_at: None, content: str | None
) -> None:
    artefact = tmp_path / "precompiled.json"
    if content is not None:
        artefact.write_text(content, encoding="utf-8")
    monkeypatch.setattr(precompiled, "ARTEFACT", artefact)
    for raw in SOURCES:
        assert precompiled.parsed(raw) is None
