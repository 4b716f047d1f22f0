"""The full SPIN agreement table over every mutant of the shipped definition.

Too slow for CI (a few seconds of gcc per mutant): tests/test_export_spin.py runs a sample.
Prints one line per disagreement and the table by operator; writes the rows as JSON when
given a path.

    .venv/bin/python benchmarks/spin_mutants.py [out.json]
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import attrs

from pathway.loader import load
from pathway.verify.crosscheck import mutant_rows


def main() -> None:
    rows = mutant_rows(load(None), progress=lambda done, total: print(f"\r{done}/{total}", end="", file=sys.stderr))
    print(file=sys.stderr)
    by_operator: dict[str, Counter[str]] = {}
    for row in rows:
        counts = by_operator.setdefault(row.operator, Counter())
        counts["mutants"] += 1
        counts["agree"] += row.agree
        counts["project rejects"] += bool(row.project)
        counts["SPIN rejects"] += bool(row.spin)
    print("| operator | mutants | project rejects | SPIN rejects | agree |")
    print("|---|---|---|---|---|")
    for operator, c in by_operator.items():
        print(f"| {operator} | {c['mutants']} | {c['project rejects']} | {c['SPIN rejects']} | {c['agree']} |")
    agree = sum(r.agree for r in rows)
    print(f"| all | {len(rows)} | {sum(bool(r.project) for r in rows)} | {sum(bool(r.spin) for r in rows)} | {agree} |")
    explorer = sum(r.seconds_project for r in rows)
    spin_s = sum(r.seconds_spin for r in rows)
    print(f"agreement {agree}/{len(rows)}; explorer {explorer:.1f} s, SPIN {spin_s:.1f} s (x{spin_s / explorer:.0f})")
    for row in rows:
        if not row.agree:
            print(f"DISAGREE {row.operator}: {row.description}: project {row.project}, SPIN {row.spin}")
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as out:
            json.dump([attrs.asdict(r) for r in rows], out, indent=1)


if __name__ == "__main__":
    main()
