"""One ``__repr__`` shared by the frozen value classes, instead of one generated per class (start-up).

attrs writes and compiles the source of each class's methods when the class is defined; the
generated ``__repr__`` is about a third of that work, and a run imports some forty such classes
before it reads a line (issue 10). Classes declared ``@attrs.frozen(repr=False)`` that derive
from ``AttrsRepr`` print exactly as attrs would print them, e.g. ``Cite(ref='x', where='')``.
"""

from __future__ import annotations

from typing import Any

import attrs


class AttrsRepr:
    __slots__ = ()  # adds nothing to the slotted classes built on it

    def __repr__(self) -> str:
        cls: Any = type(self)  # always an attrs class: this base is only for them
        shown = ", ".join(f"{a.name}={getattr(self, a.name)!r}" for a in attrs.fields(cls) if a.repr)
        return f"{cls.__qualname__.rsplit('>.', 1)[-1]}({shown})"
