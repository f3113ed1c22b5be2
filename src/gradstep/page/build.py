"""What a page shows, precomputed: the drawing laid out as in the app, and each step as the
changes it makes (node states, edge states, gradient labels) plus its text.

Nothing here draws; ``render`` turns it into SVG and HTML. The graph is the app's
(``graph.model``, ``collapse``, ``fold``, ``layout``, ``drawing``), with the app's node
sizes (``metrics``), so every node stands where it does in the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gradstep.graph import collapse as cl
from gradstep.graph.drawing import Drawing, node_lines, nonfinite_marks
from gradstep.graph.model import build_graph
from gradstep.page.metrics import constant_size, node_size
from gradstep.plotting.labels import step_caption
from gradstep.session import Session
from gradstep.trace.model import Step, Trace
from gradstep.trace.text import format_value

# The same numbers as the app's graph panel (gui/graph/view.py, scene.py, items.py).
MAX_LABELS = 40  # gradient labels shown at once; beyond, only around the current node
LABEL_CHARS = 32
RANK_SEP = 50.0  # between layers, top to bottom
ARROW = 7.0

NODE_STATES = ("normal", "absent", "hidden", "pending", "received", "done", "current")
EDGE_STATES = ("normal", "absent", "hidden", "done", "active")


def step_lines(trace: Trace, step: Step) -> list[str]:
    """The text the page shows for ``step``: where it is, then its chain rule's equations
    as the window and the figures write them (``gradstep.trace.chainrule`` through
    ``step_caption``) and the local derivative's formula."""
    return step_caption(trace, step)[1:]


@dataclass
class PageNode:
    id: str
    kind: str  # "leaf", "op" or "module"
    title: str
    subtitle: str
    x: float
    y: float
    w: float
    h: float
    jump: int | None  # the step a click goes to (0-based), None: none
    badge: tuple[int, str] | None = None  # (step, "NaN"/"Inf") where a gradient turns non-finite
    has_name: bool = False  # a variable's node (an unnamed op shows its expression instead)

    @property
    def named(self) -> bool:
        return self.kind == "op" and self.has_name


@dataclass
class PageEdge:
    u: int  # indices into PageData.nodes
    v: int
    points: list[tuple[float, float]]  # the layout's polyline, centre to centre
    labelled: bool  # a gradient label may be written on it (not on a box's merged edge)


@dataclass
class PageStep:
    line: int | None
    current: int  # index of the drawn current node, -1: none
    lines: list[str]  # step_lines
    nodes: list[int] = field(default_factory=list)  # flat (node, state) changes
    edges: list[int] = field(default_factory=list)  # flat (edge, state) changes
    labels: list[int] = field(default_factory=list)  # flat (edge, label index or -1) changes


@dataclass
class PageData:
    trace: Trace
    nodes: list[PageNode]
    edges: list[PageEdge]
    steps: list[PageStep]
    labels: list[str]  # the gradient labels' texts, each once
    bounds: tuple[float, float, float, float]  # x, y, width, height of the drawing


def drawing_for(trace: Trace, session: Session) -> Drawing:
    """The app's opening drawing of ``trace``: boxes closed as the window opens them, laid out
    top to bottom with the app's node sizes, a loop's iterations in one place."""
    from gradstep.graph.layout import layered_layout  # networkx-heavy: when a page is made
    from gradstep.graph.layout.fold import folded_layout

    g = build_graph(trace)
    tree = cl.module_tree(g)
    closed = frozenset(cl.default_collapsed(tree))
    drawing = Drawing(g, tree, cl.collapse(g, tree, set(closed)), closed)
    view = drawing.view.graph
    for d, data in view.nodes(data=True):
        lines = node_lines(data)
        drawing.lines[d] = lines
        small = data.get("kind") == "constant"
        drawing.sizes[d] = constant_size(lines[0]) if small else node_size(*lines)

    def lay_out(h: Any) -> Any:
        return layered_layout(
            h, direction="TB", node_size=drawing.sizes.__getitem__, rank_sep=RANK_SEP
        )

    if len(view):
        fold = session.folded
        drawing.layout = folded_layout(view, fold, lay_out) if fold else lay_out(view)
    return drawing


def _jump(session: Session, drawing: Drawing, d: str) -> int | None:
    """Where a click on drawn node ``d`` goes: its compute step (a box: its earliest one's)."""
    members = drawing.view.members.get(d)
    steps = [session.step_for_node(m) for m in (members or [d])]
    found = [s for s in steps if s is not None]
    return min(found) if found else None


def page_data(trace: Trace) -> PageData:
    session = Session(trace)
    drawing = drawing_for(trace, session)
    view = drawing.view.graph
    layout = drawing.layout
    positions = layout.positions if layout is not None else {}
    marks = nonfinite_marks(trace)
    index: dict[str, int] = {}
    nodes: list[PageNode] = []
    for d in positions:
        data = view.nodes[d]
        title, subtitle = drawing.lines[d]
        w, h = drawing.sizes[d]
        x, y = positions[d]
        members = drawing.view.members.get(d, [d])
        hits = [marks[m] for m in members if m in marks]
        index[d] = len(nodes)
        nodes.append(
            PageNode(
                d, data["kind"], title, subtitle, x, y, w, h, _jump(session, drawing, d),
                min(hits) if hits else None, bool(data.get("name")),
            )
        )  # fmt: skip
    edges: list[PageEdge] = []
    edge_index: dict[Any, int] = {}
    for u, v, k in view.edges(keys=True) if positions else ():
        pts = layout.edge_points.get((u, v, k)) or [positions[u], positions[v]]
        edge_index[(u, v, k)] = len(edges)
        edges.append(
            PageEdge(
                index[u], index[v], [tuple(p) for p in pts], not (cl.is_box(u) or cl.is_box(v))
            )
        )
    steps, labels = _steps(trace, session, drawing, index, edge_index)
    return PageData(trace, nodes, edges, steps, labels, _bounds(nodes, edges))


def _steps(
    trace: Trace,
    session: Session,
    drawing: Drawing,
    index: dict[str, int],
    edge_index: dict[Any, int],
) -> tuple[list[PageStep], list[str]]:
    """Each step as what it changes from the one before (the first: from all "normal")."""
    node_state = [0] * len(index)
    edge_state = [0] * len(edge_index)
    label_of = [-1] * len(edge_index)
    texts: dict[str, int] = {}
    out: list[PageStep] = []
    ns, es = {s: i for i, s in enumerate(NODE_STATES)}, {s: i for i, s in enumerate(EDGE_STATES)}
    for step in trace.steps:
        st = session.state(step.index)
        current = drawing.drawn(st.current_node)
        ps = PageStep(step.line, index.get(current, -1) if current else -1, step_lines(trace, step))
        for d, i in index.items():
            s = ns[drawing.node_state(d, st)]
            if s != node_state[i]:
                node_state[i] = s
                ps.nodes += [i, s]
        active = set(st.active_edges)
        for key, i in edge_index.items():
            s = es[drawing.edge_state(key, st, active)]
            if s != edge_state[i]:
                edge_state[i] = s
                ps.edges += [i, s]
        wanted = _labels(drawing, st, edge_index, texts)
        for i in range(len(label_of)):
            t = wanted.get(i, -1)
            if t != label_of[i]:
                label_of[i] = t
                ps.labels += [i, t]
        out.append(ps)
    return out, list(texts)


def _labels(
    drawing: Drawing, st: Any, edge_index: dict[Any, int], texts: dict[str, int]
) -> dict[int, int]:
    """The gradient labels at a step, as the app's graph panel writes them: drawn edge ->
    text index."""
    grads = st.edge_grads
    if len(grads) > MAX_LABELS:  # only around the current node
        near = drawing.incident.get(st.current_node, ())
        grads = {k: grads[k] for k in near if k in grads}
    out: dict[int, int] = {}
    for key, value in grads.items():
        d = drawing.view.drawn_edge.get(key)
        if d is None or (d[0], d[1]) != (key[0], key[1]):
            continue  # a box's merged edge carries many gradients: no label, as in the app
        i = edge_index.get(d)
        if i is None:
            continue
        if len(out) >= MAX_LABELS:
            break
        text = format_value(value, max_items=3)
        text = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 2] + "…"
        out[i] = texts.setdefault(text, len(texts))
    return out


def _bounds(nodes: list[PageNode], edges: list[PageEdge]) -> tuple[float, float, float, float]:
    if not nodes:
        return (0.0, 0.0, 320.0, 120.0)
    xs = [n.x - n.w / 2 for n in nodes] + [p[0] for e in edges for p in e.points]
    ys = [n.y - n.h / 2 - 22 for n in nodes] + [p[1] for e in edges for p in e.points]
    xe = [n.x + n.w / 2 + 14 for n in nodes] + [p[0] for e in edges for p in e.points]
    ye = [n.y + n.h / 2 for n in nodes] + [p[1] for e in edges for p in e.points]
    pad = 20.0
    x0, y0 = min(xs) - pad, min(ys) - pad
    return (x0, y0, max(xe) + pad - x0, max(ye) + pad - y0)


def edge_path(
    points: list[tuple[float, float]], source: PageNode, target: PageNode
) -> tuple[str, list[tuple[float, float]]]:
    """The app's edge (``edge_geometry``, top to bottom): a smooth SVG path through the
    layout's points, from the source box's bottom to the target box's top, and its arrowhead."""
    pts = [(float(x), float(y)) for x, y in points]
    if len(pts) < 2:
        pts = [(source.x, source.y), (target.x, target.y)]
    pts[0] = (pts[0][0], source.y + source.h / 2)
    pts[-1] = (pts[-1][0], target.y - target.h / 2)
    d = [f"M{pts[0][0]:.1f} {pts[0][1]:.1f}"]
    for (ax, ay), (bx, by) in zip(pts, pts[1:]):
        mid = (ay + by) / 2
        d.append(f"C{ax:.1f} {mid:.1f} {bx:.1f} {mid:.1f} {bx:.1f} {by:.1f}")
    tx, ty = pts[-1]
    arrow = [(tx, ty), (tx + ARROW / 2, ty - ARROW), (tx - ARROW / 2, ty - ARROW)]
    return "".join(d), arrow
