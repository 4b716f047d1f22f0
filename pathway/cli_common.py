"""Pieces every command shares: loading the definition, reading event files, failing cleanly."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from pathway.events import Event, EventError, read_events, refuse_unnamed
from pathway.loader import DEFAULT_DEFINITION, DefinitionError, load
from pathway.model import Pathway
from pathway.trace import Trace

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_INPUT = 2
EXIT_REJECTED = 3

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    click.echo(f"pathway: error: {message}", err=True)
    sys.exit(code)


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write through a temporary file beside ``path`` and rename it, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    partial.replace(path)
    return path


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
    """All usable events of a JSONL file (or '-' for stdin) and the errors of the rest."""
    events: list[Event] = []
    errors: list[EventError] = []
    try:
        stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as err:
        fail(f"{path}: {err.strerror or err}")
    with stream:
        items = refuse_unnamed(list(read_events(stream, pathway)))
        for item in items:
            if isinstance(item, EventError):
                errors.append(item)
            else:
                events.append(item)
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
