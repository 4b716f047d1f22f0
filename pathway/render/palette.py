"""Colours shared by the Graphviz and Mermaid diagrams, so both read the same way."""

from __future__ import annotations

from types import MappingProxyType


class Palette:
    ink = "#202124"
    muted = "#5f6368"
    faded = "#c4c7cc"
    faded_fill = "#f8f9fa"
    edge = "#3c4043"
    immediate = "#5f6368"
    escalation = "#c5221f"
    escalation_fill = "#fce8e6"
    taken = "#1a56db"
    visited_fill = "#d2e3fc"
    current_fill = "#aecbfa"
    flow = "#137333"
    default_fill = "#f1f3f4"
    # keyed by the model's state groups and imaging ratings; unknown keys fall back to the defaults
    group_fill = MappingProxyType({"active": "#e8f0fe", "outcome": "#e6f4ea", "handoff": "#fef7e0"})
    cluster_fill = MappingProxyType({"active": "#f6f9ff", "outcome": "#f4fbf6", "handoff": "#fffcf2"})
    rating = MappingProxyType(
        {"usually_appropriate": "#137333", "may_be_appropriate": "#b06000", "usually_not_appropriate": "#5f6368"}
    )
