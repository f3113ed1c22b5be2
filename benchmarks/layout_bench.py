"""Benchmark of ``layered_layout`` against Graphviz ``dot`` on autograd graphs.

    python benchmarks/layout_bench.py [--graphs mlp,resnet] [--runs 7] [--no-dot]

For every benchmark graph (see ``graphs.py``) it times our layout (median
of several runs, interleaved with dot's so that both meet the same machine
load) and measures its drawing: exact edge crossings, total edge
length, the share of chain edges drawn vertical and of long edges drawn
straight. If ``dot`` is on PATH it lays out the same graph with the same node
size and spacing (``dot -Tplain``), reads node centres and splines back,
samples each spline where it passes a rank (those are dot's dummy vertices),
and measures that drawing with the very same functions. Graphviz is never
required: without it only our columns are filled.

Columns: ``n``/``e`` nodes and edges; ``ms`` wall time (dot's includes
starting the process, as a user of dot pays it; ``-start`` takes dot's time
on a one-node graph off, roughly its layout work alone); ``cross`` exact crossings;
``length`` total edge length in units of the node height; ``chain`` share of
chain edges (tail has one output, head one input) that are vertical; ``long``
share of long edges whose bends line up.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from graphs import BENCHMARK_GRAPHS  # noqa: E402

from gradstep.graph.layout import DEFAULT_NODE_SIZE, GraphLayout, layered_layout  # noqa: E402
from gradstep.graph.layout.crossings import count_crossings  # noqa: E402

RANK_SEP = 50.0
NODE_SEP = 30.0
POINTS_PER_INCH = 72.0
# dot's start-up, measured on the same kind of node (no label: a label would
# load fonts, which the benchmark graphs never do).
ONE_NODE = 'digraph G { node [shape=box, fixedsize=true, label=""]; a; }'


@dataclass
class Quality:
    crossings: int
    length: float
    chain: float
    long: float


def measure(g: nx.MultiDiGraph, layout: GraphLayout) -> Quality:
    """Crossings, edge length (in node heights) and straightness of a drawing."""
    length = 0.0
    for points in layout.edge_points.values():
        length += sum(math.dist(a, b) for a, b in zip(points, points[1:]))
    chain_edges = [
        (u, v) for u, v in g.edges() if g.out_degree(u) == 1 and g.in_degree(v) == 1 and u != v
    ]
    vertical = sum(
        1 for u, v in chain_edges if abs(layout.positions[u][0] - layout.positions[v][0]) < 0.5
    )
    long_edges = [pts for pts in layout.edge_points.values() if len(pts) > 3]
    straight = sum(
        1 for pts in long_edges if max(p[0] for p in pts[1:-1]) - min(p[0] for p in pts[1:-1]) < 1.0
    )
    return Quality(
        count_crossings(g, layout),
        length / DEFAULT_NODE_SIZE[1],
        vertical / len(chain_edges) if chain_edges else 1.0,
        straight / len(long_edges) if long_edges else 1.0,
    )


def time_ours(g: nx.MultiDiGraph) -> tuple[float, GraphLayout]:
    start = time.perf_counter()
    layout = layered_layout(g, rank_sep=RANK_SEP, node_sep=NODE_SEP)
    return time.perf_counter() - start, layout


def dot_source(g: nx.MultiDiGraph, names: dict[str, str]) -> str:
    w, h = (s / POINTS_PER_INCH for s in DEFAULT_NODE_SIZE)
    lines = [
        "digraph G {",
        f'node [shape=box, fixedsize=true, width={w:.4f}, height={h:.4f}, label=""];',
        f"ranksep={RANK_SEP / POINTS_PER_INCH:.4f}; nodesep={NODE_SEP / POINTS_PER_INCH:.4f};",
    ]
    lines += [f"{names[n]};" for n in g.nodes]
    lines += [f"{names[u]} -> {names[v]};" for u, v in g.edges()]
    lines.append("}")
    return "\n".join(lines)


def time_dot(g: nx.MultiDiGraph, names: dict[str, str], source: str) -> tuple[float, GraphLayout]:
    start = time.perf_counter()
    output = subprocess.run(
        ["dot", "-Tplain"], input=source, capture_output=True, text=True, check=True
    ).stdout
    return time.perf_counter() - start, parse_plain(g, names, output)


@dataclass
class Timing:
    ours: float  # seconds, median
    dot: float  # seconds, median wall time of `dot -Tplain`, NaN without dot
    dot_start: float  # seconds, median wall time of dot on a one-node graph


def compare(
    g: nx.MultiDiGraph, runs: int, use_dot: bool
) -> tuple[Timing, GraphLayout, GraphLayout | None]:
    """Median wall times, ours and dot's runs interleaved so that both meet the same load."""
    names = {n: f"n{i}" for i, n in enumerate(g.nodes)}
    source = dot_source(g, names)
    ours, theirs, start = [], [], []
    layout, dot_layout = layered_layout(g, rank_sep=RANK_SEP, node_sep=NODE_SEP), None
    for _ in range(runs):
        seconds, layout = time_ours(g)
        ours.append(seconds)
        if use_dot:
            seconds, dot_layout = time_dot(g, names, source)
            theirs.append(seconds)
            begin = time.perf_counter()
            subprocess.run(
                ["dot", "-Tplain"], input=ONE_NODE, capture_output=True, text=True, check=True
            )
            start.append(time.perf_counter() - begin)
    nan = math.nan
    timing = Timing(
        median(ours), median(theirs) if theirs else nan, median(start) if start else nan
    )
    return timing, layout, dot_layout


def parse_plain(g: nx.MultiDiGraph, names: dict[str, str], output: str) -> GraphLayout:
    """dot's drawing as a GraphLayout: ranks from node heights, bends sampled on each rank."""
    by_name = {name: n for n, name in names.items()}
    raw_pos: dict[str, tuple[float, float]] = {}
    splines: dict[tuple[str, str], list[list[tuple[float, float]]]] = {}
    for line in output.splitlines():
        parts = line.split()
        if parts[0] == "node":
            raw_pos[by_name[parts[1]]] = (float(parts[2]), float(parts[3]))
        elif parts[0] == "edge":
            count = int(parts[3])
            coords = [(float(parts[4 + 2 * i]), float(parts[5 + 2 * i])) for i in range(count)]
            splines.setdefault((by_name[parts[1]], by_name[parts[2]]), []).append(coords)
    top = max(y for _, y in raw_pos.values())
    step = (DEFAULT_NODE_SIZE[1] + RANK_SEP) / POINTS_PER_INCH
    positions = {
        n: (x * POINTS_PER_INCH, (top - y) * POINTS_PER_INCH) for n, (x, y) in raw_pos.items()
    }
    layers = {n: round((top - y) / step) for n, (_, y) in raw_pos.items()}
    order: list[list[str]] = [[] for _ in range(max(layers.values()) + 1)]
    for n in sorted(positions, key=lambda n: positions[n][0]):
        order[layers[n]].append(n)
    edge_points = {}
    used: dict[tuple[str, str], int] = {}
    for u, v, key in g.edges(keys=True):
        i = used.get((u, v), 0)
        used[(u, v)] = i + 1
        curve = _bezier_polyline(splines[(u, v)][i])
        inner = [
            (
                _x_at(curve, (top * POINTS_PER_INCH - r * step * POINTS_PER_INCH)),
                r * step * POINTS_PER_INCH,
            )
            for r in range(layers[u] + 1, layers[v])
        ]
        edge_points[(u, v, key)] = [positions[u], *inner, positions[v]]
    xs = [p[0] for p in positions.values()]
    ys = [p[1] for p in positions.values()]
    return GraphLayout(positions, layers, order, edge_points, max(xs) - min(xs), max(ys) - min(ys))


def _bezier_polyline(control: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Dense points (in points, y up) along a piecewise cubic Bézier from dot."""
    out = []
    for s in range(0, len(control) - 3, 3):
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = control[s : s + 4]
        for i in range(17):
            t = i / 16
            a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
            out.append(
                (
                    (a * x0 + b * x1 + c * x2 + d * x3) * POINTS_PER_INCH,
                    (a * y0 + b * y1 + c * y2 + d * y3) * POINTS_PER_INCH,
                )
            )
    return out


def _x_at(curve: list[tuple[float, float]], y: float) -> float:
    """x where the curve (y up) first passes height ``y``."""
    for (xa, ya), (xb, yb) in zip(curve, curve[1:]):
        if min(ya, yb) <= y <= max(ya, yb):
            return xa if ya == yb else xa + (xb - xa) * (y - ya) / (yb - ya)
    return min(curve, key=lambda p: abs(p[1] - y))[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--graphs", default=",".join(BENCHMARK_GRAPHS), help="comma-separated names"
    )
    parser.add_argument(
        "--runs", type=int, default=9, help="timed runs per graph (fewer for big ones)"
    )
    parser.add_argument("--no-dot", action="store_true", help="skip Graphviz even if installed")
    args = parser.parse_args()
    use_dot = not args.no_dot and shutil.which("dot") is not None
    if not use_dot:
        print("dot not used (not on PATH or --no-dot): our columns only\n")
    header = (
        f"{'graph':<22}{'n':>6}{'e':>6} | {'ms':>7}{'cross':>6}{'length':>7}{'chain':>6}{'long':>6}"
    )
    if use_dot:
        header += (
            f" | {'dot ms':>8}{'-start':>7}{'cross':>6}{'length':>7}{'chain':>6}{'long':>6}"
            f" | {'time':>6}{'length':>7}"
        )
    print(header)
    print("-" * len(header))
    for name in args.graphs.split(","):
        g = BENCHMARK_GRAPHS[name]()
        big = g.number_of_nodes() > 2000
        t, layout, dot_layout = compare(g, 3 if big else args.runs, use_dot)
        q = measure(g, layout)
        row = (
            f"{name:<22}{g.number_of_nodes():>6}{g.number_of_edges():>6} | "
            f"{t.ours * 1000:>7.2f}{q.crossings:>6}{q.length:>7.0f}{q.chain:>6.0%}{q.long:>6.0%}"
        )
        if dot_layout is not None:
            d = measure(g, dot_layout)
            work = t.dot - t.dot_start
            row += (
                f" | {t.dot * 1000:>8.1f}{work * 1000:>7.1f}{d.crossings:>6}{d.length:>7.0f}{d.chain:>6.0%}{d.long:>6.0%}"
                f" | {t.ours / t.dot:>6.3f}{q.length / d.length:>7.2f}"
            )
        print(row, flush=True)
    if use_dot:
        print(
            "\n-start: dot's wall time minus its wall time on a one-node graph (process start-up, measured"
            " alongside), roughly its layout work alone; noisy where start-up dominates."
            "\nratios: time = ours / dot's wall time (target <= 0.2); length = ours / dot"
        )


if __name__ == "__main__":
    main()
