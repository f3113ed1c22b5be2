"""Where the worker is: a few integers in a memory page shared with the caller.

A worker that is killed or crashes says nothing more, yet the caller should
name the line that was running. Sending it on every statement would cost a
system call each; instead the worker stores it in a shared page (a memory
store, a few nanoseconds) and the caller reads the page when the worker died.
The page belongs to an anonymous file (``memfd``, or an unlinked temporary
file where there is none) that the caller creates and passes to the worker.

Slots (32-bit integers): :data:`SLOT_LINE`, the scenario line running (0: not yet
known); :data:`SLOT_FIRED`, how many times the time limit has fired in the worker
(0 after a time-out: the worker never got to react, it was stuck in one long
native operation); :data:`SLOT_ROUND` and :data:`SLOT_LOOP`, the round of a long
loop running and the loop's line (0: none).
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile
from typing import IO

from gradstep.record.deadline import SLOT_FIRED, SLOT_LINE, SLOT_LOOP, SLOT_ROUND

_SLOTS = 4
_FORMAT = f"{_SLOTS}i"


class Register:
    """The caller's handle on one worker's page."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        if hasattr(os, "memfd_create"):
            self.fd: int | None = os.memfd_create("gradstep-register", os.MFD_CLOEXEC)
        else:  # macOS: an unlinked temporary file does the same
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - kept open until handed over
            self.fd = self._file.fileno()
        os.ftruncate(self.fd, mmap.PAGESIZE)
        self._map = mmap.mmap(self.fd, mmap.PAGESIZE)

    def handed_over(self) -> None:
        """The worker has its own descriptor: ours is not needed (the mapping stays)."""
        if self._file is not None:
            self._file.close()
        elif self.fd is not None:
            os.close(self.fd)
        self._file = self.fd = None

    def read(self) -> tuple[int, ...]:
        if self._map.closed:
            return (0,) * _SLOTS
        return struct.unpack_from(_FORMAT, self._map)

    @property
    def line(self) -> int | None:
        return self.read()[SLOT_LINE] or None

    @property
    def fired(self) -> int:
        return self.read()[SLOT_FIRED]

    @property
    def loop_round(self) -> tuple[int, int] | None:
        """``(round, loop line)`` of the long loop running, if one was."""
        slots = self.read()
        return (slots[SLOT_ROUND], slots[SLOT_LOOP]) if slots[SLOT_ROUND] > 0 else None

    def close(self) -> None:
        self.handed_over()
        self._map.close()


def attach(fd: int) -> memoryview:
    """The worker's side: the page's slots, to assign (``slots[SLOT_LINE] = 12``)."""
    page = mmap.mmap(fd, mmap.PAGESIZE)
    os.close(fd)  # the mapping stays; the descriptor is not needed again
    return memoryview(page).cast("B").cast("i")[:_SLOTS]
