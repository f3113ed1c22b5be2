"""Pausing Python's cycle collector while many long-lived objects are made.

Building a trace, a layout or a scene makes tens of thousands of small lists,
dicts and dataclasses that all survive. Each batch of new objects triggers a
collection, and as they survive, collections of the older generations walk
every object of the process (a previous trace, torch, a Qt scene) again and
again, finding nothing to free: on a 5,000-node trace that was most of the
time spent loading it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (reference counting still frees)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
