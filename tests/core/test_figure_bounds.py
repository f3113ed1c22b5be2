"""A trace's figure is bounded before anything decodes it: a PNG whose header claims more
pixels than the recorder ever draws (a decompression bomb in a trace file), or that is no
PNG, is kept as a note of why it is not shown."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from PIL import Image

from forged import bomb
from gradstep.trace.figure_bounds import MAX_FIGURE_PIXELS, figure_refusal, png_size
from gradstep.trace.io import loads
from gradstep.trace.text import step_table

GOLDEN = Path(__file__).parent.parent / "gui" / "golden" / "sin_of_square.trace.json"


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, "PNG")
    return buffer.getvalue()


def trace_with(*pngs: bytes):
    """The golden trace, its step 4 carrying a figure for each of ``pngs``, read back as a
    trace file is."""
    d = json.loads(GOLDEN.read_text(encoding="utf-8"))
    d["steps"][4]["figures"] = [
        {"number": i + 1, "title": f"f{i + 1}", "width": 640, "height": 480,
         "png": base64.b64encode(p).decode("ascii")}
        for i, p in enumerate(pngs)
    ]  # fmt: skip
    return loads(json.dumps(d))


def test_a_png_claiming_100000_by_100000_pixels_is_not_kept_to_be_decoded() -> None:
    data = bomb()
    assert len(data) < 10_000 and png_size(data) == (100_000, 100_000)
    good, bad = trace_with(small_png(), data).steps[4].figures
    assert good.png and Image.open(io.BytesIO(good.png_bytes())).size == (64, 48)
    assert bad.png == "" and bad.png_bytes() == b""  # nothing left for Qt to decode
    assert bad.omitted == (
        "not shown: its PNG claims 100,000×100,000 pixels, and a figure has at most 4 million"
    )
    assert '[figure 2 "f2": not shown: its PNG claims 100,000×100,000' in step_table(
        trace_with(small_png(), data)
    )


def test_the_cap_is_the_recorders_and_no_png_is_refused_too() -> None:
    from gradstep.record import figures

    assert figures.MAX_FIGURE_PIXELS == MAX_FIGURE_PIXELS == 4_000_000
    b64 = lambda data: base64.b64encode(data).decode("ascii")  # noqa: E731
    assert figure_refusal(b64(bomb(2000, 2000))) is None  # 4 million exactly: drawable
    assert "2,001×2,000 pixels" in (figure_refusal(b64(bomb(2001, 2000))) or "")
    assert "0×5 pixels" in (figure_refusal(b64(bomb(0, 5))) or "")
    assert figure_refusal(b64(b"GIF89a" + b"\xff\xff" * 20)) == (
        "not shown: its image data is not a PNG"
    )
    assert figure_refusal("@@not base64@@" * 4) == "not shown: its image data is not base64"
