"""Malformed input of every kind: exit 2, `line N: field ...` on stderr, no traceback, valid work still reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pathway.cli import main

GOOD_1 = '{"event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"lumbar_puncture"}'
GOOD_3 = '{"event":"headache_resolved","at":"2026-05-03T09:00:00Z"}'
PRESENT = '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic"}'

BAD_LINES = {
    "not json": ("{not json", None, "not valid JSON"),
    "truncated json": ('{"event":"presentation","at":', None, "not valid JSON"),
    "json array": ('["presentation"]', None, "expected a JSON object"),
    "missing event": ('{"at":"2026-05-02T09:00:00Z","headache":"orthostatic"}', "event", "missing"),
    "unknown event": ('{"event":"lumbar_drain","at":"2026-05-02T09:00:00Z"}', "event", "unknown event 'lumbar_drain'"),
    "event not a string": ('{"event":7,"at":"2026-05-02T09:00:00Z"}', "event", "expected an event name, found 7"),
    "event null": ('{"event":null,"at":"2026-05-02T09:00:00Z"}', "event", "found null"),
    "field null": (
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic","seizure":null}',
        "seizure",
        "null is not allowed",
    ),
    "debilitating not a bool": (
        '{"event":"reassessment","at":"2026-05-02T09:00:00Z","headache":"improving","debilitating":"yes"}',
        "debilitating",
        "expected true or false",
    ),
    "positional null": (
        '{"event":"reassessment","at":"2026-05-02T09:00:00Z","headache":"improving","positional":null}',
        "positional",
        "null is not allowed",
    ),
    "unknown red-flag finding": (
        '{"event":"red_flag","at":"2026-05-02T09:00:00Z","finding":"bad_pdph"}',
        "finding",
        "'bad_pdph' is not one of",
    ),
    "positional on a presentation": (
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic","positional":false}',
        "positional",
        "unknown field for event 'presentation'",
    ),
    "episode not a string": (
        '{"episode":2,"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic"}',
        "episode",
        "expected a string",
    ),
    "patient null": (
        '{"patient":null,"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic"}',
        "patient",
        "expected a string",
    ),
    "Infinity is not JSON": (
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic","temperature_c":Infinity}',
        None,
        "Infinity is not valid JSON",
    ),
    "NaN is not JSON": (
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic","temperature_c":NaN}',
        None,
        "NaN is not valid JSON",
    ),
    "overflowing number": (
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic","temperature_c":1e999}',
        "temperature_c",
        "not a finite number",
    ),
    "implausible temperature": (
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic","temperature_c":380}',
        "temperature_c",
        "outside the plausible range 25.0..45.0",
    ),
    "duplicate key hiding a fever": (
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic","temperature_c":39.5,'
        '"temperature_c":37.0}',
        None,
        "field 'temperature_c' appears twice",
    ),
    "integer too large for a float": (
        '{"event":"dural_puncture","at":"2026-05-01T10:00:00Z","procedure":"epidural","needle_gauge":'
        + "9" * 400
        + "}",
        "needle_gauge",
        "not a finite number",
    ),
    "implausible gauge": (
        '{"event":"dural_puncture","at":"2026-05-01T10:00:00Z","procedure":"epidural","needle_gauge":220}',
        "needle_gauge",
        "outside the plausible range",
    ),
    "missing at": ('{"event":"presentation","headache":"orthostatic"}', "at", "missing"),
    "bad time": ('{"event":"presentation","at":"yesterday","headache":"orthostatic"}', "at", "ISO 8601"),
    "time without offset": (
        '{"event":"presentation","at":"2026-05-02T09:00:00","headache":"orthostatic"}',
        "at",
        "offset",
    ),
    "offset of a day or more": (
        '{"event":"presentation","at":"2026-05-02T09:00:00+25:00","headache":"orthostatic"}',
        "at",
        "the UTC offset must be less than 24 hours",
    ),
    "time as number": ('{"event":"presentation","at":1714640400,"headache":"orthostatic"}', "at", "ISO 8601"),
    "unknown field": (
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic","pain":9}',
        "pain",
        "unknown field",
    ),
    "missing required field": ('{"event":"presentation","at":"2026-05-02T09:00:00Z"}', "headache", "missing"),
    "enum value unknown": (
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"throbbing"}',
        "headache",
        "'throbbing' is not one of",
    ),
    "number as string": (
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic","temperature_c":"38.5"}',
        "temperature_c",
        "expected a number",
    ),
    "bool as string": (
        '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic","seizure":"yes"}',
        "seizure",
        "expected true or false",
    ),
    "int as float": (
        '{"event":"dural_puncture","at":"2026-05-01T10:00:00Z","procedure":"epidural","needle_gauge":22.5}',
        "needle_gauge",
        "expected an integer",
    ),
    "patient not a string": (
        '{"patient":12,"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"orthostatic"}',
        "patient",
        "expected a string",
    ),
}


def _run(stdin: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["run", "-", "--json"], input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_line_is_named_and_the_rest_still_runs(case: str) -> None:
    bad, field, problem = BAD_LINES[case]
    code, out, err = _run("\n".join([GOOD_1, bad, PRESENT, GOOD_3]) + "\n")
    assert code == 2
    message = err.strip().splitlines()
    assert len(message) == 1
    assert message[0].startswith("line 2: ")
    if field:
        assert f"field '{field}'" in message[0]
    assert problem in message[0]
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["state"] == "resolved"  # lines 1, 3 and 4 still processed and reported
    # the unreadable line stays visible in the patient's report, not only on stderr
    assert [(r["line"], r["kind"]) for r in report["rejected"]] == [(2, "malformed")]
    assert report["rejected"][0]["reason"] == message[0]


def test_time_going_backwards_exits_2_naming_the_line_and_still_reports() -> None:
    earlier = '{"event":"reassessment","at":"2026-05-02T08:00:00Z","headache":"worse"}'
    code, out, err = _run("\n".join([GOOD_1, PRESENT, earlier, GOOD_3]) + "\n")
    assert code == 2
    assert err.strip().startswith("line 3: field 'at': ")
    report = json.loads(out)
    assert report["state"] == "resolved"
    assert [(r["line"], r["kind"]) for r in report["rejected"]] == [(3, "time_order")]


def test_out_of_sequence_exits_3_and_lists_the_refusal() -> None:
    review = '{"event":"patch_review","at":"2026-05-02T10:00:00Z","relief":"complete"}'
    code, out, err = _run("\n".join([GOOD_1, PRESENT, review, GOOD_3]) + "\n")
    assert code == 3
    assert err == ""
    report = json.loads(out)
    assert [r["line"] for r in report["rejected"]] == [3]
    assert report["state"] == "resolved"


def test_blank_lines_are_skipped_but_counted() -> None:
    code, _out, err = _run("\n".join([GOOD_1, "", PRESENT, "{bad"]) + "\n")
    assert code == 2
    assert err.startswith("line 4: ")


def test_several_problems_are_each_reported_in_line_order() -> None:
    code, _, err = _run("\n".join(["{x", GOOD_1, '{"event":"nope","at":"2026-05-01T09:00:00Z"}']) + "\n")
    assert code == 2
    assert [line.split(":")[0] for line in err.strip().splitlines()] == ["line 1", "line 3"]


def test_non_utf8_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(
        GOOD_1.encode()
        + b"\n"
        + '{"event":"presentation","at":"2026-05-02T09:00:00Z","headache":"ortho\xe9"}'.encode("latin-1")
        + b"\n"
    )
    result = CliRunner().invoke(main, ["run", str(path), "--json"])
    assert result.exit_code == 2
    assert result.stderr.startswith("line 2: not UTF-8")


def test_missing_file_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["run", "/nonexistent/course.jsonl"])
    assert result.exit_code == 2
    assert "/nonexistent/course.jsonl" in result.stderr


def test_real_process_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(GOOD_1 + "\n{oops\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pathway", "run", str(path), "--json"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("line 2: not valid JSON")
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["state"] == "presentation"


def test_multi_patient_stream_keeps_patients_apart() -> None:
    lines = [
        '{"patient":"p1","event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"epidural"}',
        '{"patient":"p2","event":"presentation","at":"2026-04-01T09:00:00Z","headache":"orthostatic"}',
        '{"patient":"p1","event":"presentation","at":"2026-05-01T10:00:00Z","headache":"orthostatic"}',
    ]
    code, out, _ = _run("\n".join(lines))
    assert code == 0  # p2's earlier time is not "backwards": times are per patient
    reports = {r["patient"]: r for r in map(json.loads, out.splitlines())}
    assert reports["p1"]["state"] == "conservative_therapy"
    assert reports["p2"]["state"] == "refer_spontaneous_intracranial_hypotension"


def test_malformed_line_goes_to_its_patient_in_a_multi_patient_stream() -> None:
    lines = [
        '{"patient":"p1","event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"lumbar puncture"}',
        '{"patient":"p2","event":"presentation","at":"2026-04-01T09:00:00Z","headache":"orthostatic"}',
        "{garbage",
        '{"patient":"p1","event":"presentation","at":"2026-05-01T10:00:00Z","headache":"orthostatic"}',
    ]
    code, out, err = _run("\n".join(lines))
    assert code == 2
    reports = {r["patient"]: r for r in map(json.loads, out.splitlines())}
    assert set(reports) == {"p1", "p2"}  # the unattributable line does not invent a patient
    # p1's puncture was unreadable: the report says so instead of silently looking like "no puncture"
    assert reports["p1"]["state"] == "refer_spontaneous_intracranial_hypotension"
    assert [(r["line"], r["kind"]) for r in reports["p1"]["rejected"]] == [(1, "malformed"), (3, "malformed")]
    assert "procedure" in reports["p1"]["rejected"][0]["reason"]
    # the line that names no patient may be anyone's: every course lists it, saying so
    assert [r["line"] for r in reports["p2"]["rejected"]] == [3]
    for patient in ("p1", "p2"):
        assert reports[patient]["rejected"][-1]["reason"].startswith("could belong to this course")
    assert [line.split(":")[0] for line in err.strip().splitlines()] == ["line 1", "line 3"]


def test_byte_order_mark_on_the_first_line_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_1.encode() + b"\n" + PRESENT.encode() + b"\n")
    result = CliRunner().invoke(main, ["run", str(path), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "conservative_therapy"


def test_markup_in_input_is_shown_literally_not_interpreted() -> None:
    line = '{"patient":"[/bold]p","event":"presentation","at":"2026-05-02T09:00:00Z","headache":"[red]x"}'
    result = CliRunner().invoke(main, ["run", "-"], input=line + "\n", env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "patient [/bold]p" in result.stdout
    assert "'[red]x' is not one of" in result.stdout


# ------------------------------------------------------------------ [1.1] lines that lost their patient, episodes


def test_a_line_without_patient_in_a_named_stream_is_malformed_not_a_phantom_patient() -> None:
    lines = [
        '{"patient":"p1","event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"epidural"}',
        '{"event":"presentation","at":"2026-05-01T10:00:00Z","headache":"orthostatic"}',  # lost its id
        '{"patient":"p2","event":"presentation","at":"2026-05-01T10:00:00Z","headache":"thunderclap"}',
    ]
    code, out, err = _run("\n".join(lines))
    assert code == 2
    reports = [json.loads(line) for line in out.splitlines()]
    assert [r["patient"] for r in reports] == ["p1", "p2"]  # no course for the unnamed line
    assert reports[0]["state"] == "presentation"  # still waiting for its presentation: not "no puncture"
    assert [r["line"] for r in reports[0]["rejected"]] == [2]  # and the lost line is in each report
    assert err.strip().splitlines() == [
        "line 2: field 'patient': missing: other lines of this stream name their patient, so every line must"
    ]


def test_the_unnamed_line_is_refused_even_when_it_comes_first() -> None:
    lines = [
        '{"event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"epidural"}',
        '{"patient":"p1","event":"presentation","at":"2026-05-01T10:00:00Z","headache":"orthostatic"}',
    ]
    code, out, err = _run("\n".join(lines))
    assert code == 2
    assert [json.loads(line)["patient"] for line in out.splitlines()] == ["p1"]
    assert err.startswith("line 1: field 'patient': missing")


def test_a_stream_naming_no_patient_is_still_one_course() -> None:
    code, out, _ = _run("\n".join([GOOD_1, PRESENT]))
    assert code == 0
    (report,) = [json.loads(line) for line in out.splitlines()]
    assert report["patient"] is None and "episode" not in report
    assert report["state"] == "conservative_therapy"


def test_episodes_of_one_patient_are_separate_courses_each_reported_with_its_episode() -> None:
    lines = [
        '{"patient":"p1","episode":"1","event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"epidural"}',
        '{"patient":"p1","episode":"1","event":"presentation","at":"2026-05-01T10:00:00Z","headache":"orthostatic"}',
        '{"patient":"p1","episode":"1","event":"headache_resolved","at":"2026-05-02T10:00:00Z"}',
        # the return visit after `resolved`: accepted as a new course, not refused by the final state
        '{"patient":"p1","episode":"2","event":"red_flag","at":"2026-05-06T10:00:00Z","finding":"focal_deficit"}',
    ]
    code, out, _ = _run("\n".join(lines))
    assert code == 0
    reports = [json.loads(line) for line in out.splitlines()]
    assert [(r["patient"], r["episode"], r["state"]) for r in reports] == [
        ("p1", "1", "resolved"),
        ("p1", "2", "red_flag_escalation"),
    ]
    assert [s["line"] for s in reports[1]["steps"]] == [4]


def test_without_episodes_a_final_state_still_refuses_the_return_visit() -> None:
    lines = [
        '{"patient":"p1","event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"epidural"}',
        '{"patient":"p1","event":"presentation","at":"2026-05-01T10:00:00Z","headache":"orthostatic"}',
        '{"patient":"p1","event":"headache_resolved","at":"2026-05-02T10:00:00Z"}',
        '{"patient":"p1","event":"red_flag","at":"2026-05-06T10:00:00Z","finding":"focal_deficit"}',
    ]
    code, out, _ = _run("\n".join(lines))
    assert code == 3
    (report,) = [json.loads(line) for line in out.splitlines()]
    assert report["state"] == "resolved" and [r["line"] for r in report["rejected"]] == [4]


def test_a_lost_puncture_line_shows_in_the_report_of_the_patient_it_may_belong_to() -> None:
    lines = [
        '{"event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"epidural"}',  # lost its id
        '{"patient":"A","event":"presentation","at":"2026-05-01T10:00:00Z","headache":"orthostatic"}',
    ]
    code, out, _ = _run("\n".join(lines))
    assert code == 2
    (report,) = [json.loads(line) for line in out.splitlines()]
    assert report["state"] == "refer_spontaneous_intracranial_hypotension"  # what A's own lines say...
    assert [(r["line"], r["kind"]) for r in report["rejected"]] == [(1, "malformed")]  # ...and why to doubt it


def test_a_malformed_line_that_names_a_patient_makes_the_stream_a_named_one() -> None:
    lines = [
        '{"event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"epidural"}',
        '{"event":"presentation","at":"2026-05-01T10:00:00Z","headache":"orthostatic"}',
        '{"patient":"A","event":"presentation","at":"x"}',
    ]
    code, out, err = _run("\n".join(lines))
    assert code == 2
    reports = [json.loads(line) for line in out.splitlines()]
    assert [r["patient"] for r in reports] == ["A"]  # no phantom unnamed course
    assert [line.split(":")[1].strip() for line in err.strip().splitlines()] == ["field 'patient'"] * 2 + ["field 'at'"]


def test_times_never_go_backwards_within_one_patient_across_episodes() -> None:
    lines = [
        '{"patient":"A","episode":"2","event":"red_flag","at":"2026-05-05T09:00:00Z","finding":"seizure"}',
        '{"patient":"A","episode":"1","event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"epidural"}',
    ]
    code, out, err = _run("\n".join(lines))
    assert code == 2
    reports = {r["episode"]: r for r in map(json.loads, out.splitlines())}
    assert [(r["line"], r["kind"]) for r in reports["1"]["rejected"]] == [(2, "time_order")]
    assert err.startswith("line 2: field 'at': ")
