"""The full SPIN agreement table over every mutant of the shipped definition.

Too slow for CI (a second or two of gcc per mutant): tests/test_export_spin.py runs a sample.

    .venv/bin/python benchmarks/spin_mutants.py                       # all mutants here, then the table
    .venv/bin/python benchmarks/spin_mutants.py --shard 0/2 a.json    # half of them (run 1/2 beside it)
    .venv/bin/python benchmarks/spin_mutants.py --table a.json b.json # the table from saved rows
    .venv/bin/python benchmarks/spin_mutants.py --fixtures            # shipped definition and broken fixtures

The table counts, per operator, the mutants, how many each side rejects (some behavioural property
violated) and how many agree property by property; every disagreement is listed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import attrs

from pathway.loader import load
from pathway.verify.crosscheck import cross_check, mutant_rows


def table(rows: list[dict[str, Any]]) -> None:
    by_operator: dict[str, Counter[str]] = {}
    for row in rows:
        counts = by_operator.setdefault(row["operator"], Counter())
        counts["mutants"] += 1
        counts["agree"] += row["project"] == row["spin"]
        counts["project"] += bool(row["project"])
        counts["spin"] += bool(row["spin"])
    print("| operator | mutants | project rejects | SPIN rejects | agree |")
    print("|---|---|---|---|---|")
    for operator, c in sorted(by_operator.items()):
        print(f"| {operator} | {c['mutants']} | {c['project']} | {c['spin']} | {c['agree']} |")
    agree = sum(r["project"] == r["spin"] for r in rows)
    rejects = [sum(bool(r[side]) for r in rows) for side in ("project", "spin")]
    print(f"| **all** | {len(rows)} | {rejects[0]} | {rejects[1]} | {agree} |")
    explorer = sum(r["seconds_project"] for r in rows)
    spin_s = sum(r["seconds_spin"] for r in rows)
    print(f"agreement {agree}/{len(rows)}; explorer {explorer:.1f} s, SPIN {spin_s:.1f} s (x{spin_s / explorer:.0f})")
    for row in rows:
        if row["project"] != row["spin"]:
            print(f"DISAGREE {row['operator']}: {row['description']}: project {row['project']}, SPIN {row['spin']}")


def fixtures() -> None:
    """One row per definition: what each side rejects, among the properties SPIN judges."""
    root = Path(__file__).resolve().parent.parent
    paths = [
        root / "pathway" / "definitions" / "pdph.toml",
        *sorted((root / "tests" / "broken_definitions").glob("*.toml")),
    ]
    print("| definition | project rejects | SPIN rejects | compared | agree | explorer s | SPIN s |")
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        check = cross_check(load(path))
        project = ", ".join(r.prop for r in check.rows if not r.project) or "none"
        by_spin = ", ".join(r.prop for r in check.compared if r.spin is False) or "none"
        same = sum(1 for r in check.compared if r.agree)
        spin_s = check.report.seconds_compile + check.report.seconds_search
        print(
            f"| `{path.stem}` | {project} | {by_spin} | {len(check.compared)} | {same}/{len(check.compared)} |"
            f" {check.seconds_project:.2f} | {spin_s:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shard", default="0/1", help="I/N: every N-th mutant from the I-th")
    parser.add_argument("--table", action="store_true", help="print the table of saved rows")
    parser.add_argument("--fixtures", action="store_true", help="the shipped definition and the broken fixtures")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    if args.fixtures:
        fixtures()
        return
    if args.table:
        rows: list[dict[str, Any]] = []
        for name in args.files:
            with open(name, encoding="utf-8") as saved:
                rows += json.load(saved)
        table(rows)
        return
    index, count = (int(x) for x in args.shard.split("/"))
    found = mutant_rows(
        load(None),
        shard=(index, count),
        progress=lambda done, total: print(f"\r{done}/{total}", end="", file=sys.stderr),
    )
    print(file=sys.stderr)
    rows = [attrs.asdict(r) for r in found]
    if args.files:
        with open(args.files[0], "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=1)
    table(rows)


if __name__ == "__main__":
    main()
