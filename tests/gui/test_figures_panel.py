"""What a scenario draws with matplotlib, in the app's Figures panel and in the handout."""

from __future__ import annotations

import re
import textwrap

import pytest
from PySide6.QtWidgets import QLabel

from forged import bomb
from gradstep.gui.export.handout import write_handout
from gradstep.gui.panels.figures import FiguresPanel
from gradstep.gui.theme import LIGHT
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import scenario_from_source
from gradstep.session import Session
from gradstep.trace.model import Trace

LESSON = textwrap.dedent(
    """\
    # %%
    import torch
    import matplotlib.pyplot as plt
    w = torch.tensor(2.0, requires_grad=True)
    losses = []
    for i in range(3):
        loss = (w - 1) ** 2
        loss.backward()
        with torch.no_grad():
            w -= 0.25 * w.grad
        w.grad.zero_()
        losses.append(loss.item())
    # %%
    plt.plot(losses)
    plt.title("loss")
    plt.show()
    # %%
    z = w * 3
    """
)


@pytest.fixture(scope="module")
def trace() -> Trace:
    t = record_scenario(scenario_from_source(LESSON, "lesson.py"))
    assert t.error is None, t.error
    return t


def _images(panel: FiguresPanel) -> list[QLabel]:
    return [w for w in panel.findChildren(QLabel, "figure_image") if w.pixmap() is not None]


def test_the_panel_shows_a_figure_from_the_step_that_drew_it_on(qtbot, trace) -> None:
    panel = FiguresPanel(LIGHT)
    qtbot.addWidget(panel)
    session = Session(trace)
    panel.set_session(session)
    drawn = next(s.index for s in trace.steps if s.figures)
    assert trace.steps[drawn].line == 16  # plt.show()
    session.go_to(drawn - 1)
    assert panel.shown_step is None
    assert "No figure yet" in " ".join(w.text() for w in panel.findChildren(QLabel))
    session.go_to(drawn)
    qtbot.waitUntil(lambda: panel.shown_step == drawn)
    (image,) = [w for w in panel.findChildren(QLabel, "figure_image") if w.isVisibleTo(panel)]
    assert (image.pixmap().width(), image.pixmap().height()) == (640, 480)
    words = " ".join(w.text() for w in panel.findChildren(QLabel) if w.isVisibleTo(panel))
    assert "Figure 1 — loss" in words and f"step {drawn + 1}, line 16" in words
    session.go_to(len(trace.steps) - 1)  # later steps keep the last figure in view
    assert panel.shown_step == drawn


def test_a_scenario_without_figures_says_so(qtbot) -> None:
    plain = record_scenario(scenario_from_source("import torch\nx = torch.ones(1)\n", "a.py"))
    panel = FiguresPanel(LIGHT)
    qtbot.addWidget(panel)
    panel.set_session(Session(plain))
    assert "draws no figures" in " ".join(w.text() for w in panel.findChildren(QLabel))


def test_the_handout_carries_the_figure_at_its_step(qtbot, trace, tmp_path) -> None:
    out = write_handout(trace, tmp_path / "handout", per="node", pdf=True)
    md = (out / "handout.md").read_text()
    drawn = next(s.index for s in trace.steps if s.figures)
    name = f"images/step_{drawn + 1:03d}_figure_1.png"
    assert f"![loss]({name})" in md
    assert (out / name).read_bytes() == trace.steps[drawn].figures[0].png_bytes()
    refs = re.findall(r"!\[[^\]]*\]\((images/[^)]+)\)", md)
    assert sorted(refs) == sorted(f"images/{p.name}" for p in (out / "images").iterdir())
    assert (out / "handout.pdf").stat().st_size > 0


def test_the_window_has_a_figures_dock(window) -> None:
    assert "figures" in window.docks
    assert window.docks["figures"].windowTitle() == "Figures"


def test_a_figure_whose_png_claims_too_many_pixels_is_a_message_not_decoded(
    qtbot, trace, tmp_path, monkeypatch
) -> None:
    """A trace file whose figure claims 100,000×100,000 pixels in its PNG header: the panel
    and the handout say why it is not shown, and nothing hands it to Qt's decoder."""
    import base64
    import json

    from PySide6.QtGui import QPixmap

    from gradstep.gui.panels import figures as figures_module
    from gradstep.trace.io import dumps, loads

    d = json.loads(dumps(trace))
    drawn = next(i for i, s in enumerate(d["steps"]) if s.get("figures"))
    d["steps"][drawn]["figures"][0]["png"] = base64.b64encode(bomb()).decode("ascii")
    opened = loads(json.dumps(d))
    decoded: list[bytes] = []

    class Watched(QPixmap):
        def loadFromData(self, data, *args):  # noqa: ANN001, N802 - Qt's name
            decoded.append(bytes(data))
            return super().loadFromData(data, *args)

    monkeypatch.setattr(figures_module, "QPixmap", Watched)
    panel = FiguresPanel(LIGHT)
    qtbot.addWidget(panel)
    session = Session(opened)
    panel.set_session(session)
    session.go_to(drawn)
    qtbot.waitUntil(lambda: panel.shown_step == drawn)
    (label,) = panel.findChildren(QLabel, "figure_image")
    assert decoded == [] and label.pixmap().isNull()
    assert label.text() == (
        "not shown: its PNG claims 100,000×100,000 pixels, and a figure has at most 4 million"
    )
    out = write_handout(opened, tmp_path / "handout", per="node", pdf=True)
    md = (out / "handout.md").read_text()
    assert '*[figure 1 "loss": not shown: its PNG claims 100,000×100,000 pixels' in md
    assert not any("figure" in p.name for p in (out / "images").iterdir())
