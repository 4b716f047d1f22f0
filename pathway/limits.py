"""How much the tools read: bounds on files, lines, identifiers, guards and definitions.

A definition file and an event stream are untrusted input. These bounds keep a hostile
or broken one from exhausting memory, time or the stack; each is far above what a
clinical pathway needs (the shipped one uses a few per cent of each). They are
resource limits, not clinical content: plausible event times, which are clinical, come
from the definition's ``[limits]`` table. docs/limits.md lists them with the reasons.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

MAX_LINE_BYTES = 64 * 1024
"""One JSON Lines event; real events are 100-300 bytes."""

MAX_DEFINITION_BYTES = 1024 * 1024
"""A definition, a parameter or a property file (the shipped definition is about 30 KB)."""

MAX_SUMMARY_BYTES = 16 * 1024 * 1024
"""A simulation summary read back by `pathway diagram --frequencies`."""

ID_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""Ids of the definition (pathway, states, events, fields, transitions, ...): they become
file names, DOT and Mermaid node ids and JSON keys, so they are plain identifiers."""

MAX_TEXT_CHARS = 4000
"""Any prose of a definition (titles, reasons, citations)."""

MAX_STATES = 500
MAX_TRANSITIONS = 5000
"""Transitions and rejections after '*' sources are expanded to every active state."""
MAX_EVENTS = 200
MAX_FIELDS = 100
"""Fields of one event."""
MAX_VALUES = 100
"""Values of one enum field."""
MAX_NAMED = 500
"""Citations, parameters or predicates (each)."""

MAX_GUARD_CHARS = 2000
MAX_GUARD_DEPTH = 32
"""Nesting of 'not', parentheses and named predicates inside one another."""
MAX_GUARD_NODES = 1000
"""Nodes of one guard with every named predicate written out: what evaluating it costs."""
MAX_GUARD_LEVELS = 80
"""Levels of one guard's tree with every named predicate written out: how deep every walk of it
recurses (the parser's 32 nestings of 'not' and parentheses fit within it)."""


class TooLarge(ValueError):
    """A file or line over its limit; str() says which limit."""


def read_bounded(path: str | Path, limit: int = MAX_DEFINITION_BYTES) -> bytes:
    """The bytes of a file of at most ``limit`` bytes (OSError if unreadable, TooLarge if over).

    Reads at most limit + 1 bytes, so a device such as /dev/zero or a pipe that never
    ends costs no more than a file at the limit.
    """
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory")
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise TooLarge(f"larger than {limit:,} bytes")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"larger than {limit:,} bytes")
    return data


def bad_id(text: str) -> str | None:
    """Why ``text`` is not a usable id (None when it is)."""
    if ID_PATTERN.fullmatch(text):
        return None
    if len(text) > 64:
        return "is longer than 64 characters"
    return "must be lower-case letters, digits and '_', starting with a letter"
