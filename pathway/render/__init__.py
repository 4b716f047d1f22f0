"""Derived views of a pathway: diagrams (Graphviz, Mermaid), patient-path and cohort-flow overlays.

The library entry points for other code (the CLI, a demo):

* ``write_diagrams(pathway, out, formats)`` (``out``: a pathway.outdir.OutputDir) -> paths of the files;
* ``write_trace_diagrams(pathway, trace, out, formats)`` (``out``: an OutputDir);
* ``write_frequency_diagrams(pathway, frequencies, out, formats)``,
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
    "write_diagrams",
    "write_frequency_diagrams",
    "write_trace_diagrams",
]
