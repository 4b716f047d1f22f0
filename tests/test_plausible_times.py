"""Event times a clinic could have written (reproducer 11 of issue 12).

A year typo (0226 for 2026) once routed a patient as "presented more than 72 h after the
puncture" with exit 0. Times outside the years the definition's [limits] give, and UTC
offsets that are not whole minutes within its bound, are malformed lines instead. The
bounds are data: a copy of the definition with other limits accepts other times.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from pathway.cli import main
from pathway.events import Event, EventError, parse_record
from pathway.loader import DEFAULT_DEFINITION, load, loads

PATHWAY = load()
LIMITS = PATHWAY.time_limits
PUNCTURE = '{"event":"dural_puncture","at":"2026-05-01T09:00:00Z","procedure":"lumbar_puncture"}'


def run(*lines: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["run", "-", "--json"], input="\n".join(lines) + "\n")
    return result.exit_code, result.stdout, result.stderr


def presentation(at: str) -> str:
    return json.dumps({"event": "presentation", "at": at, "headache": "orthostatic"})


def test_a_year_typo_is_a_malformed_line_not_a_late_presentation() -> None:
    code, out, err = run(PUNCTURE, presentation("0226-05-02T09:00:00Z"))
    assert code == 2
    assert err.strip() == (
        "line 2: field 'at': '0226-05-02T09:00:00Z': year 226 is outside the plausible years "
        f"{LIMITS.first_year}..{LIMITS.last_year} (limits.years of the definition)"
    )
    report = json.loads(out)
    assert report["state"] == "presentation"  # not refer_persistent_headache
    assert [r["kind"] for r in report["rejected"]] == ["malformed"]


@pytest.mark.parametrize("offset", ["+23:59", "-18:01", "+00:00:30", "+05:30:00.5"])
def test_an_offset_no_clock_uses_is_malformed(offset: str) -> None:
    code, _, err = run(PUNCTURE, presentation(f"2026-05-02T09:00:00{offset}"))
    assert code == 2
    assert err.startswith("line 2: field 'at': ") and "UTC offset" in err


@given(
    minutes=st.integers(-24 * 60 + 1, 24 * 60 - 1),
    seconds=st.sampled_from([0, 0, 0, 30]),
    year=st.integers(1, 9999),
)
def test_a_time_is_accepted_exactly_when_it_is_within_the_definitions_limits(
    minutes: int, seconds: int, year: int
) -> None:
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    offset = f"{sign}{hours:02d}:{rest:02d}" + (f":{seconds:02d}" if seconds else "")
    text = f"{year:04d}-06-15T12:00:00{offset}"
    parsed = parse_record({"event": "headache_resolved", "at": text}, 1, PATHWAY)
    assert LIMITS.max_utc_offset_minutes is not None and LIMITS.first_year is not None and LIMITS.last_year
    plausible = (
        not seconds and abs(minutes) <= LIMITS.max_utc_offset_minutes and LIMITS.first_year <= year <= LIMITS.last_year
    )
    assert isinstance(parsed, Event) == plausible, parsed
    if not plausible:
        assert isinstance(parsed, EventError) and parsed.field == "at"


def test_the_limits_are_the_definitions_not_the_codes() -> None:
    text = DEFAULT_DEFINITION.read_text(encoding="utf-8")
    old = f"years = [{LIMITS.first_year}, {LIMITS.last_year}]"
    assert text.count(old) == 1
    wider = loads(text.replace(old, "years = [1800, 2300]"))
    record = {"event": "headache_resolved", "at": "1850-01-01T00:00:00Z"}
    assert isinstance(parse_record(record, 1, PATHWAY), EventError)
    assert isinstance(parse_record(record, 1, wider), Event)
