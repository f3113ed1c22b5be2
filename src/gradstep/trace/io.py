"""Reading and writing traces as JSON, atomically.

orjson writes and reads the document: on a real model's trace it is ten times
faster than the standard library (30 ms against 3 ms for 1.4 MB), and writing
the trace had become most of the cost of recording one. Non-finite numbers
never reach it: the recorder encodes them as strings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson

from gradstep.collection import collection_paused
from gradstep.files import atomic_write_text
from gradstep.trace.clean import storable
from gradstep.trace.model import FORMAT, VERSION, Step, Trace


def dumps(trace: Trace, *, indent: int | None = None) -> str:
    if indent is not None:  # for people reading it; allow_nan=False: a bare NaN here is a bug
        return json.dumps(
            _storable(trace.to_dict()), indent=indent, allow_nan=False, ensure_ascii=False
        )
    try:
        return orjson.dumps(_document(trace)).decode("utf-8")
    except orjson.JSONEncodeError:
        # a lone surrogate the recorder did not clean (a parameter dict's key, say): the
        # document is valid UTF-8 all the same, written once more through plain data
        return orjson.dumps(_storable(trace.to_dict())).decode("utf-8")


def _storable(value: Any) -> Any:
    """Plain JSON data with every string, keys included, made valid UTF-8."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(k) if isinstance(k, str) else k: _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def _document(trace: Trace) -> dict[str, Any]:
    """``trace.to_dict()`` with the dataclasses left in: orjson writes them natively,
    which spares building a dict for every node, record and variable state."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "scenario": trace.scenario,
        "error": trace.error,
        "variables": trace.variables,
        "passes": trace.passes,
        "nodes": trace.nodes,
        "steps": [step_document(s) for s in trace.steps],
        "limits": trace.limits,
        "stats": trace.stats,
        "loops": trace.loops,
    }


def step_document(s: Step) -> dict[str, Any]:
    """A step as orjson writes it (its variable states left as dataclasses)."""
    document: dict[str, Any] = {
        "index": s.index,
        "kind": s.kind,
        "line": s.line,
        "text": s.text,
        "node": s.node,
        "record": s.record,
        "new_nodes": s.new_nodes,
        "variables": s.variables,
        "output": s.output,
        "pass": s.pass_index,  # a Python keyword, so the field has another name
    }
    if s.figures:  # most steps draw nothing: no key in the JSON
        document["figures"] = s.figures
    return document


def loads(text: str | bytes) -> Trace:
    with collection_paused():  # 0.2 s instead of up to 1.1 s for a 5,000-node trace
        return Trace.from_dict(orjson.loads(text))


def save(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write the trace completely or not at all."""
    atomic_write_text(path, dumps(trace))


def load(path: str | os.PathLike[str]) -> Trace:
    return loads(Path(path).read_text(encoding="utf-8"))
