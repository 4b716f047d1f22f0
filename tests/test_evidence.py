"""Every source the data files cite can be opened in the repository: docs/evidence.md has an entry per id."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from pathway.loader import load
from pathway.verify.properties import load_catalogue

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE = (ROOT / "docs" / "evidence.md").read_text(encoding="utf-8")
CONTRACT = (ROOT / "docs" / "clinical-contract.md").read_text(encoding="utf-8")
ENTRIES = set(re.findall(r"^## ([a-z][a-z0-9_]*)$", EVIDENCE, re.M))


def _refs(cite: str) -> list[str]:
    """The citation ids of a cite text such as 'contract: section 2; seed: Pitfall 2'."""
    return [piece.split(":")[0].strip() for piece in cite.split(";") if piece.strip()]


def test_every_citation_of_the_definition_has_an_evidence_entry() -> None:
    pathway = load()
    assert {c.id for c in pathway.citations} <= ENTRIES


def test_every_cite_in_the_property_catalogue_names_an_evidence_entry() -> None:
    catalogue = load_catalogue()
    cites = [catalogue.cite, *(p.cite for p in catalogue.properties), *(c.cite for c in catalogue.conditions)]
    for cite in cites:
        for ref in _refs(cite):
            assert ref in ENTRIES, cite


def test_evidence_entries_give_a_reference_the_figures_used_and_the_quality() -> None:
    for block in re.split(r"^## ", EVIDENCE, flags=re.M)[1:]:
        name = block.split("\n", 1)[0]
        assert "- Used" in block, name
        assert "- Quality" in block, name
        assert re.search(r"https?://|\.md\)", block), name  # somewhere a reader can open


@pytest.mark.parametrize("section", range(1, 7))
def test_the_contract_sections_the_data_files_cite_exist(section: int) -> None:
    assert re.search(rf"^## {section}\. ", CONTRACT, re.M)


def test_no_data_file_points_outside_the_repository() -> None:
    # citations must resolve inside the repository: nothing may point at the project's shared notes
    for path in (ROOT / "pathway" / "definitions" / "pdph.toml", ROOT / "pathway" / "verify" / "properties.toml"):
        text = path.read_text(encoding="utf-8")
        assert "shared/" not in text and "CLINICAL.md" not in text and "clinical-evidence.md" not in text, path
        tomllib.loads(text)  # still a valid file


def test_the_departures_from_the_seed_are_documented() -> None:
    assert "Where we depart from the seed" in CONTRACT
    assert "bed rest" in CONTRACT.lower() and "caffeine" in CONTRACT.lower()
