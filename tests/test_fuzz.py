"""Fuzzing the two untrusted inputs: event streams and definitions (issue 12), on a bounded budget.

Streams: lines from the examples, mutated and mixed with garbage, control characters, lone
surrogates, deep nesting and over-long lines. Whatever arrives, `pathway run` ends with a
status of the contract (0, 2 or 3), prints JSON reports, keeps every stderr line one line,
and accounts for every line it read: each is a step or a refusal of some course, or a
problem on stderr.

Definitions: the shipped definition with an entry, a name or a guard replaced by something
hostile. Loading either gives a pathway or one DefinitionError, and a pathway that loads
can be compiled, drawn and run.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway import compiled, limits
from pathway.cli import main
from pathway.engine import run_course
from pathway.events import Event, parse_record
from pathway.loader import DEFAULT_DEFINITION, DefinitionError, build
from pathway.machine import build_machine_class
from pathway.render.output import sources

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_LINES = sorted(
    {line for path in (ROOT / "examples").glob("*.jsonl") for line in path.read_text().splitlines() if line.strip()}
)
BUDGET = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NASTY = st.sampled_from(["\x1b[31m", "\n", "\u202e", "\\ud800", "..", "/", "\x00", "\x9b", "'", '"', "\\"])
TEXT = st.text(max_size=12) | NASTY | st.lists(NASTY, max_size=4).map("".join)

# ---------------------------------------------------------------- streams


@st.composite
def mutated(draw: st.DrawFn) -> str:
    record = json.loads(draw(st.sampled_from(EXAMPLE_LINES)))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*record, "patient", "episode", "at", "event"]) | TEXT)
        value = draw(
            TEXT
            | st.integers(-(10**30), 10**30)
            | st.floats(allow_nan=False)
            | st.booleans()
            | st.none()
            | st.sampled_from(["0226-05-01T09:00:00Z", "2026-05-01T09:00:00+23:59", "2026-13-01T00:00:00Z"])
        )
        if draw(st.booleans()):
            record[key] = value
        else:
            record.pop(key, None)
    text = json.dumps(record, ensure_ascii=draw(st.booleans()))
    return text.replace("\\\\ud800", "\\ud800")  # a JSON escape of half a UTF-16 pair, as a hostile file holds


LINE = st.one_of(
    st.sampled_from(EXAMPLE_LINES),
    mutated(),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ").decode("latin-1")),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.just(""),
)


@BUDGET
@given(lines=st.lists(LINE, max_size=30), too_long=st.booleans())
def test_run_accounts_for_every_line_whatever_the_stream_holds(lines: list[str], too_long: bool) -> None:
    if too_long:
        lines = [*lines[:5], "x" * (limits.MAX_LINE_BYTES + 1), *lines[5:]]
    data = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    result = CliRunner().invoke(main, ["run", "-", "--json"], input=data)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2, 3), result.stderr
    accounted: set[int] = set()
    for report in map(json.loads, result.stdout.splitlines()):
        assert report["state"] in report["path"]
        accounted |= {s["line"] for s in report["steps"]} | {r["line"] for r in report["rejected"]}
    for line in result.stderr.splitlines():
        assert not re.search("[\x00-\x1f\x7f-\x9f\u202e]", line), repr(line)
        found = re.match(r"line (\d+): ", line)
        assert found or line.startswith("monitor: "), line
        if found:
            accounted.add(int(found.group(1)))
    read = len(lines) if not too_long else min(len(lines), 6)
    expected = {n for n, text in enumerate(lines[:read], start=1) if text.strip()}
    assert expected <= accounted


# ---------------------------------------------------------------- definitions

SHIPPED: dict[str, Any] = tomllib.loads(DEFAULT_DEFINITION.read_text(encoding="utf-8"))
NAMES = ["trial_complete", "fever", "punctured", "headache", "seizure", "reassess_min_h"]
GUARD = st.recursive(
    st.sampled_from(NAMES) | st.sampled_from(["count(blood_patch) < 2", "hours_since(dural_puncture) <= 72"]),
    lambda inner: st.one_of(
        inner.map(lambda g: f"not {g}"),
        inner.map(lambda g: f"({g})"),
        st.tuples(inner, inner).map(" and ".join),
        st.tuples(inner, inner).map(" or ".join),
    ),
    max_leaves=80,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the definition's data, as a path of keys and indices."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def parent(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        data = data[step]
    return data


@st.composite
def hostile_definition(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(SHIPPED)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(data)))
        holder, last = parent(data, path), path[-1]
        action = draw(st.sampled_from(["value", "guard", "rename", "delete", "predicate chain"]))
        if action == "value":
            holder[last] = draw(TEXT | st.integers() | st.lists(TEXT, max_size=3) | st.dictionaries(TEXT, TEXT))
        elif action == "guard":
            key = "expr" if "predicates" in path else "when"
            target = holder if isinstance(holder, dict) else data["predicates"]["fever"]
            target[key] = draw(GUARD)
        elif action == "rename" and isinstance(holder, dict):
            holder[draw(TEXT)] = holder.pop(last)
        elif action == "delete":
            del holder[last]
        else:
            depth = draw(st.integers(1, 40))
            for level in range(1, depth + 1):
                data["predicates"][f"q{level}"] = {"expr": f"q{level - 1} and q{level - 1}", "cite": "seed"}
            data["predicates"]["q0"] = {"expr": draw(GUARD), "cite": "seed"}
    return data


@BUDGET
@given(data=hostile_definition())
def test_a_hostile_definition_loads_or_is_refused_in_one_line(data: dict[str, Any]) -> None:
    try:
        pathway = build(data, "fuzz.toml")
    except DefinitionError as err:
        assert str(err).startswith("fuzz.toml: ") and "\n" not in str(err)
        return
    build_machine_class(pathway)
    compiled.compile_pathway(pathway)
    drawn = sources(pathway)
    assert all(text.strip() for text in drawn.values())
    for transition in pathway.transitions:
        assert len(transition.guard_words) <= 40 * limits.MAX_GUARD_NODES
    course = [
        parse_record({"event": name, "at": f"2026-05-0{1 + i}T09:00:00Z"}, i + 1, pathway)
        for i, name in enumerate(pathway.event_names[:5])
    ]
    events = [e for e in course if isinstance(e, Event)]
    assert run_course(pathway, events) == compiled.run_course(pathway, events)
