"""Running SPIN on the exported model: `spin -a`, gcc, then pan once per LTL claim.

Each property's verdict comes from its claims (``pathway.export.ltl``): a ``hold`` claim
must not be violated; the existential kinds read their ``witness`` questions (a violated
"never" claim is the witness that something happens). A violated hold claim is replayed
(``pan -r``), and the ``@E <class> <time>`` lines the model prints become the JSON Lines
course that `pathway run` replays.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import attrs

from pathway.events import Event
from pathway.export import ltl
from pathway.export.encoding import Encoding, ident
from pathway.export.promela import PromelaModel, abstraction_for, event_classes
from pathway.model import Pathway
from pathway.verify.abstraction import EPOCH, at_text
from pathway.verify.properties import Bound, Catalogue, bind, load_catalogue

PAN_FLAGS = ("-a", "-m50000", "-w18")
"""Acceptance cycles (for <>[]), a search depth no course reaches, a small hash table."""
CC_FLAGS = ("-w", "-DNOREDUCE", "-DMEMLIM=1024")
"""MEMLIM: a model that explodes stops at 1 GB (reported as a failure) instead of filling the machine."""
COMPILERS = (("tcc", ()), ("gcc", ("-O0",)))
"""pan runs for milliseconds, so compiling it is the slow part: tcc (Debian `tcc`) compiles it
in a few hundredths of a second, gcc -O0 in about a second; the first one installed is used."""
TOOLS = ("spin", "gcc")
PARALLEL = 4
TIMEOUT_S = 600
"""pan runs at once: each is a few milliseconds of work and mostly process start-up."""


class SpinUnavailable(RuntimeError):
    """spin or gcc is not installed (scripts/setup.sh installs both)."""


class SpinFailed(RuntimeError):
    """SPIN, gcc or pan failed on a generated model: a bug in the export, reported with its output."""


@attrs.frozen
class Verdict:
    """SPIN's answer on one property: holds, violated, or None when LTL cannot state it."""

    prop: str
    kind: str
    holds: bool | None
    note: str = ""
    course: tuple[Event, ...] = ()


@attrs.frozen
class SpinReport:
    verdicts: tuple[Verdict, ...]
    claims: int
    seconds_compile: float
    seconds_search: float
    states: int

    def verdict(self, prop: str) -> Verdict:
        for verdict in self.verdicts:
            if verdict.prop == prop:
                return verdict
        raise KeyError(prop)


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


@attrs.frozen
class Export:
    """A generated model and what is needed to read SPIN's answers about it."""

    text: str
    encoding: Encoding
    plans: tuple[ltl.Plan, ...]


def export(pathway: Pathway, catalogue: Catalogue | None = None) -> Export:
    bound: tuple[Bound, ...] = bind(catalogue or load_catalogue(), pathway)
    encoding = Encoding(pathway, abstraction_for(pathway, bound))
    formulas = ltl.Formulas(encoding)
    plans = ltl.plan(bound, formulas)
    text = PromelaModel(pathway, encoding, formulas.props).text(ltl.claims(plans))
    return Export(text, encoding, tuple(plans))


def _run(args: Iterable[str], cwd: Path, what: str) -> str:
    try:
        proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SpinFailed(f"{what} ran for more than {TIMEOUT_S} s") from None
    if proc.returncode != 0 and what != "pan":
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise SpinFailed(f"{what} failed: {' / '.join(tail)}")
    return proc.stdout + proc.stderr


_ERRORS = re.compile(r"errors: (\d+)")
_STORED = re.compile(r"(\d+) states, stored")
_EVENT = re.compile(r"^@E (\d+) (-?\d+)$", re.MULTILINE)


class Pan:
    """A compiled verifier for one exported model, in a private temporary directory."""

    def __init__(self, model: Export, workdir: Path) -> None:
        self.model = model
        self.dir = workdir
        (workdir / "model.pml").write_text(model.text, encoding="utf-8")
        started = time.perf_counter()
        _run(["spin", "-a", "model.pml"], workdir, "spin -a")
        compiler, extra = next(((cc, flags) for cc, flags in COMPILERS if shutil.which(cc)), COMPILERS[-1])
        _run([compiler, *extra, *CC_FLAGS, "-o", "pan", "pan.c"], workdir, compiler)
        self.compile_seconds = time.perf_counter() - started
        self.states = 0

    def violated(self, claim: str) -> bool:
        # one directory per claim: pan writes its trail beside it, so claims can run side by side
        where = self.dir / claim
        where.mkdir(exist_ok=True)
        out = _run(["../pan", *PAN_FLAGS, "-N", claim], where, "pan")
        found = _ERRORS.search(out)
        if found is None:
            raise SpinFailed(f"pan gave no verdict on {claim}: {out.strip().splitlines()[-1:]}")
        if "out of memory" in out or "max search depth too small" in out:
            raise SpinFailed(f"pan ran out of memory or depth on {claim}")
        stored = _STORED.search(out)
        self.states = max(self.states, int(stored.group(1)) if stored else 0)
        return int(found.group(1)) > 0

    def course(self, claim: str) -> tuple[Event, ...]:
        """The events of the last trail, as a stream `pathway run` replays."""
        out = _run(["../pan", "-r", "-N", claim], self.dir / claim, "pan")
        return trail_events(self.model.encoding, out)

    def ask(self, claims: Iterable[str]) -> dict[str, bool]:
        """Several claims at once: each pan runs for milliseconds, so they overlap their start-up."""
        names = list(dict.fromkeys(claims))
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            return dict(zip(names, pool.map(self.violated, names), strict=True))


def trail_events(encoding: Encoding, output: str) -> tuple[Event, ...]:
    """``@E <class> <time units>`` lines of a replayed trail -> events (lines from 1)."""
    classes = event_classes(encoding)
    events = []
    for line, (cls, units) in enumerate(_EVENT.findall(output), start=1):
        name, fields = classes[int(cls) - 1]
        at = EPOCH + timedelta(hours=float(encoding.unit * int(units)))
        events.append(Event(line, name, at, at_text(at), fields))
    return tuple(events)


def _judge(plan: ltl.Plan, pan: Pan, encoding: Encoding, answers: dict[str, bool]) -> Verdict:
    if plan.not_expressible:
        return Verdict(plan.prop, plan.kind, None, plan.not_expressible)
    if plan.kind in ltl.HOLD_KINDS:
        claim = plan.claims[0]
        if not answers[claim.name]:
            return Verdict(plan.prop, plan.kind, True)
        return Verdict(plan.prop, plan.kind, False, "SPIN found a violating course", pan.course(claim.name))
    seen = {c.subject: answers[c.name] for c in plan.claims}
    pathway = encoding.pathway
    if plan.kind == "reachable":
        missing = [s for s in pathway.state_ids if s != pathway.initial and not seen[f"state {s}"]]
        note = f"never entered: {', '.join(missing)}" if missing else ""
        return Verdict(plan.prop, plan.kind, not missing, note)
    entered = {pathway.initial} | {s for s in pathway.state_ids if seen.get(f"state {s}")}
    hidden = []
    for index, t in encoding.transitions.items():
        if pathway.state(t.source).final:
            continue
        live = t.source in entered if t.immediate else seen.get(f"waiting {t.source}", False)
        if live and not seen[f"transition {index}"]:
            hidden.append(f"{t.id} ({t.source})")
    note = f"never taken although its source is reached: {', '.join(hidden)}" if hidden else ""
    return Verdict(plan.prop, plan.kind, not hidden, note)


def check(pathway: Pathway, catalogue: Catalogue | None = None) -> SpinReport:
    """Export ``pathway``, compile the verifier and judge every property of the catalogue."""
    absent = missing_tools()
    if absent:
        raise SpinUnavailable(f"{' and '.join(absent)} not found (scripts/setup.sh installs them)")
    model = export(pathway, catalogue)
    with tempfile.TemporaryDirectory(prefix="pathway-spin-") as tmp:
        pan = Pan(model, Path(tmp))
        started = time.perf_counter()
        answers = pan.ask(c.name for p in model.plans for c in p.claims)
        verdicts = tuple(_judge(plan, pan, model.encoding, answers) for plan in model.plans)
        searched = time.perf_counter() - started
    count = sum(len(p.claims) for p in model.plans)
    return SpinReport(verdicts, count, pan.compile_seconds, searched, pan.states)


def claim_name(prop: str) -> str:
    return f"L_{ident(prop)}"
