"""Long loops (record/rounds.py): the first rounds and every 100th in full detail, the rest
summarised as one row of numbers a round and one step a stretch, with PyTorch's numbers."""

from __future__ import annotations

import textwrap

import pytest
import torch

from gradstep.record import rounds
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import scenario_from_source
from gradstep.trace.io import dumps, loads
from gradstep.trace.model import Trace
from gradstep.trace.text import step_table

ROUNDS = 250
FIT = textwrap.dedent(
    f"""\
    import torch
    x = torch.linspace(-1, 1, 50)
    y = 2 * x + 1
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for t in range({ROUNDS}):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= 0.05 * w.grad
            b -= 0.05 * b.grad
        if t % 50 == 49:
            print(t, round(loss.item(), 6))
        w.grad.zero_()
        b.grad.zero_()
    done = w * 1
    """
)


def _plain_rounds() -> list[list]:
    """The oracle: the same loop in plain PyTorch, what each round leaves."""
    x = torch.linspace(-1, 1, 50)
    y = 2 * x + 1
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    rows = []
    for _ in range(ROUNDS):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= 0.05 * w.grad
            b -= 0.05 * b.grad
        w.grad.zero_()
        b.grad.zero_()
        rows.append([loss.item(), w.tolist(), b.tolist()])
    return rows


@pytest.fixture(scope="module")
def trace() -> Trace:
    t = record_scenario(scenario_from_source(FIT, "fit.py"))
    assert t.error is None, t.error
    return t


def test_which_rounds_are_detailed() -> None:
    assert [r for r in range(1, 3001) if rounds.detailed(r)][:22] == [*range(1, 21), 100, 200]
    assert [r for r in range(1, 3001) if rounds.detailed(r)][-4:] == [900, 1000, 2000, 3000]


def test_later_rounds_are_summarised_with_pytorchs_numbers(trace: Trace) -> None:
    (loop,) = trace.loops
    assert (loop.line, loop.text, loop.full_rounds) == (6, f"for t in range({ROUNDS}):", 20)
    assert loop.detailed == [100, 200]
    assert loop.summarised == [r for r in range(1, ROUNDS + 1) if not rounds.detailed(r)]
    assert loop.names == ["loss", "w", "b"]
    plain = _plain_rounds()
    assert loop.values == [plain[r - 1] for r in loop.summarised]  # exactly, every round
    # a pass for each detailed round only; the run ends where PyTorch's does
    assert len(trace.passes) == 22
    assert trace.variables["w"].value == plain[-1][1]
    assert trace.stats["summarised_rounds"] == ROUNDS - 22


def test_each_stretch_is_one_step_holding_what_it_left(trace: Trace) -> None:
    plain = _plain_rounds()
    stretches = [s for s in trace.steps if "summarised (no steps)" in s.text]
    assert [s.text.split(" of ")[0] for s in stretches] == [
        "rounds 21–99",
        "rounds 101–199",
        f"rounds 201–{ROUNDS}",
    ]
    assert stretches[0].text.endswith(f": loss {plain[20][0]:.4g} → {plain[98][0]:.4g}")
    for step, last in zip(stretches, (99, 199, ROUNDS)):
        assert step.line == 6
        assert step.variables["w"].value == plain[last - 1][1]  # stepping stays exact
    # what the summarised rounds printed is the stretch's output
    assert stretches[1].output == f"149 {round(plain[149][0], 6)}\n"  # t = 149: round 150
    # the detailed round 100 is stepped through as usual, its pass and all
    between = trace.steps[stretches[0].index + 1 : stretches[1].index]
    assert [s.kind for s in between].count("pass_start") == 1
    assert any(s.text.endswith("· 100th time") for s in between)


def test_trace_text_json_and_handout_say_which_rounds_are_detailed(trace: Trace) -> None:
    table = step_table(trace)
    assert (
        f"loop at line 6 (for t in range({ROUNDS}):): rounds 1–20, 100, 200 in full detail; "
        f"{ROUNDS - 22} summarised (loss, w, b each round)"
    ) in table
    again = loads(dumps(trace))
    assert again.loops == trace.loops


def test_a_short_loop_is_recorded_in_full() -> None:
    source = FIT.replace(f"range({ROUNDS})", "range(20)")
    trace = record_scenario(scenario_from_source(source, "fit.py"))
    assert trace.loops == [] and len(trace.passes) == 20
    assert "summarised_rounds" not in trace.stats


def test_an_error_in_a_summarised_round_stops_at_its_line() -> None:
    source = FIT.replace("    w.grad.zero_()\n", "    w.grad.zero_()\n    assert t < 150\n")
    trace = record_scenario(scenario_from_source(source, "fit.py"))
    assert trace.error is not None and trace.error.type == "AssertionError"
    assert trace.error.line == 15
    stretches = [s.text for s in trace.steps if "summarised" in s.text]
    assert stretches[-1].startswith("rounds 101–151 of")  # it ended in round 151
