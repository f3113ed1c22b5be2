"""Constants drawn on the graph and unnamed nodes named by their source expression.

``w * x`` with a constant ``x = 6.7`` is drawn with ``x = 6.7`` as a small grey
input; two ``MulBackward0`` nodes read ``w * x`` and ``target * log(…)``, in the
graph, the page and the chain rule's targets alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gradstep.graph import collapse as cl
from gradstep.graph.drawing import Drawing, node_lines
from gradstep.graph.model import build_graph, constant_consumer, is_constant
from gradstep.page import page_html
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import load_scenario, scenario_from_source
from gradstep.session import Session
from gradstep.trace.chainrule import chain_rule_at
from gradstep.trace.model import Trace
from gradstep.trace.shorten import short_expr
from gradstep.trace.text import step_what

SCENARIOS = Path(__file__).parents[2] / "resources" / "scenarios"


def lesson(name: str) -> Trace:
    return record_scenario(load_scenario(SCENARIOS / name), trusted=True)


@pytest.fixture(scope="module")
def logistic() -> Trace:
    return lesson("04_logistic_regression_manual.py")


def test_named_constants_are_small_grey_inputs_with_their_value(logistic) -> None:
    g = build_graph(logistic)
    constants = {d: data for d, data in g.nodes(data=True) if data["kind"] == "constant"}
    labels = {node_lines(data)[0] for data in constants.values()}
    # inside binary_cross_entropy_loss(prediction, target) the label y is named as the
    # function's code names it, beside its node "target * log(prediction)"
    assert {"x = 6.7", "target = 0"} <= labels and "y = 0" not in labels, labels
    for d, data in constants.items():
        consumer, slot = constant_consumer(d)
        assert list(g.successors(d)) == [consumer]
        assert g.has_edge(d, consumer, key=slot)
        # the slot really is a constant of that node, and no gradient flows to it
        node = logistic.nodes[consumer]
        assert node.inputs[slot][0] is None and node.constants[slot] is not None
        assert data["step"] == node.step  # drawn when its consumer is
    mul = next(c for c in constants if node_lines(constants[c])[0] == "x = 6.7")
    assert logistic.nodes[constant_consumer(mul)[0]].expr == "w * x"
    inner = next(c for c in constants if node_lines(constants[c])[0] == "target = 0")
    assert logistic.nodes[constant_consumer(inner)[0]].expr.startswith("target * ")
    assert build_graph(logistic, constants=False).number_of_nodes() == len(logistic.nodes)


def test_unnamed_ops_are_titled_by_their_expression(logistic) -> None:
    g = build_graph(logistic)
    muls = [node_lines(d) for _, d in g.nodes(data=True) if d["op"] == "MulBackward0"]
    titles = [t for t, _ in muls]
    assert len(set(titles)) == len(titles) == 3, titles  # told apart
    assert ("w * x", "MulBackward0") in muls
    assert all(len(t) <= 30 for t, _ in muls)
    # a named op keeps its variable; a leaf its name
    z = next(d for _, d in g.nodes(data=True) if d.get("name") == "z")
    assert node_lines(z) == ("z", "AddBackward0")


def test_long_expressions_keep_their_outer_operation() -> None:
    long = "target * torch.log(prediction) + (1 - target) * torch.log(1 - prediction)"
    assert short_expr(long) == "target * … + … * …"
    assert short_expr("torch.clamp(prediction, epsilon, 1 - epsilon)") == (
        "clamp(prediction, epsilon, …)"
    )
    assert short_expr("w * x + b") == "w * x + b"


def test_a_number_on_the_left_is_not_named_after_the_tensor_on_the_right() -> None:
    """``2 * y`` runs as ``y * 2``: its constant is the literal 2, not "y"."""
    trace = lesson("03_two_x_squared_plus_five.py")
    node = next(n for n in trace.nodes.values() if n.expr == "2 * y")
    assert node.constants == [None, {"value": 2}]
    g = build_graph(trace)
    assert not any(is_constant(d) for d in g)  # literals stay in the expression
    trace = record_scenario(
        scenario_from_source(
            "import torch\nx = torch.tensor(2.0, requires_grad=True)\nc = torch.tensor(3.0)\n"
            "a = 2 + x\nb = c * x\nd = x * c\n(a + b + d).backward()\n",
            "case.py",
        ),
        trusted=True,
    )
    by_expr = {n.expr: n.constants for n in trace.nodes.values() if n.expr}
    assert by_expr["2 + x"] == [None, {"value": 2}]
    assert by_expr["c * x"] == [{"name": "c", "value": 3.0}, None]
    assert by_expr["x * c"] == [None, {"name": "c", "value": 3.0}]


def test_a_constant_comes_and_goes_with_its_consumer() -> None:
    """Lesson 14 trains twice: the first iteration's data X is hidden with its graph."""
    trace = lesson("14_mlp_training.py")
    g = build_graph(trace)
    tree = cl.module_tree(g)
    drawing = Drawing(g, tree, cl.collapse(g, tree, set()), frozenset())
    xs = [d for d, data in g.nodes(data=True) if data["kind"] == "constant" and data["name"] == "X"]
    assert len(xs) == 2
    session = Session(trace)
    late = session.state(trace.passes[1].first_step)
    states = sorted(drawing.node_state(d, late) for d in xs)
    assert states == ["hidden", "normal"], states
    first = session.state(0)  # before the model ran: not there yet, as its consumer
    for d in xs:
        consumer = drawing.node_state(constant_consumer(d)[0], first)
        assert drawing.node_state(d, first) == consumer in ("absent", "hidden")


def test_the_page_draws_the_constants_and_the_expressions(logistic) -> None:
    html = page_html(logistic)
    assert 'class="node k-constant"' in html
    assert "x = 6.7" in html and "w * x" in html


def test_the_chain_rule_names_its_targets_by_expression(logistic) -> None:
    step = next(s for s in logistic.steps if s.kind == "compute" and "RsubBackward1" in s.text)
    rule = chain_rule_at(logistic, step)
    assert rule is not None and rule.label == "1 - prediction"
    assert rule.lines[0].target.startswith("torch.clamp(prediction")


def test_each_node_holds_its_value_and_gradient_as_the_pass_reaches_it(logistic) -> None:
    """micrograd's data | grad: a leaf's value and .grad, a named op's value and the
    gradient it received, "…" before it has; every number as torch computes it."""
    import torch

    from gradstep.graph.values import node_values

    x, y = torch.tensor(6.7), torch.tensor(0.0)
    w, b = torch.tensor(1.0, requires_grad=True), torch.tensor(0.0, requires_grad=True)
    z = w * x + b
    z.retain_grad()
    y_pred = torch.sigmoid(z)
    p = torch.clamp(y_pred, 1e-8, 1 - 1e-8)
    (-(y * torch.log(p) + (1 - y) * torch.log(1 - p))).backward()
    session = Session(logistic)
    names = {n.name: nid for nid, n in logistic.nodes.items() if n.name}
    bpass = logistic.passes[0]
    end = session.state(bpass.last_step)
    values = node_values(session, end)
    assert values[names["w"]] == f"data 1 | grad {w.grad.item():.4g}"
    assert values[names["z"]] == f"data {z.item():.2g} | grad {z.grad.item():.4g}"
    start = session.state(bpass.first_step)
    assert node_values(session, start)[names["z"]].endswith("grad …")  # not received yet
    assert node_values(session, start)[names["w"]] == "data 1 | grad None"


def test_step_texts_title_a_node_as_the_graph_does(logistic) -> None:
    """The timeline, the status bar and the handout's headings (``step_what``) name an op
    node as its graph node is titled: ``MulBackward0 (w * x) computes …``, ``AddBackward0
    (z) computes …``; a leaf's step and a statement keep their text."""
    g = build_graph(logistic)
    seen = set()
    for step in logistic.steps:
        what = step_what(logistic, step, where=False)
        node = logistic.nodes.get(step.node or "")
        if node is None or node.kind == "leaf" or step.kind == "tensor_hook":
            assert what == step.text
            continue
        title, op = node_lines(g.nodes[node.id])
        assert op == node.op and what.startswith(f"{op} ({title}) "), (what, title)
        assert what.count(f"{op} (") == 1  # titled once, whether the recorder did or not
        seen.add(title)
        if node.name is None:  # the table of ``gradstep trace`` says where it was made too
            assert step_what(logistic, step) == what.replace(
                f"({title})", f"({title}, line {node.line})"
            )
    assert {"w * x", "z"} <= seen
    assert any("…" in t for t in seen)  # a long expression, cut as in its node


def test_a_constant_is_named_as_the_code_where_it_is_used_names_it() -> None:
    """The same tensor is ``y`` at the top and ``target`` inside the function: each node's
    constant takes the name its own line uses, and the value torch saved."""
    source = (
        "import torch\n"
        "y = torch.tensor(3.0)\n"
        "w = torch.tensor(2.0, requires_grad=True)\n"
        "def scaled(p, target):\n"
        "    return target * p\n"
        "a = scaled(w, y)\n"
        "b = w * y\n"
        "(a + b).backward()\n"
    )
    trace = record_scenario(scenario_from_source(source), trusted=True)
    g = build_graph(trace)
    named = {
        trace.nodes[constant_consumer(d)[0]].expr: node_lines(data)[0]
        for d, data in g.nodes(data=True)
        if data["kind"] == "constant"
    }
    assert named == {"target * p": "target = 3", "w * y": "y = 3"}
    y, w = torch.tensor(3.0), torch.tensor(2.0, requires_grad=True)
    (y * w + w * y).backward()
    assert trace.variables["w"].grad == pytest.approx(w.grad.item())  # torch, the oracle
