"""A definition file is untrusted input (reproducers 4-7 and 10 of issue 12).

Oversized, deeply nested or self-multiplying definitions, and devices in place of files,
are refused in one line within the tool's limits (pathway.limits) instead of exhausting
time, memory or the stack; ids are identifiers, so no name in a definition can become a
path, a new line of a diagram or a broken DOT file.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway import guards, limits
from pathway.cli import main
from pathway.loader import DEFAULT_DEFINITION, DefinitionError, load, loads
from pathway.render import output
from pathway.render.mermaid import mermaid_source
from pathway.render.view import build_view

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = DEFAULT_DEFINITION.read_text(encoding="utf-8")
TRIAL = 'when = "trial_complete"'


def edited(old: str, new: str) -> str:
    assert SHIPPED.count(old) == 1, old
    return SHIPPED.replace(old, new)


def write(tmp_path: Path, text: str, name: str = "hostile.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(text: str) -> str:
    with pytest.raises(DefinitionError) as caught:
        loads(text, "hostile.toml")
    message = str(caught.value)
    assert message.startswith("hostile.toml: ") and "\n" not in message
    return message


def contained(args: list[str], memory_gb: int = 4, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    """`pathway ARGS` with its address space capped, so a runaway read fails here instead of taking the machine."""

    def cap() -> None:
        size = memory_gb * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    return subprocess.run(
        [sys.executable, "-m", "pathway", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
        check=False,
    )


def one_line(done: subprocess.CompletedProcess[str] | Result) -> str:
    err = done.stderr
    assert "Traceback" not in err and "Error:" not in err.split(":", 1)[0], err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ---------------------------------------------------------------- 4: too large to draw


def chain_definition(states: int) -> str:
    """A valid definition of ``states`` states in a chain, the last final."""
    parts = [
        '[pathway]\nid = "chain"\ntitle = "chain"\nversion = "1"\ninitial = "s0"\ncite = "c"\n',
        '[citations.c]\ntitle = "c"\nsource = "c"\n',
        '[events.go]\nlabel = "go"\ncite = "c"\n',
    ]
    for index in range(states):
        kind = "initial" if index == 0 else "final" if index == states - 1 else "active"
        parts.append(f'[states.s{index}]\nkind = "{kind}"\ntitle = "s{index}"\ntext = "t"\ncite = "c"\n')
    for index in range(states - 1):
        parts.append(f'[[transitions]]\nid = "t{index}"\nfrom = "s{index}"\non = "go"\nto = "s{index + 1}"\n'
                     'reason = "r"\ncite = "c"\n')  # fmt: skip
    return "\n".join(parts)


@pytest.mark.parametrize("states", [10_000, limits.MAX_STATES + 1])
def test_a_huge_definition_is_refused_before_anything_is_drawn(tmp_path: Path, states: int) -> None:
    assert loads(chain_definition(20)).state_ids[-1] == "s19"  # the same shape, small, is a pathway
    path = write(tmp_path, chain_definition(states))
    done = contained(["diagram", "-f", "svg", "--definition", str(path), "--out", str(tmp_path / "d")])
    assert done.returncode == 2
    line = one_line(done)  # 10,000 states do not even fit the size of a definition file
    assert f"more than {limits.MAX_STATES} states" in line or f"larger than {limits.MAX_DEFINITION_BYTES:,}" in line
    assert not (tmp_path / "d").exists()


def test_graphviz_running_out_of_time_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "dot").write_text("#!/bin/sh\nsleep 30\n")
    (slow / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{slow}:/usr/bin:/bin")
    monkeypatch.setattr(output, "DOT_TIMEOUT_S", 1)
    result = CliRunner().invoke(main, ["diagram", "-f", "svg", "--out", str(tmp_path / "d")])
    assert result.exit_code == 2, result.exception
    assert "dot -Tsvg did not finish within 1 s" in one_line(result)
    assert not any(p.name.startswith("pdph") for p in (tmp_path / "d").glob("*"))


# ---------------------------------------------------------------- 5: nesting


@pytest.mark.parametrize("command", [["verify"], ["run", str(ROOT / "examples" / "multi_patient_stream.jsonl")]])
def test_330_nested_nots_are_refused_in_one_line(tmp_path: Path, command: list[str]) -> None:
    path = write(tmp_path, edited(TRIAL, 'when = "' + "not " * 330 + 'not trial_complete"'))
    done = contained([*command, "--definition", str(path)])
    assert done.returncode == 2
    assert f"nested more than {limits.MAX_GUARD_DEPTH} deep" in one_line(done)


@given(depth=st.integers(1, 2 * limits.MAX_GUARD_DEPTH), parentheses=st.booleans())
def test_the_parser_takes_every_guard_up_to_the_depth_limit_and_none_beyond(depth: int, parentheses: bool) -> None:
    source = "(" * depth + "x" + ")" * depth if parentheses else "not " * depth + "x"
    if depth <= limits.MAX_GUARD_DEPTH:
        tree = guards.parse(source)
        assert guards.extent(tree)[1] == (1 if parentheses else depth + 1)
    else:
        with pytest.raises(guards.GuardSyntaxError, match="nested more than"):
            guards.parse(source)


def test_nesting_through_predicates_counts_too() -> None:
    chain = "".join(f'[predicates.n{i}]\nexpr = "not n{i - 1}"\ncite = "seed"\n\n' for i in range(1, 50))
    text = edited(
        "[predicates.fever]", '[predicates.n0]\nexpr = "seizure"\ncite = "seed"\n\n' + chain + "[predicates.fever]"
    )
    assert f"levels deep once its predicates are written out (limit {limits.MAX_GUARD_LEVELS})" in refused(text)


# ---------------------------------------------------------------- 6: predicates that multiply


def doubling(levels: int, text: bool = False) -> str:
    """q0 = seizure, qN = "q(N-1) and q(N-1)": each level doubles the written-out guard."""
    words = 'text = "q"\n' if text else ""
    chain = "".join(
        f'[predicates.q{i}]\nexpr = "q{i - 1} and q{i - 1}"\n{words}cite = "seed"\n\n' for i in range(1, levels + 1)
    )
    return edited(
        "[predicates.fever]", '[predicates.q0]\nexpr = "seizure"\ncite = "seed"\n\n' + chain + "[predicates.fever]"
    )


def test_a_doubling_chain_of_predicates_is_refused_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, doubling(30))
    done = contained(["run", str(ROOT / "examples" / "multi_patient_stream.jsonl"), "--definition", str(path)], 3)
    assert done.returncode == 2
    line = one_line(done)
    assert "predicates.q" in line and f"(limit {limits.MAX_GUARD_NODES:,})" in line


def test_a_shared_predicate_is_shown_by_name_not_written_out_again() -> None:
    pathway = loads(doubling(7))  # within the limit written out
    q7 = next(p for p in pathway.predicates if p.name == "q7")
    assert q7.text == "q6 and q6"  # its own words name q6; they do not copy q6's
    # measured through the shared trees: qN is an 'and' of two references to q(N-1)
    assert guards.extent(q7.expr) == (2 ** (7 + 2) - 3, 2 * 7 + 1)


# ---------------------------------------------------------------- 7: devices and endless input


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize(
    "args",
    [
        ["run", "/dev/zero"],
        ["run", "/dev/zero", "--engine", "psm"],
        ["simulate", "-n", "10", "--params", "/dev/zero", "--out", "{tmp}"],
        ["describe", "--definition", "/dev/zero"],
        ["verify", "--properties", "/dev/zero"],
    ],
    ids=lambda a: "-".join(a[:2]),
)
def test_an_endless_input_is_refused_in_one_line(tmp_path: Path, args: list[str]) -> None:
    done = contained([a.replace("{tmp}", str(tmp_path / "o")) for a in args], 2, 120)
    assert done.returncode == 2
    line = one_line(done)
    assert f"{limits.MAX_LINE_BYTES:,} bytes" in line or f"{limits.MAX_DEFINITION_BYTES:,} bytes" in line


# ---------------------------------------------------------------- 10: ids are identifiers


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ('id = "pdph"', 'id = "../../x"', "pathway.id"),
        ('id = "pdph"', 'id = "/tmp/x"', "pathway.id"),
        ("[states.resolved]", '[states."resolved\\nclick x"]', "states"),
        ("[states.resolved]", '[states."resolved\\\\"]', "states"),
        ("[events.headache_resolved]", '[events."headache resolved"]', "events"),
        ('id = "puncture_after_presentation"', 'id = "Puncture-After"', "rejections"),
        ("[predicates.fever]", '[predicates."fever\\u001b[31m"]', "predicates"),
    ],
    ids=["relative path", "absolute path", "newline", "backslash", "space", "case", "escape"],
)
def test_an_id_that_is_not_an_identifier_is_refused(old: str, new: str, where: str) -> None:
    message = refused(edited(old, new))
    assert where in message and ("lower-case letters" in message or "control character" in message)


def test_control_characters_in_prose_are_refused() -> None:
    assert "control character" in refused(edited('title = "Presentation"', 'title = "Pre\\u001b]8;;x\\u0007"'))


@settings(max_examples=40, deadline=None)
@given(title=st.text(st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from("\n\t"), max_size=60))
def test_no_title_can_add_a_statement_to_the_mermaid_diagram(title: str) -> None:
    quoted = title.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    try:
        pathway = loads(edited('title = "Presentation"', f'title = "{quoted}"'))
    except DefinitionError:
        return  # refused (e.g. an empty title): nothing is drawn
    shipped = mermaid_source(build_view(load())).splitlines()
    drawn = mermaid_source(build_view(pathway)).splitlines()
    assert len(drawn) == len(shipped)  # no line added, whatever the title holds
    assert not any(re.match(r"\s*click\b", line) for line in drawn)


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz dot")
def test_dot_accepts_a_diagram_whatever_the_prose_holds() -> None:
    text = edited('title = "Presentation"', 'title = "back\\\\slash \\"quote\\" <b>&amp; ]]> {x}"')
    source = output.sources(loads(text))["dot"]
    done = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
