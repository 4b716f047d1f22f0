"""`--set PATH=VALUE`: change one number of a parameter file for a what-if, without copying it.

PATH walks the decoded file: table keys, and for arrays of tables the entry's ``id``
(``punctures.epidural_adp_17g.share``) or its index (``presentation.atypical.0.weight``).
A path that names a cited number sets its ``value``; a distribution is changed one
number at a time (``onset.after_puncture.median``). Only what the file already has can
be set: an unknown name is refused, so a typo never passes silently. VALUE is read
as a TOML value (a number, true/false, a quoted string), a bare word as a string; the
changed file is then validated exactly like one read from disk.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable
from typing import Any

from pathway.simulate.params_reader import ParamsError

WHERE = "--set"


def parse_assignment(text: str) -> tuple[str, Any]:
    """'a.b=3' -> ('a.b', 3); a problem raises ParamsError naming the assignment."""
    path, sep, raw = text.partition("=")
    path, raw = path.strip(), raw.strip()
    if not sep or not path or not raw:
        raise ParamsError(WHERE, text, "expected PATH=VALUE, e.g. complications.meningitis.rate=0.001")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word: a string such as an enum value
    if isinstance(value, dict | list):
        raise ParamsError(WHERE, path, "VALUE must be a number, true/false or a string, not a table or an array")
    return path, value


def _step(node: Any, key: str, walked: str) -> Any:
    if isinstance(node, dict):
        if key in node:
            return node[key]
        known = ", ".join(sorted(node)) or "none"
        raise ParamsError(WHERE, walked, f"unknown parameter {key!r} (here: {known})")
    if isinstance(node, list):
        for item in node:
            if isinstance(item, dict) and item.get("id") == key:
                return item
        if key.isdigit() and int(key) < len(node):
            return node[int(key)]
        ids = [str(item.get("id")) for item in node if isinstance(item, dict) and "id" in item]
        known = ", ".join(ids) if ids else f"an index 0..{len(node) - 1}"
        raise ParamsError(WHERE, walked, f"no entry {key!r} (here: {known})")
    raise ParamsError(WHERE, walked, f"{walked.rsplit('.', 1)[0]!r} is a single value, not a table")


def apply(data: dict[str, Any], assignments: Iterable[str]) -> dict[str, Any]:
    """A copy of the decoded parameter file with every assignment applied, in order."""
    result = copy.deepcopy(data)
    for text in assignments:
        path, value = parse_assignment(text)
        keys = path.split(".")
        node: Any = result
        for depth, key in enumerate(keys[:-1]):
            node = _step(node, key, ".".join(keys[: depth + 1]))
        last = keys[-1]
        target = _step(node, last, path)
        if isinstance(target, dict) and "value" in target:
            node, last = target, "value"  # a cited number: set its value, keep its source
        elif isinstance(target, dict) and "dist" in target:
            shape = ", ".join(k for k in target if k not in ("dist", "unit", "source", "derived"))
            raise ParamsError(
                WHERE, path, f"is a distribution: set one of its numbers ({shape}), e.g. {path}.{shape.split(',')[0]}"
            )
        elif isinstance(target, dict | list):
            raise ParamsError(WHERE, path, "is a table: name one of its numbers")
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return result
