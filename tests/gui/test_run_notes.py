"""What a run did that no step shows — a file written to the run's scratch, a long loop's
summarised rounds — is said in the window (the message bar, not as an error) and in the
handout, as ``gradstep trace`` says it."""

from __future__ import annotations

from pathlib import Path

import torch
from gui_helpers import open_and_wait

from gradstep.gui.export.handout_text import build_markdown
from gradstep.trace.text import run_notes, step_table

WRITES = '''"""Writing a result."""
import torch
x = torch.tensor(3.0, requires_grad=True)
y = x * x
y.backward()
with open("result.txt", "w") as f:
    f.write(str(x.grad.item()))
'''

LOOPS = '''"""A long loop."""
import torch
w = torch.zeros(1, requires_grad=True)
for t in range(300):
    loss = ((w - 2) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    w.grad.zero_()
'''


def test_a_scratch_write_is_said_in_the_window_handout_and_text(qtbot, window, tmp_path) -> None:
    path = tmp_path / "writes.py"
    path.write_text(WRITES, encoding="utf-8")
    open_and_wait(qtbot, window, path, trusted=False)  # restricted, the app's default
    assert not (tmp_path / "result.txt").exists()  # nothing on disk
    notes = run_notes(window.trace)
    assert notes and "result.txt" in notes[0] and "scratch" in notes[0]
    assert window.trace.error is None
    assert notes[0] in window.message.text and not window.message.error
    assert notes[0] in step_table(window.trace)
    handout = "\n".join(build_markdown(window.trace).lines)
    assert notes[0] in handout


def test_a_trusted_run_works_in_the_scenarios_folder(qtbot, window, tmp_path) -> None:
    """As Jupyter runs a notebook in its folder: what it writes lands beside it, not in
    the folder the app was started from."""
    folder = tmp_path / "lesson"
    folder.mkdir()
    path = folder / "writes.py"
    path.write_text(WRITES, encoding="utf-8")
    open_and_wait(qtbot, window, path, trusted=True)
    x = torch.tensor(3.0, requires_grad=True)
    (x * x).backward()
    assert (folder / "result.txt").read_text() == str(x.grad.item())
    assert not run_notes(window.trace)  # a trusted run has no scratch
    assert not Path("result.txt").exists()


def test_summarised_rounds_are_said_in_the_window(qtbot, window, tmp_path) -> None:
    path = tmp_path / "loops.py"
    path.write_text(LOOPS, encoding="utf-8")
    open_and_wait(qtbot, window, path)
    assert window.trace.loops, "the 300-round loop is summarised"
    text = window.message.text
    assert "for t in range(300):" in text and "summarised" in text and "line 4" in text
    assert not window.message.error


def test_a_plain_run_leaves_the_message_bar_closed(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    assert not run_notes(window.trace) and not window.trace.loops
    assert not window.message.text
