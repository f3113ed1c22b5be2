"""The layered layout: crossings counted exactly, layers, overlaps, stability, speed-free."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradstep.graph.layout import GraphLayout, layered_layout
from gradstep.graph.layout.crossings import count_crossings, inversions
from gradstep.graph.layout.layering import assign_layers

NODE_SEP = 30.0


def random_dag(n: int, seed: int, span: int = 8, extra: float = 0.5) -> nx.MultiDiGraph:
    """A connected-ish random DAG on ``v0..v{n-1}``, edges from lower to higher index."""
    rng = random.Random(seed)
    g = nx.MultiDiGraph()
    g.add_nodes_from(f"v{i}" for i in range(n))
    for i in range(1, n):
        for slot in range(1 + (rng.random() < extra)):
            g.add_edge(f"v{rng.randrange(max(0, i - span), i)}", f"v{i}", key=slot)
    return g


def brute_force_crossings(g: nx.MultiDiGraph, layout: GraphLayout) -> int:
    """Every pair of segments in every strip, compared directly."""
    segments: dict[int, list[tuple[float, float]]] = {}
    for (u, v, _key), points in layout.edge_points.items():
        lu, lv = layout.layers[u], layout.layers[v]
        if lu == lv:
            continue
        xs = [p[0] for p in points]
        if lu > lv:
            xs.reverse()
        for i in range(len(xs) - 1):
            segments.setdefault(min(lu, lv) + i, []).append((xs[i], xs[i + 1]))
    total = 0
    for segs in segments.values():
        for (a0, a1), (b0, b1) in itertools.combinations(segs, 2):
            if (a0 - b0) * (a1 - b1) < 0:
                total += 1
    return total


def assert_no_overlap(layout: GraphLayout, size: dict[str, tuple[float, float]]) -> None:
    for row in layout.order:
        xs = sorted(row, key=lambda n: layout.positions[n][0])
        for a, b in zip(xs, xs[1:]):
            gap = layout.positions[b][0] - layout.positions[a][0]
            assert gap >= (size[a][0] + size[b][0]) / 2 + NODE_SEP - 1e-6, (a, b, gap)


# --- the crossing counter ------------------------------------------------------


@given(st.lists(st.integers(0, 20), max_size=60))
def test_inversions_match_a_pair_scan(values: list[int]) -> None:
    expected = sum(
        1 for i, j in itertools.combinations(range(len(values)), 2) if values[i] > values[j]
    )
    assert inversions(values, 21) == expected


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 40), st.integers(0, 10**6))
def test_count_crossings_is_exact_on_random_drawings(n: int, seed: int) -> None:
    g = random_dag(n, seed, extra=0.8)
    layout = layered_layout(g)
    # Scramble the x order inside each layer so that there is something to count.
    rng = random.Random(seed)
    shuffled = dict(layout.positions)
    for row in layout.order:
        xs = sorted(layout.positions[v][0] for v in row)
        rng.shuffle(xs)
        for v, x in zip(row, xs):
            shuffled[v] = (x, layout.positions[v][1])
    points = {
        e: [
            shuffled[e[0]],
            *[(x + rng.uniform(-200, 200), y) for x, y in pts[1:-1]],
            shuffled[e[1]],
        ]
        for e, pts in layout.edge_points.items()
    }
    scrambled = GraphLayout(
        shuffled, layout.layers, layout.order, points, layout.width, layout.height
    )
    assert count_crossings(g, scrambled) == brute_force_crossings(g, scrambled)
    assert count_crossings(g, layout) == brute_force_crossings(g, layout)


def test_a_crossing_is_counted_once_per_edge_pair() -> None:
    g = nx.MultiDiGraph([("a", "d"), ("b", "c")])
    layout = GraphLayout(
        positions={"a": (0, 0), "b": (1, 0), "c": (0, 1), "d": (1, 1)},
        layers={"a": 0, "b": 0, "c": 1, "d": 1},
        order=[["a", "b"], ["c", "d"]],
        edge_points={("a", "d", 0): [(0, 0), (1, 1)], ("b", "c", 0): [(1, 0), (0, 1)]},
        width=1,
        height=1,
    )
    assert count_crossings(g, layout) == 1
    assert count_crossings(g, layout, direction="LR") == 0  # by y nothing is reversed


# --- layers --------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60), st.integers(0, 10**6))
def test_every_edge_goes_to_a_later_layer(n: int, seed: int) -> None:
    g = random_dag(n, seed)
    layout = layered_layout(g)
    for u, v in g.edges():
        assert layout.layers[v] > layout.layers[u]
    for (u, v, _), points in layout.edge_points.items():
        assert len(points) == layout.layers[v] - layout.layers[u] + 1
        assert points[0] == layout.positions[u] and points[-1] == layout.positions[v]
    assert sorted(n for row in layout.order for n in row) == sorted(g.nodes)


@pytest.mark.parametrize("seed", range(8))
def test_layering_reaches_the_least_total_span(seed: int) -> None:
    g = nx.DiGraph(random_dag(40, seed, span=12, extra=0.7))
    index = {v: i for i, v in enumerate(g)}
    edges = [(index[u], index[v]) for u, v in g.edges()]
    layer = assign_layers(len(index), edges)
    span = sum(layer[v] - layer[u] for u, v in edges)
    # The dual of the layering LP is a flow problem: min cost = -(least total span).
    flow = nx.DiGraph()
    for v in g:
        flow.add_node(v, demand=g.in_degree(v) - g.out_degree(v))
    flow.add_edges_from(g.edges(), weight=-1)
    assert span == -nx.min_cost_flow_cost(flow)


def test_weights_sit_right_above_the_op_that_uses_them() -> None:
    g = nx.MultiDiGraph()
    chain = [f"op{i}" for i in range(6)]
    nx.add_path(g, chain)
    g.add_edge("w", "op4", key=1)
    layout = layered_layout(g)
    assert layout.layers["w"] == layout.layers["op4"] - 1


# --- geometry ------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 50), st.integers(0, 10**6))
def test_nodes_on_a_layer_never_overlap(n: int, seed: int) -> None:
    g = random_dag(n, seed, extra=0.7)
    rng = random.Random(seed)
    size = {v: (rng.uniform(10, 300), rng.uniform(10, 80)) for v in g}
    layout = layered_layout(g, node_size=size.__getitem__, node_sep=NODE_SEP)
    assert_no_overlap(layout, size)
    for row in layout.order:  # a layer's centres share one y
        assert len({layout.positions[v][1] for v in row}) == 1
    xs = [x for pts in layout.edge_points.values() for x, _ in pts]
    assert min(xs + [layout.positions[v][0] - size[v][0] / 2 for v in g]) >= -1e-6
    assert max(layout.positions[v][0] + size[v][0] / 2 for v in g) <= layout.width + 1e-6


def test_long_labels_push_their_neighbours_apart() -> None:
    g = nx.MultiDiGraph([("a", "c"), ("b", "c")])
    size = {"a": (400.0, 40.0), "b": (60.0, 40.0), "c": (60.0, 40.0)}
    layout = layered_layout(g, node_size=size.__getitem__)
    assert abs(layout.positions["a"][0] - layout.positions["b"][0]) >= 230 + NODE_SEP - 1e-6


def tree(n: int, seed: int, inward: bool) -> nx.MultiDiGraph:
    rng = random.Random(seed)
    g = nx.MultiDiGraph()
    g.add_node("t0")
    for i in range(1, n):
        other = f"t{rng.randrange(i)}"
        g.add_edge(f"t{i}", other) if inward else g.add_edge(other, f"t{i}")
    return g


def diamonds(k: int) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for i in range(k):
        g.add_edges_from(
            [(f"s{i}", f"l{i}"), (f"s{i}", f"r{i}"), (f"l{i}", f"s{i + 1}"), (f"r{i}", f"s{i + 1}")]
        )
    return g


@pytest.mark.parametrize(
    "g",
    [
        nx.path_graph(30, create_using=nx.MultiDiGraph),
        *(tree(60, seed, inward) for seed in range(4) for inward in (True, False)),
        diamonds(12),
        nx.union(diamonds(3), tree(20, 1, True)),
    ],
)
def test_trees_chains_and_diamonds_have_no_crossing(g: nx.MultiDiGraph) -> None:
    layout = layered_layout(g)
    assert count_crossings(g, layout) == 0


def test_a_chain_is_drawn_straight() -> None:
    g = nx.path_graph(20, create_using=nx.MultiDiGraph)
    layout = layered_layout(g)
    assert len({x for x, _ in layout.positions.values()}) == 1


def test_x_times_x_keeps_both_edges() -> None:
    g = nx.MultiDiGraph()
    g.add_edge("x", "mul", key=0)
    g.add_edge("x", "mul", key=1)
    g.add_edge("mul", "loss", key=0)
    layout = layered_layout(g)
    assert set(layout.edge_points) == {("x", "mul", 0), ("x", "mul", 1), ("mul", "loss", 0)}
    assert layout.layers == {"x": 0, "mul": 1, "loss": 2}
    assert count_crossings(g, layout) == 0


def test_parallel_long_edges_share_their_route() -> None:
    g = nx.MultiDiGraph()
    nx.add_path(g, ["x", "a", "b", "c"])
    g.add_edge("x", "c", key=1)
    g.add_edge("x", "c", key=2)
    layout = layered_layout(g)
    assert layout.edge_points[("x", "c", 1)] == layout.edge_points[("x", "c", 2)]
    assert count_crossings(g, layout) == 0


# --- odd graphs ----------------------------------------------------------------


def test_empty_and_single_node() -> None:
    empty = layered_layout(nx.MultiDiGraph())
    assert empty.positions == {} and empty.order == [] and empty.width == 0
    one = nx.MultiDiGraph()
    one.add_node("x")
    layout = layered_layout(one)
    assert layout.layers == {"x": 0} and layout.order == [["x"]]
    assert layout.positions["x"] == (60.0, 20.0)
    assert (layout.width, layout.height) == (120.0, 40.0)


def test_components_and_lonely_nodes_sit_side_by_side() -> None:
    g = nx.MultiDiGraph([("a", "b"), ("c", "d"), ("d", "e")])
    g.add_nodes_from(["z", "y"])
    layout = layered_layout(g)
    assert {layout.layers[v] for v in ("a", "c", "z", "y")} == {0}
    xs = sorted(layout.positions[v][0] for v in ("a", "c", "z", "y"))
    assert all(b - a >= 120 + NODE_SEP for a, b in zip(xs, xs[1:]))
    assert count_crossings(g, layout) == 0


def test_cycles_and_self_loops_are_drawn() -> None:
    g = nx.MultiDiGraph([("a", "b"), ("b", "c"), ("c", "a"), ("c", "c"), ("c", "d"), ("d", "c")])
    layout = layered_layout(g)
    assert len(set(layout.layers.values())) == 4 and len(layout.edge_points) == 6
    assert layered_layout(g, previous=layout) == layout
    assert layout.edge_points[("c", "c", 0)] == [layout.positions["c"]] * 2
    assert layout.edge_points[("c", "a", 0)][0] == layout.positions["c"]


def test_ten_thousand_nodes() -> None:
    # An autograd-like spine with a weight and a residual every few ops.
    g = nx.MultiDiGraph()
    for i in range(1, 5000):
        g.add_edge(f"op{i - 1}", f"op{i}", key=0)
        g.add_edge(f"w{i}", f"op{i}", key=1)
        if i % 5 == 0:
            g.add_edge(f"op{i - 5}", f"op{i}", key=2)
    layout = layered_layout(g)
    assert len(layout.positions) == g.number_of_nodes() >= 9_999
    assert count_crossings(g, layout) == 0


def test_wide_fan_out_and_fan_in() -> None:
    # A tensor used by thousands of ops, and a sum of thousands of terms.
    g = nx.MultiDiGraph()
    for i in range(2000):
        g.add_edge("x", f"op{i}", key=0)
        g.add_edge(f"op{i}", "sum", key=i)
    layout = layered_layout(g)
    assert count_crossings(g, layout) == 0
    assert len(layout.order[1]) == 2000 and layout.layers["sum"] == 2


# --- stability, direction, determinism -----------------------------------------


def moved(a: GraphLayout, b: GraphLayout) -> float:
    shared = [v for v in a.positions if v in b.positions]
    far = sum(
        1 for v in shared if max(abs(p - q) for p, q in zip(a.positions[v], b.positions[v])) > 0.5
    )
    return far / len(shared)


@pytest.mark.parametrize("seed", range(5))
def test_one_extra_node_keeps_the_rest_in_place(seed: int) -> None:
    g = random_dag(80, seed, extra=0.3)
    before = layered_layout(g)
    rng = random.Random(seed)
    grown = g.copy()
    grown.add_edge("new", f"v{rng.randrange(80)}", key=7)
    after = layered_layout(grown, previous=before)
    assert moved(before, after) <= 0.1
    assert count_crossings(grown, after) <= count_crossings(grown, layered_layout(grown)) + 2


def test_a_leaf_drawn_apart_joins_next_to_its_first_use() -> None:
    g = nx.MultiDiGraph()
    nx.add_path(g, [f"op{i}" for i in range(8)])
    g.add_node("w")  # `w = torch.randn(..., requires_grad=True)`, not used yet
    before = layered_layout(g)
    g.add_edge("w", "op6", key=1)
    after = layered_layout(g, previous=before)
    assert after.layers["w"] == after.layers["op6"] - 1
    assert abs(after.positions["w"][0] - after.positions["op6"][0]) <= 120 + NODE_SEP
    assert all(after.positions[f"op{i}"] == before.positions[f"op{i}"] for i in range(8))


def test_previous_of_the_same_graph_changes_nothing() -> None:
    g = random_dag(120, 3)
    before = layered_layout(g)
    assert layered_layout(g, previous=before) == before


def test_lr_is_tb_with_the_axes_swapped() -> None:
    g = random_dag(40, 5)
    rng = random.Random(5)
    size = {v: (rng.uniform(40, 200), rng.uniform(20, 60)) for v in g}
    lr = layered_layout(g, direction="LR", node_size=size.__getitem__)
    tb = layered_layout(g, direction="TB", node_size=lambda v: size[v][::-1])
    assert lr.positions == {v: (y, x) for v, (x, y) in tb.positions.items()}
    assert lr.edge_points == {e: [(y, x) for x, y in pts] for e, pts in tb.edge_points.items()}
    assert (lr.width, lr.height) == (tb.height, tb.width)
    assert lr.layers == tb.layers and lr.order == tb.order
    assert count_crossings(g, lr, direction="LR") == count_crossings(g, tb)


def test_bad_direction_is_refused() -> None:
    with pytest.raises(ValueError, match="direction"):
        layered_layout(nx.MultiDiGraph(), direction="BT")


def test_layout_is_deterministic() -> None:
    g = random_dag(200, 11, extra=0.9)
    first = layered_layout(g)
    assert layered_layout(g) == first
    assert layered_layout(nx.MultiDiGraph(g)) == first


# --- real autograd graphs ------------------------------------------------------
# Written out from benchmarks/graphs.py ("tail>head:slot", node ids by discovery
# order) so that these tests need no torch: one nn.TransformerEncoderLayer with
# dropout, and the ResNet-like CNN, whose depth-first order has crossings to repair.

TRANSFORMER_LAYER = """
1>0 2>1 3>1:1 4>1:2 5>2 5>18 6>2:1 7>6 8>7 9>8 10>8:1 11>8:2 12>11 13>10 14>13 15>14
16>15 17>16 18>16:1 19>16:2 20>19 21>5 22>5:1 23>5:2 24>21 24>57 25>21:1 26>25 27>26
28>27 29>28 30>28:1 31>28:2 32>31 33>30 34>33 35>34 36>35 37>36 38>36:1 39>38 40>39
41>40 42>41 43>42 44>43 44>71 44>77 45>44 46>45 47>46 48>47 49>48 50>49 51>49:1
52>50 53>52 54>52:1 55>54 56>53 57>56 58>37 59>58 60>59 61>60 62>61 63>62 64>62:1
65>64 66>65 67>66 68>67 69>68 70>69 71>70 72>63 73>72 74>73 75>74 76>75 77>76
"""

RESNET = """
1>0 2>1 3>2 4>2:1 5>2:2 6>5 7>4 8>7 9>8 10>9 11>9:1 11>129 12>11 13>12 14>12:1 15>14
16>14:1 17>14:2 18>15 18>119 19>15:1 20>18 21>20 22>20:1 22>109 23>22 24>23 25>23:1
26>25 27>25:1 28>25:2 29>26 29>99 30>26:1 31>29 32>31 33>31:1 33>89 34>33 35>34
36>34:1 37>36 38>36:1 39>36:2 40>37 40>79 41>37:1 42>40 43>42 44>42:1 44>69 45>44
46>45 47>45:1 47>59 48>47 49>48 50>48:1 51>48:2 52>49:1 53>46 54>46:1 55>46:2 56>53
57>53:1 58>56 59>58 60>58:1 61>58:2 62>59:1 63>43 64>43:1 65>43:2 66>63 67>63:1
68>66 69>68 70>68:1 71>68:2 72>69:1 73>35 74>35:1 75>35:2 76>73 77>73:1 78>76 79>78
80>78:1 81>78:2 82>79:1 83>32 84>32:1 85>32:2 86>83 87>83:1 88>86 89>88 90>88:1
91>88:2 92>89:1 93>24 94>24:1 95>24:2 96>93 97>93:1 98>96 99>98 100>98:1 101>98:2
102>99:1 103>21 104>21:1 105>21:2 106>103 107>103:1 108>106 109>108 110>108:1
111>108:2 112>109:1 113>13 114>13:1 115>13:2 116>113 117>113:1 118>116 119>118
120>118:1 121>118:2 122>119:1 123>10 124>10:1 125>10:2 126>123 127>123:1 128>126
129>128 130>128:1 131>128:2 132>129:1
"""


def autograd_graph(text: str) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    edges = [token.partition(">") for token in text.split()]
    g.add_nodes_from(
        f"n{i}" for i in range(1 + max(int(max(a, b.split(":")[0])) for a, _, b in edges))
    )
    for tail, _, rest in edges:
        head, _, slot = rest.partition(":")
        g.add_edge(f"n{tail}", f"n{head}", key=int(slot or 0))
    return g


@pytest.mark.parametrize("text", [TRANSFORMER_LAYER, RESNET], ids=["transformer", "resnet"])
def test_autograd_graphs_have_no_crossing_and_straight_spines(text: str) -> None:
    g = autograd_graph(text)
    layout = layered_layout(g)
    assert count_crossings(g, layout) == 0
    # One input, one output: a chain edge, drawn vertical.
    chain = [(u, v) for u, v in g.edges() if g.out_degree(u) == 1 and g.in_degree(v) == 1]
    assert all(layout.positions[u][0] == layout.positions[v][0] for u, v in chain)
    for points in layout.edge_points.values():  # long edges run straight between their bends
        assert len({x for x, _ in points[1:-1]}) <= 1


def induced(g: nx.MultiDiGraph, nodes: list[str]) -> nx.MultiDiGraph:
    """The subgraph on ``nodes``, in their order (``g.subgraph`` may iterate a set)."""
    keep = set(nodes)
    step = nx.MultiDiGraph()
    step.add_nodes_from(nodes)
    step.add_edges_from((u, v, k) for u, v, k in g.edges(keys=True) if u in keep and v in keep)
    return step


def creation_order(g: nx.MultiDiGraph) -> list[str]:
    """The order a forward pass creates the nodes in: inputs first, a leaf just before its first use."""
    order: list[str] = []
    emitted: set[str] = set()
    seen: set[str] = set()
    for root in [v for v in g if g.out_degree(v) == 0]:
        stack = [(root, False)]
        while stack:
            v, done = stack.pop()
            inputs = [u for u, _, _ in sorted(g.in_edges(v, keys=True), key=lambda e: e[2])]
            if done:
                order += [u for u in inputs if g.in_degree(u) == 0 and u not in emitted]
                emitted.update(inputs + [v])
                order.append(v)
            elif v not in seen:
                seen.add(v)
                stack.append((v, True))
                stack += [(u, False) for u in reversed(inputs) if u not in seen and g.in_degree(u)]
    return order


@pytest.mark.parametrize("text", [TRANSFORMER_LAYER, RESNET], ids=["transformer", "resnet"])
def test_a_graph_growing_step_by_step_stays_put(text: str) -> None:
    g = autograd_graph(text)
    order = creation_order(g)
    assert sorted(order) == sorted(g)
    previous, shares = None, []
    for k in range(8, len(order) + 8, 8):
        step = induced(g, order[:k])
        layout = layered_layout(step, previous=previous)
        assert count_crossings(step, layout) == 0
        if previous is not None:
            shares.append(moved(previous, layout))
        previous = layout
    assert max(shares) <= 0.2 and sum(shares) / len(shares) <= 0.05, shares


def test_a_folded_layout_draws_each_copy_where_its_representative_is() -> None:
    from gradstep.graph.layout.fold import folded_layout

    # a parameter w used by three iterations: w -> m_i -> s_i
    g = nx.MultiDiGraph()
    for i in range(3):
        g.add_edge("w", f"m{i}", key=0)
        g.add_edge(f"m{i}", f"s{i}", key=0)
    rep = {"m1": "m0", "m2": "m0", "s1": "s0", "s2": "s0"}
    plain = layered_layout(g)
    folded = folded_layout(g, rep, layered_layout)
    assert set(folded.positions) == set(g) and set(folded.edge_points) == set(plain.edge_points)
    for copy, original in rep.items():
        assert folded.positions[copy] == folded.positions[original]
    assert folded.edge_points[("w", "m2", 0)] == folded.edge_points[("w", "m0", 0)]
    # one iteration wide, not three
    assert folded.width < plain.width
    assert sorted(n for layer in folded.order for n in layer) == sorted(g)


def test_a_folding_that_would_make_a_cycle_is_not_used() -> None:
    from gradstep.graph.layout.fold import folded_layout

    g = nx.MultiDiGraph()
    g.add_edge("a0", "b0", key=0)
    g.add_edge("b1", "a1", key=0)  # the second iteration runs the other way round
    rep = {"a1": "a0", "b1": "b0"}
    folded = folded_layout(g, rep, layered_layout)
    assert folded.positions["a1"] != folded.positions["a0"]
