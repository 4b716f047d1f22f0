"""Derived views of a pathway: diagrams (Graphviz, Mermaid), patient-path and cohort-flow overlays.

The library entry points for other code (the CLI, a demo):

* ``write_diagrams(pathway, out_dir, formats)`` -> paths of pdph.svg/png/dot/mmd (or the formats asked);
* ``write_trace_diagrams(pathway, trace, out_dir, formats)`` and ``render_trace(pathway, trace, out_path, fmt)``;
* ``write_frequency_diagrams(pathway, frequencies, out_dir, formats)`` and ``render_frequencies(...)``,
  with ``read_frequencies(path, pathway)`` for a simulator summary;
* ``check_diagrams(pathway, out_dir)`` -> one line per missing or stale diagram.
"""

from pathway.render.frequencies import Frequencies, FrequencyError, parse_frequencies, read_frequencies
from pathway.render.output import (
    DEFAULT_FORMATS,
    FORMATS,
    DotFailed,
    DotMissing,
    check_diagrams,
    render_frequencies,
    render_trace,
    write_diagrams,
    write_frequency_diagrams,
    write_trace_diagrams,
)

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "DotFailed",
    "DotMissing",
    "Frequencies",
    "FrequencyError",
    "check_diagrams",
    "parse_frequencies",
    "read_frequencies",
    "render_frequencies",
    "render_trace",
    "write_diagrams",
    "write_frequency_diagrams",
    "write_trace_diagrams",
]
