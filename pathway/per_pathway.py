"""Values derived from a loaded Pathway, built once per Pathway object.

Keyed by the object's identity, not its value: hashing a whole definition costs more than most
of what is cached, and two loads of one file are two objects anyway. The Pathway is kept beside
its value, so an id reused after a Pathway was freed can never return another pathway's value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from pathway.model import Pathway

T = TypeVar("T")


class PerPathway(Generic[T]):
    """``build(pathway)``, once per Pathway object."""

    def __init__(self, build: Callable[[Pathway], T]) -> None:
        self.build = build
        self.cache: dict[int, tuple[Pathway, T]] = {}

    def __call__(self, pathway: Pathway) -> T:
        cached = self.cache.get(id(pathway))
        if cached is None or cached[0] is not pathway:
            cached = self.cache[id(pathway)] = (pathway, self.build(pathway))
        return cached[1]
