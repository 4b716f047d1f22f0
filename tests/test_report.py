"""The committee report's content: everything the definition, the verdict and the simulation say is on
the page, ids are unique, nothing is fetched, and missing or broken inputs are one-line errors.
The browser-side behaviour is in test_report_browser.py."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway.cli import main
from pathway.loader import load
from pathway.report.evidence import parse_evidence

BROKEN = Path(__file__).parent / "broken_definitions" / "red_flag_after_routing.toml"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")


class Page(HTMLParser):
    """The ids, fetchable addresses and visible text of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: Counter[str] = Counter()
        self.fetched: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids[found["id"] or ""] += 1
        for name in ("src", "srcset", "data", "poster"):
            if found.get(name):
                self.fetched.append(found[name] or "")
        if tag == "link":
            self.fetched.append(found.get("href") or "")
        if tag == "a" and found.get("href"):
            self.links.append(found["href"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def make_report(tmp_path: Path, *args: str) -> tuple[int, str, Page]:
    code, output = invoke("report", "--out", str(tmp_path / "out"), *args)
    file = tmp_path / "out" / "report.html"
    return code, output, Page(file.read_text(encoding="utf-8") if file.exists() else "")


def assert_self_contained(page: Page, html: str) -> None:
    assert all(src.startswith("data:") for src in page.fetched), page.fetched
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html  # the browser itself refuses any fetch
    duplicates = [i for i, n in page.ids.items() if n > 1]
    assert not duplicates, duplicates
    for link in page.links:
        if link.startswith("#"):
            assert page.ids[link[1:]] == 1, f"link to a missing anchor {link}"


@needs_dot
def test_describe_html_holds_every_state_recommendation_threshold_and_source() -> None:
    pathway = load()
    code, html = invoke("describe", "--format", "html")
    assert code == 0
    page = Page(html)
    assert_self_contained(page, html)
    text = page.words
    for state in pathway.states:
        assert page.ids[f"card-{state.id}"] == 1
        assert state.title in text and " ".join(state.text.split()) in text
        for rec in state.recommendations:
            assert rec.code in text and " ".join(rec.text.split()) in text
    for t in pathway.transitions:
        assert t.guard_words in text and t.reason in text, t.id
    for param in pathway.parameters:
        assert param.display() in text and param.text in text
    for citation in pathway.citations:
        assert page.ids[f"source-{citation.id}"] == 1
    assert "verification" not in page.ids and "simulation" not in page.ids
    assert html.count("<svg") == 1


@needs_dot
def test_report_with_evidence_shows_each_entry_under_its_citation(tmp_path: Path) -> None:
    pathway = load()
    first, second = pathway.citations[0].id, pathway.citations[1].id
    evidence = tmp_path / "evidence.md"
    evidence.write_text(
        f"# Evidence\n\nIntroduction, not an entry.\n\n## {first}: the first source\n\nFirst body with *emphasis*.\n"
        f"\n### A detail\n\nStill the first entry.\n\n## `{second}` second\n\n"
        "![a remote image](https://example.org/x.png) and <script>alert(1)</script>\n\n"
        "## extra_source\n\nAn entry the definition does not cite.\n",
        encoding="utf-8",
    )
    code, _, page = make_report(tmp_path, "--evidence", str(evidence))
    assert code == 0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert_self_contained(page, html)
    first_entry = html.split(f'id="source-{first}"', 1)[1].split("</article>", 1)[0]
    assert "<em>emphasis</em>" in first_entry and "Still the first entry." in first_entry
    assert page.ids["source-extra_source"] == 1
    # raw HTML in the notes is shown as text and an image is only a link: nothing runs, nothing is fetched
    assert "&lt;script&gt;alert(1)" in html and "<script>alert(1)" not in html
    assert "Introduction, not an entry." not in html


@needs_dot
def test_a_violated_property_shows_its_counterexample_as_steps_and_a_drawn_path(tmp_path: Path) -> None:
    code, _, page = make_report(tmp_path, "--definition", str(BROKEN))
    assert code == 1
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert_self_contained(page, html)
    verdict = json.loads(invoke("verify", "--json", "--definition", str(BROKEN))[1])
    violated = [p for p in verdict["properties"] if not p["holds"]]
    counterexamples = [f for p in violated for f in p["findings"] if f.get("counterexample")]
    assert counterexamples
    assert html.count('class="card counterexample"') == len(counterexamples)
    assert html.count("<svg") == 1 + len(counterexamples)
    for finding in counterexamples:
        for record in finding["counterexample"]:
            assert record["at"] in page.words


def write_sim(directory: Path, summary: dict, **files: object) -> Path:
    directory.mkdir(parents=True)
    (directory / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    for name, content in files.items():
        (directory / name.replace("__", ".")).write_text(json.dumps(content), encoding="utf-8")
    return directory


@needs_dot
def test_simulation_parts_that_are_present_are_shown_with_their_intervals(tmp_path: Path) -> None:
    summary = {
        "patients": 1234,
        "policy": "guideline",
        "per": 1000,
        "by_policy": {
            "reflexive_imaging": {"imaging_studies": {"mean": 611.5, "lo": 580.25, "hi": 640.75}, "escalations": 2.5},
            "guideline": {"imaging_studies": {"mean": 1.5, "lo": 0.5, "hi": 3.25}, "escalations": 2.5},
        },
    }
    validation = [{"check": "patch rate", "expected": 0.11, "simulated": {"mean": 0.12, "ci": [0.1, 0.14]}}]
    dictionary = {"outcomes.csv": {"patient": "patient id", "final_state": "state id at the end"}}
    sim = write_sim(tmp_path / "sim", summary, validation__json=validation, data_dictionary__json=dictionary)
    code, _, page = make_report(tmp_path, "--simulation", str(sim))
    assert code == 0
    text = page.words
    assert "611.5 (580.2 to 640.8)" in text or "611.5 (580 to 641)" in text
    assert "1.5 (0.5 to 3.25)" in text
    assert "measure guideline reflexive imaging" in text, "the run's own policy comes first"
    assert "patch rate" in text and "0.12 (0.1 to 0.14)" in text
    assert "state id at the end" in text
    assert "Plots" not in text


@needs_dot
def test_a_bare_simulation_directory_shows_what_it_has(tmp_path: Path) -> None:
    sim = write_sim(tmp_path / "sim", {"patients": 10, "policy": "guideline"})
    code, _, page = make_report(tmp_path, "--simulation", str(sim))
    assert code == 0
    assert page.ids["simulation"] == 1
    assert "Validation" not in page.words and "Policy comparison" not in page.words


@pytest.mark.parametrize(("summary", "message"), [(None, "no such simulation directory"), ("{oops", "summary.json")])
def test_unreadable_simulations_are_one_line_errors(tmp_path: Path, summary: str | None, message: str) -> None:
    sim = tmp_path / "sim"
    if summary is not None:
        sim.mkdir()
        (sim / "summary.json").write_text(summary)
    code, output = invoke("report", "--out", str(tmp_path / "out"), "--simulation", str(sim))
    assert code == 2
    assert message in output and len(output.strip().splitlines()) == 1 and "Traceback" not in output


def test_an_unwritable_output_directory_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, output = invoke("report", "--out", str(blocker / "sub"))
    assert code == 2 and len(output.strip().splitlines()) == 1


ids = st.from_regex(r"[a-z]([a-z0-9_]{0,10}[a-z0-9])?", fullmatch=True)
lines = st.text(alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters=" .,"), max_size=40)


@settings(max_examples=60, deadline=None)
@given(entries=st.dictionaries(ids, st.lists(lines, max_size=4), max_size=5))
def test_every_heading_with_an_id_is_one_entry_holding_its_body(entries: dict[str, list[str]]) -> None:
    text = "# Evidence\n\nIntro.\n\n" + "".join(
        f"## {ref}: title\n\n" + "\n\n".join(line.strip() for line in body if line.strip()) + "\n\n"
        for ref, body in entries.items()
    )
    parsed = parse_evidence(text)
    assert set(parsed) == set(entries)
    for ref, body in entries.items():
        for line in body:
            if line.strip():
                assert line.strip() in parsed[ref].markdown
        assert re.sub(r"\s", "", "".join(body)) == re.sub(r"\s", "", parsed[ref].markdown)


@needs_dot
def test_a_real_simulation_shows_every_policy_figure_with_its_interval_and_the_validation(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    args = ["simulate", "-n", "300", "--compare", "guideline,reflexive_imaging", "--validate", "--summary-only", "-q"]
    assert CliRunner().invoke(main, [*args, "--no-plots", "--out", str(sim)]).exit_code == 0
    summary = json.loads((sim / "summary.json").read_text(encoding="utf-8"))
    code, _, page = make_report(tmp_path, "--simulation", str(sim))
    assert code == 0
    text = page.words
    assert "imaging studies per 1000" in text and "measure guideline reflexive imaging" in text
    rate = summary["by_policy"]["reflexive_imaging"]["figures"]["imaging_studies_per_1000"]
    assert f"({rate['low']:,.1f} to" in text
    assert "onset_within_24h_spinal" in text and "lybecker1995" in text
