"""Readable text of a trace: steps are numbered from 1 wherever a user reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradstep.trace.model import ScenarioInfo, Step, Trace, VariableState
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
    assert "SinBackward0 (z) computes" in rows[10]  # index 10: the golden figure's step, "Step 11"


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
    assert rows[3].endswith("x: tensor → no tensor")  # del x, or x = 3: said as a change
    assert rows[4].endswith("→ 1")


# ------------------------------------------------- the table is not a terminal exploit

#: what a scenario could smuggle to the terminal that prints its trace
HOSTILE = {
    "window title": "\x1b]0;pwned\x07",
    "screen clear": "\x1b[2J\x1b[H",
    "clipboard write": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "C1 CSI": "\x9b31m",
    "bidi override": "safe\u202e)cod(",
    "isolate": "\u2066x\u2069",
    "backspace and bell": "a\x08\x07b",
    "carriage return": "shown\rhidden",
    "line separator": "a\u2028b",
    "lone surrogate": "x\ud800",
}


def _hostile_trace(text: str) -> Trace:
    from gradstep.trace.model import ScenarioInfo, Step, TraceError, VariableState

    trace = Trace(
        scenario=ScenarioInfo(path=f"p{text}.py", title=f"T{text}", summary="", source=text)
    )
    state = VariableState([], "float32", False, True, None, 1.0, None)
    trace.steps = [
        Step(0, "statement", 1, f"print({text!r})", output=f"{text}\nsecond {text}\n"),
        Step(1, "statement", 2, f"x{text} = 1", variables={f"x{text}": state}),
        Step(2, "error", 3, f"ValueError: {text}"),
    ]
    trace.error = TraceError(f"Error{text}", f"line one {text}\nline two", 3, "exception")
    return trace


def _active(text: str) -> list[str]:
    """The characters in ``text`` that a terminal would act on (newlines aside)."""
    return [
        c
        for c in text
        if c != "\n"
        and (
            ord(c) < 0x20
            or 0x7F <= ord(c) <= 0x9F
            or c in "\u061c\u200e\u200f\u2028\u2029"
            or 0x202A <= ord(c) <= 0x202E
            or 0x2066 <= ord(c) <= 0x2069
            or 0xD800 <= ord(c) <= 0xDFFF
        )
    ]


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_step_table_shows_control_characters_instead_of_sending_them(text: str) -> None:
    from gradstep.trace.text import error_line

    table = step_table(_hostile_trace(text))
    assert _active(table) == []
    table.encode("utf-8")  # printable on a UTF-8 terminal
    line = error_line(_hostile_trace(text), f"lesson{text}.py")
    assert _active(line) == []
    escaped = text.encode("unicode_escape").decode("ascii").replace("\\\\", "\\")
    assert escaped.split("\\")[1][:3] in table  # shown, e.g. \x1b, \u202e


def test_visible_escapes_only_what_acts_on_a_terminal() -> None:
    from gradstep.trace.clean import visible

    assert visible("tab\tnew\nline é ∂ 😀 ‍") == "tab\tnew\nline é ∂ 😀 ‍"
    assert visible("tab\tnew\nline", one_line=True) == "tab\\tnew\\nline"
    assert visible("\x1b]0;t\x07") == "\\x1b]0;t\\x07"
    assert visible("a\u202eb\ud800") == "a\\u202eb\\ud800"


def test_trace_json_printed_by_the_cli_is_the_same_data_with_nothing_active(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gradstep.cli import main

    lesson = tmp_path / "lesson.py"
    lesson.write_text(
        '"""Title\x1b]0;pwned\x07"""\nprint("\\x1b[2J\\x9b31m\\u202e")\n'
        'raise ValueError("\\x1b]52;c;cm0=\\x07 \\u2066")\n',
        encoding="utf-8",
    )
    assert main(["trace", str(lesson)]) == 1
    out, err = capsys.readouterr()
    assert _active(out) == [] and _active(err) == []
    assert "\\x1b[2J" in out and "\\x1b]52" in err
    assert main(["trace", str(lesson), "--json"]) == 1
    out, _ = capsys.readouterr()
    assert _active(out) == []
    document = json.loads(out)
    assert document["steps"][0]["output"] == "\x1b[2J\x9b31m\u202e\n"


def _tensor(value: list[float]) -> VariableState:
    return VariableState([], "float32", False, True, None, value, None)


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        # repro/rebind_tuple.py: inputs = (torch.rand(1), torch.rand(1)); inputs = torch.randn(3)
        (
            {"inputs": _tensor([1.5, 0.5, 2.0]), "inputs[0]": None, "inputs[1]": None},
            "inputs: (tensor, tensor) → [1.5000, 0.5000, 2]",
        ),
        ({"inputs[0]": None, "inputs[1]": None}, "inputs: (tensor, tensor) → no tensor"),
        (
            {"y": None, "y[0]": _tensor([1.0]), "y[1]": _tensor([0.0])},
            "y: tensor → (tensor, tensor), y[0] = [1], y[1] = [0]",
        ),
        ({"m.weight": None, "m.bias": None}, "m: (weight, bias) → no tensor"),
    ],
)
def test_a_rebound_name_reads_as_a_change_of_value(changes, said) -> None:
    trace = Trace(scenario=ScenarioInfo(path="s.py", title="s", summary="", source=""))
    trace.steps = [Step(0, "statement", 1, "inputs = torch.randn(3)", variables=changes)]
    row = step_table(trace).splitlines()[3]
    assert row.endswith(said), row
    assert "del " not in row
