"""Collapsing the graph by module: boxes, merged edges, which boxes a big graph opens with."""

from __future__ import annotations

import networkx as nx
import pytest

from gradstep.graph.collapse import (
    box_id,
    collapse,
    collapse_all,
    collapse_module,
    default_collapsed,
    drawn_count,
    expand,
    expand_inside,
    module_tree,
    reveal,
)
from gradstep.graph.layout import layered_layout


def stack(layers: int, per_layer: int = 4) -> nx.MultiDiGraph:
    """A chain of layers like a transformer stack: each layer has a weight leaf, an attention
    part (two ops), a feed-forward op and a residual add made by the layer itself."""
    g = nx.MultiDiGraph()
    g.add_node("x", module=None, kind="leaf", step=0)
    prev = "x"
    for i in range(layers):
        layer = f"model.layers.{i}"
        w, a1, a2, ff, add = (f"{n}{i}" for n in ("w", "a1_", "a2_", "ff", "add"))
        g.add_node(w, module=f"{layer}.attn", kind="leaf", step=0)
        g.add_node(a1, module=f"{layer}.attn", kind="op", step=i + 1)
        g.add_node(a2, module=f"{layer}.attn", kind="op", step=i + 1)
        g.add_node(ff, module=f"{layer}.ff", kind="op", step=i + 1)
        g.add_node(add, module=layer, kind="op", step=i + 1)
        g.add_edge(prev, a1, key=0)
        g.add_edge(w, a1, key=1)
        g.add_edge(a1, a2, key=0)
        g.add_edge(a2, ff, key=0)
        g.add_edge(ff, add, key=0)
        g.add_edge(prev, add, key=1)  # the residual
        prev = add
    g.add_node("loss", module=None, kind="op", step=layers + 1)
    g.add_edge(prev, "loss", key=0)
    g.add_edge(prev, "loss", key=1)  # x * x: two edges between the same pair
    return g


def test_tree_members_children_and_loose() -> None:
    tree = module_tree(stack(3))
    assert tree.loose == ["x", "loss"]
    assert tree.children[""] == ["model"]
    assert tree.children["model.layers"] == [f"model.layers.{i}" for i in range(3)]
    assert tree.children["model.layers.1"] == ["model.layers.1.attn", "model.layers.1.ff"]
    assert tree.members["model.layers.1"] == ["w1", "a1_1", "a2_1", "ff1", "add1"]
    assert tree.direct["model.layers.1"] == ["add1"]
    assert not tree.boxable("model.layers.1.ff")  # one node: never a box


def test_one_box_per_closed_module_with_merged_edges() -> None:
    g = stack(3)
    tree = module_tree(g)
    view = collapse(g, tree, {"model.layers.0", "model.layers.1", "model.layers.2"})
    boxes = [box_id(f"model.layers.{i}") for i in range(3)]
    assert list(view.graph) == ["x", boxes[0], boxes[1], boxes[2], "loss"]
    assert view.members[boxes[1]] == ["w1", "a1_1", "a2_1", "ff1", "add1"]
    assert view.drawn_of["ff1"] == boxes[1] and view.drawn_of["x"] == "x"
    assert view.graph.nodes[boxes[1]]["kind"] == "module"
    assert view.graph.nodes[boxes[1]]["size"] == 5
    # x feeds layer 0 twice (attention and residual): one merged edge keyed by the first slot
    assert list(view.graph.edges(keys=True)) == [
        ("x", boxes[0], 0),
        (boxes[0], boxes[1], 0),
        (boxes[1], boxes[2], 0),
        (boxes[2], "loss", 0),  # both factors of the product: one edge per drawn pair
    ]
    assert sorted(view.edges_of[("x", boxes[0], 0)]) == [("x", "a1_0", 0), ("x", "add0", 1)]
    assert view.drawn_edge[("add2", "loss", 1)] == (boxes[2], "loss", 0)
    assert ("a1_1", "a2_1", 0) not in view.drawn_edge  # inside a box
    assert nx.is_directed_acyclic_graph(view.graph)


def test_nothing_closed_is_the_graph_itself() -> None:
    g = stack(2)
    view = collapse(g, module_tree(g), set())
    assert list(view.graph.edges(keys=True)) == list(g.edges(keys=True))
    assert view.members == {} and all(view.drawn_of[n] == n for n in g)


def test_outer_closed_module_wins_and_single_node_modules_are_no_box() -> None:
    g = stack(2)
    tree = module_tree(g)
    view = collapse(g, tree, {"model.layers.0", "model.layers.0.attn", "model.layers.1.ff"})
    assert view.drawn_of["a1_0"] == box_id("model.layers.0")
    assert view.drawn_of["ff1"] == "ff1"


def test_small_graphs_open_expanded() -> None:
    tree = module_tree(stack(10))  # 52 nodes
    assert default_collapsed(tree) == set()


def test_big_stack_opens_one_box_per_layer() -> None:
    tree = module_tree(stack(96))  # 482 nodes
    closed = default_collapsed(tree)
    assert closed == {f"model.layers.{i}" for i in range(96)}
    assert drawn_count(tree, closed) == 98


def test_opening_takes_the_shallowest_level_that_shows_structure() -> None:
    tree = module_tree(stack(80))
    layers = {f"model.layers.{i}" for i in range(80)}
    # one box for the model (3 drawn nodes) is too few; one per layer (82) is an overview
    assert default_collapsed(tree, above=100, budget=300) == layers
    # past the budget at every depth with enough nodes: the most it can draw within it
    assert default_collapsed(tree, above=100, budget=60) == {"model.layers"}
    # nothing within the budget: the fewest
    assert default_collapsed(tree, above=100, budget=2) == {"model.layers"}
    attention = {f"model.layers.{i}.attn" for i in range(80)}
    assert default_collapsed(tree, above=100, least=100, budget=300) == attention


def test_collapse_all_goes_through_lone_wrappers() -> None:
    tree = module_tree(stack(4))
    assert collapse_all(tree) == {"model.layers"}  # "model" holds nothing but "model.layers"


def test_expand_and_collapse_back() -> None:
    tree = module_tree(stack(3))
    closed = {"model.layers"}
    opened = expand(tree, closed, "model.layers")
    assert opened == {f"model.layers.{i}" for i in range(3)}
    deeper = expand(tree, opened, "model.layers.1")
    assert deeper == {"model.layers.0", "model.layers.2", "model.layers.1.attn"}
    assert expand_inside(deeper, "model.layers") == set()
    assert collapse_module(deeper, "model.layers") == {"model.layers"}


def test_reveal_opens_every_box_around_a_node() -> None:
    g = stack(3)
    tree = module_tree(g)
    closed = reveal(tree, {"model.layers"}, "a2_1")
    view = collapse(g, tree, closed)
    assert view.drawn_of["a2_1"] == "a2_1"
    assert view.drawn_of["a1_0"] == box_id("model.layers.0")  # the others stay closed
    assert reveal(tree, closed, "x") == closed


@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_collapsed_graph_lays_out_and_reopens_in_place(direction: str) -> None:
    g = stack(40)
    tree = module_tree(g)
    closed = {f"model.layers.{i}" for i in range(40)}
    first = layered_layout(collapse(g, tree, closed).graph, direction=direction)
    opened = collapse(g, tree, expand(tree, closed, "model.layers.20"))
    second = layered_layout(opened.graph, direction=direction, previous=first)
    for i in (0, 5, 39):
        assert second.positions[box_id(f"model.layers.{i}")] is not None
    axis = 1 if direction == "TB" else 0  # along the flow
    before = first.positions[box_id("model.layers.5")][axis]
    assert second.positions[box_id("model.layers.5")][axis] == pytest.approx(before, abs=1.0)
