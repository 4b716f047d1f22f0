"""Writes tests/broken_definitions/: copies of the shipped definition, each wrong on purpose in one way.

The fixtures are derived from pathway/definitions/pdph.toml by the edits below, so a change to the
shipped definition is carried into every fixture by running this script again
(tests/test_verify_explore.py fails while a fixture is stale). Each edit must match exactly once.

    python scripts/make_broken_definitions.py            # rewrite the fixtures
    python scripts/make_broken_definitions.py --check    # exit 1 when a fixture is stale
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "pathway" / "definitions" / "pdph.toml"
OUT = ROOT / "tests" / "broken_definitions"


def block(text: str, transition_id: str, table: str = "transitions") -> str:
    """The whole [[table]] entry with this id, up to the next entry or section."""
    match = re.search(rf"\[\[{table}\]\]\nid = \"{transition_id}\"\n.*?\n\n", text, re.S)
    if match is None:
        raise SystemExit(f"no [[{table}]] entry {transition_id!r} in the shipped definition")
    return match.group(0)


def move_after(text: str, moved: str, anchor: str) -> str:
    """Move entry ``moved`` so that it comes right after entry ``anchor``."""
    entry = block(text, moved)
    text = text.replace(entry, "", 1)
    after = block(text, anchor)
    return text.replace(after, after + entry, 1)


def replace(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise SystemExit(f"edit does not match exactly once ({text.count(old)} times): {old[:70]!r}")
    return text.replace(old, new)


FIXTURES: dict[str, tuple[str, object]] = {
    "early_blood_patch": (
        "the conservative-trial threshold is applied with <= instead of >=, so an early reassessment leads "
        "to a blood patch.",
        lambda t: replace(
            t,
            'expr = "hours_since_entered(conservative_therapy) >= reassess_min_h"',
            'expr = "hours_since_entered(conservative_therapy) <= reassess_min_h"',
        ),
    ),
    "escalation_without_neurology": (
        "red-flag escalation no longer recommends a neurology consultation.",
        lambda t: re.sub(r'  \{ code = "neurology_consult".*\n', "", t, count=1),
    ),
    "imaging_in_conservative_therapy": (
        "MRI head is rated may_be_appropriate during conservative therapy.",
        lambda t: replace(
            t,
            'rating = "usually_not_appropriate", rrl = "O", text = "MRI head without and with IV contrast: a negative',
            'rating = "may_be_appropriate", rrl = "O", text = "MRI head without and with IV contrast: a negative',
        ),
    ),
    "loop_back_to_therapy": (
        "a reassessment during blood-patch care (not resolved) sends the patient back to conservative therapy, "
        "from where the next reassessment sends them to blood-patch care again: a cycle.",
        lambda t: t.replace(
            block(t, "patch_reassessed"),
            block(t, "patch_reassessed").replace('to = "blood_patch"', 'to = "conservative_therapy"'),
        ),
    ),
    "missing_rejection": (
        "the rejection of reassessment and headache_resolved before presentation is missing.",
        lambda t: t.replace(block(t, "before_presentation", "rejections"), ""),
    ),
    "red_flag_after_routing": (
        "the red-flag examination rule comes after the presentation routing rules, so a presenting patient "
        "with a red flag is routed as if well.",
        # priority is per state in file order, and the other states' rules come after in_scope
        lambda t: move_after(t, "red_flag_on_examination", "in_scope"),
    ),
    "swapped_routing": (
        "'beyond the window' is tested before 'no dural puncture', so a patient with no puncture is sent to "
        "the persistent-headache variant.",
        lambda t: move_after(t, "no_puncture", "beyond_window"),
    ),
    "three_patches": (
        "max_patches raised to 3: a third blood patch is accepted.",
        lambda t: replace(t, "[parameters.max_patches]\nvalue = 2", "[parameters.max_patches]\nvalue = 3"),
    ),
    "trap_in_blood_patch": (
        "blood-patch care has no exit without a red flag: complete relief stays in the state, the refractory "
        "rule can never fire, resolution is not accepted.",
        lambda t: (
            t.replace(
                block(t, "patch_complete_relief"),
                block(t, "patch_complete_relief").replace('to = "resolved"', 'to = "blood_patch"'),
            )
            .replace(
                block(t, "patch_failed"),
                block(t, "patch_failed").replace(
                    'when = "patch_pending_review"',
                    'when = "patch_pending_review and count(blood_patch) > max_patches"',
                ),
            )
            .replace(block(t, "resolved_after_patch"), "")
            .replace(block(t, "patch_reassessed_resolved"), "")
        ),
    ),
    "uncited_transition": (
        "the in-scope routing rule cites the seed without saying where in it.",
        lambda t: replace(
            t, 'cite = "seed: Why Is Initial Imaging Not Recommended for This Presentation?"', 'cite = "seed"'
        ),
    ),
    # [1.1] rules
    "window_before_atypical": (
        "the 1.0 precedence: the puncture and timing rules come before the atypical-headache rule, so a "
        "thunderclap headache on day 4 is sent to the persistent-headache variant.",
        lambda t: move_after(t, "atypical_headache", "beyond_window"),
    ),
    "debilitating_ignored": (
        "a headache still debilitating at the 48-72 h review continues conservative therapy when improving.",
        lambda t: t.replace(block(t, "review_debilitating"), ""),
    ),
    "postural_loss_ignored": (
        "a reassessment finding a headache that is no longer positional is not treated as a red flag.",
        lambda t: t.replace(block(t, "postural_pattern_lost"), ""),
    ),
    "ct_for_every_atypical_headache": (
        "the urgent CT head of the thunderclap hand-off is recommended for every atypical headache.",
        lambda t: replace(t, 'rrl = "☢☢☢", when = "thunderclap", ', 'rrl = "☢☢☢", '),
    ),
}


def fixture_text(name: str) -> str:
    comment, edit = FIXTURES[name]
    text = SHIPPED.read_text(encoding="utf-8")
    changed = edit(text)  # type: ignore[operator]
    if changed == text:
        raise SystemExit(f"{name}: the edit changed nothing")
    return f"# BROKEN ON PURPOSE (test fixture for pathway verify): {comment}\n{changed}"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in FIXTURES:
        path = OUT / f"{name}.toml"
        text = fixture_text(name)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    extra = sorted(p.name for p in OUT.glob("*.toml") if p.stem not in FIXTURES)
    if check and (stale or extra):
        print(f"stale: {', '.join(stale) or 'none'}; not generated: {', '.join(extra) or 'none'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
