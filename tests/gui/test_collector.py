"""The cycle collector and big traces: frozen after a big load, thawed at the next."""

from __future__ import annotations

import gc
from types import SimpleNamespace

from gradstep.gui import collector


def _trace(steps: int):  # what ``settle`` reads of a trace: how big it is
    return SimpleNamespace(steps=[None] * steps, nodes={}, passes=[])


def test_a_big_trace_is_frozen_and_the_next_load_thaws_it(monkeypatch) -> None:
    monkeypatch.setattr(collector, "BIG_TRACE", 100)
    try:
        collector.settle(_trace(10))  # small: left to the collector
        assert gc.get_freeze_count() == 0
        collector.settle(_trace(1000))
        assert gc.get_freeze_count() > 0  # out of the collector's sight
        garbage = [[]]
        garbage[0].append(garbage)  # a cycle made after the freeze is still collected
        del garbage
        assert gc.collect() > 0
        collector.settle(_trace(10))  # the next, small, load thaws the big one
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
