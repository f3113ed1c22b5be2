"""Each node's chain rule as taught, with PyTorch as the oracle for every number shown.

The lines come from ``gradstep.trace.chainrule`` (no torch); the traces from the
real recorder; the expected values from ``torch.autograd``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from gradstep.record.run import record_scenario
from gradstep.scenario.loader import load_scenario, scenario_from_source
from gradstep.trace.chainrule import (
    chain_rule,
    compact_lines,
    consistent,
    constant_inputs,
    contributions,
    rule_as_of,
    show_number,
    value_label,
)
from gradstep.trace.chainrule.numbers import ShownTensor, holds, settle
from gradstep.trace.chainrule.terms import ChainLine, Term
from gradstep.trace.model import Trace
from gradstep.trace.text import step_table

SCENARIOS = Path(__file__).parents[2] / "resources" / "scenarios"
HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def record(source: str) -> Trace:
    trace = record_scenario(scenario_from_source(source, "case.py"), trusted=True)
    assert trace.error is None, trace.error
    assert not trace.stats.get("recording_errors"), trace.stats["recording_errors"]
    return trace


def rules(trace: Trace) -> list[Any]:
    return [chain_rule(trace, p.index, i) for p in trace.passes for i in range(len(p.nodes))]


def rule_of(trace: Trace, op: str, k: int = 0) -> Any:
    found = [r for r in rules(trace) if r.op == op]
    assert len(found) > k, f"no {op} in {[r.op for r in rules(trace)]}"
    return found[k]


def shown(term: Term) -> np.ndarray:
    """The numbers a term displays, as floats in its displayed shape."""
    assert term.value is not None, term
    return np.array([float(s.value) for s in term.value.items]).reshape(term.value.shape)


def terms(line: ChainLine) -> list[Term]:
    return [t for t in line.terms if isinstance(t, Term)]


def close_to_display(term: Term, expected: torch.Tensor) -> None:
    """Every displayed number is torch's value rounded to its displayed digits (a big
    tensor's summary shows its first elements)."""
    assert term.value is not None
    exp = expected.detach().double().reshape(-1).tolist()
    if term.summary:
        exp = exp[: len(term.value.items)]
    assert len(exp) == len(term.value.items), (term.value.shape, expected.shape)
    for s, e in zip(term.value.items, exp):
        assert abs(Decimal(repr(e)) - s.value) <= s.unit / 2 + Decimal("1e-12"), (s.text, e)


# ----------------------------------------------------------------- numbers
def test_significant_figures_not_fixed_decimals() -> None:
    assert show_number(0.0012280000000000001).text == "0.001228"
    assert show_number(813.3619).text == "813.4"
    assert show_number(813.3619, 5).text == "813.36"
    assert show_number(2.0).text == "2"
    assert show_number(1.5e-7).text == "1.5e-07"
    assert show_number("NaN").text == "nan"


def test_the_lectures_example_settles_on_figures_that_multiply_out() -> None:
    def build(sig: int, rsig: int) -> tuple[Any, ShownTensor]:
        a, b = ShownTensor.of(813.3619, sig), ShownTensor.of(0.001228, sig)
        return ("mul", ("leaf", a), ("leaf", b)), ShownTensor.of(813.3619 * 0.001228, rsig)

    expr, result, approx = settle(build)
    assert not approx
    assert [s.text for s in (expr[1][1].items[0], expr[2][1].items[0], result.items[0])] == [
        "813.36",
        "0.001228",
        "0.9988",
    ]
    # what the issue saw: a student with a calculator gets 0.976
    false = ("mul", ("leaf", ShownTensor.of(813.3619, 7)), ("leaf", ShownTensor.of(0.0012, 2)))
    assert holds(false, ShownTensor.of(0.9988, 4)) is False


def test_an_equation_no_precision_makes_true_says_approximately() -> None:
    # a gradient a hook replaced: 2 × 3 "=" 7 is true at no precision
    def build(sig: int, rsig: int) -> tuple[Any, ShownTensor]:
        two, three = ShownTensor.of(2.0, sig), ShownTensor.of(3.0, sig)
        return ("mul", ("leaf", two), ("leaf", three)), ShownTensor.of(7.0, rsig)

    expr, result, approx = settle(build)
    assert approx
    operands = [Term("a", expr[1][1]), "×", Term("b", expr[2][1])]
    line = ChainLine("a × b", [*operands, "≈", Term("r", result)], expr=expr, result=result)
    line.approx = True
    assert consistent(line)
    line.terms[3] = "="
    assert not consistent(line)
    # and 1/3 + 1/3 + 1/3 = 1 holds at four figures: 0.9999 rounds to 1.000
    third = ShownTensor.of(1 / 3, 4)
    assert holds(("add", ("leaf", third), ("leaf", third), ("leaf", third)), ShownTensor.of(1.0, 4))


# ------------------------------------------------- every lesson, mechanically
def lesson_traces() -> list[tuple[str, Trace]]:
    out = []
    for path in sorted(SCENARIOS.iterdir()):
        if path.suffix in (".py", ".ipynb"):
            out.append((path.name, record_scenario(load_scenario(path), trusted=True)))
    return out


MLP_BATCH = HEADER + (
    "torch.manual_seed(1)\n"
    "X = torch.randn(8, 5)\n"
    "Y = torch.randint(0, 3, (8,))\n"
    "model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3))\n"
    "loss = F.cross_entropy(model(X), Y)\n"
    "loss.backward()\n"
)


@pytest.fixture(scope="module")
def all_traces() -> list[tuple[str, Trace]]:
    return [*lesson_traces(), ("two-layer MLP on a batch", record(MLP_BATCH))]


def test_every_displayed_product_of_every_lesson_is_true_to_its_precision(all_traces) -> None:
    checked = 0
    for name, trace in all_traces:
        for rule in rules(trace):
            assert rule.lines, f"{name}: {rule.op} has no chain-rule line"
            for line in rule.all_lines():
                assert consistent(line), f"{name}: {rule.op}: {line.text()}"
                assert "—" not in line.text(), f"{name}: {line.text()}"
                checked += line.expr is not None
    assert checked > 100  # the lines that claim arithmetic were checked, not skipped


def test_every_compute_step_of_the_table_shows_its_formula_and_numbers(all_traces) -> None:
    for name, trace in all_traces:
        table = step_table(trace)
        rows = [r for r in table.splitlines() if " compute " in r or " accumulate " in r]
        for row in rows:
            assert " = downstream" in row or ".grad" in row, f"{name}: {row}"
            assert "—" not in row, f"{name}: {row}"


def test_the_mlps_steps_read_as_taught(all_traces) -> None:
    trace = dict(all_traces)["two-layer MLP on a batch"]
    tanh = rule_of(trace, "TanhBackward0").lines[0]
    assert tanh.formula == "upstream ⊙ 1 − tanh²x = downstream"
    up, fprime, down = terms(tanh)
    assert up.value.shape == fprime.value.shape == down.value.shape == (8, 6)  # no 8×6×8×6
    first = [r for r in rules(trace) if r.op == "AddmmBackward0"][0]
    formulas = [ln.formula for ln in first.lines]
    assert formulas == [
        "Σ upstream over the batch = downstream",
        "upstream @ model.2.weight = downstream",
        "(Tanh in model.1)ᵀ @ upstream = downstream",
    ]
    ce = rule_of(trace, "LogSoftmaxBackward0").lines[0]
    assert ce.formula == "(softmax(x) − onehot)/8 = downstream"
    # a caption under a figure: whole lines where they fit, shapes where they do not
    caption = compact_lines(rule_of(trace, "TanhBackward0"), max_chars=140)
    assert caption == [
        "upstream ⊙ 1 − tanh²x = downstream → Addmm in model.0:  [8×6] ⊙ [8×6] = [8×6]"
    ]
    assert value_label(0.99880608) == "0.9988"
    assert value_label([[1.0, 2.0], [3.0, 4.0]]) == "[[1, 2], [3, 4]]"
    assert value_label([[0.123456] * 6] * 8) == "8×6"


# ------------------------------------------------------------ each op family
ELEMENTWISE = [
    ("torch.tanh(x)", "TanhBackward0", lambda x: 1 - torch.tanh(x) ** 2),
    ("torch.sigmoid(x)", "SigmoidBackward0", lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x))),
    ("torch.relu(x)", "ReluBackward0", lambda x: (x > 0).double()),
    ("torch.exp(x)", "ExpBackward0", torch.exp),
    ("torch.log(x.abs() + 1)", "LogBackward0", lambda x: 1 / (x.abs() + 1)),
    ("torch.sin(x)", "SinBackward0", torch.cos),
    ("x ** 3", "PowBackward0", lambda x: 3 * x**2),
    ("x.clamp(-0.5, 0.5)", "ClampBackward1", lambda x: ((x >= -0.5) & (x <= 0.5)).double()),
    ("x * 2.5", "MulBackward0", lambda x: torch.full_like(x, 2.5)),
    ("x / 4", "DivBackward0", lambda x: torch.full_like(x, 0.25)),
]


@pytest.mark.parametrize("expr,op,fprime", ELEMENTWISE, ids=[c[1] for c in ELEMENTWISE])
def test_elementwise_ops_show_f_prime_in_the_inputs_shape(expr: str, op: str, fprime: Any) -> None:
    values = "[[0.3, -1.2, 2.0], [0.7, -0.1, 1.5]]"
    trace = record(
        HEADER
        + f"x = torch.tensor({values}, requires_grad=True)\n"
        + f"y = {expr}\n"
        + "y.backward(torch.tensor([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]]))\n"
    )
    rule = rule_of(trace, op)
    (line,) = rule.lines
    assert "⊙" in line.terms and line.target in ("x", "x.abs() + 1")
    up, factor, down = terms(line)
    x = torch.tensor(eval(values), dtype=torch.float64, requires_grad=True)
    g = torch.tensor([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], dtype=torch.float64)
    (grad,) = torch.autograd.grad(eval(expr, {"torch": torch, "x": x}), x, g)
    close_to_display(factor, fprime(x.detach()).float().double())
    close_to_display(up, g)
    if line.target == "x":
        close_to_display(down, grad)
    assert consistent(line)


def test_broadcasting_is_summed_back_with_the_shape_change_named() -> None:
    trace = record(
        HEADER
        + "w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)\n"
        + "x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [0.5, 0.25, -1.0], [2.0, 0.0, 1.0]])\n"
        + "y = (w * x).sum()\n"
        + "y.backward()\n"
    )
    (line,) = rule_of(trace, "MulBackward0").lines
    assert line.formula == "Σ(upstream ⊙ x) = downstream"
    assert line.note == "broadcast back: summed over dim 0 (4×3 → 3)"
    up, factor, down = terms(line)
    assert factor.value.shape == (4, 3)
    close_to_display(factor, torch.tensor([[1.0, 2, 3], [4, 5, 6], [0.5, 0.25, -1], [2, 0, 1]]))
    close_to_display(down, torch.tensor([7.5, 7.25, 9.0]))
    assert consistent(line)


MATMUL = [
    ("A @ B", "MmBackward0", ["upstream @ Bᵀ = downstream", "Aᵀ @ upstream = downstream"]),
    ("torch.mm(A, B)", "MmBackward0", ["upstream @ Bᵀ = downstream", "Aᵀ @ upstream = downstream"]),
    ("A @ v", "MvBackward0", ["upstream ⊗ v = downstream", "Aᵀ @ upstream = downstream"]),
    (
        "torch.addmm(c, A, B)",
        "AddmmBackward0",
        [
            "Σ upstream over the batch = downstream",
            "upstream @ Bᵀ = downstream",
            "Aᵀ @ upstream = downstream",
        ],
    ),
    (
        "torch.bmm(A.unsqueeze(0), B.unsqueeze(0))",
        "BmmBackward0",
        ["upstream @ (A.unsqueeze(0))ᵀ = downstream", "(A.unsqueeze(0))ᵀ @ upstream = downstream"],
    ),
]


@pytest.mark.parametrize("expr,op,formulas", MATMUL, ids=[c[0] for c in MATMUL])
def test_matrix_products_show_the_two_vjp_formulas_with_the_matrices(
    expr: str, op: str, formulas: list[str]
) -> None:
    setup = (
        "A = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], requires_grad=True)\n"
        "B = torch.tensor([[1.0, 0.5], [2.0, 0.0], [-1.0, 1.5]], requires_grad=True)\n"
        "v = torch.tensor([0.5, -2.0, 1.0], requires_grad=True)\n"
        "c = torch.tensor([0.1, 0.2], requires_grad=True)\n"
    )
    trace = record(HEADER + setup + f"y = {expr}\n(y * y).sum().backward()\n")
    rule = rule_of(trace, op)
    if op == "BmmBackward0":  # the unsqueezed matrices are unnamed: labelled by expression
        formulas = [
            "upstream @ B.unsqueeze(0)ᵀ = downstream",
            "A.unsqueeze(0)ᵀ @ upstream = downstream",
        ]
    assert [ln.formula for ln in rule.lines] == formulas
    ns: dict[str, Any] = {"torch": torch}
    exec(setup, ns)
    y = eval(expr, ns)
    up = 2 * y.detach()
    for line in rule.lines:
        assert consistent(line) and not line.approx, line.text()
        left, right = terms(line)[0], terms(line)[1]
        if "@" in line.terms and left.label == "upstream":
            close_to_display(left, up)
            other = ns["v"] if op == "MvBackward0" else ns["B"]
            close_to_display(right, other.detach().transpose(-1, -2))
        elif "@" in line.terms:
            close_to_display(left, ns["A"].detach().transpose(-1, -2))
            close_to_display(right, up)
    grads = dict(
        zip(
            ["A", "B", "v", "c"],
            torch.autograd.grad((y * y).sum(), [ns[k] for k in "ABvc"], allow_unused=True),
        )
    )
    targets = {ln.target: terms(ln)[-1] for ln in rule.lines}
    for name, term in targets.items():
        if name in grads and grads[name] is not None:
            close_to_display(term, grads[name])


def test_linear_layers_read_upstream_at_the_weight_and_the_input_transposed() -> None:
    trace = record(
        HEADER
        + "torch.manual_seed(0)\nlayer = nn.Linear(3, 2)\n"
        + "x = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], requires_grad=True)\n"
        + "out = layer(x)\nout.pow(2).sum().backward()\n"
    )
    rule = rule_of(trace, "AddmmBackward0")
    assert [ln.formula for ln in rule.lines] == [
        "Σ upstream over the batch = downstream",
        "upstream @ layer.weight = downstream",
        "xᵀ @ upstream = downstream",
    ]
    assert [ln.target for ln in rule.lines] == ["layer.bias", "x", "layer.weightᵀ"]
    assert all(consistent(ln) for ln in rule.lines)


REDUCE_AND_SHAPE = [
    ("x.sum()", "SumBackward0", "scalar → 2×3"),
    ("x.mean()", "MeanBackward0", "mean of N = 6 (scalar → 2×3)"),
    ("x.sum(0)", "SumBackward1", "(3 → 2×3)"),
    ("x.mean(1, keepdim=True)", "MeanBackward1", "mean of N = 3 (2×1 → 2×3)"),
    ("x.view(6)", "ViewBackward0", "reshaped back (6 → 2×3)"),
    ("x.reshape(3, 2)", "ViewBackward0", "reshaped back (3×2 → 2×3)"),
    ("x.t()", "TBackward0", "transposed back (3×2 → 2×3)"),
    ("x.transpose(0, 1)", "TransposeBackward0", "transposed back (3×2 → 2×3)"),
    ("x.permute(1, 0)", "PermuteBackward0", "permuted back by (1, 0) (3×2 → 2×3)"),
    ("x.unsqueeze(0)", "UnsqueezeBackward0", "reshaped back (1×2×3 → 2×3)"),
    ("x.unsqueeze(1).expand(2, 4, 3)", "ExpandBackward0", "summed back (2×4×3 → 2×1×3)"),
    ("x[1]", "SelectBackward0", "put back at index 1 of dim 0 (3 → 2×3)"),
    ("x[:, 1:]", "SliceBackward0", "put back into the slice of dim 1 (2×2 → 2×3)"),
]


@pytest.mark.parametrize("expr,op,note", REDUCE_AND_SHAPE, ids=[c[0] for c in REDUCE_AND_SHAPE])
def test_reductions_and_shape_ops_move_the_upstream_back(expr: str, op: str, note: str) -> None:
    trace = record(
        HEADER
        + "x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)\n"
        + f"y = {expr}\n"
        + "w = torch.arange(1.0, y.numel() + 1).reshape(y.shape)\n"
        + "(y * w).sum().backward()\n"
    )
    found = [r for r in rules(trace) if r.op == op]
    (line,) = next((r for r in found if r.lines[0].target == "x"), found[0]).lines
    assert note in line.note, line.note
    assert consistent(line) and line.expr is not None
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    y = eval(expr, {"x": x, "torch": torch})
    w = torch.arange(1.0, y.numel() + 1).reshape(y.shape)
    (expected,) = torch.autograd.grad((y * w).sum(), x)
    if line.target == "x":
        close_to_display(terms(line)[-1], expected)


LOSSES = [
    (
        "F.mse_loss(p, t)",
        "MseLossBackward0",
        "upstream × (p − t)·2/4 = downstream",
        "p = torch.tensor([0.2, 0.9, -0.4, 1.5], requires_grad=True)\nt = torch.tensor([0.0, 1.0, 0.0, 1.0])\n",
    ),
    (
        "F.binary_cross_entropy(p, t)",
        "BinaryCrossEntropyBackward0",
        "upstream × (p − t)/(p(1 − p))/3 = downstream",
        "p = torch.tensor([0.2, 0.9, 0.6], requires_grad=True)\nt = torch.tensor([0.0, 1.0, 1.0])\n",
    ),
    (
        "F.binary_cross_entropy_with_logits(p, t)",
        "BinaryCrossEntropyWithLogitsBackward0",
        "upstream × (σ(z) − t)/3 = downstream",
        "p = torch.tensor([0.2, -1.5, 2.0], requires_grad=True)\nt = torch.tensor([0.0, 1.0, 1.0])\n",
    ),
    (
        "F.cross_entropy(p, t)",
        "LogSoftmaxBackward0",
        "(softmax(x) − onehot)/2 = downstream",
        "p = torch.tensor([[0.2, -1.5, 2.0], [1.0, 0.5, -0.5]], requires_grad=True)\nt = torch.tensor([2, 0])\n",
    ),
    (
        "F.cross_entropy(p, t)",
        "NllLossBackward0",
        "upstream × −onehot(t)/2 = downstream",
        "p = torch.tensor([[0.2, -1.5, 2.0], [1.0, 0.5, -0.5]], requires_grad=True)\nt = torch.tensor([2, 0])\n",
    ),
]


@pytest.mark.parametrize("expr,op,formula,setup", LOSSES, ids=[c[1] for c in LOSSES])
def test_losses_show_their_closed_form_with_the_numbers(
    expr: str, op: str, formula: str, setup: str
) -> None:
    trace = record(HEADER + setup + f"loss = {expr}\nloss.backward()\n")
    (line,) = rule_of(trace, op).lines
    assert line.formula == formula
    assert consistent(line) and line.expr is not None and not line.approx, line.text()
    if op != "NllLossBackward0":
        ns: dict[str, Any] = {"torch": torch, "F": torch.nn.functional}
        exec(setup, ns)
        (expected,) = torch.autograd.grad(eval(expr, ns), ns["p"])
        close_to_display(terms(line)[-1], expected)


def test_a_small_op_of_no_family_shows_its_exact_jacobian() -> None:
    trace = record(
        HEADER
        + "x = torch.tensor([0.1, 0.7, -0.3], requires_grad=True)\n"
        + "y = torch.softmax(x, 0)\n"
        + "y.backward(torch.tensor([1.0, 0.0, -1.0]))\n"
    )
    (line,) = rule_of(trace, "SoftmaxBackward0").lines
    assert line.formula == "upstream · J = downstream"
    up, jac, down = terms(line)
    x = torch.tensor([0.1, 0.7, -0.3])
    j = torch.autograd.functional.jacobian(lambda x: torch.softmax(x, 0), x)
    close_to_display(jac, j)
    assert consistent(line) and line.expr is not None


# --------------------------------------------------------------- fan-in
def test_the_diamond_shows_each_paths_contribution_and_their_sum() -> None:
    trace = record(
        HEADER + "x = torch.tensor(3.0, requires_grad=True)\ny = x * x + x\ny.backward()\n"
    )
    leaf = rule_of(trace, "AccumulateGrad")
    (fan,) = leaf.upstream
    parts = [t for t in terms(fan)][:-1]
    assert [t.label for t in parts] == [  # in the engine's order: the sum's node ran first
        "from y",
        "from x * x, input 1",
        "from x * x, input 2",
    ]
    assert sorted(float(shown(t)) for t in parts) == [1.0, 3.0, 3.0]
    assert float(shown(terms(fan)[-1])) == 7.0  # x.grad = 2x + 1
    assert consistent(fan) and fan.expr is not None
    contribs = contributions(trace, 0)[(leaf.node, 0)]
    assert sum(c.value for c in contribs) == 7.0


def test_lesson_04s_clamp_sums_zero_and_the_other_consumers_gradient() -> None:
    trace = record_scenario(
        load_scenario(SCENARIOS / "04_logistic_regression_manual.py"), trusted=True
    )
    clamp = rule_of(trace, "ClampBackward1")
    (fan,) = clamp.upstream
    *parts, total = terms(fan)
    assert sorted(float(shown(t)) for t in parts)[0] == 0.0
    assert float(sum(shown(t) for t in parts)) == pytest.approx(float(shown(total)), rel=1e-3)
    assert float(shown(total)) == pytest.approx(813.36, rel=1e-3)
    assert {t.label for t in parts} == {"from 1 - prediction", "from torch.log(prediction)"}
    assert consistent(fan)
    sigmoid = rule_of(trace, "SigmoidBackward0").lines[0]
    assert sigmoid.numbers() == "813.36 × 0.001228 = 0.9988"


def test_a_rule_fills_in_as_the_pass_gets_there() -> None:
    """Lesson 04's clamp, step by step: one consumer's contribution arrives, then the
    other's, then the sum is received, then the downstream is computed."""
    trace = record_scenario(
        load_scenario(SCENARIOS / "04_logistic_regression_manual.py"), trusted=True
    )
    bpass = trace.passes[0]
    index = next(i for i, r in enumerate(bpass.nodes) if r.op == "ClampBackward1")
    rec = bpass.nodes[index]
    parts = sorted(contributions(trace, 0)[(rec.node, 0)], key=lambda c: c.step)
    assert len(parts) == 2 and rec.receive_step is not None and rec.compute_step is not None
    first, second = parts[0].step, parts[1].step

    def at(k: int) -> Any:
        return rule_as_of(trace, 0, index, k)

    # after the first consumer computed: its value, "…" for the other, no sum yet
    (fan,) = at(first).upstream
    values = [t.value is not None for t in terms(fan)]
    assert values == [True, False, False], fan.text()
    close_to_display(terms(fan)[0], torch.tensor(parts[0].value))
    waiting = terms(at(first).lines[0])  # nothing received yet; f′(x) is known from the forward
    assert waiting[0].value is None and waiting[-1].value is None and waiting[1].value is not None
    # both arrived, not received: both values, the sum still to come
    (fan,) = at(second).upstream
    assert [t.value is not None for t in terms(fan)] == [True, True, False]
    # received: the sum and the upstream shown, the downstream not computed yet
    received = at(rec.receive_step)
    assert received.upstream[0].text() == chain_rule(trace, 0, index).upstream[0].text()
    line = received.lines[0]
    assert terms(line)[0].value is not None and terms(line)[-1].value is None
    assert consistent(line) and "…" in line.text()
    # computed: the whole rule
    assert [ln.text() for ln in at(rec.compute_step).all_lines()] == [
        ln.text() for ln in chain_rule(trace, 0, index).all_lines()
    ]


def test_a_narrow_panel_stacks_a_lines_operands() -> None:
    trace = record(MLP_BATCH)
    line = rule_of(trace, "TanhBackward0").lines[0]
    block, split, stacked = line.block(), line.split(), line.stacked()
    assert stacked[0] == block[0] == split[0]
    assert max(map(len, split)) < 0.75 * max(map(len, block))  # what is multiplied, = result
    assert "⊙" in "".join(split) and any(r.strip().startswith("=") for r in split)
    assert max(map(len, stacked)) < max(map(len, block)) / 2
    assert "⊙" in stacked and "=" in stacked
    numbers = [t for t in "".join(block).split() if t[0].isdigit() or t[0] == "-"]
    for n in numbers:  # the same figures, only placed otherwise
        assert n in "".join(stacked) and n in "".join(split), n


# ----------------------------------------------------- constants, expressions
@pytest.mark.parametrize("x", ["6.7", "torch.tensor(6.7)"])
def test_a_constant_input_is_named_and_valued_and_the_node_labelled(x: str) -> None:
    trace = record(
        HEADER
        + f"x = {x}\n"
        + "w = torch.tensor(1.0, requires_grad=True)\n"
        + "b = torch.tensor(0.5, requires_grad=True)\n"
        + "z = w * x + b * 2\n"
        + "z.backward()\n"
    )
    muls = [n for n in trace.nodes.values() if n.op == "MulBackward0"]
    assert sorted(n.expr for n in muls) == ["b * 2", "w * x"]
    wx = next(n for n in muls if n.expr == "w * x")
    assert wx.constants[0] is None
    assert wx.constants[1]["name"] == "x"
    assert wx.constants[1]["value"] == pytest.approx(6.7)
    b2 = next(n for n in muls if n.expr == "b * 2")
    assert b2.constants[1] == {"value": 2}
    line = next(r for r in rules(trace) if r.node == wx.id).lines[0]
    assert line.formula == "upstream × x = downstream" and line.numbers() == "1 × 6.7 = 6.7"
    assert constant_inputs(trace, wx.id) == [(1, "x = 6.7")]
    assert constant_inputs(trace, b2.id) == [(1, "2")]


def test_unnamed_nodes_of_one_line_are_told_apart_by_their_expressions() -> None:
    trace = record(
        HEADER
        + "p = torch.tensor(0.3, requires_grad=True)\ny = torch.tensor(1.0)\n"
        + "loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))\n"
        + "z = p.sum()\nloss.backward()\n"
    )
    exprs = {n.expr for n in trace.nodes.values() if n.kind == "op"}
    assert {"torch.log(p)", "1 - p", "torch.log(1 - p)", "y * torch.log(p)", "p.sum()"} <= exprs
    assert "(1 - y) * torch.log(1 - p)" in exprs


# ------------------------------------------------- custom and big nodes
CUSTOM = HEADER + (
    "class Cube(torch.autograd.Function):\n"
    "    @staticmethod\n"
    "    def forward(ctx, x):\n"
    "        ctx.save_for_backward(x)\n"
    "        return x ** 3\n"
    "\n"
    "    @staticmethod\n"
    "    def backward(ctx, grad):\n"
    "        (x,) = ctx.saved_tensors\n"
    "        return grad * 3 * x ** 2\n"
    "\n"
    "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
    "y = Cube.apply(x)\n"
    "y.sum().backward()\n"
)


def test_a_custom_function_shows_its_backward_and_the_gradient_it_returned() -> None:
    trace = record(CUSTOM)
    rule = rule_of(trace, "CubeBackward")
    assert rule.family == "custom"
    assert rule.formula.startswith("custom backward, line 11: Cube.backward")
    assert rule.source.splitlines()[0] == "def backward(ctx, grad):"
    assert "return grad * 3 * x ** 2" in rule.source
    (line,) = rule.lines
    assert line.formula == "Cube.backward(ctx, upstream) = downstream"
    assert line.note == "custom backward, line 11"  # in the table's one-line form too
    close_to_display(terms(line)[-1], torch.tensor([3.0, 12.0]))
    assert "…" not in line.text() and "—" not in line.text()


def test_a_node_of_more_than_1024_elements_shows_shapes_corners_and_ranges() -> None:
    trace = record(
        HEADER
        + "x = torch.linspace(-2, 2, 1600).reshape(40, 40).requires_grad_()\n"
        + "y = torch.tanh(x)\n"
        + "y.sum().backward()\n"
    )
    (line,) = rule_of(trace, "TanhBackward0").lines
    up, fprime, down = terms(line)
    assert fprime.summary.startswith("40×40; min ") and down.summary.startswith("40×40")
    x = torch.linspace(-2, 2, 1600)
    close_to_display(fprime, 1 - torch.tanh(x) ** 2)
    close_to_display(down, 1 - torch.tanh(x) ** 2)
    assert consistent(line) and line.expr is not None  # the corners multiply out
    assert "—" not in line.text()


# ------------------------------------------------------------ trace format
def test_the_new_fields_survive_json_and_old_traces_still_load() -> None:
    from gradstep.trace.io import dumps, loads

    trace = record(
        HEADER
        + "x = torch.tensor([1.0, 2.0], requires_grad=True)\ny = torch.tanh(x * 3)\ny.sum().backward()\n"
    )
    again = loads(dumps(trace))
    rec = next(r for r in again.passes[0].nodes if r.op == "TanhBackward0")
    assert len(rec.chain["local"][0]) == 2
    assert any(n.expr == "x * 3" for n in again.nodes.values())
    old = trace.to_dict()
    for n in old["nodes"].values():
        n.pop("expr"), n.pop("constants")
    for r in old["passes"][0]["nodes"]:
        r.pop("chain")
    plain = Trace.from_dict(old)
    assert all(consistent(ln) for r in rules(plain) for ln in r.all_lines())
    assert all(r.lines for r in rules(plain))


def test_display_numbers_are_not_nan_for_finite_values() -> None:
    assert math.isfinite(float(show_number(1e-30).value))


# ------------------------------------------------- how lines are laid out
def test_a_matrix_line_is_laid_out_row_by_row_under_its_labels() -> None:
    trace = record(
        HEADER
        + "A = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)\n"
        + "B = torch.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)\n"
        + "y = A @ B\ny.sum().backward()\n"
    )
    line = rule_of(trace, "MmBackward0").lines[0]
    block = line.block()
    assert block[0] == "upstream @ Bᵀ = downstream → A"
    assert block[1].split() == ["upstream", "Bᵀ", "downstream"]
    assert block[2].startswith("[[1, 1],") and block[3].startswith(" [1, 1]]")
    assert "@" in block[2] or "@" in block[3]
    assert block[2].rstrip().endswith("[[-0.5, 2.25],") or "[[-0.5, 2.25]," in block[2]


def test_a_big_matrix_product_shows_shapes_and_claims_no_arithmetic() -> None:
    trace = record(
        HEADER
        + "torch.manual_seed(0)\n"
        + "A = torch.randn(12, 8, requires_grad=True)\n"
        + "B = torch.randn(8, 9, requires_grad=True)\n"
        + "(A @ B).sum().backward()\n"
    )
    first, second = rule_of(trace, "MmBackward0").lines
    assert first.expr is None and consistent(first)
    assert terms(first)[0].summary.startswith("12×9")
    assert terms(first)[1].summary.startswith("9×8")  # Bᵀ, not B
    assert terms(second)[0].summary.startswith("8×12")


def test_dot_products_multiply_by_the_other_vector() -> None:
    trace = record(
        HEADER
        + "a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
        + "b = torch.tensor([0.5, -1.0, 4.0], requires_grad=True)\n"
        + "torch.dot(a, b).backward()\n"
    )
    to_a, to_b = rule_of(trace, "DotBackward0").lines
    assert (to_a.target, to_a.formula) == ("a", "upstream × b = downstream")
    close_to_display(terms(to_a)[-1], torch.tensor([0.5, -1.0, 4.0]))
    close_to_display(terms(to_b)[-1], torch.tensor([1.0, 2.0, 3.0]))
    assert consistent(to_a) and consistent(to_b)


@pytest.mark.parametrize(
    "expr,formula",
    [
        ("F.binary_cross_entropy(p, t, weight=torch.tensor([1.0, 2.0, 1.0]))", "·weight"),
        ("F.binary_cross_entropy(p, t, reduction='sum')", "upstream × (p − t)/(p(1 − p)) = "),
        ("F.mse_loss(t2, p)", "−(p − t)·2/3"),
        ("torch.log_softmax(p, 0)[0]", "upstream − softmax(x) ⊙ Σ upstream"),
    ],
)
def test_other_loss_forms(expr: str, formula: str) -> None:
    trace = record(
        HEADER
        + "p = torch.tensor([0.2, 0.9, 0.6], requires_grad=True)\n"
        + "t = torch.tensor([0.0, 1.0, 1.0])\n"
        + "t2 = torch.tensor([0.5, 0.5, 0.5])\n"
        + f"loss = {expr}\nloss.backward()\n"
    )
    lines = [ln for r in rules(trace) if r.family == "loss" for ln in r.lines]
    assert any(formula in ln.formula for ln in lines), [ln.formula for ln in lines]
    assert all(consistent(ln) for ln in lines)


def test_scatter_clone_and_several_outputs_show_where_the_gradient_went() -> None:
    trace = record(
        HEADER
        + "x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
        + "a, b = x.clone()[[0, 2, 0]].split([2, 1])\n"
        + "(a.sum() * 2 + b.sum()).backward()\n"
    )
    index = rule_of(trace, "IndexBackward0").lines[0]
    assert index.note.startswith("scattered back") and consistent(index)
    close_to_display(terms(index)[-1], torch.tensor([3.0, 0.0, 2.0]))
    clone = rule_of(trace, "CloneBackward0").lines[0]
    assert clone.note == "passed through" and consistent(clone)
    split = next(r for r in rules(trace) if len(r.lines) and r.op.startswith("Split"))
    assert all(consistent(ln) for ln in split.all_lines())


def test_non_finite_values_show_and_claim_nothing() -> None:
    assert [show_number(v).text for v in ("NaN", "Infinity", "-Infinity")] == ["nan", "inf", "-inf"]
    assert show_number(float("inf")).text == "inf"
    assert show_number(123456789.0).text == "1.235e+08"
    nan = ShownTensor.of([1.0, "NaN"], 4)
    assert holds(("mul", ("leaf", nan), ("leaf", nan)), nan) is None
    trace = record(
        HEADER + "x = torch.tensor([0.0, 1.0], requires_grad=True)\ny = torch.log(x)\n"
        "y.sum().backward()\n"
    )
    (line,) = rule_of(trace, "LogBackward0").lines
    assert "inf" in line.numbers() and consistent(line)


def test_a_rule_reads_as_lines_for_captions_and_handouts() -> None:
    trace = record(
        HEADER + "x = torch.tensor(3.0, requires_grad=True)\ny = x * x + x\ny.backward()\n"
    )
    leaf = rule_of(trace, "AccumulateGrad")
    text = leaf.text_lines()
    assert text[0].startswith("x: .grad ← .grad + incoming")
    assert text[1].startswith("upstream = (from y) + (from x * x, input 1)")
    assert leaf.one_line() == "; ".join(text[1:])
    from gradstep.trace.chainrule import chain_rule_at

    steps = [s for s in trace.steps if s.kind in ("receive", "compute", "accumulate")]
    assert all(chain_rule_at(trace, s) is not None for s in steps)
    assert chain_rule_at(trace, trace.steps[0]) is None
