"""Definition file -> validated Pathway.

A definition file is untrusted input: it is parsed as TOML, every entry is checked,
and guards are parsed by pathway.guards (never evaluated as Python). Any problem
raises DefinitionError with one line naming the file, the entry and what is wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, cast

import attrs

from pathway import guards, limits, precompiled
from pathway.model import (
    RATINGS,
    RRLS,
    Citation,
    Cite,
    EventSpec,
    FieldSpec,
    FieldType,
    Parameter,
    Pathway,
    Predicate,
    Recommendation,
    RecommendationKind,
    Rejection,
    State,
    StateKind,
    TimeLimits,
    Transition,
)

DEFAULT_DEFINITION = Path(__file__).parent / "definitions" / "pdph.toml"
ANY_ACTIVE = "*"
FIELD_TYPES = ("enum", "int", "number", "bool", "string")
STATE_KINDS = ("initial", "active", "final")
RESERVED_FIELDS = ("event", "at", "patient", "episode")
# prose may span lines; nothing else below a space (escape sequences, form feeds) belongs in a definition
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_OFFSET = re.compile(r"(\d{2}):(\d{2})")
_TEMPLATE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class DefinitionError(ValueError):
    """A broken definition file; str() is one line: file: entry: problem."""

    def __init__(self, file: str, entry: str, problem: str) -> None:
        self.file, self.entry, self.problem = file, entry, problem
        super().__init__(f"{file}: {entry}: {problem}" if entry else f"{file}: {problem}")


class _Reader:
    """Checks one table of the file and remembers where it is, for error messages."""

    def __init__(self, file: str, entry: str, table: Any) -> None:
        self.file, self.entry = file, entry
        if not isinstance(table, Mapping):
            self.fail(f"expected a table, found {type(table).__name__}")
        self.table: Mapping[str, Any] = table

    def fail(self, problem: str, key: str | None = None) -> Any:
        entry = f"{self.entry}.{key}" if key else self.entry
        raise DefinitionError(self.file, entry, problem)

    def only(self, *allowed: str) -> None:
        unknown = sorted(set(self.table) - set(allowed))
        if unknown:
            self.fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(allowed)})")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., what: str = "") -> Any:
        if key not in self.table:
            if default is ...:
                self.fail(f"missing {what or key!r}")
            return default
        value = self.table[key]
        if not isinstance(value, kind) or (
            kind is not bool and isinstance(value, bool) and bool not in _as_tuple(kind)
        ):
            names = " or ".join(k.__name__ for k in _as_tuple(kind))
            self.fail(f"expected {names}, found {_short(value)}", key)
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(f"expected a finite number, found {value!r}", key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                self.check_text(item, key)
        return value

    def check_text(self, text: str, key: str | None = None) -> None:
        if len(text) > limits.MAX_TEXT_CHARS:
            self.fail(f"text longer than {limits.MAX_TEXT_CHARS} characters", key)
        control = _CONTROL.search(text)
        if control:
            self.fail(f"control character {control.group()!r} in text", key)

    def ident(self, name: str, what: str, key: str | None = None) -> str:
        """An id of the definition: it becomes file names, diagram node ids and JSON keys."""
        problem = limits.bad_id(name) if isinstance(name, str) else "must be a string"
        if problem:
            self.fail(f"{what} {_short(name)} {problem}", key)
        return name

    def keys(self, what: str, most: int) -> Mapping[str, Any]:
        """This table's entries, each named by a valid id, at most ``most`` of them."""
        if len(self.table) > most:
            self.fail(f"more than {most} {what}s (a limit of this tool)")
        for name in self.table:
            self.ident(name, what)
        return self.table

    def text(self, key: str, default: Any = ...) -> str:
        value = self.get(key, str, default)
        if value is not None and isinstance(value, str) and not value.strip() and default is ...:
            self.fail("must not be empty", key)
        return value

    def names(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, (str, list), default)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not items or not all(isinstance(item, str) and item for item in items):
            self.fail("expected a name or a non-empty list of names", key)
        return tuple(items)

    def child(self, key: str, table: Any) -> _Reader:
        return _Reader(self.file, f"{self.entry}.{key}" if self.entry else key, table)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _short(value: Any) -> str:
    """A value for an error message: quoted, escaped, and cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------- entry point


def load(path: str | Path | None = None) -> Pathway:
    """Load and validate a definition file (the shipped PDPH pathway by default)."""
    file = Path(path) if path is not None else DEFAULT_DEFINITION
    return _load_cached(str(file.resolve()) if file.exists() else str(file))


@cache
def _load_cached(path: str) -> Pathway:
    name = Path(path).name
    try:
        raw = limits.read_bounded(path, limits.MAX_DEFINITION_BYTES)
    except limits.TooLarge as err:
        raise DefinitionError(name, "", f"cannot read: {err}") from None
    except OSError as err:
        raise DefinitionError(name, "", f"cannot read: {err.strerror or err}") from None
    data = precompiled.parsed(raw)  # the shipped file, byte for byte: parsed ahead; still validated below
    if data is not None:
        return build(data, name, source_path=path, source_text=raw.decode("utf-8"))
    import tomllib  # here, not at the top: a run on the shipped definition never needs it (start-up)

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DefinitionError(name, "", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise DefinitionError(name, "", f"TOML syntax error: {err}") from None
    return build(data, name, source_path=path, source_text=raw.decode("utf-8"))


def loads(text: str, file: str = "<definition>") -> Pathway:
    if len(text) > limits.MAX_DEFINITION_BYTES:
        raise DefinitionError(file, "", f"cannot read: larger than {limits.MAX_DEFINITION_BYTES:,} bytes")
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DefinitionError(file, "", f"TOML syntax error: {err}") from None
    return build(data, file, source_text=text)


def build(data: Mapping[str, Any], file: str, source_path: str = "", source_text: str = "") -> Pathway:
    return attrs.evolve(_Builder(data, file).build(source_path), source_text=source_text)


# ---------------------------------------------------------------- builder


class _Builder:
    def __init__(self, data: Mapping[str, Any], file: str) -> None:
        self.file = file
        self.root = _Reader(file, "", data)
        self.citations: dict[str, Citation] = {}
        self.parameters: dict[str, Parameter] = {}
        self.events: dict[str, EventSpec] = {}
        self.predicate_sources: dict[str, tuple[_Reader, str]] = {}
        self.predicates: dict[str, Predicate] = {}
        self.given_text: dict[str, str] = {}  # a reference shows the predicate's own text, never a copy of its tree
        self.states: dict[str, State] = {}
        self.conditional: list[tuple[str, _Reader, str, guards.Expr]] = []  # recommendations with a 'when'
        self.extents: dict[int, tuple[guards.Expr, int, int]] = {}  # predicate trees measured once

    def build(self, source_path: str) -> Pathway:
        root = self.root
        root.only(
            "pathway",
            "citations",
            "parameters",
            "events",
            "predicates",
            "states",
            "transitions",
            "rejections",
            "limits",
        )
        head = root.child("pathway", root.get("pathway", dict))
        head.only("id", "title", "version", "initial", "description", "cite", "also_cite")
        head.ident(head.text("id"), "pathway id", "id")
        self._citations(root.get("citations", dict))
        self._parameters(root.get("parameters", dict, {}))
        self._events(root.get("events", dict))
        self._predicates(root.get("predicates", dict, {}))
        self._states(root.get("states", dict))
        initial = head.text("initial")
        if initial not in self.states:
            head.fail(f"unknown state {initial!r}", "initial")
        if self.states[initial].kind != "initial":
            head.fail(f"state {initial!r} is not of kind 'initial'", "initial")
        initials = [s.id for s in self.states.values() if s.kind == "initial"]
        if len(initials) != 1:
            root.child("states", {}).fail(f"exactly one state must be of kind 'initial', found {initials}")
        transitions = self._transitions(root.get("transitions", list))
        rejections = self._rejections(root.get("rejections", list, []))
        self._check_recommendation_conditions(initial, transitions)
        also = head.get("also_cite", list, [])
        if not all(isinstance(item, str) for item in also):
            head.fail("expected a list of citations", "also_cite")
        pathway = Pathway(
            id=head.text("id"),
            title=head.text("title"),
            version=head.text("version"),
            description=" ".join(head.text("description", "").split()),
            cite=self._cite(head, "cite"),
            also_cite=tuple(
                self._cite(_Reader(self.file, "pathway", {"also_cite": item}), "also_cite") for item in also
            ),
            initial=initial,
            citations=tuple(self.citations.values()),
            parameters=tuple(self.parameters.values()),
            events=tuple(self.events.values()),
            predicates=tuple(self.predicates.values()),
            states=tuple(self.states.values()),
            transitions=transitions,
            rejections=rejections,
            time_limits=self._time_limits(root.get("limits", dict, {})),
            source_path=source_path,
        )
        _check_graph(pathway, self.file)
        return pathway

    # ------------------------------------------------------------ pieces

    def _citations(self, table: Mapping[str, Any]) -> None:
        section = self.root.child("citations", table)
        for ref, body in section.keys("citation", limits.MAX_NAMED).items():
            entry = section.child(ref, body)
            entry.only("title", "source", "quality")
            self.citations[ref] = Citation(ref, entry.text("title"), entry.text("source"), entry.text("quality", ""))
        if not self.citations:
            section.fail("at least one citation is needed")

    def _cite(self, entry: _Reader, key: str = "cite") -> Cite:
        value = entry.get(key, str, what="cite (every entry needs a citation)")
        ref, _, where = value.partition(":")
        ref = ref.strip()
        if not ref:
            entry.fail("empty citation", key)
        if ref not in self.citations:
            entry.fail(f"unknown citation {ref!r} (known: {', '.join(self.citations)})", key)
        return Cite(ref, where.strip())

    def _fill(self, entry: _Reader, key: str, text: str) -> str:
        """Replace {parameter} with its value and unit, so prose follows the thresholds."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.parameters:
                entry.fail(f"unknown parameter {{{name}}} in text", key)
            return self.parameters[name].display()

        return _TEMPLATE.sub(value, text)

    def _parameters(self, table: Mapping[str, Any]) -> None:
        section = self.root.child("parameters", table)
        for name, body in section.keys("parameter", limits.MAX_NAMED).items():
            entry = section.child(name, body)
            entry.only("value", "unit", "text", "cite", "derived")
            value = entry.get("value", (int, float, str, bool))
            self.parameters[name] = Parameter(
                name=name,
                value=value,
                unit=entry.get("unit", str, ""),
                text=entry.text("text"),
                cite=self._cite(entry),
                derived=entry.get("derived", bool, False),
            )

    def _events(self, table: Mapping[str, Any]) -> None:
        section = self.root.child("events", table)
        for name, body in section.keys("event", limits.MAX_EVENTS).items():
            entry = section.child(name, body)
            entry.only("label", "cite", "fields")
            fields_table = entry.get("fields", dict, {})
            fields_reader = entry.child("fields", fields_table)
            fields = []
            for field_name, spec in fields_reader.keys("field", limits.MAX_FIELDS).items():
                field_entry = fields_reader.child(field_name, spec)
                field_entry.only("type", "required", "values", "label", "min", "max")
                if field_name in RESERVED_FIELDS:
                    field_entry.fail(f"{field_name!r} is reserved for every record")
                kind = field_entry.text("type")
                if kind not in FIELD_TYPES:
                    field_entry.fail(f"type {kind!r} is not one of {', '.join(FIELD_TYPES)}", "type")
                values = tuple(field_entry.get("values", list, []))
                if kind == "enum" and not (values and all(isinstance(v, str) for v in values)):
                    field_entry.fail("an enum needs a non-empty list of string values", "values")
                if len(values) > limits.MAX_VALUES:
                    field_entry.fail(f"more than {limits.MAX_VALUES} values (a limit of this tool)", "values")
                for value in values:
                    field_entry.ident(value, "value", "values")
                if kind != "enum" and values:
                    field_entry.fail("only enum fields take values", "values")
                bounds = [field_entry.get(key, (int, float), None) for key in ("min", "max")]
                if kind not in ("int", "number") and bounds != [None, None]:
                    field_entry.fail("only int and number fields take min and max")
                if None not in bounds and bounds[0] > bounds[1]:
                    field_entry.fail("min is above max")
                fields.append(
                    FieldSpec(
                        field_name,
                        cast(FieldType, kind),
                        field_entry.get("required", bool, False),
                        values,
                        field_entry.get("label", str, ""),
                        bounds[0],
                        bounds[1],
                    )
                )
            self.events[name] = EventSpec(
                name, entry.get("label", str, name.replace("_", " ")), tuple(fields), self._cite(entry)
            )
        if not self.events:
            section.fail("at least one event is needed")
        kinds: dict[str, tuple[str, str]] = {}
        for spec in self.events.values():
            for field in spec.fields:
                numeric = "number" if field.type in ("int", "number") else field.type
                seen = kinds.setdefault(field.name, (numeric, spec.name))
                if seen[0] != numeric:
                    # guards compare a field by name whatever the event: one name, one kind of value
                    section.child(spec.name, {}).fail(
                        f"field {field.name!r} is {field.type} here but {seen[0]} in event {seen[1]!r}", "fields"
                    )

    def _predicates(self, table: Mapping[str, Any]) -> None:
        section = self.root.child("predicates", table)
        for name, body in section.keys("predicate", limits.MAX_NAMED).items():
            entry = section.child(name, body)
            entry.only("expr", "text", "text_not", "cite")
            if name in self.parameters or name == "event":
                entry.fail("a predicate may not share its name with a parameter or 'event'")
            self.predicate_sources[name] = (entry, entry.text("expr"))
        for name in self.predicate_sources:
            self._predicate(name, ())

    def _predicate(self, name: str, resolving: tuple[str, ...]) -> Predicate:
        if name in self.predicates:
            return self.predicates[name]
        entry, source = self.predicate_sources[name]
        if name in resolving:
            entry.fail(f"predicate refers to itself through {' -> '.join((*resolving, name))}", "expr")
        expr = self._guard(entry, "expr", source, None, (*resolving, name))
        given = self._fill(entry, "text", entry.get("text", str, ""))
        text_not = self._fill(entry, "text_not", entry.get("text_not", str, ""))
        predicate = Predicate(name, expr, given or guards.words(expr), self._cite(entry), text_not)
        self.predicates[name] = predicate
        self.given_text[name] = given
        return predicate

    def _guard(
        self,
        entry: _Reader,
        key: str,
        source: str,
        events: tuple[str, ...] | None,
        resolving: tuple[str, ...] = (),
    ) -> guards.Expr:
        """Parse a guard and resolve every name; ``events`` limits which fields exist."""
        try:
            tree = guards.parse(source)
        except guards.GuardSyntaxError as err:
            return entry.fail(f"guard {source!r}: {err}", key)

        def resolve(node: guards.Expr) -> guards.Expr | None:
            if isinstance(node, guards.Call):
                if node.func == "hours_since_entered":
                    if node.arg not in self.states and node.arg not in self._state_names():
                        entry.fail(f"guard {source!r}: {node.func}() takes a state id; {node.arg!r} is not one", key)
                    return guards.Call(node.func, node.arg, self._state_title(node.arg).lower())
                if node.arg not in self.events:
                    entry.fail(f"guard {source!r}: {node.func}() takes an event name; {node.arg!r} is not one", key)
                return guards.Call(node.func, node.arg, self.events[node.arg].label)
            if not isinstance(node, guards.Name):
                return None
            name = node.name
            if name == "event":
                return guards.EventName()
            if name in self.parameters:
                param = self.parameters[name]
                return guards.Param(name, param.value, param.unit)
            if name in self.predicate_sources:
                predicate = self._predicate(name, resolving)
                return guards.PredicateRef(name, predicate.expr, self.given_text[name], predicate.text_not)
            spec = self._field(name, events)
            if spec is None:
                where = f"a field of {', '.join(events)}" if events else "a field of any event"
                return entry.fail(
                    f"guard {source!r}: unknown name {name!r} (not a predicate, a parameter or {where})", key
                )
            return guards.Field(name, spec.words())

        resolved = guards.transform(tree, resolve)
        nodes, depth = guards.extent(resolved, self.extents)
        if nodes > limits.MAX_GUARD_NODES:
            entry.fail(
                f"guard {_short(source)}: {nodes:,} terms once its predicates are written out "
                f"(limit {limits.MAX_GUARD_NODES:,})",
                key,
            )
        if depth > limits.MAX_GUARD_LEVELS:
            entry.fail(
                f"guard {_short(source)}: {depth} levels deep once its predicates are written out "
                f"(limit {limits.MAX_GUARD_LEVELS})",
                key,
            )
        self._check_literals(entry, key, source, resolved)
        return resolved

    def _kind(self, node: guards.Expr) -> str | None:
        """The value kind a guard operand yields: number, text or flag (None when unknown)."""
        value: Any = None
        if isinstance(node, guards.Call):
            return "flag" if node.func == "occurred" else "number"
        if isinstance(node, guards.EventName):
            return "text"
        if isinstance(node, guards.Field):
            types = {f.type for spec in self.events.values() if (f := spec.field(node.name))}
            kinds = {"number" if t in ("int", "number") else "flag" if t == "bool" else "text" for t in types}
            return kinds.pop() if len(kinds) == 1 else None
        if isinstance(node, guards.Const | guards.Param):
            value = node.value
        else:
            return None
        if isinstance(value, bool):
            return "flag"
        return "number" if isinstance(value, int | float) else "text"

    def _check_literals(self, entry: _Reader, key: str, source: str, expr: guards.Expr) -> None:
        """Comparisons must compare like with like, and enum literals must exist (catches 'worst', "48")."""
        for node in guards.walk(expr):
            if isinstance(node, guards.Compare):
                left, right = self._kind(node.left), self._kind(node.right)
                if left and right and left != right:
                    entry.fail(
                        f"guard {source!r}: compares a {left} ({guards.words(node.left)}) with a {right} "
                        f"({guards.words(node.right)})",
                        key,
                    )
                if node.op not in ("==", "!=") and "number" not in (left, right):
                    entry.fail(f"guard {source!r}: {node.op!r} needs numbers", key)
            if (
                isinstance(node, guards.Compare)
                and isinstance(node.left, guards.Field)
                and isinstance(node.right, guards.Const)
            ):
                pairs = [(node.left.name, node.right.value)]
            elif isinstance(node, guards.InList) and isinstance(node.left, guards.Field):
                pairs = [(node.left.name, v) for v in node.values]
            else:
                continue
            for field_name, value in pairs:
                allowed = {
                    v
                    for spec in self.events.values()
                    if (f := spec.field(field_name)) and f.type == "enum"
                    for v in f.values
                }
                if allowed and value not in allowed:
                    entry.fail(f"guard {source!r}: {value!r} is not a value of field {field_name!r}", key)

    def _check_fields_on(self, entry: _Reader, source: str, guard: guards.Expr, events: tuple[str, ...]) -> None:
        """Fields read through named predicates must exist on the events too, or the guard silently reads nothing."""
        for node in guards.walk(guard, into_predicates=True):
            if isinstance(node, guards.Field) and self._field(node.name, events) is None:
                entry.fail(
                    f"guard {source!r} reads field {node.name!r} (through a predicate), which {', '.join(events)} "
                    "does not carry",
                    "when",
                )

    def _field(self, name: str, events: tuple[str, ...] | None) -> FieldSpec | None:
        scope = [self.events[e] for e in events] if events else list(self.events.values())
        found = [spec.field(name) for spec in scope]
        if events:
            return found[0] if all(found) else None
        return next((f for f in found if f is not None), None)

    def _state_names(self) -> Iterable[str]:
        return self.root.table.get("states", {}).keys()

    def _state_title(self, state_id: str) -> str:
        body = self.root.table.get("states", {}).get(state_id, {})
        title = body.get("title") if isinstance(body, Mapping) else None
        return title if isinstance(title, str) and title else state_id.replace("_", " ")

    def _states(self, table: Mapping[str, Any]) -> None:
        section = self.root.child("states", table)
        for state_id, body in section.keys("state", limits.MAX_STATES).items():
            entry = section.child(state_id, body)
            entry.only("kind", "title", "group", "text", "gist", "cite", "recommendations")
            kind = entry.text("kind")
            if kind not in STATE_KINDS:
                entry.fail(f"kind {kind!r} is not one of {', '.join(STATE_KINDS)}", "kind")
            recs = []
            seen: set[str] = set()
            rec_list = entry.get("recommendations", list, [])
            for index, rec_body in enumerate(rec_list):
                rec = entry.child(f"recommendations[{index}]", rec_body)
                recs.append(self._recommendation(rec, state_id))
                if recs[-1].code in seen:
                    rec.fail(f"code {recs[-1].code!r} appears twice in this state", "code")
                seen.add(recs[-1].code)
            self.states[state_id] = State(
                id=state_id,
                kind=cast(StateKind, kind),
                title=entry.text("title"),
                text=self._fill(entry, "text", entry.text("text")),
                group=entry.get("group", str, "final" if kind == "final" else "active"),
                cite=self._cite(entry),
                recommendations=tuple(recs),
                gist=self._fill(entry, "gist", entry.get("gist", str, "")),
            )
        if not self.states:
            section.fail("at least one state is needed")

    def _recommendation(self, rec: _Reader, state_id: str) -> Recommendation:
        rec.only("code", "kind", "text", "cite", "rating", "rrl", "note", "when", "derived", "rrl_cite")
        kind = rec.text("kind")
        if kind not in ("imaging", "action"):
            rec.fail(f"kind {kind!r} is not 'imaging' or 'action'", "kind")
        rating = rec.get("rating", str, None)
        rrl = rec.get("rrl", str, None)
        if kind == "imaging":
            if rating is None:
                rec.fail("an imaging recommendation needs a rating", "rating")
            if rrl is None:
                rec.fail("an imaging recommendation needs an rrl", "rrl")
        elif rating is not None or rrl is not None:
            rec.fail("only imaging recommendations take a rating and an rrl")
        if rating is not None and rating not in RATINGS:
            rec.fail(f"rating {rating!r} is not one of {', '.join(RATINGS)}", "rating")
        if rrl is not None and rrl not in RRLS:
            rec.fail(f"rrl {rrl!r} is not one of {', '.join(RRLS)}", "rrl")
        if "rrl_cite" in rec.table and rrl is None:
            rec.fail("only an item with an rrl takes an rrl_cite", "rrl_cite")
        when = rec.get("when", str, None)
        if when is not None and not when.strip():
            rec.fail("an empty condition; leave 'when' out for an item that always applies", "when")
        guard = self._guard(rec, "when", when, None) if when else None
        if guard is not None:
            self.conditional.append((state_id, rec, when or "", guard))
        return Recommendation(
            code=rec.ident(rec.text("code"), "code", "code"),
            kind=cast(RecommendationKind, kind),
            text=self._fill(rec, "text", rec.text("text")),
            cite=self._cite(rec),
            rating=rating,
            rrl=rrl,
            note=rec.get("note", str, ""),
            when=guard,
            when_source=when or "",
            derived=rec.get("derived", bool, False),
            rrl_cite=self._cite(rec, "rrl_cite") if "rrl_cite" in rec.table else None,
        )

    def _check_recommendation_conditions(self, initial: str, transitions: tuple[Transition, ...]) -> None:
        """A recommendation's condition reads only the fields of the event that brings a course into its state.

        Clocks and counts are left out on purpose: the item is decided once, on entry, by the
        event in hand, so every engine and view can decide it from that event alone.
        """
        entering = _entering_events(transitions)
        for state, rec, source, guard in self.conditional:
            if state == initial:
                rec.fail("the initial state is entered before any event: its items cannot be conditional", "when")
            for node in guards.walk(guard, into_predicates=True):
                if isinstance(node, guards.Call | guards.EventName):
                    rec.fail(
                        f"condition {source!r}: only fields of the entering event may be read "
                        f"({guards.words(node)} is not one)",
                        "when",
                    )
            events = tuple(sorted(entering.get(state, ())))
            if not events:
                continue  # an unreachable state is reported by the graph check
            for node in guards.walk(guard, into_predicates=True):
                if isinstance(node, guards.Field) and self._field(node.name, events) is None:
                    rec.fail(
                        f"condition {source!r} reads field {node.name!r}, which not every event entering "
                        f"{state!r} carries ({', '.join(events)})",
                        "when",
                    )

    def _sources(self, entry: _Reader) -> tuple[str, ...]:
        sources = entry.names("from")
        expanded: list[str] = []
        for source in sources:
            if source == ANY_ACTIVE:
                expanded.extend(s.id for s in self.states.values() if not s.final)
            elif source not in self.states:
                entry.fail(f"unknown state {source!r}", "from")
            elif self.states[source].final:
                entry.fail(f"state {source!r} is final: final states accept no events", "from")
            else:
                expanded.append(source)
        return tuple(dict.fromkeys(expanded))

    def _on(self, entry: _Reader) -> tuple[str, ...]:
        events = entry.names("on", None)
        for name in events:
            if name not in self.events:
                entry.fail(f"unknown event {name!r} (known: {', '.join(self.events)})", "on")
        return events

    def _transitions(self, items: list[Any]) -> tuple[Transition, ...]:
        result: list[Transition] = []
        ids: set[str] = set()
        for index, body in enumerate(items):
            probe = body.get("id") if isinstance(body, Mapping) else None
            entry = _Reader(
                self.file, f"transitions[{index}]" + (f" ({probe})" if isinstance(probe, str) else ""), body
            )
            entry.only("id", "from", "on", "when", "to", "reason", "cite", "label", "immediate")
            tid = entry.ident(entry.text("id"), "id", "id")
            if tid in ids:
                entry.fail(f"id {tid!r} is used twice", "id")
            ids.add(tid)
            events = self._on(entry)
            if not events and not entry.get("immediate", bool, False):
                entry.fail("needs 'on' (the events it answers) or 'immediate = true'")
            if events and entry.get("immediate", bool, False):
                entry.fail("'immediate' transitions take no 'on'")
            target = entry.text("to")
            if target not in self.states:
                entry.fail(f"unknown state {target!r}", "to")
            when = entry.get("when", str, None)
            if when is not None and not when.strip():
                entry.fail("an empty guard; leave 'when' out for a transition without a condition", "when")
            when = when or ""
            guard = self._guard(entry, "when", when, events or None) if when else None
            if guard is not None and events:
                self._check_fields_on(entry, when, guard, events)
            label = self._fill(entry, "label", entry.get("label", str, ""))
            self._budget(entry, len(result) + len(self._sources(entry)))
            for source in self._sources(entry):
                result.append(
                    Transition(
                        id=tid,
                        source=source,
                        events=events,
                        target=target,
                        guard=guard,
                        guard_source=when,
                        reason=self._fill(entry, "reason", entry.text("reason")),
                        cite=self._cite(entry),
                        label=label,
                    )
                )
        return tuple(result)  # document order is priority order

    @staticmethod
    def _budget(entry: _Reader, count: int) -> None:
        if count > limits.MAX_TRANSITIONS:
            entry.fail(f"more than {limits.MAX_TRANSITIONS} transitions or rejections once '*' is expanded")

    def _time_limits(self, table: Mapping[str, Any]) -> TimeLimits:
        """[limits]: plausible event times. Absent, only the form of a time is checked."""
        if not table:
            return TimeLimits()
        entry = self.root.child("limits", table)
        entry.only("years", "utc_offset_max", "cite")
        years = entry.get("years", list, None)
        if years is not None and not (
            len(years) == 2 and all(isinstance(y, int) and not isinstance(y, bool) for y in years)
        ):
            entry.fail("expected [first, last] years", "years")
        if years is not None and not 1 <= years[0] <= years[1] <= 9999:
            entry.fail("expected 1 <= first <= last <= 9999", "years")
        offset = entry.get("utc_offset_max", str, None)
        minutes = None
        if offset is not None:
            match = _OFFSET.fullmatch(offset)
            if match is None or int(match.group(2)) >= 60 or int(match.group(1)) >= 24:
                entry.fail(f"expected HH:MM below 24:00, found {offset!r}", "utc_offset_max")
            assert match is not None
            minutes = int(match.group(1)) * 60 + int(match.group(2))
        first, last = (years[0], years[1]) if years is not None else (None, None)
        return TimeLimits(first, last, minutes, self._cite(entry))

    def _rejections(self, items: list[Any]) -> tuple[Rejection, ...]:
        result: list[Rejection] = []
        for index, body in enumerate(items):
            probe = body.get("id") if isinstance(body, Mapping) else None
            entry = _Reader(self.file, f"rejections[{index}]" + (f" ({probe})" if isinstance(probe, str) else ""), body)
            entry.only("id", "from", "on", "when", "reason", "cite")
            entry.ident(entry.text("id"), "id", "id")
            events = self._on(entry)
            if not events:
                entry.fail("missing 'on'")
            when = entry.get("when", str, None)
            if when is not None and not when.strip():
                entry.fail("an empty guard; leave 'when' out for a transition without a condition", "when")
            when = when or ""
            guard = self._guard(entry, "when", when, events) if when else None
            self._budget(entry, len(result) + len(self._sources(entry)))
            for source in self._sources(entry):
                result.append(
                    Rejection(
                        id=entry.text("id"),
                        source=source,
                        events=events,
                        guard=guard,
                        guard_source=when,
                        reason=self._fill(entry, "reason", entry.text("reason")),
                        cite=self._cite(entry),
                    )
                )
        return tuple(result)


def _entering_events(transitions: Iterable[Transition]) -> dict[str, set[str]]:
    """For each state, the events that can bring a course into it (through immediate transitions too)."""
    entering: dict[str, set[str]] = {}
    changed = True
    while changed:
        changed = False
        for t in transitions:
            events = entering.get(t.source, set()) if t.immediate else set(t.events)
            known = entering.setdefault(t.target, set())
            if not events <= known:
                known |= events
                changed = True
    return entering


def _check_graph(pathway: Pathway, file: str) -> None:
    """Unreachable states, trap states and states that cannot end are definition errors."""
    initial_immediate = [t for t in pathway.transitions if t.source == pathway.initial and t.immediate]
    if initial_immediate:
        # the machine enters the initial state before any event exists for an immediate guard to read
        raise DefinitionError(
            file, f"transitions ({initial_immediate[0].id})", "the initial state cannot have immediate transitions"
        )
    immediate: dict[str, set[str]] = {}
    for t in pathway.transitions:
        if t.immediate:
            immediate.setdefault(t.source, set()).add(t.target)
    for start in immediate:
        stack, seen = [start], set()
        while stack:
            for target in immediate.get(stack.pop(), ()):
                if target == start:
                    raise DefinitionError(
                        file, f"states.{start}", "immediate transitions form a cycle: it would never settle"
                    )
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
    edges: dict[str, set[str]] = {s: set() for s in pathway.state_ids}
    for t in pathway.transitions:
        edges[t.source].add(t.target)
    reached = {pathway.initial}
    frontier = [pathway.initial]
    while frontier:
        for target in edges[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    for state in pathway.states:
        if state.id not in reached:
            raise DefinitionError(file, f"states.{state.id}", f"unreachable from the initial state {pathway.initial!r}")
        if not state.final and not (edges[state.id] - {state.id}):
            raise DefinitionError(file, f"states.{state.id}", "non-final state with no transition out (a trap)")
    finals = set(pathway.final_state_ids)
    if not finals:
        raise DefinitionError(file, "states", "no final state")
    can_end = set(finals)
    changed = True
    while changed:
        changed = False
        for source, targets in edges.items():
            if source not in can_end and targets & can_end:
                can_end.add(source)
                changed = True
    for state in pathway.states:
        if state.id not in can_end:
            raise DefinitionError(file, f"states.{state.id}", "no path from this state to a final state")
