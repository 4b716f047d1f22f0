"""The economics documents: the generated data page is current, CHEERS is complete, the links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pathway.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)}


def test_the_economic_data_page_is_generated_from_the_data_files() -> None:
    result = CliRunner().invoke(main, ["economics", "data-dictionary"])
    assert result.exit_code == 0, result.output
    current = (DOCS / "economics-data.md").read_text(encoding="utf-8")
    assert current == result.output, "stale: run `pathway economics data-dictionary --into docs/economics-data.md`"


def test_cheers_lists_all_28_items_each_with_where_it_is_reported() -> None:
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \| (.+) \|$", (DOCS / "cheers.md").read_text(encoding="utf-8"), re.M)
    assert [int(n) for n, _, _ in rows] == list(range(1, 29))
    for number, item, where in rows:
        assert len(where.strip()) > 20, f"item {number} ({item.strip()}) says nowhere"
    perspective = dict((int(n), w) for n, _, w in rows)
    assert "payer" in perspective[8] and "30 days" in perspective[9] and "None" in perspective[10]
    assert "USD" in perspective[15] and "price year" in perspective[15]


@pytest.mark.parametrize("name", ["cheers.md", "economics.md", "economics-data.md"])
def test_links_in_the_economics_documents_resolve(name: str) -> None:
    text = (DOCS / name).read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith("http"):
            continue
        file, _, anchor = target.partition("#")
        path = (DOCS / file) if file else DOCS / name
        assert path.exists(), f"{name}: {target}"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{name}: no heading for #{anchor} in {path.name}"
