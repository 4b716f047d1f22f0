"""Guards as FHIRPath: every node of the guard language as an expression over FHIR records.

An expression is evaluated at one decision point with two inputs (documented as the
Library's parameters): ``%event``, a Bundle whose first entry records the event that
arrived and whose other entries are its findings, and ``%history``, a Bundle of what
the pathway acted on before: the records of earlier accepted events with their
findings, and one RequestGroup per strategy the patient entered (``instantiatesCanonical``
names it, ``authoredOn`` says when). The Library's named expressions (``%eventTime`` and
one per predicate of the definition) are available to every condition as ``%name``.

The guard language reads an absent value as "false" (a comparison with nothing fails,
so its negation holds); FHIRPath would propagate an empty result instead. Every
comparison is therefore written so that it yields true or false, never empty:
``where(...).exists()`` or ``iif(..., true, false)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pathway import guards
from pathway.export.fhir_mapping import CODE_ELEMENT, TIME_PATH, Coding, FhirMapping
from pathway.model import Pathway

EVENT = "%event.entry.first().resource"
FINDINGS = "%event.entry.skip(1).resource.ofType(Observation)"
HISTORY = "%history.entry.resource"
EVENT_TIME = "eventTime"
LATEST = "aggregate(iif($total.empty(), $this, iif($this > $total, $this, $total)))"
EARLIEST = "aggregate(iif($total.empty(), $this, iif($this < $total, $this, $total)))"
_OPS = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_TYPED = {
    "bool": "ofType(boolean)",
    "int": "ofType(integer)",
    "number": "ofType(Quantity).value",
    "string": "ofType(string)",
}


class ExportError(ValueError):
    """Something of the definition that the FHIR export cannot express; the message names it."""


def field_name(field: str) -> str:
    return f"field_{field}"


def history_name(event: str) -> str:
    return f"history_{event}"


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "inf" in text or "nan" in text:
            raise ExportError(f"the number {value!r} has no FHIRPath decimal literal")
        return text
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise ExportError(f"no FHIRPath literal for {value!r}")


def duration(hours: Any) -> str:
    """A FHIRPath time quantity of ``hours``, exact to the millisecond."""
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        raise ExportError(f"a clock is compared with {hours!r}, which is not a number of hours")
    if float(hours).is_integer():
        return f"{int(hours)} hours"
    milliseconds = hours * 3_600_000
    if not float(milliseconds).is_integer():
        raise ExportError(f"{hours} h is finer than a millisecond, which FHIRPath time arithmetic cannot add")
    return f"{int(milliseconds)} milliseconds"


def conjunction(parts: Iterable[str]) -> str:
    kept = [p for p in parts if p != "true"]
    if "false" in kept:
        return "false"
    if not kept:
        return "true"
    return kept[0] if len(kept) == 1 else " and ".join(_grouped(p) for p in kept)


def negation(text: str) -> str:
    if text in ("true", "false"):
        return "false" if text == "true" else "true"
    if text.endswith(".not()"):
        inner = text[: -len(".not()")]
        if " " not in inner or _enclosed(inner):
            return inner  # not(not x) is x
    return f"{_grouped(text)}.not()" if (" " in text or text.startswith("(")) else f"{text}.not()"


def _grouped(text: str) -> str:
    return f"({text})" if (" and " in text or " or " in text) and not _enclosed(text) else text


def _enclosed(text: str) -> bool:
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and index < len(text) - 1:
            return False
    return True


def codes_test(codings: Sequence[Coding]) -> str:
    """A CodeableConcept test: one of these codings is present."""
    tests = [f"(system = {literal(c.system)} and code = {literal(c.code)})" for c in codings]
    inner = tests[0][1:-1] if len(tests) == 1 else " or ".join(tests)
    return f"coding.exists({inner})"


class FhirPathWriter:
    """Writes guards of one pathway as FHIRPath, with codes from one mapping."""

    def __init__(self, pathway: Pathway, mapping: FhirMapping, strategy_url: Callable[[str], str]) -> None:
        self.pathway = pathway
        self.mapping = mapping
        self.strategy_url = strategy_url
        for predicate in pathway.predicates:
            if predicate.name == EVENT_TIME:
                raise ExportError(f"predicate {EVENT_TIME!r} clashes with the Library's own definition of that name")

    # ------------------------------------------------------------ records

    def record_filter(self, event: str) -> str:
        coding = self.mapping.events[event]
        return f"{CODE_ELEMENT[coding.resource]}.{codes_test(coding.codes)}"

    def is_event(self, event: str) -> str:
        if event not in self.mapping.events:
            return "false"
        resource = self.mapping.events[event].resource
        return f"{EVENT}.ofType({resource}).where({self.record_filter(event)}).exists()"

    def history(self, event: str) -> str:
        """The earlier accepted records of an event (a named expression of the Library)."""
        return f"%{history_name(event)}"

    def _history_definition(self, event: str) -> str:
        resource = self.mapping.events[event].resource
        return f"{HISTORY}.ofType({resource}).where({self.record_filter(event)})"

    def last_time(self, event: str) -> str:
        resource = self.mapping.events[event].resource
        return f"{self.history(event)}.select({TIME_PATH[resource]}.toDateTime()).{LATEST}"

    def first_entry(self, state: str) -> str:
        url = literal(self.strategy_url(state))
        return (
            f"{HISTORY}.ofType(RequestGroup).where(instantiatesCanonical = {url})"
            f".select(authoredOn.toDateTime()).{EARLIEST}"
        )

    def event_time(self) -> str:
        types = sorted({e.resource for e in self.mapping.events.values()})
        union = " | ".join(f"{EVENT}.ofType({t}).{TIME_PATH[t]}" for t in types)
        return f"({union}).first().toDateTime()"

    def library(self) -> list[tuple[str, str, str]]:
        """(name, FHIRPath, description) of every named expression of the Library.

        Besides the predicates: the time of the triggering event, the value of each of its fields,
        and the earlier records of each event, which conditions read as %field_x and %history_x.
        """
        items = [(EVENT_TIME, self.event_time(), "when the triggering event happened")]
        for spec in self.pathway.events:
            items.append(
                (history_name(spec.name), self._history_definition(spec.name), f"earlier {spec.label} records")
            )
        seen: set[str] = set()
        for spec in self.pathway.events:
            for field in spec.fields:
                if field.name not in seen:
                    seen.add(field.name)
                    items.append((field_name(field.name), self._field_definition(field.name), field.words()))
        for predicate in self.pathway.predicates:
            items.append((predicate.name, self.boolean(predicate.expr), predicate.text))
        names = [name for name, _, _ in items]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise ExportError(f"a predicate is named {clash[0]!r}, a name the Library gives to a field or history")
        return items

    # ------------------------------------------------------------ fields of the triggering event

    def _field_nodes(self, name: str) -> list[tuple[str, bool]]:
        """FHIRPath nodes yielding the field's value, each with whether it is a CodeableConcept already."""
        nodes: list[tuple[str, bool]] = []
        observed = False
        for spec in self.pathway.events:
            if spec.field(name) is None:
                continue
            coding = self.mapping.events[spec.name]
            if coding.code_from == name:
                element = CODE_ELEMENT[coding.resource]
                nodes.append(
                    (f"{EVENT}.ofType({coding.resource}).where({self.record_filter(spec.name)}).{element}", True)
                )
            elif coding.value_from == name:
                nodes.append((f"{EVENT}.ofType(Observation).where({self.record_filter(spec.name)}).value", False))
            elif not observed:
                observed = True
                code = codes_test([self.mapping.field_codes[name]])
                nodes.append((f"{FINDINGS}.where(code.{code}).value", False))
        return nodes

    def _field_definition(self, name: str) -> str:
        """The field's value in the triggering event, typed (a CodeableConcept for enums)."""
        ftype = self._field_type(name)
        typed = [
            node if concept else f"{node}.{'ofType(CodeableConcept)' if ftype == 'enum' else _TYPED[ftype]}"
            for node, concept in self._field_nodes(name)
        ]
        return typed[0] if len(typed) == 1 else f"({' | '.join(typed)})"

    def _field_test(self, field: guards.Field, condition: Callable[[str], str]) -> str:
        """The field is present and ``condition($this-relative)`` holds for its value."""
        return f"%{field_name(field.name)}.where({condition(self._field_type(field.name))}).exists()"

    def _field_type(self, name: str) -> str:
        for spec in self.pathway.events:
            found = spec.field(name)
            if found is not None:
                return found.type
        raise ExportError(f"field {name!r} is not a field of any event")

    def _value_condition(self, field: str, op: str, value: Any) -> Callable[[str], str]:
        def condition(ftype: str) -> str:
            if ftype == "enum":
                if op not in ("==", "!="):
                    raise ExportError(f"field {field!r} is text: it cannot be ordered with {op!r}")
                key = f"{field}.{value}"
                if key not in self.mapping.value_codes:
                    return "false" if op == "==" else "true"
                test = codes_test([self.mapping.value_codes[key]])
                return test if op == "==" else negation(test)
            return f"$this {_OPS[op]} {literal(value)}"

        return condition

    # ------------------------------------------------------------ guards

    def boolean(self, expr: guards.Expr | None) -> str:
        """The guard as a FHIRPath expression that is always true or false."""
        if expr is None:
            return "true"
        if isinstance(expr, guards.PredicateRef):
            return f"%{expr.name}"
        if isinstance(expr, guards.Not):
            return negation(self.boolean(expr.operand))
        if isinstance(expr, guards.And):
            return conjunction(self.boolean(o) for o in expr.operands)
        if isinstance(expr, guards.Or):
            parts = [self.boolean(o) for o in expr.operands]
            if "true" in parts:
                return "true"
            kept = [p for p in parts if p != "false"]
            return "false" if not kept else " or ".join(_grouped(p) for p in kept) if len(kept) > 1 else kept[0]
        if isinstance(expr, guards.Const | guards.Param):
            return literal(bool(expr.value))
        if isinstance(expr, guards.EventName):
            return "true"  # an event always has a name, and the guard language reads a name as true
        if isinstance(expr, guards.Field):
            return self._field_test(expr, self._truthy)
        if isinstance(expr, guards.Call):
            if expr.func == "occurred":
                return f"{self.history(expr.arg)}.exists()" if expr.arg in self.mapping.events else "false"
            raise ExportError(f"{expr.func}({expr.arg}) is a number, not a condition")
        if isinstance(expr, guards.Compare):
            return self._compare(expr.op, expr.left, expr.right)
        if isinstance(expr, guards.InList):
            return self._in_list(expr)
        raise ExportError(f"unresolved guard node {expr!r}")

    @staticmethod
    def _truthy(ftype: str) -> str:
        return {"bool": "$this = true", "int": "$this != 0", "number": "$this != 0", "string": "$this != ''"}.get(
            ftype, "true"
        )

    def _compare(self, op: str, left: guards.Expr, right: guards.Expr) -> str:
        if _constant(left) and not _constant(right):
            op, left, right = _FLIPPED[op], right, left
        if _constant(left) and _constant(right):
            a, b = _value(left), _value(right)
            return literal(a is not None and b is not None and bool(guards.COMPARATORS[op](a, b)))
        if not _constant(right):
            if isinstance(left, guards.Call) and isinstance(right, guards.Call) and left.func == right.func == "count":
                return f"({self._count(left)} {_OPS[op]} {self._count(right)})"
            raise ExportError(f"a comparison of {guards.words(left)} with {guards.words(right)} has no FHIRPath form")
        value = _value(right)
        if value is None:
            return "false"
        if isinstance(left, guards.Field):
            return self._field_test(left, self._value_condition(left.name, op, value))
        if isinstance(left, guards.EventName):
            if op not in ("==", "!="):
                raise ExportError(f"the event name cannot be ordered with {op!r}")
            test = self.is_event(str(value))
            return test if op == "==" else negation(test)
        condition = isinstance(left, guards.PredicateRef | guards.Not | guards.And | guards.Or | guards.Compare)
        condition = (
            condition or isinstance(left, guards.InList) or (isinstance(left, guards.Call) and left.func == "occurred")
        )
        if condition and isinstance(value, bool) and op in ("==", "!="):
            test = self.boolean(left)
            return test if (op == "==") == value else negation(test)
        if isinstance(left, guards.Call) and left.func == "count":
            return f"({self._count(left)} {_OPS[op]} {literal(value)})"
        if isinstance(left, guards.Call) and left.func in ("hours_since", "hours_since_entered"):
            return self._clock(left, op, value)
        raise ExportError(f"a comparison of {guards.words(left)} with {value!r} has no FHIRPath form")

    def _count(self, call: guards.Call) -> str:
        return f"{self.history(call.arg)}.count()" if call.arg in self.mapping.events else "0"

    def _clock(self, call: guards.Call, op: str, hours: Any) -> str:
        """hours since THEN op k  <=>  now op THEN + k (an absent THEN makes it false, as in the engine)."""
        if call.func == "hours_since":
            if call.arg not in self.mapping.events:
                return "false"
            then = self.last_time(call.arg)
        else:
            then = self.first_entry(call.arg)
        return f"iif(%{EVENT_TIME} {_OPS[op]} ({then} + {duration(hours)}), true, false)"

    def _in_list(self, expr: guards.InList) -> str:
        left = expr.left
        if isinstance(left, guards.Field):
            ftype = self._field_type(left.name)
            if ftype == "enum":
                codings = [
                    self.mapping.value_codes[f"{left.name}.{v}"]
                    for v in expr.values
                    if f"{left.name}.{v}" in self.mapping.value_codes
                ]
                test = codes_test(codings) if codings else "false"
                return self._field_test(left, lambda _t: negation(test) if expr.negated else test)
            equals = " or ".join(f"$this = {literal(v)}" for v in expr.values)
            return self._field_test(left, lambda _t: f"({equals}).not()" if expr.negated else equals)
        if isinstance(left, guards.EventName):
            test = " or ".join(self.is_event(str(v)) for v in expr.values) or "false"
            return negation(test) if expr.negated else test
        if isinstance(left, guards.Call) and left.func == "count":
            test = " or ".join(f"{self._count(left)} = {literal(v)}" for v in expr.values)
            return negation(test) if expr.negated else f"({test})"
        raise ExportError(f"'{guards.words(expr)}' has no FHIRPath form")


def _constant(expr: guards.Expr) -> bool:
    return isinstance(expr, guards.Const | guards.Param)


def _value(expr: guards.Expr) -> Any:
    assert isinstance(expr, guards.Const | guards.Param)
    return expr.value
