"""``gradstep export FILE --animate``: a backward pass as an animated GIF or APNG.

One frame per step of the pass, drawn by the figure painter of ``gradstep export
--step N`` (the window's own scene, caption and legend, one frame size for the
whole series) and fitted into a slide (16:9, 1280×720 by default). Before a
node's compute step is held, a few frames show the gradients it sends flowing
along its input edges: each edge fills from the node back towards the input it
reaches. Frames are encoded by Pillow; the file is written completely or not at
all.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen

from gradstep.gui.export import headless
from gradstep.gui.export.figure import MARGIN, graph_view_for, layout_figure, paint_figure
from gradstep.gui.export.files import ExportError, atomic_write_bytes
from gradstep.gui.graph.items import EdgeLabel
from gradstep.gui.graph.labels import label_text
from gradstep.trace.model import Trace

FORMATS = ("gif", "apng", "mp4")
MP4_MOST_FPS = 30  # frames a second an MP4 is written at, at most
FLOW_FRAMES = 6  # frames of a gradient flowing along its edges, before the step is held
HOLD_SECONDS = 1.0  # how long each step stays on screen
MOST_FRAMES = 5000


class AnimationError(Exception):
    """A bad option or a trace with nothing to animate: exit 2 with this message."""


@dataclass
class Frame:
    image: Image.Image
    ms: int  # how long it is shown


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise AnimationError(f"--size {text}: give WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (16 <= w <= 7680 and 16 <= h <= 4320):
        raise AnimationError(f"--size {text}: each side from 16 to 7680×4320 pixels")
    return w, h


def pass_steps(trace: Trace, number: int | None) -> range:
    """The steps of backward pass ``number`` (from 1; default the first)."""
    count = len(trace.passes)
    if count == 0:
        raise AnimationError("the scenario runs no backward pass: nothing to animate")
    k = 1 if number is None else number
    if not 1 <= k <= count:
        runs = "runs 1 backward pass" if count == 1 else f"runs {count} backward passes"
        raise AnimationError(f"--pass {k}: the scenario {runs} (give 1–{count})")
    p = trace.passes[k - 1]
    return range(p.first_step, p.last_step + 1)


def frame_count(trace: Trace, steps: range) -> int:
    """How many frames ``pass_frames`` makes: one per step, and the flow before each
    compute step that sends gradients along edges."""
    return len(steps) + FLOW_FRAMES * sum(1 for k in steps if _flows(trace, k))


def _flows(trace: Trace, k: int) -> bool:
    """Whether step ``k`` sends a gradient along an edge: a compute step with an outgoing
    gradient for an input that has a producer (as the session labels edges)."""
    s = trace.steps[k]
    rec = trace.record_for(s)
    if s.kind != "compute" or s.node is None or rec is None:
        return False
    inputs = trace.nodes[s.node].inputs
    return any(
        src is not None and slot < len(rec.grad_inputs) and rec.grad_inputs[slot] is not None
        for slot, (src, _) in enumerate(inputs)
    )


def pass_frames(trace: Trace, steps: range, size: tuple[int, int], fps: float) -> list[Frame]:
    view = graph_view_for(trace, steps[0])
    flow_ms = max(20, round(1000 / fps))
    hold_ms = max(flow_ms, round(HOLD_SECONDS * 1000))
    frames: list[Frame] = []
    for k in steps:
        view.session.go_to(k)
        if _flows(trace, k):
            for i in range(1, FLOW_FRAMES + 1):
                frames.append(Frame(_render(view, size, flow=i / (FLOW_FRAMES + 1)), flow_ms))
        frames.append(Frame(_render(view, size), hold_ms))
    return frames


def _render(view: Any, size: tuple[int, int], flow: float | None = None) -> Image.Image:
    """The figure at the view's step, fitted into ``size``; ``flow`` (0–1): how far the
    gradients have come along the current node's input edges."""
    w, h = size
    moving = _flows_now(view) if flow is not None else []
    for _, _, label in moving:  # the value is on its way: its label is drawn when it lands
        if label is not None:
            label.setVisible(False)
    try:
        fig = layout_figure(view, True, True, frame=True)
        image = QImage(w, h, QImage.Format.Format_RGB32)
        image.fill(QColor(fig.theme.background))
        scale = min(w / fig.width, h / fig.height)
        painter = QPainter(image)
        try:
            painter.translate((w - fig.width * scale) / 2, (h - fig.height * scale) / 2)
            painter.scale(scale, scale)
            paint_figure(painter, fig)
            if moving and flow is not None:
                # where paint_figure put the scene: its rectangle, centred below the caption
                inner = fig.width - 2 * MARGIN
                left = MARGIN + (inner - fig.rect.width()) / 2
                painter.translate(left - fig.rect.left(), MARGIN + fig.caption_h - fig.rect.top())
                for edge, text, label in moving:
                    _paint_flow(painter, fig.theme, edge, text, label, flow)
        finally:
            painter.end()
    finally:
        for _, _, label in moving:
            if label is not None:
                label.setVisible(True)
    return _pil(image)


def _flows_now(view: Any) -> list[tuple[Any, str, Any]]:
    """The current node's input edges that carry a gradient: (edge item, the value as the
    graph writes it, the label showing it or None)."""
    st, drawing = view.session.state(), view.drawing
    if drawing is None:
        return []
    labels = [i for i in view.scene().items() if isinstance(i, EdgeLabel) and i.isVisible()]
    out = []
    for key in st.active_edges:
        d = drawing.view.drawn_edge.get(key)
        edge = view._edges.get(d) if d is not None else None  # noqa: SLF001 - the drawn edge
        if edge is None or not edge.isVisible() or key not in st.edge_grads:
            continue
        text = label_text(st.edge_grads[key])  # as the label it lands on: 813.4, not 813.3619
        area = edge.path.boundingRect().adjusted(-40, -20, 40, 20)
        label = next(
            (lb for lb in labels if lb.text == text and area.contains(lb.scenePos())), None
        )
        out.append((edge, text, label))
    return out


def _paint_flow(
    painter: QPainter, theme: Any, edge: Any, text: str, label: Any, flow: float
) -> None:
    """The value travelling from the node computing (the edge's consumer end) to where its
    label lands, the edge filled behind it."""
    path = edge.path  # producer -> consumer: the gradient goes from 1 towards 0
    end = _percent_near(path, label.scenePos()) if label is not None else 0.5
    t = 1 - (1 - end) * flow
    n = 24
    points = [path.pointAtPercent(1 - (1 - t) * i / n) for i in range(n + 1)]
    pen = QPen(QColor(theme.current), theme.active_edge_width + 2.0)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPolyline(points)
    font = QFont(theme.node_font(bold=True))
    fm = QFontMetricsF(font)
    w, h = fm.horizontalAdvance(text) + 12, fm.height() + 6
    tip: QPointF = points[-1]
    chip = QRectF(tip.x() - w / 2, tip.y() - h / 2, w, h)
    painter.setPen(QPen(QColor(theme.current), 2.0))
    painter.setBrush(QColor(theme.label_fill))
    painter.drawRoundedRect(chip, 5, 5)
    painter.setFont(font)
    painter.setPen(QColor(theme.grad_text))
    painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)


def _percent_near(path: Any, point: QPointF) -> float:
    """Where along ``path`` (0–1) it passes closest to ``point``."""
    best, best_d = 0.5, float("inf")
    for i in range(101):
        p = path.pointAtPercent(i / 100)
        d = (p.x() - point.x()) ** 2 + (p.y() - point.y()) ** 2
        if d < best_d:
            best, best_d = i / 100, d
    return best


def _pil(image: QImage) -> Image.Image:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    return Image.frombuffer("RGB", (w, h), bytes(rgb.constBits()), "raw", "RGB", stride, 1).copy()


def encode(frames: list[Frame], fmt: str, colours: Sequence[str] = ()) -> bytes:
    """GIF (one palette for all frames, no dithering: flat colours stay flat) or APNG
    (lossless), looping forever; or MP4 (H.264, for slides and video players)."""
    if fmt == "mp4":
        return encode_mp4(frames)
    buffer = io.BytesIO()
    images = [f.image for f in frames]
    durations = [f.ms for f in frames]
    if fmt == "gif":
        palette = _palette(images, list(colours))
        images = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
        images[0].save(
            buffer, "GIF", save_all=True, append_images=images[1:], duration=durations, loop=0
        )
    else:
        images[0].save(
            buffer, "PNG", save_all=True, append_images=images[1:], duration=durations, loop=0
        )
    return buffer.getvalue()


#: what to install for MP4 (the ``mp4`` extra: imageio-ffmpeg)
MP4_INSTALL = "pip install 'gradstep[mp4]'"


def mp4_encoder() -> Any:
    """imageio-ffmpeg (a pip wheel that carries its own ffmpeg), or a message saying how to
    get it."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()  # a wheel for another platform has no ffmpeg in it
    except (ImportError, RuntimeError):
        raise AnimationError(
            f"MP4 needs an encoder: {MP4_INSTALL} (imageio-ffmpeg), or write gif or apng"
        ) from None
    return imageio_ffmpeg


def mp4_available() -> bool:
    """Whether MP4 can be written here (the encoder is installed and has its ffmpeg)."""
    try:
        mp4_encoder()
    except AnimationError:
        return False
    return True


def encode_mp4(frames: list[Frame]) -> bytes:
    """H.264 in MP4. A video has one frame rate, so each frame is repeated for as long as
    it is shown."""
    imageio_ffmpeg = mp4_encoder()
    if not frames:
        raise AnimationError("an MP4 needs at least one frame")
    shortest = min(f.ms for f in frames)
    fps = max(1, min(MP4_MOST_FPS, round(1000 / max(1, shortest))))
    w, h = frames[0].image.size
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pass.mp4"
        # even sides (yuv420p needs them); no rescaling to a 16-pixel grid
        writer = imageio_ffmpeg.write_frames(
            str(path), (w, h), fps=fps, macro_block_size=2, ffmpeg_log_level="error"
        )
        writer.send(None)  # the generator starts ffmpeg
        try:
            for f in frames:
                data = f.image.convert("RGB").tobytes()
                for _ in range(max(1, round(f.ms * fps / 1000))):
                    writer.send(data)
        finally:
            writer.close()
        return path.read_bytes()


def _palette(images: list[Image.Image], colours: list[str], most: int = 12) -> Image.Image:
    """One palette for every frame, from up to ``most`` frames spread over the animation at
    a quarter size, and a block of each of the theme's ``colours`` (a thin border is too
    few pixels to win a palette entry of its own, and would come out in another colour).
    Quantizing each frame to one palette is ten times faster than a palette per frame."""
    picks = images[:: max(1, len(images) // most)][:most] + [images[-1]]
    w, h = images[0].size
    small = (max(1, w // 4), max(1, h // 4))
    block = max(8, small[1] // 4)
    sheet = Image.new("RGB", (small[0] * len(picks), small[1] + block))
    for i, im in enumerate(picks):
        sheet.paste(im.resize(small, Image.Resampling.BOX), (i * small[0], 0))
    width = max(1, sheet.width // max(1, len(colours)))
    for i, colour in enumerate(colours):
        sheet.paste(colour, (i * width, small[1], (i + 1) * width, small[1] + block))
    return sheet.quantize(colors=255, method=Image.Quantize.MEDIANCUT)


def _format_and_path(args: argparse.Namespace, pass_number: int) -> tuple[str, Path]:
    fmt = args.format
    out = Path(args.output) if args.output else None
    if fmt in ("svg", "pdf", "html"):
        raise AnimationError(f"--animate writes gif, apng or mp4, not {fmt}")
    if fmt == "png":  # the default: the file name decides, else GIF
        suffix = out.suffix.lower() if out is not None else ""
        fmt = {".png": "apng", ".apng": "apng", ".mp4": "mp4"}.get(suffix, "gif")
    ext = {"gif": "gif", "apng": "png", "mp4": "mp4"}[fmt]
    stem = Path(args.file).stem
    if out is None:
        return fmt, Path(f"{stem}-pass{pass_number}.{ext}")
    if out.is_dir():
        return fmt, out / f"{stem}-pass{pass_number}.{ext}"
    return fmt, out


def animate_command(args: argparse.Namespace) -> int:
    """``gradstep export FILE --animate [--pass K] [--format gif|apng|mp4] [--fps N] [--size WxH]``."""
    try:
        size = parse_size(args.size)
        if not 0 < args.fps <= 60:
            raise AnimationError(f"--fps {args.fps:g}: give a rate above 0 and at most 60")
        if args.step is not None or args.all:
            raise AnimationError("--animate shows a whole pass: choose it with --pass, not --step")
    except AnimationError as e:
        headless.say(str(e))
        return 2
    trace = headless.record(args)
    status = headless.nothing_to_export(trace, args.file)
    if status is not None:
        return status
    try:
        steps = pass_steps(trace, args.pass_number)
        number = 1 if args.pass_number is None else args.pass_number
        fmt, path = _format_and_path(args, number)
        if fmt == "mp4":
            mp4_encoder()  # says what to install, before any frame is drawn
        if frame_count(trace, steps) > MOST_FRAMES:
            raise AnimationError(
                f"pass {number} would take {frame_count(trace, steps):,} frames "
                f"(at most {MOST_FRAMES:,}): animate a smaller graph"
            )
        headless.qt_app()
        data = encode(pass_frames(trace, steps, size, args.fps), fmt, theme_colours())
        atomic_write_bytes(path, data)
    except AnimationError as e:
        headless.say(str(e))
        return 2
    except (ExportError, OSError) as e:
        headless.say(f"cannot write the animation: {e}")
        return 2
    print(path)
    return headless.finish(trace, args.file)


def theme_colours() -> list[str]:
    """Every colour of the light theme the figures are drawn in."""
    from dataclasses import astuple

    from gradstep.gui.theme import LIGHT

    return [v for v in astuple(LIGHT) if isinstance(v, str) and v.startswith("#")]
