"""Broken definition files fail with one clear line naming the file, the entry and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.loader import DEFAULT_DEFINITION, DefinitionError, load

SHIPPED = DEFAULT_DEFINITION.read_text(encoding="utf-8")


def broken(old: str, new: str) -> str:
    assert old in SHIPPED, old
    return SHIPPED.replace(old, new, 1)


CASES = {
    "unknown target state": (
        broken('to = "conservative_therapy"\nlabel', 'to = "conservative_thearpy"\nlabel'),
        "transitions[7] (in_scope).to",
        "unknown state 'conservative_thearpy'",
    ),
    "unknown source state": (
        broken('from = "blood_patch"\non = ["blood_patch"]', 'from = "patch"\non = ["blood_patch"]'),
        "transitions[16] (patch_done).from",
        "unknown state 'patch'",
    ),
    "unknown predicate in guard": (
        broken('when = "trial_complete"', 'when = "trial_completed"'),
        "transitions[9] (trial_reviewed).when",
        "unknown name 'trial_completed'",
    ),
    "field not on the event": (
        broken("when = \"patch_pending_review and relief == 'complete'\"", "when = \"headache == 'worse'\""),
        "transitions[17] (patch_complete_relief).when",
        "unknown name 'headache'",
    ),
    "enum literal that does not exist": (
        broken("when = \"headache in ['unchanged', 'worse']\"", "when = \"headache in ['unchanged', 'worst']\""),
        "transitions[15] (review_not_improving).when",
        "'worst' is not a value of field 'headache'",
    ),
    "guard syntax error": (
        broken('when = "trial_complete"', 'when = "trial_complete and"'),
        "transitions[9] (trial_reviewed).when",
        "column 19",
    ),
    "guard that tries to run code": (
        broken('when = "trial_complete"', 'when = "__import__(os)"'),
        "transitions[9] (trial_reviewed).when",
        "unknown function '__import__'",
    ),
    "bad rating": (
        broken(
            'rating = "usually_appropriate", rrl = "O", text = "Urgent MRI',
            'rating = "usually_great", rrl = "O", text = "Urgent MRI',
        ),
        "states.red_flag_escalation.recommendations[0].rating",
        "usually_great",
    ),
    "bad rrl": (
        broken(
            'rrl = "☢☢☢", text = "CT head without IV contrast: insensitive',
            'rrl = "high", text = "CT head without IV contrast: insensitive',
        ),
        "states.presentation.recommendations[0].rrl",
        "'high'",
    ),
    "missing citation": (
        broken(
            'reason = "headache resolved on conservative therapy"\ncite = "seed: Most mild PDPH cases resolve with '
            'these measures within a few days"\n',
            'reason = "headache resolved on conservative therapy"\n',
        ),
        "transitions[8] (resolved_on_therapy)",
        "cite",
    ),
    "unknown citation": (
        broken(
            'cite = "seed: Pitfall 2, Dismissing Red Flags"\n\n[[transitions]]',
            'cite = "sead: Pitfall 2, Dismissing Red Flags"\n\n[[transitions]]',
        ),
        "transitions[0] (red_flag_reported).cite",
        "unknown citation 'sead'",
    ),
    "unreachable state": (
        broken('to = "refractory_leak"', 'to = "resolved"'),
        "states.refractory_leak",
        "unreachable",
    ),
    "trap state": (
        SHIPPED.replace(
            'from = "reassessment"\nimmediate = true', 'from = "blood_patch"\non = ["reassessment"]'
        ).replace('from = "*"', 'from = ["presentation", "conservative_therapy", "blood_patch"]'),
        "states.reassessment",
        "trap",
    ),
    "unknown key (typo)": (
        broken('reason = "epidural blood patch done"', 'reson = "epidural blood patch done"'),
        "transitions[16] (patch_done)",
        "unknown key 'reson'",
    ),
    "unknown event in on": (
        broken(
            'on = ["headache_resolved"]\nto = "resolved"\nreason = "headache resolved on',
            'on = ["headache_gone"]\nto = "resolved"\nreason = "headache resolved on',
        ),
        "transitions[8] (resolved_on_therapy).on",
        "unknown event 'headache_gone'",
    ),
    "unknown parameter in text": (
        broken("its time starts the {puncture_window_h} window", "its time starts the {window_h} window"),
        "transitions[3] (puncture_recorded).reason",
        "unknown parameter {window_h}",
    ),
    "predicate cycle": (
        broken('expr = "occurred(dural_puncture)"', 'expr = "within_window"').replace(
            'expr = "hours_since(dural_puncture) <= puncture_window_h"', 'expr = "punctured"'
        ),
        "predicates.",
        "refers to itself",
    ),
    "threshold that is not a number": (
        broken("value = 38.0\n", "value = nan\n"),
        "parameters.fever_threshold_c.value",
        "expected a finite number",
    ),
    "one field name with two kinds of value": (
        broken(
            'fields.level = { type = "string" }',
            'fields.level = { type = "string" }\nfields.seizure = { type = "string" }',
        ),
        "events.blood_patch.fields",
        "field 'seizure' is string here but bool",
    ),
    "predicate reading a field the event lacks": (
        broken(
            "when = \"patch_pending_review and relief == 'complete'\"", 'when = "patch_pending_review and not fever"'
        ),
        "transitions[17] (patch_complete_relief).when",
        "reads field 'temperature_c' (through a predicate)",
    ),
    "immediate transition out of the initial state": (
        broken('from = "reassessment"\nimmediate = true', 'from = "presentation"\nimmediate = true'),
        "transitions (review_resolved)",
        "initial state cannot have immediate transitions",
    ),
    "immediate transitions in a cycle": (
        broken(
            'from = "reassessment"\nimmediate = true\nwhen = "headache == \'improving\'"\nto = "conservative_therapy"',
            'from = "reassessment"\nimmediate = true\nwhen = "headache == \'improving\'"\nto = "reassessment"',
        ),
        "states.reassessment",
        "cycle",
    ),
    "guard nested too deeply": (
        broken('when = "trial_complete"', 'when = "' + "(" * 40 + "trial_complete" + ")" * 40 + '"'),
        "transitions[9] (trial_reviewed).when",
        "nested more than 32 deep",
    ),
    "empty guard": (
        broken('when = "trial_complete"', 'when = ""'),
        "transitions[9] (trial_reviewed).when",
        "an empty guard",
    ),
    "TOML syntax error": (broken("[parameters.max_patches]", "[parameters.max_patches"), "", "TOML syntax error"),
    "transition out of a final state": (
        broken('from = "blood_patch"\non = ["headache_resolved"]', 'from = "resolved"\non = ["headache_resolved"]'),
        "transitions[20] (resolved_after_patch).from",
        "final",
    ),
    "threshold given as text": (
        broken("value = 48\n", 'value = "48"\n'),
        "predicates.trial_complete.expr",
        "compares a number",
    ),
    "code in a guard is not run": (
        broken('when = "trial_complete"', "when = \"__import__('os').system('true')\""),
        "transitions[9] (trial_reviewed).when",
        "unexpected character '.'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_definition_is_named(case: str, tmp_path: Path) -> None:
    text, entry, problem = CASES[case]
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith("broken.toml: ")
    assert entry in message
    assert problem in message
    assert "\n" not in message


@pytest.mark.parametrize("command", [["describe"], ["run", "-"]])
def test_cli_reports_broken_definition_in_one_line(command: list[str], tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(CASES["unknown predicate in guard"][0], encoding="utf-8")
    result = CliRunner().invoke(main, [*command, "--definition", str(path)], input="")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "broken.toml: transitions[9] (trial_reviewed).when" in lines[0]
    assert "Traceback" not in result.output


def test_missing_definition_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["describe", "--definition", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "nope.toml: cannot read" in result.stderr


def test_threshold_change_in_definition_changes_behaviour_without_code(tmp_path: Path) -> None:
    from tests.helpers import PUNCTURE, course, presented

    path = tmp_path / "short.toml"
    path.write_text(broken("value = 48\n", "value = 36\n"), encoding="utf-8")
    shorter = load(path)
    steps = (PUNCTURE, presented(10), ("reassessment", 50, {"headache": "worse"}))
    assert course(*steps, pathway=shorter).state == "blood_patch"
    assert course(*steps).state == "conservative_therapy"
    assert "36 h" in course(*steps, pathway=shorter).steps[-2].guard
