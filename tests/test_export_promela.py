"""The Promela export without SPIN: claims come from the catalogue, values keep their meaning."""

from __future__ import annotations

import re
from fractions import Fraction

import attrs
from hypothesis import given
from hypothesis import strategies as st

from pathway.export import ltl
from pathway.export.encoding import Encoding
from pathway.export.promela import abstraction_for
from pathway.export.spin import export
from pathway.loader import load
from pathway.verify.mutants import mutants
from pathway.verify.properties import bind, load_catalogue

PATHWAY = load()
CATALOGUE = load_catalogue()
BOUND = bind(CATALOGUE, PATHWAY)
ENCODING = Encoding(PATHWAY, abstraction_for(PATHWAY, BOUND))


def claims(text: str) -> list[str]:
    return re.findall(r"^ltl (\w+) \{", text, re.MULTILINE)


def test_one_claim_per_behavioural_property_of_the_catalogue() -> None:
    names = claims(export(PATHWAY, CATALOGUE).text)
    for bound in BOUND:
        expected = f"L_{bound.id}"
        assert (expected in names) == (bound.kind in ltl.HOLD_KINDS), bound.id
    # the existential kinds ask one question per state (and, for determinism, per transition)
    reach = [n for n in names if n.startswith("Q_all_states_reachable_enter_")]
    assert len(reach) == len(PATHWAY.states) - 1


def test_claims_follow_the_catalogue_not_the_code() -> None:
    """Drop a property from the catalogue, rename another: the formulas follow."""
    kept = tuple(p for p in CATALOGUE.properties if p.id != "red_flag_escalates")
    renamed = tuple(attrs.evolve(p, id="renamed_routing") if p.id == "presentation_routing" else p for p in kept)
    names = claims(export(PATHWAY, attrs.evolve(CATALOGUE, properties=renamed)).text)
    assert "L_red_flag_escalates" not in names
    assert "L_presentation_routing" not in names and "L_renamed_routing" in names


def test_no_formula_is_longer_than_spin_parses() -> None:
    """SPIN's LTL parser stops near a thousand characters: conditions go into propositions."""
    text = export(PATHWAY, CATALOGUE).text
    for line in text.splitlines():
        if line.startswith("ltl "):
            assert len(line) < 900, line[:120]


def test_negated_guards_never_write_the_send_operator() -> None:
    """'!!' is Promela's channel send: a negated negation must be parenthesised."""
    for mutant in mutants(PATHWAY):
        if mutant.operator == "negate guard":
            assert "!!" not in export(mutant.pathway, CATALOGUE).text, mutant.description


def test_every_clock_mark_is_a_whole_number_of_time_units() -> None:
    for mutant in [m for m in mutants(PATHWAY) if m.operator == "shift threshold"]:
        encoding = Encoding(mutant.pathway, abstraction_for(mutant.pathway, bind(CATALOGUE, mutant.pathway)))
        for clock in encoding.abstraction.clocks:
            for mark in clock.marks:
                assert (Fraction(mark).limit_denominator(10**6) / encoding.unit).denominator == 1


field_values = st.sampled_from(
    [(name, value) for name, values in ENCODING.values.items() for value in values]
    + [(name, flag) for name, spec in ENCODING.fields.items() if spec.type == "bool" for flag in (False, True)]
    + [(name, None) for name in ENCODING.fields]
)


@given(field_values)
def test_field_codes_decode_to_the_same_value(item: tuple[str, object]) -> None:
    name, value = item
    present, code = ENCODING.field_code(name, value)
    assert ENCODING.decode_field(name, present, code) == value
    assert (code == 0) == (value is None) or ENCODING.fields[name].type in ("int", "number")


def test_numbers_are_scaled_exactly() -> None:
    for name, spec in ENCODING.fields.items():
        if spec.type == "number":
            for threshold in ENCODING.abstraction.field_numbers.get(name, ()):
                present, code = ENCODING.field_code(name, threshold)
                assert present and ENCODING.decode_field(name, present, code) == threshold
