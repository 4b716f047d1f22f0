"""The inputs of an economic run: the data files as decoded text, the uncertain factors, and draws.

An EconomicSpec is plain strings and numbers, so it ships to any worker process or Dask
worker; each process decodes it once (``context``). A parameter set is a pair of value
maps, one per data file (``params`` and ``costs``), applied to the decoded files by path: the
same paths `--set` takes, so any evaluated point can be replayed as a plain run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tomllib
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from pathway.compiled import CompiledPathway
from pathway.economics import costs as costs_io
from pathway.economics import evaluate, paths
from pathway.economics import uncertainty as unc
from pathway.model import Pathway

DRAW_STREAM = 0x50534131
"""Tags the parameter-draw streams apart from the patients' streams of the same seed."""

Values = dict[str, dict[str, float]]
"""{"params": {path: value}, "costs": {path: value}}"""


@attrs.frozen
class EconomicSpec:
    definition_text: str
    definition_file: str
    params_text: str
    params_file: str
    costs_text: str
    costs_file: str
    seed: int
    patients: int
    policies: tuple[str, ...]
    chunk_size: int = evaluate.CHUNK
    engine: str = evaluate.ENGINES[0]
    """How the courses run (evaluate.ENGINES); the numbers do not depend on it."""

    @classmethod
    def from_files(
        cls,
        pathway: Pathway,
        seed: int,
        patients: int,
        policies: tuple[str, ...],
        params_path: str | Path | None = None,
        costs_path: str | Path | None = None,
    ) -> EconomicSpec:
        """The spec of a loaded definition with a parameter file and a cost table (default: the shipped ones)."""
        from pathway.simulate import params as params_io

        params_text, params_file = params_io.read_text(params_path)
        costs_text, costs_file = costs_io.read_text(costs_path)
        definition_file = Path(pathway.source_path or "pdph.toml").name
        return cls(
            pathway.source_text,
            definition_file,
            params_text,
            params_file,
            costs_text,
            costs_file,
            seed,
            patients,
            policies,
        )

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(attrs.asdict(self), sort_keys=True).encode()).hexdigest()


class Context:
    """A process's decoded view of a spec: data files, compiled pathway, factors."""

    def __init__(self, spec: EconomicSpec) -> None:
        self.spec = spec
        self.compiled: CompiledPathway = evaluate.compiled_pathway(spec.definition_text, spec.definition_file)
        self.params_data = _decode(spec.params_text, spec.params_file)
        self.costs_data = costs_io.decode(spec.costs_text, spec.costs_file)
        param_specs = unc.in_entries(self.params_data)
        self.factors: tuple[unc.Uncertain, ...] = (
            *unc.collect("params", self.params_data, param_specs, spec.params_file),
            *unc.collect("costs", self.costs_data, unc.in_entries(self.costs_data), spec.costs_file),
        )
        names = [f.name for f in self.factors]
        if len(set(names)) != len(names):
            raise unc.UncertaintyError(f"{spec.params_file}: two factors share a name (a dirichlet group and a path?)")

    def model(self, values: Values | None = None) -> evaluate.Model:
        values = values or {"params": {}, "costs": {}}
        params_data = paths.with_values(self.params_data, values.get("params", {}))
        costs_data = paths.with_values(self.costs_data, values.get("costs", {}))
        return evaluate.build(
            self.compiled, params_data, costs_data, self.spec.policies, self.spec.params_file, self.spec.costs_file
        )

    def totals(self, values: Values | None = None) -> evaluate.Totals:
        spec = self.spec
        return evaluate.evaluate(self.model(values), spec.seed, spec.patients, spec.chunk_size, spec.engine)

    def base_values(self) -> Values:
        out: Values = {"params": {}, "costs": {}}
        for factor in self.factors:
            out[factor.file].update(zip(factor.all_paths, factor.follow(factor.base), strict=True))
        return out


def _decode(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise unc.UncertaintyError(f"{file}: not valid TOML: {err}") from None


@functools.lru_cache(maxsize=2)
def _context(spec: EconomicSpec) -> Context:
    return Context(spec)


def context(spec: EconomicSpec) -> Context:
    """The process's Context for a spec, built once."""
    return _context(spec)


def totals_task(spec: EconomicSpec, values: Values) -> evaluate.Totals:
    """Task: the sums over patients at one parameter set."""
    return context(spec).totals(values)


def factor_values(factors: tuple[unc.Uncertain, ...], uniforms: Mapping[str, np.ndarray]) -> Values:
    """The parameter set given each factor's uniforms."""
    out: Values = {"params": {}, "costs": {}}
    for factor in factors:
        drawn = factor.values(uniforms[factor.name])[0]
        out[factor.file].update((path, float(v)) for path, v in zip(factor.all_paths, drawn, strict=True))
    return out


def draw_uniforms(factors: tuple[unc.Uncertain, ...], seed: int, draw: int) -> dict[str, np.ndarray]:
    """Each factor's uniforms for PSA draw ``draw``: its own stream, so adding a factor moves no other."""
    return {
        f.name: np.random.default_rng([seed, DRAW_STREAM, draw, zlib.crc32(f.name.encode("utf-8"))]).random(f.dims)
        for f in factors
    }


def draw(ctx: Context, number: int) -> Values:
    """PSA draw ``number`` (0-based) of a spec's seed."""
    return factor_values(ctx.factors, draw_uniforms(ctx.factors, ctx.spec.seed, number))


def column(file: str, path: str) -> str:
    """The column a drawn value gets in the PSA table: the parameter file's path, or costs.<path>."""
    return path if file == "params" else f"costs.{path}"
