"""Graphviz SVG made fit to sit inside an HTML page."""

from __future__ import annotations

import re

_PROLOGUE = re.compile(rb"^.*?(?=<svg\b)", re.DOTALL)
_SIZE = re.compile(r'<svg width="[^"]*" height="[^"]*"')


def inline_svg(svg: bytes, label: str, prefix: str = "") -> str:
    """The <svg> element alone (no XML prologue or DOCTYPE, whose DTD address a browser could fetch),
    sized by CSS through its viewBox; ``prefix`` keeps ids unique when a page holds several drawings."""
    text = _PROLOGUE.sub(b"", svg, count=1).decode("utf-8")
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    text = _SIZE.sub(f'<svg role="group" aria-label="{_attr(label)}"', text, count=1)
    if prefix:
        text = re.sub(r'\bid="', f'id="{prefix}', text)
    return text


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
