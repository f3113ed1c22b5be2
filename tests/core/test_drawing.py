"""The graph panel's Qt-free part: box states, badges, what a step changes, search."""

from __future__ import annotations

import networkx as nx

from gradstep.graph.collapse import box_id, collapse, module_tree
from gradstep.graph.drawing import Drawing, box_lines, box_status, search
from gradstep.session import NodeStatus, StepState
from gradstep.trace.model import Step


def chain() -> nx.MultiDiGraph:
    """w (leaf) -> a -> b -> loss, with a and b in module "m"."""
    g = nx.MultiDiGraph()
    g.add_node("w", kind="leaf", op="AccumulateGrad", name="m.w", module="m", step=0)
    g.add_node("a", kind="op", op="MulBackward0", name=None, module="m", step=1)
    g.add_node("b", kind="op", op="TanhBackward0", name="h", module="m", step=2)
    g.add_node("loss", kind="op", op="SumBackward0", name="loss", module=None, step=3)
    g.add_edge("w", "a", key=0)
    g.add_edge("a", "b", key=0)
    g.add_edge("b", "loss", key=0)
    return g


def drawing(closed: set[str]) -> Drawing:
    g = chain()
    tree = module_tree(g)
    return Drawing(g, tree, collapse(g, tree, closed), frozenset(closed))


def state(k: int, current: str | None, status: dict[str, NodeStatus], grads=()) -> StepState:
    return StepState(
        index=k,
        step=Step(k, "compute", None, ""),
        line=None,
        visible_nodes={n for n, s in {"w": 0, "a": 1, "b": 2, "loss": 3}.items() if s <= k},
        current_node=current,
        current_record=None,
        pass_index=0,
        node_status=status,
        edge_grads={e: 1.0 for e in grads},
    )


def test_a_box_is_current_received_or_done_with_its_nodes() -> None:
    d = drawing({"m"})
    box = box_id("m")
    assert d.node_state(box, state(0, None, {})) == "normal"
    st = state(5, "b", {"loss": "done", "b": "received", "a": "pending", "w": "pending"})
    assert d.node_state(box, st) == "current"
    st = state(5, "loss", {"loss": "done", "b": "done", "a": "pending", "w": "pending"})
    assert d.node_state(box, st) == "received"  # part-way through
    assert box_status(["a", "b"], {"a": "done", "b": "done"}) == "done"
    assert box_status(["a", "b"], {"a": "pending"}) == "pending"
    assert box_status(["a", "b"], {}) == "normal"


def test_a_merged_edge_carries_a_gradient_once_one_of_its_edges_does() -> None:
    d = drawing({"m"})
    key = (box_id("m"), "loss", 0)
    assert d.edge_state(key, state(5, None, {}), set()) == "normal"
    assert d.edge_state(key, state(5, None, {}, [("b", "loss", 0)]), set()) == "done"
    assert d.edge_state(key, state(5, None, {}), {("b", "loss", 0)}) == "active"
    assert d.edge_state(key, state(2, None, {}), set()) == "absent"  # loss not made yet


def test_badges_from_their_step_on_and_on_the_box_around_the_node() -> None:
    d = drawing({"m"})
    marks = {"a": (7, "NaN")}
    assert d.badge(box_id("m"), 6, marks) == ""
    assert d.badge(box_id("m"), 7, marks) == "NaN"
    assert d.badge("loss", 9, marks) == ""
    open_ = drawing(set())
    assert open_.badge("a", 9, marks) == "NaN" and open_.badge("b", 9, marks) == ""


def test_a_step_restyles_the_box_of_what_changed() -> None:
    d = drawing({"m"})
    old = state(5, "loss", {"loss": "received"})
    new = state(6, "b", {"loss": "done", "b": "received"}, [("b", "loss", 0)])
    nodes, edges = d.changed(old, new, {})
    assert nodes == {"loss", box_id("m")}
    assert edges == {(box_id("m"), "loss", 0)}


def test_search_by_name_op_and_module_exact_first() -> None:
    g = chain()
    assert search(g, "loss") == ["loss"]
    assert search(g, "tanh") == ["b"]
    assert search(g, "m") == ["w", "a", "b", "loss"]  # module "m" exactly, then Sum has an m
    assert search(g, "m.w") == ["w"]
    assert search(g, "  ") == []


def test_box_titles() -> None:
    assert box_lines("model.layers.3", 56) == ("layers.3", "▸ 56 nodes")
    assert box_lines("model.encoder", 9) == ("encoder", "▸ 9 nodes")


def test_the_pipeline_draws_a_trace_in_one_call() -> None:
    """model -> collapse -> layout -> fold, Qt-free: every drawn node has a place, a box
    stands for its module's nodes, and a loop's later iterations stand where the first did."""
    from gradstep.graph.pipeline import draw, first_view, view_of
    from gradstep.record.run import record_scenario
    from gradstep.scenario.loader import scenario_from_source
    from gradstep.session import representatives

    source = (
        "import torch\n"
        "model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh())\n"
        "x = torch.ones(1, 2)\n"
        "for _ in range(2):\n"
        "    loss = model(x).sum()\n"
        "    loss.backward()\n"
    )
    trace = record_scenario(scenario_from_source(source, "loop.py"), trusted=True)
    opened = draw(trace, closed=())
    layout = opened.layout
    assert set(layout.positions) == set(opened.view.graph) == set(opened.graph)
    folded = draw(trace, closed=(), fold=representatives(trace))
    rep = representatives(trace)
    assert rep and all(
        folded.layout.positions[n] == folded.layout.positions[r] for n, r in rep.items()
    )
    boxed = view_of(first_view(trace, ()), {"model"})
    box = box_id("model")
    assert box in boxed.view.graph and len(boxed.view.graph) < len(opened.view.graph)
    assert all(boxed.drawn(n) == box for n in boxed.view.members[box])
