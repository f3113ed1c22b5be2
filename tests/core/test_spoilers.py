"""An exercise's notes without their answers: the numbers of the lesson's notes that are
exercise answers (PyTorch's gradients) are "?", the data the scenario is given stays."""

from __future__ import annotations

import pytest

from gradstep.record.run import record_scenario
from gradstep.resources import bundled_scenarios
from gradstep.scenario.loader import load_scenario, scenario_from_source
from gradstep.trace.quiz import HIDDEN
from gradstep.trace.spoilers import Spoilers
from oracles import torch_lesson05

LESSONS = {p.name[:2]: p for p in bundled_scenarios()}


def spoilers(lesson: str) -> tuple[Spoilers, list[str]]:
    trace = record_scenario(load_scenario(LESSONS[lesson]), trusted=True)
    notes = [trace.scenario.summary or ""]
    notes += [c["text"] for c in trace.scenario.cells if c.get("kind") == "markdown"]
    return Spoilers(trace), notes


def test_lesson_05s_summary_keeps_its_words_and_data_not_torchs_gradients() -> None:
    oracle = torch_lesson05()
    s, notes = spoilers("05")
    summary, setup = notes[0], notes[1]
    w, b = f"{oracle['w']:.4f}", f"{oracle['b']:.4f}"
    assert f"w.grad = {w}" in summary and f"b.grad = {b}" in summary  # as the lesson says
    hidden = s.hide(summary)
    assert w not in hidden and b not in hidden
    assert hidden == summary.replace(w, HIDDEN).replace(b, HIDDEN)  # nothing else changed
    assert s.hide(setup) == setup  # "x = 6.7, label y = 0": what the code is given


def test_results_in_prose_are_hidden_and_the_inputs_stay() -> None:
    s, notes = spoilers("07")  # y = x² at x = 2: x.grad goes 4, then 4 + 4 = 8
    text = "\n".join(s.hide(n) for n in notes)
    assert "? + ? = ?" in text and "dy/dx = 2x = ?" in text
    assert "at x = 2" in text and "to 0" in text  # the input; a zero in prose
    assert " 4" not in text.replace("x = 2", "") and " 8" not in text


def test_a_number_the_code_writes_is_hidden_only_right_after_a_derivative() -> None:
    source = (
        '"""Two paths.\n\nAfter backward, a.grad = 3 and the data is 3 as written; the\n'
        'mean of the two is 3.0, and b.grad = 0.5000 while 1.5 is not an answer."""\n'
        "import torch\n"
        "a = torch.tensor(2.0, requires_grad=True)\n"
        "b = torch.tensor(3.0, requires_grad=True)\n"
        "(a * 3 + b * 0.5).backward()\n"
    )
    trace = record_scenario(scenario_from_source(source), trusted=True)
    hidden = Spoilers(trace).hide(trace.scenario.summary or "")
    assert hidden == (
        "After backward, a.grad = ? and the data is 3 as written; the\n"
        "mean of the two is 3.0, and b.grad = ? while 1.5 is not an answer."
    )
    assert trace.variables["a"].grad == pytest.approx(3.0)  # the answers, as torch has them
    assert trace.variables["b"].grad == pytest.approx(0.5)


def test_a_list_after_a_derivative_and_its_colon_is_hidden_whole() -> None:
    s, notes = spoilers("08")
    summary = s.hide(notes[0])
    assert "[?, ?, ?] for [1, 2, 3]" in summary  # the gradients, not the data
    assert "1.6667" not in summary and "0.3333" not in summary
