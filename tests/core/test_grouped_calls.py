"""A call that runs the engine many times (gradcheck, jacrev, vmap, hessian) is one group
on its statement's step, named by the call as the scenario wrote it (``jacrev(f)(x)``),
not by torch's wrapper that made the backward calls (``wrapper_fn()``, ``wrapped()``)."""

from __future__ import annotations

import textwrap

from gradstep.record.run import record_scenario
from gradstep.scenario.loader import scenario_from_source

LESSON = """
import torch
from torch.func import grad, hessian, jacrev, vjp, vmap
x = torch.randn(3, requires_grad=True)
def f(t):
    return t.sin()
J = jacrev(f)(x)
H = torch.autograd.functional.hessian(lambda t: t.pow(3).sum(),
                                      x)
Hf = hessian(lambda t: t.sin().sum())(x)
_, vjp_fn = vjp(f, x)
rows = vmap(vjp_fn)(torch.eye(3))
def hvp_revrev(f, primals, tangents):
    _, vjp_fn = vjp(grad(f), *primals)
    return vjp_fn(*tangents)
r = hvp_revrev(lambda t: t.sin().sum(), (x,), (torch.ones(3),))
y = (x * 2).sum()
y.backward()
"""


def _notes(trusted: bool) -> dict[int | None, str]:
    source = textwrap.dedent(LESSON).lstrip()
    trace = record_scenario(scenario_from_source(source, "lesson.py"), trusted=trusted)
    assert trace.error is None, trace.error
    assert [p.line for p in trace.passes] == [17]  # only the scenario's own backward()
    return {s.line: s.text.partition("  · ")[2] for s in trace.steps if "  · " in s.text}


def test_a_grouped_call_is_named_as_written():
    for trusted in (True, False):
        notes = _notes(trusted)
        assert notes[6].startswith("jacrev(f)(x) ran 1 backward call of its own")
        # a call over two lines, its whitespace folded
        assert notes[7].startswith(
            "torch.autograd.functional.hessian(lambda t: t.pow(3).sum(), x) ran "
        )
        assert notes[9].startswith("hessian(lambda t: t.sin().sum())(x) ran ")
        assert notes[11].startswith("vmap(vjp_fn)(torch.eye(3)) ran ")
        # a function of the scenario's: the calls inside it, as written there
        assert notes[15].startswith(
            "vjp(grad(f), *primals) ran 1 backward call of its own; vjp_fn(*tangents) ran "
        )
        assert not any("wrapper" in n or "wrapped()" in n for n in notes.values()), notes


def test_a_long_call_is_cut_with_an_ellipsis():
    source = (
        "import torch\nx = torch.randn(2, dtype=torch.double, requires_grad=True)\n"
        "ok = torch.autograd.gradcheck(lambda very_long_argument_name: "
        "very_long_argument_name.sin() * 2, (x,), eps=1e-6, atol=1e-4)\n"
    )
    trace = record_scenario(scenario_from_source(source, "lesson.py"), trusted=True)
    note = next(s.text for s in trace.steps if s.line == 3).partition("  · ")[2]
    call = note.partition(" ran ")[0]
    assert call.startswith("torch.autograd.gradcheck(lambda very_long_argument_name:")
    assert call.endswith("…") and len(call) == 72
