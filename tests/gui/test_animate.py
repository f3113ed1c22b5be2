"""Animated passes (``gradstep export FILE --animate``): frame count, size, frames that differ,
GIF and APNG that an ordinary decoder (Pillow) reads back, and clear errors."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops

from gradstep.cli import main
from gradstep.gui.export import animate, headless
from gradstep.gui.theme import LIGHT
from gradstep.record.run import record_scenario
from gradstep.resources import bundled_scenarios
from gradstep.scenario.loader import load_scenario
from gradstep.trace.model import Trace
from oracles import torch_lesson05

LESSON_05 = next(p for p in bundled_scenarios() if p.name.startswith("05_"))
LESSON_14 = next(p for p in bundled_scenarios() if p.name.startswith("14_"))


@functools.cache
def trace_of(path: Path) -> Trace:
    return record_scenario(load_scenario(path), trusted=False)


@pytest.fixture
def recorded(monkeypatch):
    """The CLI records through the worker; here it is handed the trace recorded once."""
    monkeypatch.setattr(headless, "record", lambda args: trace_of(Path(args.file)))


def frames_of(path: Path) -> list[Image.Image]:
    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(im.convert("RGB"))
        return out


def test_gif_of_lesson_05_has_a_frame_per_step_and_the_flow(tmp_path, recorded, capsys):
    out = tmp_path / "pass.gif"
    args = ["export", str(LESSON_05), "--animate", "--format", "gif", "-o", str(out)]
    assert main([*args, "--size", "640x360", "--fps", "12"]) == 0
    trace = trace_of(LESSON_05)
    steps = animate.pass_steps(trace, None)
    computes = [k for k in steps if trace.steps[k].kind == "compute"]
    assert len(computes) == 4  # loss, sigmoid, add, mul: each sends gradients on
    expected = len(steps) + animate.FLOW_FRAMES * len(computes)
    assert animate.frame_count(trace, steps) == expected
    frames = frames_of(out)
    assert len(frames) == expected
    assert all(f.size == (640, 360) for f in frames)
    # every frame differs from the one before: a new step, or the gradient further along
    for a, b in zip(frames, frames[1:]):
        assert ImageChops.difference(a, b).getbbox() is not None
    with Image.open(out) as im:
        assert im.format == "GIF" and im.info.get("loop") == 0
    assert [p.name for p in tmp_path.iterdir()] == ["pass.gif"]  # no temporary file left


def test_flow_frames_carry_the_gradient_up_to_the_input(qapp):
    """Before the sigmoid's step is held, its outgoing gradient travels up its input edge
    (inputs are above in the drawing): the value's dark red text rises frame by frame."""
    trace = trace_of(LESSON_05)
    sigmoid = next(s.index for s in trace.steps if "SigmoidBackward0 computes" in s.text)
    frames = animate.pass_frames(trace, range(sigmoid, sigmoid + 1), (640, 360), 10)
    assert len(frames) == animate.FLOW_FRAMES + 1
    assert all(f.ms == 100 for f in frames[:-1]) and frames[-1].ms == 1000
    rows = [_rows_of(f.image, LIGHT.grad_text) for f in frames[:-1]]
    assert all(len(r) > 0 for r in rows)
    heights = [float(np.mean(r)) for r in rows]
    assert heights == sorted(heights, reverse=True) and heights[0] - heights[-1] > 3


def test_the_flowing_value_reads_as_the_label_it_lands_on(qapp):
    """The value carried along an edge is written as the graph writes the gradient there
    (significant figures, as in the chain rule: 813.4, not 813.3619), so it lands on its
    label at the end of the flow instead of in the edge's middle."""
    from gradstep.gui.export.figure import graph_view_for
    from gradstep.trace.chainrule import show_number

    trace = trace_of(LESSON_05)
    view = graph_view_for(trace, 0)
    carried: list[str] = []
    try:
        for k in animate.pass_steps(trace, 1):
            view.session.go_to(k)
            for _edge, text, label in animate._flows_now(view):
                assert label is not None and label.text == text, (k, text)
                carried.append(text)
    finally:
        view.deleteLater()
    # every gradient sent along an edge, in torch's numbers to 4 significant figures
    oracle = torch_lesson05()
    assert sorted(carried) == sorted(show_number(oracle[t]).text for t in oracle)
    assert "813.4" in carried and not any("813.36" in t for t in carried)


def _rows_of(image: Image.Image, hex_colour: str, tol: int = 40) -> np.ndarray:
    """The rows of the pixels close to ``hex_colour``."""
    h = hex_colour.lstrip("#")
    rgb = np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)])
    near = np.abs(np.asarray(image, dtype=int) - rgb).max(axis=2) <= tol
    return np.nonzero(near)[0]


def test_apng_of_lesson_14s_second_pass_at_the_default_slide_size(tmp_path, recorded):
    out = tmp_path / "pass2.png"
    assert main(["export", str(LESSON_14), "--animate", "--pass", "2", "-o", str(out)]) == 0
    trace = trace_of(LESSON_14)
    steps = animate.pass_steps(trace, 2)
    assert steps.start == trace.passes[1].first_step
    with Image.open(out) as im:
        assert im.format == "PNG" and im.is_animated
        assert im.size == (1280, 720)  # 16:9 by default
        assert im.n_frames == animate.frame_count(trace, steps)


def test_bad_pass_size_and_format_are_clear_errors(tmp_path, recorded, capsys):
    base = ["export", str(LESSON_05), "--animate", "-o", str(tmp_path / "a.gif")]
    assert main([*base, "--pass", "3"]) == 2
    assert "--pass 3: the scenario runs 1 backward pass (give 1–1)" in capsys.readouterr().err
    assert main([*base, "--pass", "0"]) == 2
    assert "--pass 0" in capsys.readouterr().err
    assert main([*base, "--size", "wide"]) == 2
    assert "--size wide: give WIDTHxHEIGHT" in capsys.readouterr().err
    assert main([*base, "--format", "svg"]) == 2
    assert "--animate writes gif, apng or mp4, not svg" in capsys.readouterr().err
    assert main([*base, "--fps", "0"]) == 2
    assert list(tmp_path.iterdir()) == []


def test_a_scenario_without_a_pass_has_nothing_to_animate(tmp_path, capsys):
    f = tmp_path / "forward.py"
    f.write_text("import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * x\n")
    assert main(["export", str(f), "--animate", "-o", str(tmp_path / "a.gif")]) == 2
    assert "runs no backward pass" in capsys.readouterr().err


def test_mp4_of_lesson_05s_pass_plays_as_a_video_of_its_frames(tmp_path, recorded):
    """An MP4 an ordinary decoder (ffmpeg) reads back: the slide size, H.264 frames, and as
    long as the GIF of the same pass (each frame held for its time at one frame rate)."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "pass.mp4"
    assert main(["export", str(LESSON_05), "--animate", "--fps", "6", "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data[4:8] == b"ftyp"  # an MP4 container
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    assert tuple(meta["size"]) == (1280, 720)
    assert meta["codec"].startswith("h264")
    frames = [np.frombuffer(f, np.uint8).reshape(720, 1280, 3) for f in reader]
    trace = trace_of(LESSON_05)
    gif = animate.pass_frames(trace, animate.pass_steps(trace, 1), (1280, 720), 6)
    shown = sum(f.ms for f in gif) / 1000
    assert len(frames) / meta["fps"] == pytest.approx(shown, rel=0.05)
    # the video shows the pass's own frames: its first frame is the pass's first (not its
    # last, where the gradients have arrived), its last frame the last (H.264 is lossy: the
    # nearer of the two, not equal)
    first, last = (np.asarray(gif[i].image.convert("RGB"), int) for i in (0, -1))

    def off(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a.astype(int) - b).mean())

    assert off(frames[0], first) < 0.75 * off(frames[0], last)
    assert off(frames[-1], last) < 0.75 * off(frames[-1], first)


def test_mp4_without_its_encoder_says_what_to_install(tmp_path, recorded, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if not installed
    out = tmp_path / "pass.mp4"
    assert main(["export", str(LESSON_05), "--animate", "-o", str(out)]) == 2
    assert "pip install 'gradstep[mp4]'" in capsys.readouterr().err
    assert not out.exists()
