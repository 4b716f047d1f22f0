"""Writes pathway/precompiled.json: the shipped definition and property catalogue as tomllib reads them.

`pathway run` takes a shipped file's data from there instead of parsing the TOML at each start
(pathway/precompiled.py), but only while the file's bytes equal the text the artefact was made
from; run this after editing either file (tests/test_precompiled.py fails while it is stale).

    python scripts/precompile.py            # rewrite the artefact
    python scripts/precompile.py --check    # exit 1 when it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, whatever is installed
from pathway.outdir import write_atomically
from pathway.precompiled import ARTEFACT, artefact_text


def main(argv: list[str]) -> int:
    wanted = artefact_text()
    if "--check" in argv:
        current = ARTEFACT.read_text(encoding="utf-8") if ARTEFACT.exists() else None
        if current != wanted:
            print(f"{ARTEFACT.name}: stale (run python scripts/precompile.py)", file=sys.stderr)
            return 1
        return 0
    write_atomically(ARTEFACT, wanted)  # never a half-written artefact, even if interrupted
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
