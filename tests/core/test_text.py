"""Readable text of a trace: steps are numbered from 1 wherever a user reads them."""

from __future__ import annotations

import json
from pathlib import Path

from gradstep.trace.model import Trace
from gradstep.trace.text import step_label, step_number, step_table

GOLDEN = Path(__file__).parent.parent / "gui" / "golden" / "sin_of_square.trace.json"


def _trace() -> Trace:
    return Trace.from_dict(json.loads(GOLDEN.read_text(encoding="utf-8")))


def test_step_labels_count_from_one() -> None:
    assert step_number(0) == 1
    assert step_label(0, 35) == "Step 1 of 35"
    assert step_label(34, 35) == "Step 35 of 35"


def test_the_step_table_numbers_steps_from_one_to_their_count() -> None:
    trace = _trace()
    lines = step_table(trace).splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("step"))
    rows = lines[header + 1 : header + 1 + len(trace.steps)]
    numbers = [int(row.split()[0]) for row in rows]
    assert numbers == list(range(1, len(trace.steps) + 1))
    assert rows[0].split()[-2:] == ["import", "math"]  # index 0 in the trace is step 1
    assert "SinBackward0 computes" in rows[10]  # index 10: the golden figure's step, "Step 11"


def test_statement_rows_say_what_changed() -> None:
    from gradstep.trace.model import ScenarioInfo, Step, VariableState

    def x(value: float, grad: float | None) -> VariableState:
        return VariableState([], "float32", True, True, None, value, grad)

    trace = Trace(scenario=ScenarioInfo(path="s.py", title="s", summary="", source=""))
    trace.steps = [
        Step(
            0,
            "statement",
            1,
            "x = torch.tensor(3.0, requires_grad=True)",
            variables={"x": x(3.0, None)},
        ),
        Step(1, "statement", 2, "x.grad = torch.tensor(6.0)", variables={"x": x(3.0, 6.0)}),
        Step(2, "statement", 3, "x -= 0.1 * x.grad", variables={"x": x(2.4, 6.0)}),
        Step(3, "statement", 4, "del x", variables={"x": None}),
        Step(4, "statement", 5, "print(1)", output="1\n"),
    ]
    rows = step_table(trace).splitlines()[3:]
    assert rows[0].endswith("x = 3")
    assert rows[1].endswith("x.grad = 6")
    assert rows[2].endswith("x = 2.4000")
    assert rows[3].endswith("del x")
    assert rows[4].endswith("→ 1")
