"""The README's pathway tables are generated from the definition and must not go stale."""

from __future__ import annotations

from pathlib import Path

from pathway.describe_markdown import BEGIN, END, markdown_tables, replace_in
from pathway.loader import load

README = Path(__file__).parent.parent / "README.md"


def test_readme_tables_match_the_definition() -> None:
    text = README.read_text(encoding="utf-8")
    assert replace_in(text, markdown_tables(load())) == text, (
        "README tables are stale: run `.venv/bin/pathway describe --markdown --into README.md`"
    )


def test_tables_follow_the_definition() -> None:
    pathway = load()
    tables = markdown_tables(pathway)
    assert tables.startswith(BEGIN) and tables.endswith(END)
    for state in pathway.states:
        assert f"| `{state.id}` |" in tables
    for param in pathway.parameters:
        assert f"| `{param.name}` | {param.display()} |" in tables
