"""The protocol committee's report: one self-contained HTML page.

Templates (``templates/``) lay out data the other views already produce: the describe JSON,
the Graphviz SVG, the verify JSON, the simulator's files and the evidence notes. The modules
here only gather those and hand them to the templates; nothing clinical is decided here.
"""
