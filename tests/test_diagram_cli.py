"""`pathway diagram` as a user meets it: --check on the committed diagrams and on a changed copy
of the definition, bad input with one-line errors, and life without Graphviz's dot."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pathway.cli import main
from pathway.loader import DEFAULT_DEFINITION, load
from pathway.render.output import DotMissing, diagram_bytes, png_stamp, svg_stamp

ROOT = Path(__file__).parents[1]
COMMITTED = ROOT / "diagrams"
EXAMPLES = ROOT / "examples"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")


def diagram(*args: str) -> Result:
    return CliRunner().invoke(main, ["diagram", *args])


def one_line_error(result: Result) -> str:
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---------------------------------------------------------------- --check


def test_check_passes_on_the_committed_diagrams() -> None:
    result = diagram("--check", "--out", str(COMMITTED))
    assert result.exit_code == 0, result.stderr


@needs_dot
def test_check_names_each_stale_file_after_a_threshold_changes_in_a_copy(tmp_path: Path) -> None:
    out = tmp_path / "diagrams"
    assert diagram("--out", str(out)).exit_code == 0
    assert diagram("--check", "--out", str(out)).exit_code == 0

    name = load().parameter("reassess_min_h")
    text = DEFAULT_DEFINITION.read_text(encoding="utf-8")
    block = re.compile(rf"(\[parameters\.{name.name}\]\s*\nvalue = ){name.value}\b")
    changed = block.sub(lambda m: f"{m.group(1)}36", text)
    assert changed != text, "the threshold was not found in the definition"
    copy = tmp_path / "pdph.toml"
    copy.write_text(changed, encoding="utf-8")

    result = diagram("--check", "--definition", str(copy), "--out", str(out))
    assert result.exit_code == 1
    stale = result.stderr.strip().splitlines()
    for suffix in ("dot", "mmd", "svg", "png"):
        assert any(f"pdph.{suffix}: stale" in line for line in stale), suffix
    assert len(stale) == 4 and "Traceback" not in result.stderr

    # regenerating from the changed copy makes it fresh, and the new threshold is drawn
    assert diagram("--definition", str(copy), "--out", str(out)).exit_code == 0
    assert diagram("--check", "--definition", str(copy), "--out", str(out)).exit_code == 0
    assert "36 h" in (out / "pdph.dot").read_text(encoding="utf-8")


def test_check_names_a_missing_file(tmp_path: Path) -> None:
    for path in COMMITTED.glob("pdph.*"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "pdph.mmd").unlink()
    result = diagram("--check", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "pdph.mmd: missing" in one_line_error(result)


def test_committed_images_were_made_from_the_committed_dot() -> None:
    import hashlib

    sha = hashlib.sha256((COMMITTED / "pdph.dot").read_bytes()).hexdigest()
    assert svg_stamp((COMMITTED / "pdph.svg").read_bytes()) == sha
    assert png_stamp((COMMITTED / "pdph.png").read_bytes()) == sha


@needs_dot
def test_regenerating_gives_identical_files(tmp_path: Path) -> None:
    assert diagram("--out", str(tmp_path / "a")).exit_code == 0
    assert diagram("--out", str(tmp_path / "b")).exit_code == 0
    for name in ("pdph.dot", "pdph.mmd", "pdph.svg", "pdph.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# ---------------------------------------------------------------- formats and options


def test_formats_may_be_repeated_or_comma_separated(tmp_path: Path) -> None:
    result = diagram("--format", "dot", "-f", "mermaid,dot", "--out", str(tmp_path))
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pdph.dot", "pdph.mmd", "run.json"]


def test_unknown_format_is_a_one_line_error(tmp_path: Path) -> None:
    result = diagram("--format", "jpeg", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "jpeg" in one_line_error(result)


# ---------------------------------------------------------------- without dot


@pytest.fixture
def no_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None


@pytest.mark.usefixtures("no_dot")
def test_without_dot_text_formats_still_work(tmp_path: Path) -> None:
    result = diagram("--format", "dot,mermaid", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "pdph.dot").read_bytes() == (COMMITTED / "pdph.dot").read_bytes()
    assert (tmp_path / "pdph.mmd").read_bytes() == (COMMITTED / "pdph.mmd").read_bytes()


@pytest.mark.usefixtures("no_dot")
def test_without_dot_images_fail_with_how_to_install(tmp_path: Path) -> None:
    result = diagram("--format", "svg,png", "--out", str(tmp_path))
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "apt-get install graphviz" in line and "svg, png" in line
    assert not list(tmp_path.glob("pdph.*"))
    # the default (all formats) still writes what needs no dot
    result = diagram("--out", str(tmp_path))
    assert result.exit_code == 2 and "apt-get install graphviz" in one_line_error(result)
    assert sorted(p.name for p in tmp_path.glob("pdph.*")) == ["pdph.dot", "pdph.mmd"]
    with pytest.raises(DotMissing):
        diagram_bytes(load(), ["svg"])


@pytest.mark.usefixtures("no_dot")
def test_check_works_without_dot() -> None:
    assert diagram("--check", "--out", str(COMMITTED)).exit_code == 0


# ---------------------------------------------------------------- --trace input


def test_bad_event_lines_are_reported_and_the_valid_course_still_drawn(tmp_path: Path) -> None:
    lines = (EXAMPLES / "classic_course_patch_gives_complete_relief.jsonl").read_text().splitlines()
    lines.insert(2, '{"event": "presentation", "at": "yesterday", "headache": "orthostatic"}')
    lines.insert(4, "not json")
    events = tmp_path / "course.jsonl"
    events.write_text("\n".join(lines) + "\n")
    result = diagram("--trace", str(events), "--format", "dot", "--out", str(tmp_path))
    assert result.exit_code == 2
    problems = result.stderr.strip().splitlines()
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 5"]
    assert "field 'at'" in problems[0] and "Traceback" not in result.stderr
    drawn = (tmp_path / "pdph-trace.dot").read_text()
    assert "steps" in drawn  # the valid events still make a path


def test_a_multi_patient_file_needs_patient_and_names_them(tmp_path: Path) -> None:
    stream = EXAMPLES / "multi_patient_stream.jsonl"
    ids = sorted({json.loads(line)["patient"] for line in stream.read_text().splitlines() if line.strip()})
    result = diagram("--trace", str(stream), "--out", str(tmp_path))
    assert result.exit_code == 2
    line = one_line_error(result)
    assert all(pid in line for pid in ids) and "--patient" in line
    result = diagram("--trace", str(stream), "--patient", ids[0], "--format", "dot,mermaid", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / f"pdph-trace-{ids[0]}.dot").exists() and (tmp_path / f"pdph-trace-{ids[0]}.mmd").exists()
    result = diagram("--trace", str(stream), "--patient", "nobody", "--out", str(tmp_path))
    assert result.exit_code == 2 and "nobody" in one_line_error(result)


def test_overlays_and_check_do_not_mix() -> None:
    result = diagram("--check", "--trace", str(EXAMPLES / "resolves_on_conservative_therapy.jsonl"))
    assert result.exit_code == 2 and "--check" in one_line_error(result)


# ---------------------------------------------------------------- --frequencies input

MALFORMED = {
    "not JSON": "{",
    "not an object": "[1, 2]",
    "transitions not a list": '{"patients": 3, "transitions": {}}',
    "negative count": '{"patients": 3, "transitions": [{"transition": "in_scope", "source": "presentation", '
    '"target": "conservative_therapy", "count": -1, "patients": 1}]}',
    "unknown transition": '{"patients": 3, "transitions": [{"transition": "teleport", "source": "presentation", '
    '"target": "resolved", "count": 1, "patients": 1}]}',
    "wrong target": '{"patients": 3, "transitions": [{"transition": "in_scope", "source": "presentation", '
    '"target": "resolved", "count": 1, "patients": 1}]}',
    "missing count": '{"patients": 3, "transitions": [{"transition": "in_scope", "source": "presentation", '
    '"target": "conservative_therapy"}]}',
    "more patients than the cohort": '{"patients": 3, "transitions": [{"transition": "in_scope", '
    '"source": "presentation", "target": "conservative_therapy", "count": 9, "patients": 9}]}',
    "mapping with unknown state": '{"presentation->nowhere": 3}',
    "mapping with no such edge": '{"resolved->presentation": 3}',
    "mapping with a bad key": '{"presentation": 3}',
    "mapping with a float": '{"presentation->conservative_therapy": 2.5}',
    "empty mapping": "{}",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_summaries_are_one_line_errors(case: str, tmp_path: Path) -> None:
    file = tmp_path / "summary.json"
    file.write_text(MALFORMED[case])
    result = diagram("--frequencies", str(file), "--format", "dot", "--out", str(tmp_path))
    assert result.exit_code == 2, case
    assert str(file) in one_line_error(result)
    assert not list(tmp_path.glob("*.dot"))


def test_a_missing_summary_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = diagram("--frequencies", str(tmp_path / "absent.json"), "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "absent.json" in one_line_error(result)


def test_trace_lists_unreadable_lines_among_the_refused(tmp_path: Path) -> None:
    course = tmp_path / "course.jsonl"
    course.write_text(
        '{"event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"lumbar puncture"}\n'
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic"}\n'
    )
    result = CliRunner().invoke(main, ["diagram", "--trace", str(course), "-f", "dot", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("line 1: field 'procedure'")
    (dot,) = tmp_path.glob("*.dot")
    text = dot.read_text()
    # the drawn course says why it went to the SIH hand-off: its puncture line could not be read
    assert "unreadable line" in text and "procedure" in text


def test_a_very_long_course_is_still_drawn_with_its_step_numbers_elided(tmp_path: Path) -> None:
    lines = [
        '{"event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"lumbar_puncture"}',
        '{"event":"presentation","at":"2026-05-01T10:00:00Z","headache":"orthostatic"}',
    ]
    # 500 early reviews a minute apart: one self-transition taken 500 times, plus 60 refused events
    lines += [
        f'{{"event":"reassessment","at":"2026-05-01T{11 + i // 60:02d}:{i % 60:02d}:00Z","headache":"worse"}}'
        for i in range(500)
    ]
    lines += ['{"event":"patch_review","at":"2026-05-01T20:00:00Z","relief":"none"}'] * 60
    course = tmp_path / "long.jsonl"
    course.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["diagram", "--trace", str(course), "-f", "svg,dot", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    dot = next(tmp_path.glob("*.dot")).read_text()
    assert "(500 times)" in dot
    assert "20 more" in dot  # refused events beyond the first 40
    assert next(tmp_path.glob("*.svg")).stat().st_size > 0


def test_each_episode_of_a_patient_can_be_drawn(tmp_path: Path) -> None:
    stream = EXAMPLES / "multi_episode_return_visit.jsonl"
    result = diagram("--trace", str(stream), "--out", str(tmp_path))
    assert result.exit_code == 2 and "--episode" in one_line_error(result)
    drawn = {}
    for episode in ("1", "2"):
        result = diagram(
            "--trace", str(stream), "--patient", "R", "--episode", episode, "-f", "dot", "-o", str(tmp_path)
        )
        assert result.exit_code == 0, result.stderr
        # patient and episode joined by '__', which no patient id's file stem holds: never two courses in one file
        drawn[episode] = (tmp_path / f"pdph-trace-R__{episode}.dot").read_text()
    # the first episode ends resolved, the return visit escalates: each drawing shows its own course
    taken = {e: re.findall(r"(\w+) -> (\w+) \[[^\n]*class=\"transition taken", d) for e, d in drawn.items()}
    assert taken["2"] == [("presentation", "red_flag_escalation")]
    assert ("conservative_therapy", "resolved") in taken["1"] and ("presentation", "red_flag_escalation") not in taken[
        "1"
    ]
    result = diagram("--trace", str(stream), "--patient", "R", "--episode", "9", "-o", str(tmp_path))
    assert result.exit_code == 2 and "episodes: 1, 2" in one_line_error(result)
