"""The trace data model and its JSON form (no torch, no Qt)."""

from gradstep.trace.io import dumps, load, loads, save
from gradstep.trace.model import (
    FORMAT,
    VERSION,
    BackwardPass,
    GraphNode,
    NodeRecord,
    ScenarioInfo,
    Step,
    Trace,
    TraceError,
    VariableState,
    is_summary,
)

__all__ = [
    "FORMAT",
    "VERSION",
    "BackwardPass",
    "GraphNode",
    "NodeRecord",
    "ScenarioInfo",
    "Step",
    "Trace",
    "TraceError",
    "VariableState",
    "dumps",
    "is_summary",
    "load",
    "loads",
    "save",
]
