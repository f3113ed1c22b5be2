"""A refusal that lists several refused constructs: the code panel marks each line with its
own reason, and the inspector shows the list as a list (the outsider test's items 14, 15)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QImage

from gradstep.gui.panels.code import CodeView
from gradstep.gui.theme import LIGHT
from gradstep.trace.refusals import refusal_list

SOURCE = "import torch\nimport os\nx = torch.ones(2, requires_grad=True)\ng = globals()\n"


def _refuse(qtbot, window, tmp_path: Path) -> Path:
    path = tmp_path / "two_refusals.py"
    path.write_text(SOURCE)
    with qtbot.waitSignal(window.load_failed, timeout=30_000):
        window.open_scenario(path)
    return path


def test_each_refused_line_shows_its_own_reason(qtbot, window, tmp_path: Path) -> None:
    _refuse(qtbot, window, tmp_path)
    code = window.code
    assert code.error_line == 2
    assert set(code.refused) == {2, 4}
    assert code.refused[2].startswith("ScenarioRefused: importing 'os'")
    assert "more refused construct" not in code.refused[2]
    assert code.refused[4].startswith("the built-in 'globals' is not available")
    for line in (2, 4):
        note = code.note(line)
        assert note.startswith("◀ ") and "\n" not in note
        assert note.rstrip("…")[2:] in code.refused[line].replace("\n", " ")
    # both lines have the error's background, line 3 (between them) does not
    marked = {
        s.cursor.blockNumber() + 1
        for s in code.extraSelections()
        if s.format.background().color() == QColor(window.theme.error_line)
    }
    assert {2, 4} <= marked and 3 not in marked


def test_a_long_reason_is_elided_and_said_in_full_in_the_tooltip(qtbot) -> None:
    view = CodeView(LIGHT)
    qtbot.addWidget(view)
    view.resize(500, 200)
    view.show()
    qtbot.waitExposed(view)
    view.set_source(SOURCE)
    long = "ScenarioRefused: " + "a reason that goes on " * 20
    view.set_error(2, f"{long}\n1 more refused construct:\nline 4: the built-in 'globals'")
    note = view.note(2)
    assert note.endswith("…") and len(note) < len(long)
    assert view.refused[2] == long  # what the tooltip over line 2 says
    image = QImage(view.viewport().grab().toImage())
    top = view.blockBoundingGeometry(view.document().findBlockByNumber(3))
    y = int(top.translated(view.contentOffset()).center().y())
    x = view.fontMetrics().horizontalAdvance("g = globals()") + 40  # where line 4's note is
    red = QColor(LIGHT.error_text)
    near = [
        image.pixelColor(QPoint(xx, yy))
        for xx in range(x, min(x + 120, image.width()))
        for yy in range(y - 3, y + 4)
    ]
    assert any(abs(c.red() - red.red()) + abs(c.green() - red.green()) < 60 for c in near)


def test_refusal_list_reads_plain_and_notebook_rows() -> None:
    listed = refusal_list(
        "first reason\n3 more refused constructs:\nlines 4, 9: same\nline 12: other: with a colon"
    )
    assert listed.reason == "first reason" and listed.head == "3 more refused constructs:"
    assert [(r.where, r.lines, r.reason) for r in listed.rows] == [
        ("lines 4, 9", (4, 9), "same"),
        ("line 12", (12,), "other: with a colon"),
    ]
    nb = refusal_list(
        "r\n2 more refused constructs:\ncell 2, line 3; cell 3, line 1: why\n... and 1 more",
        [1, 10, 20],
    )
    assert [(r.lines, r.reason) for r in nb.rows] == [((13, 21), "why"), ((), "... and 1 more")]
    assert refusal_list("no list\nat all").reason == "no list\nat all"


def test_the_inspector_lists_the_refused_constructs(qtbot, window, tmp_path: Path) -> None:
    _refuse(qtbot, window, tmp_path)
    text = window.inspector.toPlainText()
    lines = [line.strip() for line in text.split("\n")]
    # the reason, the head, then line 4 on a line of its own (not one flattened paragraph)
    reason = next(i for i, line in enumerate(lines) if line.startswith("ScenarioRefused:"))
    assert "1 more refused construct" not in lines[reason]
    head = lines.index("1 more refused construct:")
    assert head > reason
    assert lines[head + 1].startswith("line 4: the built-in 'globals' is not available")
