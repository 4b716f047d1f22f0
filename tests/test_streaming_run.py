"""`pathway run` streams (reproducer 11 of issue 12): each course is reported when its last line
has been read, memory follows the courses still open, and what is reported is exactly what
running the whole stream at once reports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway import compiled
from pathway.cli_common import in_line_order, read_event_file
from pathway.engine import PatientRun, run_stream
from pathway.loader import load
from pathway.replay import Outcome, replay
from pathway.stream import EventSource, open_events
from pathway.trace import trace_json, trace_json_text
from pathway.verify.monitor import check_trace

ROOT = Path(__file__).resolve().parents[1]
PATHWAY = load()
START = datetime(2026, 5, 1, 9, tzinfo=UTC)
COURSE = [
    {"event": "dural_puncture", "procedure": "lumbar_puncture"},
    {"event": "presentation", "headache": "orthostatic"},
    {"event": "reassessment", "headache": "unchanged"},
    {"event": "blood_patch"},
    {"event": "patch_review", "relief": "complete"},
]


def at(hours: float) -> str:
    return (START + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def grouped(patients: int) -> list[str]:
    return [
        json.dumps({"patient": f"p{p}", "at": at(24 * step), **record})
        for p in range(patients)
        for step, record in enumerate(COURSE)
    ]


class CountingSource(EventSource):
    """An EventSource that counts the lines the replay has taken so far."""

    def __init__(self, path: Path) -> None:
        super().__init__(path.open("rb"))
        self.taken = 0

    def lines(self) -> Iterator[bytes]:
        self.taken = 0
        for line in super().lines():
            self.taken += 1
            yield line


def test_each_course_is_reported_as_soon_as_its_last_line_is_read(tmp_path: Path) -> None:
    stream = tmp_path / "s.jsonl"
    stream.write_text("\n".join(grouped(6)) + "\n")
    source = CountingSource(stream)
    seen = []
    for trace, _ in replay(source, PATHWAY, lambda p, e: PatientRun(PATHWAY, p, e), lambda m: None, Outcome()):
        seen.append((trace.patient, source.taken))
    source.handle.close()
    assert seen == [(f"p{p}", len(COURSE) * (p + 1)) for p in range(6)]


def test_an_interleaved_course_waits_for_its_own_last_line(tmp_path: Path) -> None:
    lines = grouped(3)
    lines.append(json.dumps({"patient": "p0", "at": at(200), "event": "headache_resolved"}))  # p0 comes back
    stream = tmp_path / "s.jsonl"
    stream.write_text("\n".join(lines) + "\n")
    source = CountingSource(stream)
    order = [
        (t.patient, source.taken)
        for t, _ in replay(source, PATHWAY, lambda p, e: PatientRun(PATHWAY, p, e), lambda m: None, Outcome())
    ]
    source.handle.close()
    assert order == [("p1", 10), ("p2", 15), ("p0", 16)]


# ---------------------------------------------------------------- the same reports as the whole stream at once


def lines_of(patients: list[str | None]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(
            lambda patient, episode, index, hours: json.dumps(
                {
                    **({"patient": patient} if patient is not None else {}),
                    **({"episode": episode} if episode is not None else {}),
                    "at": at(hours),
                    **COURSE[index],
                }
            ),
            st.sampled_from(patients),
            st.sampled_from([None, None, "e2"]),
            st.integers(0, len(COURSE) - 1),
            st.integers(0, 200),
        ),
        st.sampled_from(['{"patient":"a","event":"nope"}', '{"patient":"b","at":"0226-05-01T09:00:00Z"}']),
    )


GARBAGE = st.sampled_from(["{garbage", "", '{"event":"presentation"}', '["x"]', '{"patient":7}'])
# named streams are reported course by course; unnamed or unreadable lines make courses wait
STREAMS = st.one_of(
    st.lists(lines_of(["a", "b", "c"]), max_size=25),
    st.lists(lines_of([None, "a", "b", "c"]) | GARBAGE, max_size=25),
    st.lists(lines_of([None]) | GARBAGE, max_size=10),
)


def reference(path: Path) -> list[str]:
    """What `pathway run --json` printed before it streamed: every course run at once, then checked."""
    events, errors = read_event_file(str(path), PATHWAY)
    reports = []
    for trace in run_stream(PATHWAY, in_line_order(events, errors)):
        mine = [e for e in events if e.course == (trace.patient, trace.episode)]
        report = trace_json(trace, PATHWAY)
        report["monitor"] = [v.to_json() for v in check_trace(PATHWAY, trace, mine)]
        reports.append(json.dumps(report, ensure_ascii=False))
    return reports


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=STREAMS, engine=st.sampled_from(["psm", "compiled"]))
def test_streaming_reports_exactly_what_the_whole_stream_reports(tmp_path: Path, lines: list[str], engine: str) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(lines) + "\n")
    table = compiled.compile_pathway(PATHWAY)
    start = (lambda p, e: compiled.TracedRun(table, p, e)) if engine == "compiled" else None
    streamed = []
    with open_events(str(path)) as source:
        for trace, violations in replay(
            source, PATHWAY, start or (lambda p, e: PatientRun(PATHWAY, p, e)), lambda m: None, Outcome()
        ):
            streamed.append("".join(trace_json_text(trace, PATHWAY, {"monitor": [v.to_json() for v in violations]})))
    assert sorted(streamed) == sorted(reference(path))  # the same courses; the order is when each one ends


def test_a_long_report_written_in_pieces_is_the_same_json(tmp_path: Path) -> None:
    hours = [24 * 3 + h for h in range(1500)]
    lines = [json.dumps({"at": at(0), **COURSE[0]}), json.dumps({"at": at(24), **COURSE[1]})]
    lines += [json.dumps({"event": "reassessment", "at": at(h), "headache": "improving"}) for h in hours]
    lines += [json.dumps({"event": "blood_patch", "at": at(2000 + h)}) for h in range(1200)]  # all refused
    path = tmp_path / "long.jsonl"
    path.write_text("\n".join(lines) + "\n")
    events, errors = read_event_file(str(path), PATHWAY)
    (trace,) = run_stream(PATHWAY, in_line_order(events, errors))
    assert len(trace.steps) + len(trace.rejected) > 1000  # written in pieces
    pieces = list(trace_json_text(trace, PATHWAY, {"monitor": []}))
    assert len(pieces) > len(trace.steps)
    assert json.loads("".join(pieces)) == {**trace_json(trace, PATHWAY), "monitor": []}


# ---------------------------------------------------------------- memory


_PEAK = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)"
)


def peak_mb(*args: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_memory_follows_the_open_courses_not_the_stream(tmp_path: Path) -> None:
    stream = tmp_path / "grouped.jsonl"
    stream.write_text("\n".join(grouped(8000)) + "\n")  # 40,000 events
    long = tmp_path / "long.jsonl"
    reviews = [json.dumps({"event": "reassessment", "at": at(72 + h), "headache": "improving"}) for h in range(15000)]
    long.write_text(
        "\n".join([json.dumps({"at": at(0), **COURSE[0]}), json.dumps({"at": at(1), **COURSE[1]}), *reviews])
    )
    baseline = peak_mb("-c", "import numpy, pathway.cli")
    grouped_mb = peak_mb("-m", "pathway", "run", str(stream), "--json", "--engine", "compiled")
    long_mb = peak_mb("-m", "pathway", "run", str(long), "--json", "--engine", "compiled")
    # holding the whole stream took 33 MB above the baseline for the first, 71 MB for the second;
    # streaming takes about 1 MB and 8 MB (the long course's steps, held once)
    assert grouped_mb - baseline < 15, (grouped_mb, baseline)
    assert long_mb - baseline < 30, (long_mb, baseline)
