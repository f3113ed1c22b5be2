"""Which warnings a step shows: those Python shows when the file runs as a script
(``python lesson.py``), beside the values the step set, never instead of them.

torch raises DeprecationWarnings inside its own code (``torch.func.hessian`` and
``fwAD.make_dual`` call ``torch.jit.script``); Python shows a DeprecationWarning
only when ``__main__``'s code raises it, so the lesson never sees those.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gradstep.record.run import record_scenario
from gradstep.scenario.loader import scenario_from_source
from gradstep.trace.model import Trace
from gradstep.trace.text import step_table

LESSON = """
import warnings
import torch
import torch.autograd.forward_ad as fwAD
from torch.func import hessian

h = hessian(lambda x: x.sin().sum())(torch.arange(3.0))
with fwAD.dual_level():
    d = fwAD.make_dual(torch.ones(2), torch.ones(2))
for i in range(3):
    warnings.warn("the lesson's own", DeprecationWarning)
    warnings.warn("a user warning")
x = torch.ones(2, requires_grad=True)
y = (x * 2)
g = y.grad
"""


def _record(source: str, *, trusted: bool) -> Trace:
    trace = record_scenario(
        scenario_from_source(textwrap.dedent(source), "lesson.py"), trusted=trusted
    )
    assert trace.error is None, trace.error
    return trace


def _warnings(trace: Trace) -> list[tuple[int | None, str]]:
    return [
        (s.line, line) for s in trace.steps for line in s.output.splitlines() if "Warning: " in line
    ]


def _plain_stderr(tmp_path: Path, source: str) -> str:
    path = tmp_path / "lesson.py"
    path.write_text(textwrap.dedent(source))
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stderr


def test_a_step_shows_the_warnings_python_shows_a_script(tmp_path):
    trace = _record(LESSON, trusted=True)
    shown = _warnings(trace)
    assert shown == [
        (11, "DeprecationWarning: the lesson's own"),
        (12, "UserWarning: a user warning"),
        (15, shown[2][1]),
    ]
    assert shown[2][1].startswith("UserWarning: The .grad attribute of a Tensor that is not a leaf")
    # the plain run is the oracle: the same warnings, at the same lines, once each
    stderr = _plain_stderr(tmp_path, LESSON)
    plain = [line for line in stderr.splitlines() if "Warning: " in line]
    assert [(int(p.split(":")[1]), p.split(": ", 1)[1].split(": ", 1)[0]) for p in plain] == [
        (line, text.split(": ", 1)[0]) for line, text in shown
    ]
    assert "torch.jit.script" not in "".join(s.output for s in trace.steps)


def test_the_hessian_step_keeps_its_value():
    source = """
    import torch
    import torch.autograd.forward_ad as fwAD
    from torch.func import hessian
    h = hessian(lambda x: x.sin().sum())(torch.arange(3.0))
    with fwAD.dual_level():
        d = fwAD.make_dual(torch.ones(2), torch.ones(2))
    """
    trace = _record(source, trusted=False)
    assert [s.output for s in trace.steps if s.line in (5, 7)] == ["", ""]
    row = next(r for r in step_table(trace).splitlines() if "h = hessian" in r)
    assert "h = [[" in row and "DeprecationWarning" not in row


def test_a_shown_warning_sits_beside_the_value_in_the_table():
    source = """
    import torch
    x = torch.ones(2, requires_grad=True)
    y = x * 2
    z = (y.grad, x * 3)[1]
    """
    trace = _record(source, trusted=False)
    row = next(r for r in step_table(trace).splitlines() if "z = (y.grad" in r)
    values = row.split("z = (y.grad, x * 3)[1]", 1)[1]
    assert "z = [3, 3]" in values and "→ UserWarning: The .grad attribute" in values
    assert values.index("z = [3, 3]") < values.index("→ UserWarning")


@pytest.mark.parametrize("trusted", [True, False])
def test_future_warnings_from_functorch_show_once_per_line(trusted):
    source = """
    import torch
    import functorch
    for i in range(3):
        g = functorch.grad(lambda t: (t * t).sum())(torch.ones(2))
    """
    trace = _record(source, trusted=trusted)
    shown = _warnings(trace)
    assert len(shown) == 1 and shown[0][0] == 5
    assert shown[0][1].startswith("FutureWarning: We've integrated functorch into PyTorch")
