"""A file that only defines test functions is run as pytest would run it: each test
after the file, in order, opened by a step, its backward passes recorded
(``gradstep.record.pytest_style``). PyTorch is the oracle of the recorded gradients."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
import torch

from gradstep.record import pytest_style
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import load_scenario
from gradstep.trace.model import Trace
from gradstep.trace.text import step_table

TESTS = """
import torch

def helper(x):
    return x * 2

def test_square():
    x = torch.tensor([3.0], requires_grad=True)
    y = (helper(x) ** 2).sum()
    y.backward()
    assert x.grad.item() == 24.0

def test_sin():
    a = torch.tensor([0.5, 1.5], requires_grad=True)
    torch.sin(a * a).sum().backward()
"""


def run(tmp_path: Path, source: str, *, trusted: bool = False) -> Trace:
    path = tmp_path / "test_lesson.py"
    path.write_text(textwrap.dedent(source).lstrip())
    return record_scenario(load_scenario(path), trusted=trusted)


def leaf_grads(trace: Trace, index: int) -> list[list[float]]:
    return [rec.grad_after for rec in trace.passes[index].nodes if rec.op == "AccumulateGrad"]


@pytest.mark.parametrize("trusted", [False, True], ids=["restricted", "trusted"])
def test_each_test_function_runs_in_order_as_a_section_with_pytorchs_numbers(
    tmp_path: Path, trusted: bool
) -> None:
    trace = run(tmp_path, TESTS, trusted=trusted)
    assert trace.error is None, trace.error
    opened = [(s.line, s.text) for s in trace.steps if "a test function" in s.text]
    assert opened == [
        (6, "test_square()  · a test function, run as pytest would"),
        (12, "test_sin()  · a test function, run as pytest would"),
    ]
    assert [p.line for p in trace.passes] == [9, 14]
    first_pass_step = trace.passes[0].first_step
    assert trace.steps[first_pass_step - 1].text.startswith("test_square()")
    # PyTorch as the oracle
    x = torch.tensor([3.0], requires_grad=True)
    ((x * 2) ** 2).sum().backward()
    a = torch.tensor([0.5, 1.5], requires_grad=True)
    torch.sin(a * a).sum().backward()
    assert leaf_grads(trace, 0) == [x.grad.tolist()]
    assert leaf_grads(trace, 1) == [a.grad.tolist()]
    note = (
        "test_lesson.py defines 2 test functions and calls none, so gradstep ran "
        "test_square() and test_sin() after the file, in order, as pytest would"
    )
    assert trace.stats["notes"][0].startswith(note)
    assert step_table(trace).count(note) == 1


def test_a_failing_test_ends_the_run_at_its_line(tmp_path: Path) -> None:
    trace = run(tmp_path, TESTS.replace("== 24.0", "== 25.0"))
    error = trace.error
    assert error is not None and error.type == "AssertionError" and error.line == 10
    assert len(trace.passes) == 1  # test_sin never ran


@pytest.mark.parametrize(
    "source",
    [
        TESTS + "\nif __name__ == '__main__':\n    test_square()\n",  # the file runs its tests
        TESTS + "\nx = torch.ones(1, requires_grad=True)\n(x * 2).sum().backward()\n",
        "import pytest\n\n@pytest.fixture\ndef test_data():\n    return 1\n",
        "def test_needs_a_fixture(tmp_path):\n    raise ValueError\n",
        "def testing():\n    pass\ntests = [testing]\n",
    ],
    ids=["calls them", "own backward", "decorated", "fixture", "named elsewhere"],
)
def test_files_that_are_more_than_tests_run_as_they_are(tmp_path: Path, source: str) -> None:
    tests = pytest_style.test_functions(ast.parse(textwrap.dedent(source)))
    if not source.startswith(TESTS):  # else it is the passes of its own that decide
        assert tests == []
    trace = run(tmp_path, source, trusted=True)
    assert not any("a test function" in s.text for s in trace.steps)
    assert "notes" not in trace.stats


def test_the_last_definition_of_a_name_counts() -> None:
    tree = ast.parse("def test_a():\n    pass\ndef test_b():\n    pass\ndef test_a():\n    pass\n")
    assert [(f.name, f.lineno) for f in pytest_style.test_functions(tree)] == [
        ("test_b", 3),
        ("test_a", 5),
    ]
