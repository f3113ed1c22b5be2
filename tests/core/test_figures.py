"""matplotlib figures captured at the step that showed them (record/figures.py), kept in
the trace as PNG under the caps, named by ``gradstep trace``, and drawn restricted in a
sealed worker."""

from __future__ import annotations

import base64
import io
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from gradstep.record import figures as figures_module
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import scenario_from_source
from gradstep.trace.io import dumps, loads
from gradstep.trace.model import Step, Trace
from gradstep.trace.text import step_table

LESSON = textwrap.dedent(
    """\
    # %%
    import torch
    import matplotlib.pyplot as plt
    x = torch.linspace(-3, 3, 40, requires_grad=True)
    y = torch.sin(x)
    y.sum().backward()
    # %%
    plt.plot(x.detach(), y.detach(), label="sin")
    plt.plot(x.detach(), x.grad, label="d/dx")
    plt.title("sin and its derivative")
    plt.legend()
    # %%
    losses = []
    for i in range(3):
        losses.append(1.0 / (i + 1))
        plt.figure(figsize=(4, 3))
        plt.plot(losses)
        plt.show()
    print("done")
    """
)


def _record(source: str, *, trusted: bool = False) -> Trace:
    return record_scenario(scenario_from_source(source, "lesson.py"), trusted=trusted)


def _drawn(trace: Trace) -> list[Step]:
    return [s for s in trace.steps if s.figures]


def _image(png: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(png)))


@pytest.mark.parametrize("trusted", [False, True], ids=["restricted", "trusted"])
def test_figures_are_captured_where_jupyter_shows_them(trusted: bool) -> None:
    trace = _record(LESSON, trusted=trusted)
    assert trace.error is None, trace.error
    drawn = _drawn(trace)
    # the cell that plots without show(): at its last statement; the loop: each show()
    assert [(s.line, s.text.split("  ·")[0]) for s in drawn] == [
        (11, "plt.legend()"),
        (18, "plt.show()"),
        (18, "plt.show()"),
        (18, "plt.show()"),
    ]
    first = drawn[0].figures
    assert len(first) == 1 and first[0].title == "sin and its derivative"
    assert (first[0].width, first[0].height) == (640, 480)
    assert _image(first[0].png).size == (640, 480)
    # show() closes what it showed, as in Jupyter: each round's figure is figure 1 again,
    # 4×3 inches, with one more point than the round before
    rounds = [s.figures[0] for s in drawn[1:]]
    assert [f.number for f in rounds] == [1, 1, 1]
    assert all(_image(f.png).size == (400, 300) for f in rounds)
    assert len({f.png for f in rounds}) == 3
    assert trace.stats["figures"] == 4
    assert trace.stats["figure_bytes"] == sum(
        len(base64.b64decode(f.png)) for s in drawn for f in s.figures
    )


def test_a_file_without_cells_shows_its_open_figures_at_its_end() -> None:
    trace = _record(
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
        "ax.plot([1, 2, 3], [1, 4, 9])\nax.set_title('squares')\nx = 1\n"
    )
    drawn = _drawn(trace)
    assert [s.line for s in drawn] == [5]
    assert drawn[0].figures[0].title == "squares"


def test_figures_survive_the_json_and_steps_without_any_carry_no_key() -> None:
    trace = _record(LESSON)
    document = dumps(trace)
    assert document.count('"figures":[') == 4
    again = loads(document)
    assert [s.figures for s in again.steps] == [s.figures for s in trace.steps]


def test_gradstep_trace_names_each_figure_at_its_step() -> None:
    table = step_table(_record(LESSON))
    legend = next(row for row in table.splitlines() if "plt.legend()" in row)
    assert '[figure 1 "sin and its derivative": 640×480 PNG,' in legend
    assert table.count("[figure 1: 400×300 PNG,") == 3


def test_a_figure_over_the_cap_is_drawn_smaller_or_left_out_with_why(monkeypatch) -> None:
    source = (
        "import numpy as np\nimport matplotlib.pyplot as plt\nnp.random.seed(0)\n"
        "plt.figure(figsize=(6, 6))\nplt.imshow(np.random.rand(300, 300))\nplt.show()\n"
        "plt.figure(figsize=(6, 6))\nplt.imshow(np.random.rand(300, 300))\nplt.show()\n"
    )
    # noise does not compress: ~650 KB at 100 dpi, ~360 KB at 72, ~175 KB at 50
    monkeypatch.setattr(figures_module, "MAX_FIGURE_BYTES", 250_000)
    monkeypatch.setattr(figures_module, "MAX_TOTAL_BYTES", 300_000)
    trace = _record(source)
    assert trace.error is None
    first, second = (s.figures[0] for s in _drawn(trace))
    assert first.png and len(base64.b64decode(first.png)) <= 250_000
    assert first.width == 300  # drawn again at 50 dpi to fit
    assert _image(first.png).size == (first.width, first.height)
    assert not second.png  # the second would pass the trace's total
    assert second.omitted.startswith("figure not kept: it would take the trace's figures past")
    assert trace.stats["figures_omitted"] == 1
    assert "figure not kept" in step_table(trace)


def test_a_scenario_that_draws_nothing_has_no_figure_stats() -> None:
    trace = _record("import torch\nx = torch.ones(2, requires_grad=True)\nx.sum().backward()\n")
    assert "figures" not in trace.stats and not _drawn(trace)


def test_figures_are_drawn_restricted_in_a_sealed_worker(tmp_path: Path) -> None:
    from gradstep.worker import WorkerPool

    path = tmp_path / "lesson.py"
    path.write_text(LESSON)
    with WorkerPool(prestart=False) as pool:  # no retire thread outlives the test
        trace = pool.run(path).trace
    assert trace.error is None, trace.error
    assert trace.stats.get("guard") == "sealed"
    assert [s.line for s in _drawn(trace)] == [11, 18, 18, 18]
    assert _image(_drawn(trace)[0].figures[0].png).size == (640, 480)
