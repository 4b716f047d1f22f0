"""Pieces every command shares: loading the definition, reading event files, failing cleanly."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from pathway.events import Event, EventError
from pathway.loader import DEFAULT_DEFINITION, DefinitionError, load
from pathway.model import Pathway
from pathway.safe_text import shown
from pathway.stream import index, items, open_events
from pathway.trace import Trace

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_INPUT = 2
EXIT_REJECTED = 3

F = TypeVar("F", bound=Callable[..., Any])


class OutputDirectory(click.Path):
    """--out: a directory name, never empty (click would read "" as the current directory)."""

    name = "directory"

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty directory name; give a directory, e.g. out/run", param, ctx)
        return super().convert(value, param, ctx)


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    # messages quote file names and ids from the command line and the input: shown escaped, on one line
    click.echo(f"pathway: error: {shown(message)}", err=True)
    sys.exit(code)


def load_pathway(path: str | Path | None) -> Pathway:
    try:
        return load(path)
    except DefinitionError as err:
        fail(str(err))


def definition_option(fn: F) -> F:
    """Adds --definition and hands the command a loaded ``pathway``; a broken file exits 2."""

    @click.option(
        "--definition",
        "definition",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"Pathway definition file (TOML). Default: the shipped {DEFAULT_DEFINITION.name}.",
    )
    @functools.wraps(fn)
    def wrapper(*args: Any, definition: Path | None, **kwargs: Any) -> Any:
        return fn(*args, pathway=load_pathway(definition), **kwargs)

    return wrapper  # type: ignore[return-value]


def read_event_file(path: str, pathway: Pathway) -> tuple[list[Event], list[EventError]]:
    """All usable events of a JSONL file (or '-' for stdin) and the errors of the rest (for short files:
    `pathway run` streams instead, see pathway.replay)."""
    events: list[Event] = []
    errors: list[EventError] = []
    try:
        with open_events(path) as source:
            for item in items(source, pathway, index(source)):
                if isinstance(item, EventError):
                    errors.append(item)
                else:
                    events.append(item)
    except OSError as err:
        fail(f"{path}: {err.strerror or err}")
    return events, errors


def in_line_order(events: list[Event], errors: list[EventError]) -> list[Event | EventError]:
    """The stream as written: unreadable lines stay in place, so each patient's report lists them."""
    return sorted([*events, *errors], key=lambda item: item.line)


def input_problems(errors: Iterable[EventError], traces: Iterable[Trace]) -> list[str]:
    """The stderr lines for bad input, in line order: unreadable lines and times going backwards."""
    problems = [(e.line, str(e)) for e in errors]
    problems += [
        (r.line, f"line {r.line}: field 'at': {r.reason}") for t in traces for r in t.rejected if r.kind == "time_order"
    ]
    return [message for _, message in sorted(problems)]
