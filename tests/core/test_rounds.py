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
    assert loop.passes == [[k, r] for k, r in enumerate([*range(1, 21), 100, 200])]
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
    # each step of a detailed round past a stretch says which round it belongs to
    assert between[0].text == "loss = ((w * x + b - y) ** 2).mean()  · round 100"
    assert all(s.text.endswith("· round 100") for s in between if s.kind == "statement")


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


def _rounds_left(trace: Trace) -> tuple[list[int], list[int]]:
    (loop,) = trace.loops
    return loop.summarised, loop.detailed


def test_continue_break_and_while_count_every_round() -> None:
    # a round that ends in `continue` is still a round (the next one begins at the header)
    source = "import torch\nw = torch.zeros(1, requires_grad=True)\nfor t in range(250):\n"
    source += "    if t % 2:\n        continue\n    loss = (w - t).pow(2).sum()\n"
    trace = record_scenario(scenario_from_source(source, "skip.py"))
    summarised, detailed = _rounds_left(trace)
    assert detailed == [100, 200]
    assert summarised == [r for r in range(1, 251) if not rounds.detailed(r)]
    (loop,) = trace.loops
    # the loss a round left: rounds with an odd t kept the previous round's
    plain = {r: float((r - 1) - (r - 1) % 2) ** 2 for r in range(1, 251)}
    assert [row[0] for row in loop.values] == [plain[r] for r in summarised]
    # a while loop's rounds are its condition's True answers; break ends the last one
    source = "import torch\nw = torch.zeros(1)\ni = 0\nwhile i < 10**6:\n"
    source += "    loss = (w - i).pow(2).sum()\n    i += 1\n    if i == 230:\n        break\n"
    trace = record_scenario(scenario_from_source(source, "while.py"))
    summarised, detailed = _rounds_left(trace)
    assert detailed == [100, 200] and summarised[-1] == 230 and len(summarised) == 230 - 22
    (loop,) = trace.loops
    assert loop.values[-1] == [229.0**2]
    assert trace.steps[-1].text.startswith("rounds 201–230 of `while i < 10**6:`")


def test_a_loop_else_runs_after_the_summarised_rounds() -> None:
    source = "import torch\nw = torch.zeros(1)\nfor t in range(150):\n    w = w + 1\n"
    source += "else:\n    v = w * 2\n"
    trace = record_scenario(scenario_from_source(source, "else.py"))
    texts = [s.text for s in trace.steps]
    assert texts[-2].startswith("rounds 101–150 of `for t in range(150):`")
    assert texts[-1] == "v = w * 2" and trace.steps[-1].variables["v"].value == [300.0]


def test_a_summary_follows_only_what_the_loop_touches() -> None:
    # y is a scalar tensor made before the loop, which never touches it: no "y 4 → 4"
    source = (
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * x\ny.backward()\n"
        "total = 0\nfor i in range(300):\n    total += i\n"
    )
    trace = record_scenario(scenario_from_source(source, "long.py"))
    (loop,) = trace.loops
    assert loop.names == []
    stretches = [s.text for s in trace.steps if "summarised" in s.text]
    assert stretches[0] == "rounds 21–99 of `for i in range(300):` summarised (no steps)"
    assert "y" not in trace.loops[0].detail_text()
    # a parameter the loop uses is followed, one it does not use is not
    source = (
        "import torch\nu = torch.tensor(1.0, requires_grad=True)\n"
        "w = torch.tensor(3.0, requires_grad=True)\nfor i in range(120):\n"
        "    loss = (w * 2) ** 2\n    loss.backward()\n"
        "    with torch.no_grad():\n        w -= 0.01 * w.grad\n    w.grad = None\n"
    )
    trace = record_scenario(scenario_from_source(source, "fit1.py"))
    (loop,) = trace.loops
    assert loop.names == ["loss", "w"]
    # the stretch names the first number that moved
    first = next(s.text for s in trace.steps if "summarised" in s.text)
    assert ": loss " in first


def test_summarised_rounds_run_without_the_recorders_marks() -> None:
    # trusted, the loop can look: the global module hooks (provenance) are off while a
    # round is summarised, and the recorder's step marks are not called
    source = (
        "import torch\nfrom torch.nn.modules import module as m\n"
        "lin = torch.nn.Linear(2, 1)\nx = torch.ones(3, 2)\nhooked = []\n"
        "for t in range(120):\n    out = lin(x).sum()\n"
        "    hooked.append(len(m._global_forward_pre_hooks))\n"
    )
    trace = record_scenario(scenario_from_source(source, "hooks.py"), trusted=True)
    assert trace.error is None, trace.error
    summarised, detailed = _rounds_left(trace)
    hooked = trace.stats  # the list itself is the scenario's: read it from a plain rerun
    ns: dict = {}
    from gradstep.record.recorder import Recorder

    scenario = scenario_from_source(source, "hooks.py")
    recorder = Recorder(scenario, ns)
    import ast

    recorder.run(ast.parse(source))
    hooked = ns["hooked"]
    assert [hooked[r - 1] for r in summarised] == [0] * len(summarised)
    assert [hooked[r - 1] for r in [*range(1, 21), *detailed]] == [1] * 21


def test_a_time_limit_in_a_long_loop_says_which_round_and_keeps_the_steps() -> None:
    from gradstep.record.deadline import Deadline

    source = (
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * x\ny.backward()\n"
        "total = 0\nfor i in range(10**9):\n    total += i\n"
    )
    # torch's lazy imports of a first backward (sympy) happen before the clock starts
    record_scenario(scenario_from_source(source.split("total")[0], "warm.py"))
    scenario = scenario_from_source(source, "long.py")
    deadline = Deadline(0.5, scenario.path)
    deadline.start()
    try:
        trace = record_scenario(scenario, deadline=deadline)
    finally:
        deadline.stop()
    assert trace.error is not None and trace.error.type == "TimeLimit"
    message = trace.error.message
    assert message.startswith("the scenario ran longer than the time limit of 0.5 s, in round ")
    assert message.endswith(" of `for i in range(10**9):` (line 6); the steps before it are kept")
    stopped = int(message.split("in round ")[1].split(" ")[0].replace(",", ""))
    assert stopped > 1000  # summarised rounds ran at plain speed until then
    # everything before is kept: the pass, the first rounds, the stretch up to that round
    assert len(trace.passes) == 1 and trace.variables["x"].grad == 4.0
    stretch = trace.steps[-2]
    assert stretch.text.endswith(f"{stopped:,} of `for i in range(10**9):` summarised (no steps)")
    assert trace.steps[-1].kind == "error" and trace.error.line in (6, 7)


def test_a_very_long_loop_details_rounds_ever_more_sparsely() -> None:
    later = [r for r in range(21, 1_000_001) if rounds.detailed(r)]
    assert later[:3] == [100, 200, 300] and 9_000 in later and 11_000 not in later
    assert 20_000 in later and 210_000 not in later and later[-1] == 1_000_000
    assert len(later) == 9 * 4 + 1  # a million rounds: 37 detailed past the first 20


def test_a_loop_of_many_rounds_keeps_its_rows_bounded(monkeypatch) -> None:
    monkeypatch.setattr(rounds, "MOST_ROWS", 100)
    source = "import torch\nw = torch.zeros(1, requires_grad=True)\nfor t in range(1000):\n"
    source += "    loss = (w - t).pow(2).sum()\n"
    trace = record_scenario(scenario_from_source(source, "many.py"))
    (loop,) = trace.loops
    assert loop.summarised_count == 1000 - 20 - 10 == trace.stats["summarised_rounds"]
    assert len(loop.summarised) < 100 and len(loop.summarised) == len(loop.values)
    stride = loop.summarised[1] - loop.summarised[0]
    assert stride in (8, 16) and all(r % stride == 0 for r in loop.summarised)
    assert all(row == [float(r - 1) ** 2, [0.0]] for r, row in zip(loop.summarised, loop.values))
    assert "970 summarised (loss, w each round)" in loop.detail_text()
    # a stretch still names its own first and last round's numbers
    last = [s.text for s in trace.steps if "summarised" in s.text][-1]
    assert (
        last
        == f"rounds 901–999 of `for t in range(1000):` summarised (no steps): loss {900**2:.4g} → {998**2:.4g}"
    )
    assert loads(dumps(trace)).loops == trace.loops


def test_loops_inside_a_top_level_with_block_have_rounds_too() -> None:
    # makemore trains inside `with torch.no_grad():`; two loops in one block, each its own
    source = (
        "import torch\nw = torch.zeros(1)\nwith torch.no_grad():\n"
        "    for t in range(150):\n        loss = (w - t).pow(2).sum()\n"
        "    z = w + 1\n"
        "    for k in range(130):\n        loss = (w - 2 * k).pow(2).sum()\n"
    )
    trace = record_scenario(scenario_from_source(source, "with.py"))
    assert trace.error is None, trace.error
    first, second = trace.loops
    assert (first.line, first.text, second.line, second.text) == (
        4,
        "for t in range(150):",
        7,
        "for k in range(130):",
    )
    assert first.summarised == [r for r in range(1, 151) if not rounds.detailed(r)]
    assert second.summarised == [r for r in range(1, 131) if not rounds.detailed(r)]
    assert [row[0] for row in second.values] == [float(2 * (r - 1)) ** 2 for r in second.summarised]
    assert trace.stats["summarised_rounds"] == first.summarised_count + second.summarised_count
    texts = [s.text for s in trace.steps]
    assert texts.index("z = w + 1") > texts.index(
        f"rounds 101–150 of `for t in range(150):` summarised (no steps): loss {100**2:.4g} → {149**2:.4g}"
    )
    assert texts[-1].startswith("rounds 101–130 of `for k in range(130):`")
    # a loop inside a function is not counted in rounds: each statement there is no step
    trace = record_scenario(
        scenario_from_source(
            "def f():\n    s = 0\n    for i in range(300):\n        s += i\n    return s\n\nv = f()\n",
            "fn.py",
        )
    )
    assert trace.loops == [] and trace.error is None


def test_a_time_limit_in_a_notebooks_loop_says_its_cell() -> None:
    from gradstep.record.deadline import Deadline

    # as the loader converts a notebook: a marker line per cell; the loop in a with block
    source = (
        "# %%\nimport torch\ntotal = 0\n# %%\nwith torch.no_grad():\n"
        "    for i in range(10**9):\n        total += i\n"
    )
    record_scenario(scenario_from_source(source.split("with")[0], "warm.ipynb"))  # imports
    scenario = scenario_from_source(source, "nb.ipynb")
    deadline = Deadline(1.0, scenario.path)
    deadline.start()
    try:
        trace = record_scenario(scenario, deadline=deadline)
    finally:
        deadline.stop()
    assert trace.error is not None and trace.error.type == "TimeLimit"
    assert trace.error.message.endswith(
        " of `for i in range(10**9):` (cell 2, line 2); the steps before it are kept"
    )
