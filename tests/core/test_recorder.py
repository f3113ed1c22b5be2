"""The recorder against PyTorch itself.

Each scenario below is recorded, then run again as plain Python with the
test's own hooks on every node (an independent, deliberately simple record of
what the engine did). The trace must agree with it on the number of passes,
the order of the nodes in each pass, every incoming and outgoing gradient,
every leaf's ``.grad`` before and after accumulation, every retained
gradient, and every variable's value and gradient at the end. Local
derivatives are checked against ``torch.autograd.functional.jacobian`` of
the op's function.
"""

from __future__ import annotations

import ast
import builtins
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn as nn

from gradstep.cli import main
from gradstep.record import passes as passes_module
from gradstep.record.recorder import Recorder
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import scenario_from_source
from gradstep.session import Session
from gradstep.trace import dumps, is_summary, loads
from gradstep.trace.model import Trace

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"

CASES: dict[str, str] = {
    "chain": """
x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
y = x * 3
z = torch.sin(y)
w = z.exp().sum()
w.backward()
""",
    "diamond": """
x = torch.tensor(1.5, requires_grad=True)
y = x * x + x
y.backward()
""",
    "parallel_edges": """
x = torch.tensor([1.0, -2.0], requires_grad=True)
y = (x * x).sum()
y.backward()
""",
    "retained": """
x = torch.tensor([1.0, 2.0], requires_grad=True)
h = x * 2
h.retain_grad()
out = (h**2).sum()
out.backward(retain_graph=True)
out = (h**3).sum()
out.backward()
""",
    "retained_then_freed_graph_error": """
x = torch.tensor([1.0, 2.0], requires_grad=True)
h = x * 2
h.retain_grad()
out = (h**2).sum()
out.backward()
out = (h**3).sum()
out.backward()
""",
    "accumulation_loop": """
x = torch.tensor(2.0, requires_grad=True)
for i in range(3):
    y = x**2
    y.backward()
""",
    "cross_entropy": """
torch.manual_seed(0)
logits = torch.randn(3, 5, requires_grad=True)
target = torch.tensor([1, 0, 4])
loss = F.cross_entropy(logits, target)
loss.backward()
""",
    "no_grad_block": """
x = torch.tensor([1.0, 3.0], requires_grad=True)
with torch.no_grad():
    y = x * 2
z = (x * y).sum()
z.backward()
""",
    "autograd_grad": """
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = (x**3).sum()
(g,) = torch.autograd.grad(y, x)
""",
    "autograd_grad_inputs": """
x = torch.tensor([1.0, 2.0], requires_grad=True)
h = torch.tanh(x)
z = (h * x).sum()
gh, gx = torch.autograd.grad(z, inputs=[h, x])
""",
    "second_order": """
x = torch.tensor(1.5, requires_grad=True)
y = x**3
(g,) = torch.autograd.grad(y, x, create_graph=True)
g.backward()
""",
    "module_and_optimizer": """
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
X = torch.randn(5, 3)
T = torch.randn(5, 2)
for step in range(2):
    opt.zero_grad(set_to_none=False)
    loss = F.mse_loss(model(X), T)
    loss.backward()
    opt.step()
""",
    "broadcasting": """
torch.manual_seed(1)
a = torch.randn(3, 1, requires_grad=True)
b = torch.randn(4, requires_grad=True)
c = (a + b) * 2.0
c.sum().backward()
""",
    "vector_to_vector": """
x = torch.tensor([0.1, 0.7, -0.3, 1.2], requires_grad=True)
s = torch.softmax(x, 0)
c = torch.cumsum(s, 0)
(c * torch.arange(4.0)).sum().backward()
""",
    "multiple_roots": """
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
a = (x * 2).sum()
b = (x**2).sum()
torch.autograd.backward([a, b])
""",
    "explicit_gradient": """
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x * x
y.backward(torch.tensor([1.0, 0.5, -1.0]))
""",
    "in_place": """
x = torch.tensor([0.5, 1.0], requires_grad=True)
y = x * 2
y.add_(1)
y.exp_()
y.sum().backward()
""",
    "backward_inputs": """
w = torch.tensor(2.0, requires_grad=True)
b = torch.tensor(1.0, requires_grad=True)
loss = (w * 3 + b) ** 2
torch.autograd.backward(loss, inputs=[w])
""",
    "retain_graph_twice": """
x = torch.tensor(3.0, requires_grad=True)
y = torch.sin(x) * x
y.backward(retain_graph=True)
y.backward()
""",
    "unused_output_gets_none": """
x = torch.arange(4.0, requires_grad=True)
a, b = torch.split(x, 2)
loss = (a * 3).sum()
loss.backward()
""",
    "scenario_function": """
def bce(p, t):
    p = torch.clamp(p, 1e-7, 1 - 1e-7)
    return -(t * torch.log(p) + (1 - t) * torch.log(1 - p))

w = torch.tensor(1.0, requires_grad=True)
loss = bce(torch.sigmoid(w * 6.7), torch.tensor(0.0))
loss.backward()
""",
    "detach_error": """
x = torch.tensor(2.0, requires_grad=True)
y = x**2
y.backward()
z = x.detach()
(z**2).backward()
""",
    "leaf_in_place_error": """
x = torch.tensor([1.0, 2.0], requires_grad=True)
(x * 2).sum().backward()
x.add_(1)
""",
    "backward_twice_error": """
x = torch.tensor(2.0, requires_grad=True)
y = torch.exp(x)
y.backward()
y.backward()
""",
    "non_scalar_error": """
x = torch.tensor([1.0, 2.0], requires_grad=True)
(x * 2).backward()
""",
}


# ---------------------------------------------------------------- the oracle
def clone(g: Any) -> torch.Tensor | None:
    return g.detach().clone() if isinstance(g, torch.Tensor) else None


@dataclass
class OraclePass:
    order: list[Any] = field(default_factory=list)  # nodes, by their first pre-hook
    grad_outputs: dict[Any, list[Any]] = field(default_factory=dict)
    grad_inputs: dict[Any, list[Any]] = field(default_factory=dict)
    before: dict[Any, Any] = field(default_factory=dict)
    after: dict[Any, Any] = field(default_factory=dict)
    retained: dict[str, Any] = field(default_factory=dict)


@dataclass
class Oracle:
    passes: list[OraclePass]
    namespace: dict[str, Any]
    error: BaseException | None


def reachable(roots: list[Any]) -> list[Any]:
    seen, stack, out = set(), list(roots), []
    while stack:
        n = stack.pop()
        if n is None or n in seen:
            continue
        seen.add(n)
        out.append(n)
        stack.extend(p for p, _ in n.next_functions)
    return out


def root_nodes(roots: Any) -> list[Any]:
    roots = [roots] if isinstance(roots, torch.Tensor) else list(roots)
    nodes = []
    for t in roots:
        if t.grad_fn is not None:
            nodes.append(t.grad_fn)
        elif t.requires_grad:
            nodes.append(t.view_as(t).grad_fn.next_functions[0][0])
    return nodes


def named_tensors(ns: dict[str, Any]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for name, v in ns.items():
        if name.startswith("_"):
            continue
        if isinstance(v, torch.Tensor):
            out[name] = v
        elif isinstance(v, nn.Module):
            out.update({f"{name}.{p}": t for p, t in v.named_parameters()})
        elif isinstance(v, (list, tuple)):
            out.update({f"{name}[{i}]": t for i, t in enumerate(v) if isinstance(t, torch.Tensor)})
    return out


def run_with_own_hooks(source: str) -> Oracle:
    """Plain PyTorch; each backward call hooked by this test, independently of gradstep."""
    ns: dict[str, Any] = {"__builtins__": builtins, "__name__": "__main__"}
    passes: list[OraclePass] = []
    real_backward, real_grad = torch.autograd.backward, torch.autograd.grad

    def recorded(real: Any) -> Any:
        def call(roots: Any, *args: Any, **kwargs: Any) -> Any:
            starts = root_nodes(roots)
            if not starts:  # nothing to walk back through: the engine refuses, no pass begins
                return real(roots, *args, **kwargs)
            p = OraclePass()
            handles = []
            for n in reachable(starts):
                if type(n).__name__ == "AccumulateGrad":
                    v = n.variable

                    def pre_leaf(go: Any, n: Any = n, v: Any = v) -> None:
                        p.order.append(n)
                        p.grad_outputs[n] = [clone(g) for g in go]
                        p.before[n] = clone(v.grad)

                    def acc(t: Any, n: Any = n) -> None:
                        p.after[n] = clone(t.grad)

                    handles.append(n.register_prehook(pre_leaf))
                    handles.append(v.register_post_accumulate_grad_hook(acc))
                else:

                    def pre(go: Any, n: Any = n) -> None:
                        p.order.append(n)
                        p.grad_outputs[n] = [clone(g) for g in go]

                    def post(gi: Any, go: Any, n: Any = n) -> None:
                        p.grad_inputs[n] = [clone(g) for g in gi]

                    handles.append(n.register_prehook(pre))
                    handles.append(n.register_hook(post))
            passes.append(p)
            try:
                return real(roots, *args, **kwargs)
            finally:
                for h in handles:
                    h.remove()
                for name, t in named_tensors(ns).items():
                    if not t.is_leaf and t.retains_grad and t.grad is not None:
                        p.retained[name] = clone(t.grad)

        return call

    torch.autograd.backward = recorded(real_backward)
    torch.autograd.grad = recorded(real_grad)
    error = None
    try:
        exec(compile(source, "oracle.py", "exec"), ns)
    except Exception as e:
        error = e
    finally:
        torch.autograd.backward, torch.autograd.grad = real_backward, real_grad
    return Oracle(passes, ns, error)


# ------------------------------------------------------------- comparisons
def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(value, value)


def same(value: Any, t: torch.Tensor | None, what: str) -> None:
    """An encoded tensor is exactly the tensor (summaries: its statistics)."""
    if t is None:
        assert value is None, f"{what}: {value!r} where PyTorch has None"
        return
    assert value is not None, f"{what}: None where PyTorch has {t}"
    if is_summary(value):
        assert value["shape"] == list(t.shape), what
        assert value["norm"] == pytest.approx(t.double().norm().item(), rel=1e-5), what
        assert value["max"] == pytest.approx(t.max().item(), rel=1e-6), what
        return
    got = torch.tensor(decode(value), dtype=t.dtype)
    assert got.shape == t.shape, f"{what}: shape {list(got.shape)} != {list(t.shape)}"
    assert torch.equal(got, t.detach()) or torch.allclose(got, t.detach(), equal_nan=True), (
        f"{what}: {value} != {t}"
    )


def record(source: str, name: str = "case.py") -> Trace:
    return record_scenario(scenario_from_source(source, name), trusted=True)


def assert_matches_pytorch(trace: Trace, oracle: Oracle) -> None:
    assert not trace.stats.get("recording_errors"), trace.stats["recording_errors"]
    assert len(trace.passes) == len(oracle.passes), "one pass per backward call"
    for k, (bpass, op) in enumerate(zip(trace.passes, oracle.passes)):
        ops = [r.op for r in bpass.nodes]
        assert ops == [type(n).__name__ for n in op.order], f"pass {k}: engine order"
        for rec, n in zip(bpass.nodes, op.order):
            where = f"pass {k}, {rec.op} {rec.name or rec.node}"
            assert len(rec.grad_outputs) == len(op.grad_outputs[n]), where
            for v, t in zip(rec.grad_outputs, op.grad_outputs[n]):
                same(v, t, f"{where}: grad_outputs")
            if rec.op == "AccumulateGrad":
                same(rec.grad_before, op.before[n], f"{where}: .grad before")
                same(rec.grad_after, op.after.get(n), f"{where}: .grad after")
            elif n in op.grad_inputs:
                assert len(rec.grad_inputs) == len(op.grad_inputs[n]), where
                for v, t in zip(rec.grad_inputs, op.grad_inputs[n]):
                    same(v, t, f"{where}: grad_inputs")
        assert set(bpass.retained) >= set(op.retained)
        for name, t in op.retained.items():
            same(bpass.retained[name], t, f"pass {k}: retained {name}")
    tensors = named_tensors(oracle.namespace)
    assert set(trace.variables) == set(tensors)
    for name, t in tensors.items():
        v = trace.variables[name]
        assert v.shape == list(t.shape) and v.dtype == str(t.dtype).removeprefix("torch.")
        assert (v.requires_grad, v.is_leaf) == (t.requires_grad, t.is_leaf), name
        assert v.grad_fn == (type(t.grad_fn).__name__ if t.grad_fn is not None else None), name
        same(v.value, t.detach(), f"{name}.value")
        same(v.grad, t.grad if (t.is_leaf or t.retains_grad) else None, f"{name}.grad")


@pytest.mark.parametrize("case", sorted(CASES))
def test_trace_matches_pytorch(case: str):
    source = HEADER + CASES[case]
    trace = record(source)
    oracle = run_with_own_hooks(source)
    assert_matches_pytorch(trace, oracle)
    if oracle.error is None:
        assert trace.error is None, trace.error
    else:
        err = trace.error
        assert err is not None and err.kind == "exception"
        assert (err.type, err.message) == (type(oracle.error).__name__, str(oracle.error))
        tb = oracle.error.__traceback__
        while tb.tb_next is not None and tb.tb_next.tb_frame.f_code.co_filename == "oracle.py":
            tb = tb.tb_next
        assert err.line == tb.tb_lineno
        assert trace.steps[-1].kind == "error" and trace.steps[-1].line == err.line


# ------------------------------------------------------- particular promises
def test_an_error_step_shows_the_first_line_of_a_long_message_cut_with_an_ellipsis():
    message = "first " + "x" * 300 + "\nsecond line"
    trace = record(HEADER + f"raise ValueError({message!r})\n")
    err = trace.error
    assert err is not None and err.message == message  # the whole message is kept
    step = trace.steps[-1]
    assert step.kind == "error" and step.line == 4
    assert step.text.startswith("ValueError: first xxx") and "second" not in step.text
    assert len(step.text) == 160 and step.text.endswith("…")


def test_accumulation_keeps_4_then_8_not_the_rewritten_buffer():
    trace = record(HEADER + CASES["accumulation_loop"])
    leaf = [r for p in trace.passes for r in p.nodes if r.op == "AccumulateGrad"]
    assert [(r.grad_before, r.grad_after) for r in leaf] == [(None, 4.0), (4.0, 8.0), (8.0, 12.0)]
    steps = [s for s in trace.steps if s.kind == "accumulate"]
    assert [s.variables["x"].grad for s in steps] == [4.0, 8.0, 12.0]


def test_each_pass_end_shows_the_new_retained_gradient():
    source = HEADER + (
        "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "h = x * 2\n"
        "h.retain_grad()\n"
        "out = (h * h).sum()\n"
        "for i in range(6):\n"
        "    out.backward(retain_graph=True)\n"
    )
    trace = record(source)
    # the state at the end of each pass (the deltas folded up to there)
    session = Session(trace)
    shown = [session.variables_at(p.last_step)["h"].grad for p in trace.passes]
    h = torch.tensor([2.0, 4.0])
    assert shown == [(2 * h * k).tolist() for k in range(1, 7)]  # a new .grad tensor each pass
    assert trace.variables["h"].grad == shown[-1]


def test_zero_grad_in_place_shows_zero_before_the_next_accumulation():
    trace = record(HEADER + CASES["module_and_optimizer"])
    first, second = trace.passes
    (w1,) = [r for r in first.nodes if r.name == "model.0.weight"]
    (w2,) = [r for r in second.nodes if r.name == "model.0.weight"]
    assert w1.grad_before is None
    assert w2.grad_before == [[0.0] * 3] * 4  # zero_grad(set_to_none=False) zeroed in place
    assert w2.grad_after != w1.grad_after


def test_names_are_taken_when_backward_is_called():
    trace = record(HEADER + CASES["accumulation_loop"])
    for bpass in trace.passes:
        assert bpass.root_name == "y"
        assert [r.name for r in bpass.nodes] == ["y", "x"]
    assert len({p.roots[0] for p in trace.passes}) == 3  # a new node each iteration


def test_in_place_ops_repoint_grad_fn_and_nodes_keep_their_line():
    source = HEADER + CASES["in_place"]
    trace = record(source)
    assert trace.variables["y"].grad_fn == "ExpBackward0"
    lines = source.split("\n")
    ops = {trace.nodes[r.node].op: trace.nodes[r.node].line for r in trace.passes[0].nodes}
    assert lines[ops["ExpBackward0"] - 1] == "y.exp_()"
    assert lines[ops["AddBackward0"] - 1] == "y.add_(1)"
    assert lines[ops["MulBackward0"] - 1] == "y = x * 2"


def test_nodes_made_in_loops_and_functions_point_at_their_own_lines():
    source = HEADER + CASES["scenario_function"]
    trace = record(source)
    lines = source.split("\n")
    made = {n.op: lines[n.line - 1].strip() for n in trace.nodes.values() if n.kind == "op"}
    assert made["ClampBackward1"] == "p = torch.clamp(p, 1e-7, 1 - 1e-7)"
    assert made["NegBackward0"].startswith("return -(t * torch.log(p)")
    assert made["SigmoidBackward0"].startswith("loss = bce(")
    loop = record(HEADER + CASES["accumulation_loop"])
    lines = (HEADER + CASES["accumulation_loop"]).split("\n")
    assert {lines[n.line - 1].strip() for n in loop.nodes.values() if n.kind == "op"} == {
        "y = x**2"
    }


def test_module_paths_of_nodes_and_parameters():
    source = HEADER + (
        "torch.manual_seed(0)\n"
        "class Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.linear = nn.Linear(3, 3)\n"
        "    def forward(self, x):\n"
        "        return torch.relu(self.linear(x)) + x\n"
        "layer = nn.Linear(3, 1)\n"
        "model = nn.Sequential(Block(), layer)\n"
        "x = torch.randn(2, 3)\n"
        "loss = model(x).pow(2).mean()\n"
        "loss.backward()\n"
    )
    trace = record(source)
    by_op = {}
    for n in trace.nodes.values():
        by_op.setdefault(n.op, set()).add(n.module)
    assert by_op["ReluBackward0"] == {"model.0"}
    assert by_op["AddBackward0"] == {"model.0"}  # the residual add, in Block.forward
    assert by_op["AddmmBackward0"] == {"model.0.linear", "model.1"}
    assert by_op["PowBackward0"] == {None} and by_op["MeanBackward0"] == {None}
    leaves = {n.name: n.module for n in trace.nodes.values() if n.kind == "leaf"}
    # named from the outermost bound module, even though `layer` is bound too
    assert leaves == {
        "model.0.linear.weight": "model.0.linear",
        "model.0.linear.bias": "model.0.linear",
        "model.1.weight": "model.1",
        "model.1.bias": "model.1",
    }
    assert "layer.weight" not in trace.variables


def test_names_follow_module_trees_that_change_between_statements():
    # the recorder reuses the module and parameter names while the trees are unchanged
    source = HEADER + (
        "torch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(3, 3))\n"
        "model.append(nn.Linear(3, 1))\n"  # a new submodule
        "model[1] = nn.Linear(3, 2)\n"  # replaced under the same name
        "model[0].weight = nn.Parameter(torch.ones(3, 3))\n"  # a parameter replaced
        "model[0].register_parameter('extra', nn.Parameter(torch.zeros(3)))\n"
        "w = model[0].weight\n"  # bound by name too: listed, but the module path names it
        "loss = (model(torch.randn(2, 3)).sum() + model[0].extra.sum())\n"
        "loss.backward()\n"
    )
    trace = record(source)
    in_pass = {r.name for r in trace.passes[0].nodes if r.op == "AccumulateGrad"}
    assert in_pass == {
        "model.0.weight", "model.0.bias", "model.0.extra", "model.1.weight", "model.1.bias"
    }  # fmt: skip
    assert trace.variables["model.1.weight"].shape == [2, 3]
    assert trace.variables["w"].value == [[1.0] * 3] * 3
    assert trace.variables["model.0.weight"].value == [[1.0] * 3] * 3
    by_text = {s.text: set(s.variables) for s in trace.steps if s.kind == "statement"}
    assert {"model.1.weight", "model.1.bias"} <= by_text["model.append(nn.Linear(3, 1))"]
    assert (
        "model.0.extra"
        in by_text["model[0].register_parameter('extra', nn.Parameter(torch.zeros(3)))"]
    )


def test_a_loop_variable_over_the_parameters_hides_no_parameter_name():
    """``for param in model.parameters()`` (the polynomial tutorials' manual update) used
    to leave only ``param`` listed: the module's names stay, and name the leaves."""
    source = HEADER + (
        "torch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(2, 1))\n"
        "loss = model(torch.randn(4, 2)).pow(2).sum()\n"
        "loss.backward()\n"
        "with torch.no_grad():\n"
        "    for param in model.parameters():\n"
        "        param -= 0.1 * param.grad\n"
        "loss = model(torch.randn(4, 2)).pow(2).sum()\n"
        "loss.backward()\n"
    )
    trace = record(source)
    assert {"model.0.weight", "model.0.bias", "param"} <= set(trace.variables)
    for bpass in trace.passes:
        leaves = {r.name for r in bpass.nodes if r.op == "AccumulateGrad"}
        assert leaves == {"model.0.weight", "model.0.bias"}


def test_a_pass_is_labelled_with_its_call_as_written():
    source = HEADER + (
        "x = torch.ones(3, requires_grad=True)\n"
        "y = x * 2\n"
        "y.backward(gradient=torch.ones(3))\n"
        "z = (x ** 2)\n"
        "z.sum().backward()\n"
        "(g,) = torch.autograd.grad((x * 3).sum(), x)\n"
    )
    trace = record(source)
    labels = [s.text for s in trace.steps if s.kind == "pass_start"]
    assert labels == [
        "pass 1: y.backward(gradient=torch.ones(3)) — 2 nodes",
        "pass 2: z.sum().backward() — 3 nodes",
        "pass 3: torch.autograd.grad((x * 3).sum(), x) — 3 nodes",
    ]


def test_tensor_hook_with_none_is_a_step():
    trace = record(HEADER + CASES["unused_output_gets_none"])
    texts = [s.text for s in trace.steps if s.kind == "tensor_hook"]
    assert "b receives no gradient (None)" in texts


def test_autograd_grad_results_and_no_accumulation():
    trace = record(HEADER + CASES["autograd_grad_inputs"])
    (bpass,) = trace.passes
    assert bpass.kind == "grad"
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = torch.tanh(x)
    gh, gx = torch.autograd.grad((h * x).sum(), [h, x])
    same(bpass.results[0], gh, "gh")
    same(bpass.results[1], gx, "gx")
    assert "AccumulateGrad" not in [r.op for r in bpass.nodes]
    assert trace.variables["x"].grad is None


def test_second_order_pass_contains_the_nodes_made_by_the_first():
    source = HEADER + CASES["second_order"]
    trace = record(source)
    first, second = trace.passes
    assert (first.kind, second.kind) == ("grad", "backward")
    assert trace.variables["x"].grad == pytest.approx(6 * 1.5)
    new = {r.node for r in second.nodes} - {r.node for r in first.nodes}
    lines = source.split("\n")
    # made while the first pass ran, on its line
    assert new and {lines[trace.nodes[n].line - 1] for n in new if trace.nodes[n].kind == "op"} == {
        "(g,) = torch.autograd.grad(y, x, create_graph=True)"
    }


def test_pass_count_equals_backward_calls():
    trace = record(HEADER + CASES["retain_graph_twice"])
    assert len(trace.passes) == 2
    assert [s.kind for s in trace.steps].count("pass_start") == 2
    assert [s.kind for s in trace.steps].count("pass_end") == 2
    for p in trace.passes:
        kinds = [trace.steps[i].kind for i in range(p.first_step, p.last_step + 1)]
        assert kinds[0] == "pass_start" and kinds[-1] == "pass_end"
        assert set(kinds[1:-1]) <= {"receive", "compute", "accumulate", "tensor_hook"}


# --------------------------------------------------------- local derivatives
def jac(f: Any, *inputs: torch.Tensor) -> list[torch.Tensor]:
    j = torch.autograd.functional.jacobian(f, inputs)
    return list(j)


LOCAL_CASES = [
    # (inputs, expression for out from the inputs, the root op, the op's function)
    (["x = torch.tensor(3.0, requires_grad=True)"], "x**2", "PowBackward0", lambda x: x**2),
    (
        ["x = torch.tensor([0.5, 1.0, -2.0], requires_grad=True)"],
        "torch.sin(x)",
        "SinBackward0",
        torch.sin,
    ),
    (
        [
            "x = torch.tensor([0.5, 1.0, -2.0], requires_grad=True)",
            "w = torch.tensor([2.0, -1.0, 3.0], requires_grad=True)",
        ],
        "x * w",
        "MulBackward0",
        lambda x, w: x * w,
    ),
    (
        ["x = torch.tensor([0.1, 0.7, -0.3, 1.2], requires_grad=True)"],
        "torch.softmax(x, 0)",
        "SoftmaxBackward0",
        lambda x: torch.softmax(x, 0),
    ),
    (
        ["x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)"],
        "x.mean()",
        "MeanBackward0",
        torch.mean,
    ),
    (
        [
            "a = torch.tensor([[1.0], [2.0], [3.0]], requires_grad=True)",
            "b = torch.tensor([0.5, -0.5, 1.0, 2.0], requires_grad=True)",
        ],
        "a + b",
        "AddBackward0",
        lambda a, b: a + b,
    ),
    (
        [
            "A = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]], requires_grad=True)",
            "B = torch.tensor([[1.0, 0.5], [2.0, 0.0], [-1.0, 1.0]], requires_grad=True)",
        ],
        "A @ B",
        "MmBackward0",
        lambda A, B: A @ B,
    ),
    (
        ["z = torch.tensor(0.3, requires_grad=True)"],
        "torch.sigmoid(z)",
        "SigmoidBackward0",
        torch.sigmoid,
    ),
]


@pytest.mark.parametrize("inputs,expr,op,fn", LOCAL_CASES, ids=[c[2] for c in LOCAL_CASES])
def test_local_jacobians_equal_autograd_functional(inputs: list[str], expr: str, op: str, fn: Any):
    source = HEADER + "\n".join(inputs) + f"\nout = {expr}\nout.backward(torch.ones_like(out))\n"
    trace = record(source)
    assert trace.error is None, trace.error
    (rec,) = [r for r in trace.passes[0].nodes if r.name == "out"]
    assert rec.op == op
    ns: dict[str, Any] = {"torch": torch}
    exec("\n".join(inputs), ns)
    tensors = [ns[line.split(" = ")[0]] for line in inputs]
    expected = jac(fn, *tensors)
    kinds = rec.local_derivative_kinds
    for slot, (value, j) in enumerate(zip(rec.local_derivatives, expected)):
        assert kinds[slot] in ("scalar", "jacobian")
        assert torch.allclose(torch.tensor(value), j, atol=1e-6), f"slot {slot}: {value} != {j}"


def test_large_nodes_get_the_vjp_with_ones():
    source = HEADER + (
        "x = torch.linspace(-1, 1, 40, requires_grad=True)\n"
        "out = torch.softmax(x, 0)\n"
        "out.backward(torch.ones_like(out))\n"
    )
    trace = record(source)
    (rec,) = [r for r in trace.passes[0].nodes if r.name == "out"]
    assert rec.local_derivative_kinds == ["vjp_ones"]
    x = torch.linspace(-1, 1, 40)
    (j,) = jac(lambda x: torch.softmax(x, 0), x)
    assert torch.allclose(torch.tensor(rec.local_derivatives[0]), j.sum(0), atol=1e-6)


def test_formula_is_filled_in_for_scalars():
    trace = record(HEADER + "x = torch.tensor(3.0, requires_grad=True)\ny = x**2\ny.backward()\n")
    (rec,) = [r for r in trace.passes[0].nodes if r.op == "PowBackward0"]
    assert rec.formula is not None and rec.formula.endswith("= 6")
    assert rec.saved == {"exponent": 2, "self": 3.0}


@pytest.mark.parametrize("case", ["accumulation_loop", "module_and_optimizer", "retained"])
def test_encoding_during_the_pass_when_memory_runs_short(
    case: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(passes_module, "MAX_HELD_BYTES", 0)  # encode at every hook call
    source = HEADER + CASES[case]
    assert_matches_pytorch(record(source), run_with_own_hooks(source))


@pytest.mark.parametrize(
    "expr",
    [
        "torch.sin(x)",
        "torch.cos(x)",
        "torch.tanh(x)",
        "torch.sigmoid(x)",
        "torch.exp(x)",
        "torch.log(x)",
        "torch.sqrt(x)",
        "torch.relu(x)",
        "torch.abs(x)",
        "x.reciprocal()",
        "torch.log1p(x)",
        "x**3",
    ],
)
def test_scalar_formulas_agree_with_the_local_derivative(expr: str):
    trace = record(
        HEADER + f"x = torch.tensor(0.7, requires_grad=True)\ny = {expr}\ny.backward()\n"
    )
    (rec,) = [r for r in trace.passes[0].nodes if r.name == "y"]
    assert rec.local_derivative_kinds == ["scalar"]
    x = torch.tensor(0.7, requires_grad=True)
    (expected,) = torch.autograd.grad(eval(expr, {"torch": torch, "x": x}), x)
    assert rec.local_derivatives[0] == pytest.approx(expected.item(), rel=1e-6)
    # "d(sin x)/dx = cos x = 0.7648 at x = 0.7", "d(xⁿ)/dx = n·xⁿ⁻¹ = 3·0.7² = 1.47"
    shown = float(rec.formula.split(" at ")[0].rsplit("= ", 1)[1])
    assert shown == pytest.approx(expected.item(), rel=1e-3)


# ---------------------------------------------------------- hooks go away
def test_every_hook_is_removed_after_each_pass(monkeypatch: pytest.MonkeyPatch):
    made: list[passes_module.PassHooks] = []
    handles: list[Any] = []
    real_init, real_remove = passes_module.PassHooks.__init__, passes_module.PassHooks.remove

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        made.append(self)

    def remove(self: Any) -> None:
        handles.extend(self._handles)
        real_remove(self)

    monkeypatch.setattr(passes_module.PassHooks, "__init__", init)
    monkeypatch.setattr(passes_module.PassHooks, "remove", remove)
    source = HEADER + (
        "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "h = x * 3\n"
        "h.retain_grad()\n"
        "y = (h**2).sum()\n"
        "y.backward(retain_graph=True)\n"
        "y.backward(retain_graph=True)\n"
    )
    s = scenario_from_source(source, "hooks.py")
    ns: dict[str, Any] = {"__builtins__": builtins, "__name__": "__main__"}
    rec = Recorder(s, ns)
    with rec.patched_autograd():
        trace = rec.run(ast.parse(source))
    assert len(made) == 2 and handles
    for h in handles:  # each handle's dictionary no longer holds its hook
        d = h.hooks_dict_ref()
        assert d is None or h.id not in d
    assert not ns["x"]._post_accumulate_grad_hooks
    assert not (ns["h"]._backward_hooks or {})
    # a further backward outside the recorder fires nothing of the recorder's
    counts = [len(p.events) for p in made]
    steps = len(trace.steps)
    ns["y"].backward()
    assert [len(p.events) for p in made] == counts
    assert len(trace.steps) == steps and len(trace.passes) == 2
    assert ns["x"].grad.tolist() == [3 * 2 * 3.0 * 3, 3 * 2 * 6.0 * 3]


# ----------------------------------------------------------- the JSON form
def test_json_contract_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    f = tmp_path / "contract.py"
    f.write_text(
        '"""A contract\n\nWhat the trace promises."""\n'
        + HEADER
        + "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "y = (x * x).sum()\n"
        "y.backward()\n"
        "z = x.detach()\n"
        "z.sum().backward()\n"
    )
    assert main(["trace", "--trust", "--json", str(f)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "gradstep.trace" and doc["version"] == 1
    assert doc["scenario"]["title"] == "A contract"
    x = doc["variables"]["x"]
    assert x == {
        "shape": [2],
        "dtype": "float32",
        "requires_grad": True,
        "is_leaf": True,
        "grad_fn": None,
        "value": [1.0, 2.0],
        "grad": [2.0, 4.0],
        "node": x["node"],
        "retains_grad": False,
    }
    assert doc["variables"]["y"]["grad_fn"] == "SumBackward0"
    (p,) = doc["passes"]
    assert p["line"] == 9 and p["kind"] == "backward"
    ops = [n["op"] for n in p["nodes"]]
    assert ops == ["SumBackward0", "MulBackward0", "AccumulateGrad"]
    mul = p["nodes"][1]
    assert mul["grad_outputs"] == [[1.0, 1.0]]
    assert mul["grad_inputs"] == [[1.0, 2.0], [1.0, 2.0]]
    assert mul["local_derivative_kinds"] == ["jacobian", "jacobian"]
    assert mul["local_derivatives"][0] == [[1.0, 0.0], [0.0, 2.0]]
    leaf = p["nodes"][2]
    assert (leaf["grad_before"], leaf["grad_after"]) == (None, [2.0, 4.0])
    assert doc["error"] == {
        "type": "RuntimeError",
        "message": "element 0 of tensors does not require grad and does not have a grad_fn",
        "line": 11,
        "kind": "exception",
    }
    kinds = [s["kind"] for s in doc["steps"]]
    assert kinds[-1] == "error" and "pass_start" in kinds
    assert doc["limits"]["exact_numel"] >= 64
    assert all(n["id"] == k for k, n in doc["nodes"].items())


def test_trace_round_trips_through_json():
    for case in ("module_and_optimizer", "second_order", "detach_error", "retained"):
        trace = record(HEADER + CASES[case])
        text = dumps(trace)
        again = loads(text)
        assert dumps(again) == text
        assert again.passes[0].nodes[0].op == trace.passes[0].nodes[0].op


def test_non_finite_values_are_strings_and_large_tensors_summaries():
    trace = record(
        HEADER + "x = torch.tensor([0.0, 1.0], requires_grad=True)\n"
        "y = torch.log(x).sum()\n"
        "y.backward()\n"
        "big = torch.arange(5000.0)\n"
    )
    assert trace.variables["x"].grad == ["Infinity", 1.0]
    big = trace.variables["big"].value
    assert is_summary(big) and big["shape"] == [5000] and big["max"] == 4999.0
    assert big["preview"] == [float(i) for i in range(8)]
    json.loads(dumps(trace))  # strict JSON


def test_large_passes_keep_summaries_and_skip_local_derivatives():
    source = HEADER + (
        "torch.manual_seed(0)\n"
        "model = nn.Sequential(*[nn.Sequential(nn.Linear(16, 16), nn.Tanh()) for _ in range(60)])\n"
        "loss = model(torch.randn(8, 16)).pow(2).mean()\n"
        "loss.backward()\n"
    )
    trace = record(source)
    (bpass,) = trace.passes
    assert len(bpass.nodes) > trace.limits["large_pass_nodes"]
    assert all(r.local_derivative_kinds == [None] * len(r.local_derivatives) for r in bpass.nodes)
    oracle = run_with_own_hooks(source)
    assert_matches_pytorch(trace, oracle)


_LOOP_BODY = [
    "opt.zero_grad()",
    "loss = (w ** 2).sum()",
    "loss.backward()",
    "opt.step()",
    "print(round(loss.item(), 4))",
]


def test_each_statement_of_a_top_level_loop_is_a_step_with_pytorchs_values():
    source = HEADER + (
        "w = torch.tensor([1.0, -2.0], requires_grad=True)\n"
        "opt = torch.optim.SGD([w], lr=0.25)\n"
        "for i in range(3):\n" + "".join(f"    {s}\n" for s in _LOOP_BODY)
    )
    first_line = HEADER.count("\n") + 4
    trace = record(source)
    session = Session(trace)

    # the oracle: the same loop in plain PyTorch, the state after every statement that
    # changed something (a statement that changed nothing is no step)
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    ns: dict[str, Any] = {"w": w, "opt": torch.optim.SGD([w], lr=0.25), "round": round}
    printed: list[str] = []
    ns["print"] = lambda *a: printed.append(" ".join(map(str, a)))

    def state() -> tuple[Any, ...]:
        grad = None if w.grad is None else w.grad.tolist()
        loss = ns["loss"].item() if "loss" in ns else None
        return (w.detach().tolist(), grad, loss, len(printed))

    expected = []
    for _ in range(3):
        for k, stmt in enumerate(_LOOP_BODY):
            before = state()
            exec(stmt, ns)
            if state() != before:
                expected.append((first_line + k, state()))

    shown = []
    for step in trace.steps:
        in_body = step.line is not None and step.line >= first_line
        if in_body and step.kind in ("statement", "pass_end"):
            v = session.variables_at(step.index)
            grad = v["w"].grad
            loss = v["loss"].value if "loss" in v else None
            lines = sum(s.output.count("\n") for s in trace.steps[: step.index + 1])
            shown.append((step.line, (v["w"].value, grad, loss, lines)))
    assert shown == expected
    # the prints are the steps' own output, in order
    outputs = [s.output.strip() for s in trace.steps if s.output]
    assert outputs == printed
    # a line's later runs say which round of the loop they are
    update = [s.text for s in trace.steps if s.kind == "statement" and s.line == first_line + 3]
    assert update == ["opt.step()", "opt.step()  · 2nd time", "opt.step()  · 3rd time"]


def test_a_long_loop_folds_its_later_statements_into_one_step(monkeypatch):
    from gradstep.record import statements

    monkeypatch.setattr(statements, "MAX_NESTED_STEPS", 5)
    source = HEADER + (
        "x = torch.tensor(2.0, requires_grad=True)\n"
        "for i in range(10):\n"
        "    y = x * i\n"
        "    y.backward()\n"
        "z = x.grad * 1\n"
    )
    trace = record(source)
    statements = [s for s in trace.steps if s.kind == "statement" and s.line in (6, 7)]
    assert [s.line for s in statements] == [6] * 5 + [7]  # five steps made, then the rest
    assert statements[-1].text.endswith("… (and what follows in the block, as one step)")
    assert all("as one step" not in s.text for s in statements[:-1])
    assert len(trace.passes) == 10  # every pass is still recorded
    assert trace.variables["x"].grad == float(sum(range(10)))


def test_a_top_level_statement_that_changes_nothing_is_still_a_step():
    trace = record(HEADER + "for i in range(3):\n    pass\nk = 1\n")
    assert [s.line for s in trace.steps if s.kind == "statement"] == [1, 2, 3, 4, 6]


def test_the_step_of_a_block_is_at_the_nested_line_that_changed_something():
    source = HEADER + (
        "x = torch.tensor(1.0, requires_grad=True)\n"
        "if x.item() > 0:\n"
        "    a = x + 1\n"
        "else:\n"
        "    a = x - 1\n"
        "try:\n"
        "    b = x * 2\n"
        "    c = b.no_such_attribute\n"
        "except AttributeError:\n"
        "    c = b * 3\n"
    )
    trace = record(source)
    steps = [(s.line, sorted(s.variables)) for s in trace.steps if s.kind == "statement"]
    assert steps[3:] == [(4, ["x"]), (6, ["a"]), (10, ["b"]), (13, ["c"])]
    assert trace.variables["c"].value == 6.0


def test_changes_between_passes_inside_a_loop_show_when_the_next_pass_starts():
    source = HEADER + (
        "torch.manual_seed(0)\n"
        "w = torch.tensor([1.0, -2.0], requires_grad=True)\n"
        "opt = torch.optim.SGD([w], lr=0.5)\n"
        "for i in range(3):\n"
        "    opt.zero_grad()\n"
        "    loss = (w ** 2).sum()\n"
        "    loss.backward()\n"
        "    opt.step()\n"
    )
    trace = record(source)
    session = Session(trace)
    # the oracle: plain PyTorch, the value of w as each backward pass begins
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.5)
    expected = []
    for _ in range(3):
        opt.zero_grad()
        loss = (w**2).sum()
        expected.append(w.detach().tolist())
        loss.backward()
        opt.step()
    shown = [session.variables_at(p.first_step)["w"].value for p in trace.passes]
    assert shown == expected
    assert trace.variables["w"].value == w.detach().tolist()


def test_what_a_scenario_made_is_freed_without_the_cycle_collector():
    import gc

    source = (
        "import builtins\nimport weakref\nimport torch\n"
        "w = torch.ones(1000, requires_grad=True)\n"
        "for i in range(2):\n"
        "    loss = (w * i).sum()\n"
        "    loss.backward()\n"
        "builtins._gradstep_test_ref = weakref.ref(w)\n"
    )
    gc.collect()
    gc.disable()
    try:
        trace = record(source)
        ref = builtins.__dict__.pop("_gradstep_test_ref")
        assert trace.error is None and len(trace.passes) == 2
        assert ref() is None, "the scenario's namespace outlived the run (a reference cycle)"
    finally:
        gc.enable()


def test_a_warning_in_a_loop_is_in_the_step_that_raised_it():
    source = HEADER + (
        "x = torch.tensor(2.0, requires_grad=True)\n"
        "for i in range(2):\n"
        "    y = x * 2\n"
        "    print(y.grad)\n"
        "    z = y + 1\n"
    )
    trace = record(source)
    warned = [s.line for s in trace.steps if "UserWarning" in s.output]
    assert warned == [
        7
    ]  # the print, the first time (as Python shows a script's); not the loop's last step
    assert all("UserWarning" not in s.output for s in trace.steps if s.line == 8)


def test_inference_mode_blocks_and_inference_tensors_are_recorded():
    source = HEADER + (
        "ws = [torch.ones(2, requires_grad=True) for _ in range(40)]\n"
        "with torch.inference_mode():\n"
        "    w = ws[0]\n"
        "    q = torch.ones(2) * 3\n"
        "x = torch.tensor(2.0, requires_grad=True)\n"
        "y = x * x\n"
        "y.backward()\n"
    )
    trace = record(source)
    assert trace.error is None, trace.error
    assert not trace.stats.get("recording_errors")
    assert trace.variables["q"].value == [3.0, 3.0]
    assert trace.variables["x"].grad == 4.0
    assert [s.line for s in trace.steps if s.kind == "statement" and s.line in (6, 7)] == [6, 7]


def test_what_a_loop_header_does_is_its_own_step():
    source = HEADER + (
        "x = torch.tensor(1.0, requires_grad=True)\n"
        "for t in [x * 1, x * 2, x * 3]:\n"
        "    y = t * 2\n"
    )
    trace = record(source)
    rows = [(s.line, sorted(s.variables)) for s in trace.steps if s.kind == "statement"]
    # each round: the header binds t, then the body binds y (t is not y's doing)
    assert rows[4:] == [(5, ["t"]), (6, ["y"])] * 3
    headers = [s.text for s in trace.steps if s.line == 5]
    assert headers[1].endswith("· 2nd time") and headers[2].endswith("· 3rd time")


def test_names_bound_in_place_inside_a_loop_are_seen():
    source = HEADER + (
        "model = nn.Linear(2, 2)\n"
        "grads = []\n"
        "for i in range(2):\n"
        "    grads.append(torch.ones(2) * i)\n"
        "    model.weight.data.mul_(2)\n"
    )
    trace = record(source)
    changed = [
        sorted(s.variables) for s in trace.steps if s.kind == "statement" and s.line in (7, 8)
    ]
    # the list grows (grads[0], then grads[1]); the parameter changes in place each time
    assert changed == [["grads[0]"], ["model.weight"], ["grads[1]"], ["model.weight"]]


def test_an_update_through_data_is_seen():
    source = HEADER + (
        "w = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "for i in range(2):\n"
        "    loss = (w * w).sum()\n"
        "    loss.backward()\n"
        "    w.data -= 0.1 * w.grad\n"
        "    w.grad.zero_()\n"
    )
    trace = record(source)
    session = Session(trace)
    # PyTorch, the same loop
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    values = []
    for _ in range(2):
        (w * w).sum().backward()
        w.data -= 0.1 * w.grad
        values.append(w.detach().tolist())
        w.grad.zero_()
    updates = [s for s in trace.steps if s.kind == "statement" and s.line == 8]
    assert [session.variables_at(s.index)["w"].value for s in updates] == values
    assert trace.variables["w"].value == values[-1]
