"""Numbers of a decoded data file named by a dotted path, read and set without evaluating anything.

A path walks table keys; in an array of tables it names the entry by its ``id`` (or its
index). A path ending on a cited number (a table with ``value``) means that value; a
number inside a distribution table is named with one more step (``onset.after_puncture.median``).
These are the paths `pathway simulate --set PATH=VALUE` takes (setting goes through that same
code), so a drawn parameter set can be replayed as a plain run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class PathError(ValueError):
    """A path that names nothing in the file; str() is one line."""


def _step(node: Any, key: str, walked: str) -> Any:
    if isinstance(node, Mapping):
        if key in node:
            return node[key]
        raise PathError(f"{walked}: unknown key {key!r}")
    if isinstance(node, list):
        for item in node:
            if isinstance(item, Mapping) and item.get("id") == key:
                return item
        if key.isdigit() and int(key) < len(node):
            return node[int(key)]
        raise PathError(f"{walked}: no entry {key!r}")
    raise PathError(f"{walked}: is a single value, not a table")


def _walk(data: Any, path: str) -> tuple[Any, str | int]:
    """The container holding the number at ``path`` and its key there."""
    keys = path.split(".")
    node = data
    for depth, key in enumerate(keys[:-1]):
        node = _step(node, key, ".".join(keys[: depth + 1]))
    last: str | int = keys[-1]
    target = _step(node, str(last), path)
    if isinstance(target, Mapping) and "value" in target:
        return target, "value"
    if isinstance(target, Mapping | list):
        raise PathError(f"{path}: is a table, not a number")
    if isinstance(node, list):
        last = int(last) if str(last).isdigit() else last
    return node, last


def get(data: Mapping[str, Any], path: str) -> float:
    node, key = _walk(data, path)
    value = node[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PathError(f"{path}: is not a number ({value!r})")
    return float(value)


def with_values(data: Mapping[str, Any], values: Mapping[str, float]) -> dict[str, Any]:
    """A copy of ``data`` with each path set to its value: the simulator's `--set`, one assignment per value.

    ``repr`` writes a float's shortest exact form, so the file gets exactly the drawn number.
    """
    from pathway.simulate import overrides

    return overrides.apply(dict(data), [f"{path}={float(value)!r}" for path, value in values.items()])


def numbers_with(data: Any, key: str, prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, table) of every table in ``data`` that carries ``key`` (depth first, file order)."""
    if isinstance(data, Mapping):
        if key in data:
            yield prefix, data
        for name, child in data.items():
            if name == key:
                continue
            yield from numbers_with(child, key, f"{prefix}.{name}" if prefix else str(name))
    elif isinstance(data, list):
        for index, child in enumerate(data):
            label = child.get("id") if isinstance(child, Mapping) and isinstance(child.get("id"), str) else index
            yield from numbers_with(child, key, f"{prefix}.{label}")
