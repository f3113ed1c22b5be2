"""How big a trace's figure may be, checked before anything decodes it (no Qt, no torch).

A trace comes from the worker or from a JSON file, and either may carry a PNG
whose header claims far more pixels than the recorder ever draws: 100,000 ×
100,000 is 40 GB once decoded, from a file of a few kilobytes (a decompression
bomb). The recorder draws at most ``MAX_FIGURE_PIXELS``; a figure whose PNG
header (its IHDR chunk, read without decoding) claims more, or that is no PNG
at all, is kept as a note of why it is not shown, and no panel, handout or
page decodes it.
"""

from __future__ import annotations

import base64
import binascii
import struct

#: A figure's pixels at most, whatever its size in inches: the recorder draws it at a
#: lower resolution to fit (a 6.4×4.8 inch plot at 100 dpi is 0.3 million). An 80×80 inch
#: figure drew 33 million pixels in 10 s, which the window then decoded whole; one of
#: 700×700 inches ran the worker into its memory limit while it was drawn.
MAX_FIGURE_PIXELS = 4_000_000

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: the signature, the IHDR chunk's length and type, its width and height: 24 bytes,
#: the first 32 characters of the base64 text
_HEADER_CHARS = 32


def png_size(data: bytes) -> tuple[int, int] | None:
    """The width and height a PNG's header claims (None: not a PNG's header)."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def figure_refusal(png: str) -> str | None:
    """Why the base64 PNG ``png`` is not to be decoded (None: it may be)."""
    try:
        head = base64.b64decode(png[:_HEADER_CHARS], validate=True)
    except (binascii.Error, ValueError):
        return "not shown: its image data is not base64"
    size = png_size(head)
    if size is None:
        return "not shown: its image data is not a PNG"
    width, height = size
    if width == 0 or height == 0 or width * height > MAX_FIGURE_PIXELS:
        return (
            f"not shown: its PNG claims {width:,}×{height:,} pixels, and a figure has at "
            f"most {MAX_FIGURE_PIXELS // 1_000_000} million"
        )
    return None
