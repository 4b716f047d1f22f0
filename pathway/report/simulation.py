"""The simulation part of the report: whatever files a `pathway simulate --out DIR` left there.

Each part is optional (a run without --compare has one policy, an older run has no validation or
data dictionary): what is present is shown, what is absent is skipped. JSON files are laid out
generically as tables, so new measures and intervals show without a change here.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import attrs

from pathway.report.evidence import REPO_EVIDENCE, markdown_html
from pathway.report.svg import inline_svg

PLOT_SUFFIXES = (".png", ".svg")
VALIDATION_FILES = ("validation.json",)
DICTIONARY_NAMES = ("data_dictionary", "data-dictionary", "dictionary")
REPO_DICTIONARY = REPO_EVIDENCE.parent / "data-dictionary.md"
INTERVAL_BOUNDS = (("lo", "hi"), ("low", "high"), ("lower", "upper"), ("ci_low", "ci_high"))
POINT_KEYS = ("value", "estimate", "mean", "point", "median", "p50", "rate")


class SimulationError(ValueError):
    """A simulation file that exists but cannot be read: the message names the file."""


@attrs.frozen
class Table:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


# ---------------------------------------------------------------- values in words


def interval(value: dict[str, Any]) -> str | None:
    """'12.3 (10.1 to 14.6)' for a point with bounds, in any of the usual spellings; None otherwise."""
    point = next((value[k] for k in POINT_KEYS if isinstance(value.get(k), int | float)), None)
    bounds = next(((value[lo], value[hi]) for lo, hi in INTERVAL_BOUNDS if lo in value and hi in value), None)
    for key in ("ci", "interval", "ci95"):
        if isinstance(value.get(key), list) and len(value[key]) == 2:
            bounds = (value[key][0], value[key][1])
    if point is None or bounds is None:
        return None
    return f"{number(point)} ({number(bounds[0])} to {number(bounds[1])})"


def number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.1f}"


def words(value: Any) -> str:
    if isinstance(value, dict):
        return interval(value) or "; ".join(f"{k.replace('_', ' ')}: {words(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(words(v) for v in value)
    if value is None:
        return "–"
    return number(value)


def tables(caption: str, data: Any) -> list[Table]:
    """A JSON value as tables: a list of records, a mapping of records, or a mapping of values."""
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        columns = tuple(dict.fromkeys(k for r in data for k in r))
        return [Table(caption, columns, tuple(tuple(words(r.get(c)) for c in columns) for r in data))]
    if isinstance(data, dict):
        nested = {k: v for k, v in data.items() if isinstance(v, list | dict) and not _is_value(v)}
        scalars = {k: v for k, v in data.items() if k not in nested}
        records = {k: v for k, v in nested.items() if isinstance(v, dict) and all(map(_is_value, v.values()))}
        if records and len(records) == len(nested) and not scalars:
            # a mapping of flat records (say one per policy): one row each
            columns = ("", *dict.fromkeys(k for v in records.values() for k in v))
            rows = tuple((k, *(words(v.get(c)) for c in columns[1:])) for k, v in records.items())
            return [Table(caption, columns, rows)]
        out = [Table(caption, ("", "value"), tuple((k.replace("_", " "), words(v)) for k, v in scalars.items()))]
        out = [t for t in out if t.rows]
        for key, value in nested.items():
            out += tables(f"{caption}: {key.replace('_', ' ')}" if caption else key.replace("_", " "), value)
        return out
    return [Table(caption, ("value",), ((words(data),),))]


def _is_value(value: Any) -> bool:
    return not isinstance(value, list | dict) or (isinstance(value, dict) and interval(value) is not None)


# ---------------------------------------------------------------- the files


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SimulationError(f"{path}: not readable JSON ({err})") from None


def comparison(summary: dict[str, Any]) -> Table | None:
    """One row per measure, one column per policy: the measures that are numbers or intervals."""
    by_policy = summary.get("by_policy")
    if not isinstance(by_policy, dict) or not by_policy:
        return None
    # the run's own policy first, the alternatives after it
    policies = sorted(by_policy, key=lambda name: name != summary.get("policy"))
    # a policy's headline figures: its "figures" block when the summary has one, else its top level
    bodies = {p: by_policy[p].get("figures", by_policy[p]) for p in policies}
    first = bodies[policies[0]]
    measures = [k for k, v in first.items() if isinstance(v, int | float) or (isinstance(v, dict) and interval(v))]
    rows = tuple((key.replace("_", " "), *(words(bodies[p].get(key)) for p in policies)) for key in measures)
    per = summary.get("per")
    caption = f"per {number(per)} patients, the same simulated patients under each policy" if per else ""
    return Table(caption, ("measure", *policies), rows)


def final_states(summary: dict[str, Any]) -> Table | None:
    by_policy = summary.get("by_policy") or {summary.get("policy", "policy"): summary}
    by_policy = {k: by_policy[k] for k in sorted(by_policy, key=lambda name: name != summary.get("policy"))}
    states = list(dict.fromkeys(s for p in by_policy.values() for s in p.get("final_states", {})))
    if not states:
        return None
    rows = tuple((s, *(number(p.get("final_states", {}).get(s, 0)) for p in by_policy.values())) for s in states)
    return Table("patients in each final state", ("final state", *by_policy), rows)


def plots(directory: Path) -> list[dict[str, str]]:
    found = []
    for path in sorted(p for d in (directory, directory / "plots") if d.is_dir() for p in d.iterdir()):
        if path.suffix not in PLOT_SUFFIXES:
            continue
        name = path.stem.replace("_", " ")
        if path.suffix == ".png":
            uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
            found.append({"name": name, "img": uri})
        else:
            found.append({"name": name, "svg": inline_svg(path.read_bytes(), name, f"plot-{path.stem}-")})
    return found


def dictionary(directory: Path) -> dict[str, Any] | None:
    for name in DICTIONARY_NAMES:
        for suffix in (".json", ".md"):
            for path in (directory / f"{name}{suffix}", directory.parent / f"{name}{suffix}"):
                if path.is_file():
                    return _dictionary(path)
    return _dictionary(REPO_DICTIONARY) if REPO_DICTIONARY.is_file() else None


def _dictionary(path: Path) -> dict[str, Any]:
    if path.suffix == ".md":
        return {"file": path.name, "html": markdown_html(path.read_text(encoding="utf-8"))}
    return {"file": path.name, "tables": tables("", _json(path))}


def simulation_section(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise SimulationError(f"{directory}: no such simulation directory")
    data: dict[str, Any] = dict.fromkeys(("about", "params", "comparison", "final_states", "run", "validation"))
    data["directory"] = directory.name
    if (directory / "summary.json").is_file():
        summary = _json(directory / "summary.json")
        if not isinstance(summary, dict):
            raise SimulationError(f"{directory / 'summary.json'}: expected a JSON object")
        data["about"] = {k: summary.get(k) for k in ("patients", "seed", "policy", "version") if k in summary}
        data["params"] = summary.get("params")
        data["comparison"] = comparison(summary)
        data["final_states"] = final_states(summary)
    if (directory / "run.json").is_file():
        run = _json(directory / "run.json")
        data["run"] = {k: run.get(k) for k in ("engine", "seconds", "patients_per_second") if isinstance(run, dict)}
    data["plots"] = plots(directory)
    for name in VALIDATION_FILES:
        if (directory / name).is_file():
            data["validation"] = {"file": name, "tables": tables("", _json(directory / name))}
    data["dictionary"] = dictionary(directory)
    return data
