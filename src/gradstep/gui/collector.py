"""Keeping Python's cycle collector from freezing the window on big traces.

A trace of a real model is hundreds of thousands of long-lived objects. Each
full collection walks all of them (0.1–0.25 s for a 5,000-node transformer),
and one comes due every so often while the window makes thousands of items.
The trace on screen is read-only data: once a big one is loaded, ``settle``
collects once and moves everything alive out of the collector's sight
(``gc.freeze``), so later collections walk only what was made since. The next
load takes everything back first, so what was left in cycles is freed then.
"""

from __future__ import annotations

import gc

from gradstep.trace.model import Trace

BIG_TRACE = 5000  # steps, nodes and node records: above, the trace is put out of sight


def trace_size(trace: Trace) -> int:
    return len(trace.steps) + len(trace.nodes) + sum(len(p.nodes) for p in trace.passes)


def settle(trace: Trace) -> None:
    """After ``trace`` is loaded and drawn: collect once, then leave what is alive alone.
    A small trace is left to the collector (a full collection is short then)."""
    big = trace_size(trace) > BIG_TRACE
    if not big and not gc.get_freeze_count():
        return
    gc.unfreeze()
    gc.collect()
    if big:
        gc.freeze()
