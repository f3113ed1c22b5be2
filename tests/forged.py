"""Forged trace data for the tests that check what a loaded trace may not do to the app,
shared by the core and the GUI tests (``tests/`` is on the path through its conftest)."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A well-formed PNG header claiming ``width``×``height`` RGBA pixels, then a little of
    their zeros: a few kilobytes that a decoder would make 40 GB of."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    zeros = zlib.compress(b"\0" * 1_000_000, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zeros)
        + _chunk(b"IEND", b"")
    )
