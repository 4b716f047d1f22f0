"""A table that turns into one block per row on a narrow terminal.

Rich decides the width at render time (inside a panel it is the panel's inner width), so the
choice is made there, in ``__rich_console__``, not by the command.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from pathway.attrs_repr import AttrsRepr

STACK_BELOW = 100
"""Terminals narrower than this (in columns) get one block per row instead of a table."""
MAX_WORD = 45
"""Longer 'words' (a URL, a path) may be folded: no column is held wider than this."""


@attrs.frozen(repr=False)
class Column(AttrsRepr):
    name: str
    key: bool = False
    """Key columns head each block of the stacked layout (ids, line numbers): never wrapped."""
    style: str = ""
    justify: str = "left"


def cell(value: str | Text) -> Text:
    return value if isinstance(value, Text) else Text(value)


@attrs.define(repr=False)
class Listing(AttrsRepr):
    columns: Sequence[Column]
    rows: list[tuple[str | Text, ...]] = attrs.field(factory=list)
    title: str = ""
    title_style: str = "bold"
    header_style: str = "bold"
    box: bool = True

    def add_row(self, *values: str | Text) -> None:
        self.rows.append(values)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[RenderableType]:
        if options.max_width >= STACK_BELOW:
            yield self.table()
        else:
            yield from self.records()

    def table(self) -> Table:
        from rich import box

        # titles and headers as Text, never markup: rich would parse a str for markup and emoji codes
        table = Table(
            title=Text(self.title, style=self.title_style) if self.title else None,
            title_style=self.title_style,
            header_style=self.header_style,
            box=box.HEAVY_HEAD if self.box else None,
            padding=(0, 1),
            expand=False,
        )
        for index, column in enumerate(self.columns):
            # words wrap at spaces, and a column is never narrower than its longest word (rich would cut
            # or fold it); a key never wraps, so an id or a time stays whole
            longest = max((cell_len(word) for row in self.rows for word in str(row[index]).split()), default=0)
            table.add_column(
                Text(column.name),
                style=column.style,
                no_wrap=column.key,
                justify=column.justify,  # type: ignore[arg-type]
                min_width=min(longest, MAX_WORD),
            )
        for row in self.rows:
            table.add_row(*map(cell, row))
        return table

    def records(self) -> Iterator[RenderableType]:
        if self.title:
            yield Text(self.title, style=self.title_style)
        for row in self.rows:
            keys = [cell(v) for c, v in zip(self.columns, row, strict=True) if c.key and str(v)]
            heading = Text(" ").join(keys) if keys else Text("•")
            heading.stylize("bold")
            yield heading
            fields = Table.grid(padding=(0, 1))
            # a single field needs no label: its text gets the whole width
            labelled = sum(1 for column in self.columns if not column.key) > 1
            if labelled:
                fields.add_column(style="dim", no_wrap=True)
            fields.add_column()
            for column, value in zip(self.columns, row, strict=True):
                if not column.key and str(value):
                    styled = cell(value).copy()
                    if column.style:
                        styled.stylize(column.style)
                    fields.add_row(*([Text(f"{column.name}:")] if labelled else []), styled)
            yield Padding(fields, (0, 0, 0, 2))
