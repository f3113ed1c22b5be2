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
