"""How long drawing the pathway takes, measured in one run.

    .venv/bin/python benchmarks/bench_diagram.py [--repeats 7]

Stages timed (median and min of the repeats, milliseconds):
  view + DOT source   pathway.render: build_view + dot_source (pure Python)
  Mermaid source      mermaid_source from the same view
  svg / png / pdf     dot -T<fmt> on that DOT (png at the shipped 200 dpi), plus the stamp
  trace overlay       a 9-step course: run it, overlay it, DOT source
Baseline (same run): `dot -Tsvg` of a two-node graph, i.e. the fixed cost of starting Graphviz.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from common import long_course, timed

from pathway.engine import run_course
from pathway.loader import load
from pathway.render.graphviz_diagram import dot_source
from pathway.render.mermaid import mermaid_source
from pathway.render.output import render_image
from pathway.render.overlay import trace_overlay
from pathway.render.view import build_view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats

    pathway = load()
    view = build_view(pathway)
    dot_text = dot_source(view)
    events = long_course(pathway)

    def trace_dot() -> str:
        trace = run_course(pathway, events)
        return dot_source(view, trace_overlay(view, trace))

    stages: list[tuple[str, Callable[[], object]]] = [
        ("baseline: dot -Tsvg, 2 nodes", lambda: render_image("digraph { a -> b }", "svg")),
        ("view + DOT source", lambda: dot_source(build_view(pathway))),
        ("Mermaid source", lambda: mermaid_source(build_view(pathway))),
        ("svg", lambda: render_image(dot_text, "svg")),
        ("png (200 dpi)", lambda: render_image(dot_text, "png")),
        ("pdf", lambda: render_image(dot_text, "pdf")),
        ("trace overlay DOT", trace_dot),
    ]
    results = {name: tuple(1000 * t for t in timed(fn, repeats)) for name, fn in stages}
    baseline = results[stages[0][0]][0]
    print(f"{len(pathway.states)} states, {len(pathway.transitions)} transitions; {repeats} repeats")
    print(f"{'stage':32} {'median ms':>10} {'min ms':>8} {'x baseline':>11}")
    for name, (median, low) in results.items():
        print(f"{name:32} {median:10.1f} {low:8.1f} {median / baseline:11.1f}")
    total = sum(results[name][0] for name in ("view + DOT source", "Mermaid source", "svg", "png (200 dpi)"))
    print(f"{'default set (dot, mmd, svg, png)':32} {total:10.1f}")


if __name__ == "__main__":
    main()
