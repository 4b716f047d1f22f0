"""Values derived once per loaded Pathway object (pathway/per_pathway.py)."""

from __future__ import annotations

from pathway.compiled import compile_pathway
from pathway.loader import DEFAULT_DEFINITION, loads
from pathway.model import Pathway
from pathway.per_pathway import PerPathway


def fresh() -> Pathway:
    """A new Pathway object of the shipped definition (``load()`` hands back one shared object)."""
    return loads(DEFAULT_DEFINITION.read_text(encoding="utf-8"))


def test_a_value_is_built_once_per_pathway_object_and_never_shared_between_objects() -> None:
    built = []
    derived = PerPathway(lambda p: built.append(p) or len(built))
    first, second = fresh(), fresh()  # equal definitions, two objects
    assert first == second and first is not second
    assert derived(first) == derived(first) == 1
    assert derived(second) == 2
    assert built == [first, second]
    assert built[0] is first and built[1] is second


def test_an_id_reused_by_another_pathway_does_not_return_the_old_value() -> None:
    derived = PerPathway(lambda p: p)
    first, second = fresh(), fresh()
    derived.cache[id(second)] = (first, first)  # as if ``first`` had been freed and its id reused
    assert derived(second) is second


def test_the_compiled_pathway_is_shared_by_every_caller_of_one_pathway() -> None:
    pathway = fresh()
    assert compile_pathway(pathway) is compile_pathway(pathway)
    assert compile_pathway(fresh()) is not compile_pathway(pathway)
