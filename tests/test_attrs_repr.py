"""The shared ``__repr__`` of the frozen value classes prints exactly what attrs' generated one would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
from rich.text import Text

from pathway.attrs_repr import AttrsRepr
from pathway.facts import EventScope, Facts
from pathway.loader import load
from pathway.terminal.listing import Column, Listing
from pathway.verify.properties import bind, load_catalogue
from tests.helpers import PUNCTURE, event


def values(root: Any) -> Iterator[AttrsRepr]:
    """Every AttrsRepr instance reachable from ``root`` through fields, tuples, lists and mappings."""
    stack, seen = [root], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, AttrsRepr):
            yield item
            stack.extend(getattr(item, a.name) for a in attrs.fields(type(item)))
        elif isinstance(item, tuple | list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def as_attrs_prints_it(item: AttrsRepr) -> str:
    # the same class name and fields, with attrs' own generated __repr__
    fields = attrs.fields(type(item))
    twin = attrs.make_class(type(item).__name__, {a.name: attrs.field(repr=a.repr) for a in fields})
    return repr(twin(*(getattr(item, a.name) for a in fields)))


def test_every_value_of_the_pathway_and_the_catalogue_prints_as_attrs_would() -> None:
    pathway = load()
    catalogue = load_catalogue()
    fired = event(PUNCTURE[0], PUNCTURE[1], pathway, 1, **PUNCTURE[2])
    listing = Listing([Column("line", key=True, justify="right"), Column("event")], title="t")
    listing.add_row("1", Text("dural_puncture", style="dim"))
    roots = [pathway, catalogue, bind(catalogue, pathway), EventScope(Facts(), fired), listing]
    kinds = set()
    for item in values(roots):
        assert repr(item) == as_attrs_prints_it(item)
        kinds.add(type(item).__name__)
    # the walk met the tree nodes, the model and the catalogue, not just a few classes
    assert {
        "Pathway",
        "Transition",
        "PredicateRef",
        "Compare",
        "Cite",
        "Bound",
        "Rule",
        "EventScope",
        "Listing",
        "Column",
    } <= kinds
