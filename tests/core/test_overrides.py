"""What-if from the command line: top-level literals found, set in the source the worker
runs (never in the file), and the gradients that follow checked against PyTorch."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gradstep.cli import main
from gradstep.record.run import record_scenario
from gradstep.resources import bundled_scenarios
from gradstep.scenario.loader import load_scenario, scenario_from_source
from gradstep.scenario.overrides import (
    NotSettable,
    apply_overrides,
    find_literals,
    parse_value,
    scenario_with,
)
from gradstep.worker.client import record_file

LESSONS = {p.name[:2]: p for p in bundled_scenarios()}

FORMS = """\
import torch
import torch as T
from torch import tensor as tt

a = 1.5
b = -2
c: float = 0.25
d = torch.tensor(3.0, requires_grad=True)
e = T.tensor(-4, dtype=torch.float32)
f = torch.tensor(data=6.0)
g = torch.tensor(7.0).requires_grad_()
h = tt(8.0)
ŷ = torch.tensor(0.5)
i = 1.0; j = torch.tensor(2.0)
not_bool = True
not_list = torch.tensor([1.0, 2.0])
not_expr = 2 * 3
p, q = 1.0, 2.0
r = s = 3.0
not_other = torch.ones(())
for k in range(2):
    inside_loop = 5.0


def inside_function():
    inside = 1.0


with torch.no_grad():
    inside_with = 2.0
"""


def test_finds_the_accepted_forms_and_nothing_else():
    found = {lit.name: lit for lit in find_literals(FORMS)}
    assert list(found) == ["a", "b", "c", "d", "e", "f", "g", "h", "ŷ", "i", "j"]
    assert [found[n].value for n in found] == [1.5, -2, 0.25, 3.0, -4, 6.0, 7.0, 8.0, 0.5, 1.0, 2.0]
    assert found["b"].text == "-2" and not found["b"].tensor
    assert found["d"].tensor and found["d"].line == 8 and found["d"].key == "d@8"
    assert found["e"].text == "-4"


def test_setting_rewrites_only_the_literal_and_keeps_every_line():
    out = apply_overrides(FORMS, {"d": "5", "b": "7", "ŷ": "0.25", "i": "-3", "j": "9.5"})
    before, after = FORMS.split("\n"), out.split("\n")
    assert len(before) == len(after)
    changed = {n: (x, y) for n, (x, y) in enumerate(zip(before, after), 1) if x != y}
    assert changed == {
        6: ("b = -2", "b = 7"),
        8: (
            "d = torch.tensor(3.0, requires_grad=True)",
            "d = torch.tensor(5.0, requires_grad=True)",  # a float literal stays a float
        ),
        13: ("ŷ = torch.tensor(0.5)", "ŷ = torch.tensor(0.25)"),  # after a non-ASCII name
        14: ("i = 1.0; j = torch.tensor(2.0)", "i = -3.0; j = torch.tensor(9.5)"),
    }
    # an int literal takes a float as given; the result is still valid Python found again
    again = {lit.name: lit.value for lit in find_literals(apply_overrides(FORMS, {"e": "2.5"}))}
    assert again["e"] == 2.5


def test_a_name_that_is_not_a_literal_names_the_file_and_what_can_be_set():
    with pytest.raises(NotSettable) as e:
        apply_overrides(FORMS, {"not_expr": "1"}, "/course/lesson.py")
    message = e.value.message
    assert message.startswith("cannot set not_expr in lesson.py: it is not a top-level literal")
    assert "a (line 5)" in message and "d (line 8)" in message and "inside" not in message
    with pytest.raises(NotSettable, match="has no settable literal"):
        apply_overrides("import torch\ny = torch.ones(2)\n", {"y": "1"}, "s.py")


def test_a_name_set_on_several_lines_is_chosen_by_its_line():
    source = "x = 1.0\ny = x * 2\nx = 4.0\n"
    with pytest.raises(NotSettable, match=r"lines 1, 3; say which: x@1=… or x@3=…"):
        apply_overrides(source, {"x": "2"})
    assert apply_overrides(source, {"x@3": "2"}) == "x = 1.0\ny = x * 2\nx = 2.0\n"
    with pytest.raises(NotSettable, match="cannot set x@2"):
        apply_overrides(source, {"x@2": "2"})


@pytest.mark.parametrize("bad", ["abc", "nan", "inf", "1e999", "True", ""])
def test_a_value_must_be_a_finite_number(bad):
    with pytest.raises(ValueError):
        parse_value(bad)
    with pytest.raises(NotSettable, match="cannot set x in s.py"):
        apply_overrides("x = 1.0\n", {"x": bad}, "s.py")


def test_unparsable_source_is_left_for_the_check_to_report():
    assert apply_overrides("x = (1.0\n", {"x": "2"}) == "x = (1.0\n"
    assert find_literals("x = (1.0\n") == []


def test_a_notebooks_code_cells_are_top_level():
    (notebook,) = [p for p in bundled_scenarios() if p.suffix == ".ipynb"]
    scenario = load_scenario(notebook)
    (x,) = [lit for lit in find_literals(scenario.source) if lit.name == "x"]
    changed = scenario_with(scenario, {"x": "1.5"})
    assert changed.source.split("\n")[x.at - 1] == "x = torch.tensor(1.5, requires_grad=True)"
    assert [c.line for c in changed.cells] == [c.line for c in scenario.cells]
    assert changed.title == scenario.title


# ------------------------------------------------------------ PyTorch as the oracle
@pytest.mark.parametrize("x", [-1.25, 0.5, 2.0])
def test_sin_of_square_at_another_x_matches_torch(x):
    scenario = scenario_with(load_scenario(LESSONS["02"]), {"x": str(x)})
    trace = record_scenario(scenario, trusted=True)
    t = torch.tensor(x, requires_grad=True)
    torch.sin(t**2).backward()
    (first, _) = trace.passes
    (leaf,) = [r for r in first.nodes if r.op == "AccumulateGrad" and r.name == "x"]
    assert leaf.grad_after == pytest.approx(t.grad.item(), rel=1e-6)
    assert leaf.grad_after == pytest.approx(2 * x * math.cos(x**2), rel=1e-6)


def test_trace_set_runs_the_worker_with_the_value_and_leaves_the_file_alone(capsys):
    path = LESSONS["01"]
    before = path.read_bytes()
    assert main(["trace", str(path), "--set", "x=5.0", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    x = torch.tensor(5.0, requires_grad=True)
    (x**2).backward()
    assert doc["variables"]["x"]["grad"] == x.grad.item() == 10.0
    assert "x = torch.tensor(5.0, requires_grad=True)" in doc["scenario"]["source"]
    assert path.read_bytes() == before


def test_logistic_regression_with_other_parameters_matches_torch():
    trace = record_file(LESSONS["05"], overrides={"w": "-0.5", "b": "0.25", "x": "2"})
    assert trace.error is None
    w = torch.tensor(-0.5, requires_grad=True)
    b = torch.tensor(0.25, requires_grad=True)
    F.binary_cross_entropy(torch.sigmoid(w * 2.0 + b), torch.tensor(0.0)).backward()
    assert trace.variables["w"].grad == pytest.approx(w.grad.item(), rel=1e-6)
    assert trace.variables["b"].grad == pytest.approx(b.grad.item(), rel=1e-6)


def test_trace_set_of_an_unknown_name_is_a_clear_refusal(capsys):
    assert main(["trace", "01", "--set", "lr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "cannot set lr in 01_square.py: it is not a top-level literal" in err
    assert "The names that can be set: x (line 18)." in err


def test_set_needs_name_equals_number(capsys):
    with pytest.raises(SystemExit) as e:
        main(["trace", "01", "--set", "x"])
    assert e.value.code == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["trace", "01", "--set", "x=five"])
    assert "'five' is not a number" in capsys.readouterr().err


def test_export_takes_set_too(tmp_path: Path):
    out = tmp_path / "lesson.html"
    assert main(["export", "01", "--format", "html", "--set", "x=7", "-o", str(out)]) == 0
    assert "tensor(7.0" in out.read_text(encoding="utf-8")


def test_a_scenario_from_source_keeps_its_notes_when_set():
    s = scenario_from_source('"""Title"""\n# %% [markdown]\n# note\n# %%\nlr = 0.1\n', "a.py")
    changed = scenario_with(s, {"lr": 0.5})
    assert changed.source.endswith("lr = 0.5\n")
    assert [c.to_dict() for c in changed.notes] == [c.to_dict() for c in s.notes]


# ------------------------------------------------------------ Write value to file
def test_writing_a_value_changes_only_its_characters(tmp_path: Path):
    from gradstep.scenario.writeback import write_literal

    path = tmp_path / "s.py"
    text = (
        "\ufeff# é\r\nimport torch\r\nx = torch.tensor(3.0, requires_grad=True)  # x\r\nlr = 0.1\n"
    )
    path.write_bytes(text.encode("utf-8"))
    path.chmod(0o640)
    literal = write_literal(path, "x", "-2")
    assert literal.value == 3.0 and literal.line == 3
    assert path.read_bytes() == text.replace("tensor(3.0,", "tensor(-2.0,").encode("utf-8")
    assert path.stat().st_mode & 0o777 == 0o640
    write_literal(path, "lr@4", 0.25)
    assert path.read_bytes().endswith(b"\r\nlr = 0.25\n")
    with pytest.raises(NotSettable, match="cannot set y in s.py"):
        write_literal(path, "y", "1")
    assert [p.name for p in tmp_path.iterdir()] == ["s.py"]  # no temporary left


def test_writing_into_a_notebook_edits_its_cell(tmp_path: Path):
    from gradstep.scenario.writeback import write_literal

    (notebook,) = [p for p in bundled_scenarios() if p.suffix == ".ipynb"]
    path = tmp_path / notebook.name
    path.write_bytes(notebook.read_bytes())
    write_literal(path, "x", "1.5")
    before = json.loads(notebook.read_text(encoding="utf-8"))
    after = json.loads(path.read_text(encoding="utf-8"))
    changed = [
        (a["source"], b["source"])
        for a, b in zip(before["cells"], after["cells"])
        if a["source"] != b["source"]
    ]
    assert len(changed) == 1 and before["cells"] != after["cells"]
    old, new = ("".join(s) for s in changed[0])
    assert new == old.replace("torch.tensor(4.0,", "torch.tensor(1.5,")
    assert {k: v for k, v in after.items() if k != "cells"} == {
        k: v for k, v in before.items() if k != "cells"
    }
    (x,) = [lit for lit in find_literals(load_scenario(path).source) if lit.name == "x"]
    assert x.value == 1.5


def test_what_if_values_a_changed_file_made_moot_end(tmp_path: Path):
    from gradstep.scenario.writeback import still_set

    path = tmp_path / "s.py"
    path.write_text("x = 1.0\nlr = 0.1\nw = 2\n")
    kept = still_set(path, {"x@1": "1.0", "lr@2": "0.5", "w@9": "3", "gone": "1"})
    assert kept == {"lr@2": "0.5"}  # x holds its value now; w moved; gone is gone
