"""What the graph panel draws at a step, without Qt: the collapsed view and its states.

A ``Drawing`` is one collapsed view of a trace's graph with its layout. The
step state speaks of original nodes and edges; here they become the states
of the drawn ones: a closed module's box is the current node when any node
inside it is, "received" while its nodes are part-way through the pass,
"done" once all are; a merged edge carries a gradient once any of its edges
does. ``changed`` turns the difference between two steps into the drawn
nodes and edges to restyle, so a step costs what changed, not the graph.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from gradstep.graph.collapse import CollapsedGraph, ModuleTree, is_box
from gradstep.plotting import first_nonfinite
from gradstep.session import StepState
from gradstep.trace.model import Trace, is_summary
from gradstep.trace.shorten import short_expr

EdgeKey = tuple[str, str, Any]


@dataclass
class Drawing:
    """One collapsed view of the graph, laid out; built once per trace, theme, direction or box."""

    graph: nx.MultiDiGraph  # the original graph (edges producer -> consumer)
    tree: ModuleTree
    view: CollapsedGraph
    closed: frozenset[str]
    layout: Any = None  # GraphLayout of ``view.graph``; None while it is being computed
    lines: dict[str, tuple[str, str]] = field(default_factory=dict)  # drawn -> title, subtitle
    sizes: dict[str, tuple[float, float]] = field(default_factory=dict)
    first_step: dict[str, int] = field(default_factory=dict)  # drawn -> step it appears at
    member_set: dict[str, frozenset[str]] = field(default_factory=dict)  # box -> its nodes
    incident: dict[str, list[EdgeKey]] = field(default_factory=dict)  # original node -> edges
    constant_of: dict[str, str] = field(default_factory=dict)  # constant input -> its consumer
    constants_at: dict[str, list[str]] = field(default_factory=dict)  # consumer -> constants
    values_row: bool = False  # nodes measured with a "data … | grad …" row (graph.values)

    def __post_init__(self) -> None:
        g = self.view.graph
        self.first_step = {d: g.nodes[d].get("step", 0) for d in g}
        for d, consumer in g.nodes(data="of"):
            if consumer is not None:
                self.constant_of[d] = consumer
                self.constants_at.setdefault(consumer, []).append(d)
        self.member_set = {b: frozenset(m) for b, m in self.view.members.items()}
        if not self.incident:  # of the original graph: another view of it hands its own on
            for u, v, k in self.graph.edges(keys=True):
                self.incident.setdefault(u, []).append((u, v, k))
                self.incident.setdefault(v, []).append((u, v, k))

    def drawn(self, node: str | None) -> str | None:
        """The drawn node showing ``node`` (itself, or the box it is in); a box shows itself."""
        if node is None:
            return None
        return self.view.drawn_of.get(node) or (node if node in self.view.graph else None)

    # ----------------------------------------------------------- states
    def node_state(self, d: str, st: StepState) -> str:
        consumer = self.constant_of.get(d)
        if consumer is not None:  # a constant input comes and goes with its consumer
            return "hidden" if consumer in st.hidden_nodes else self._constant_state(d, st)
        if st.hidden_nodes and self._hidden(d, st):
            return "hidden"
        if self.first_step.get(d, 0) > st.index:
            return "absent"
        members = self.member_set.get(d)
        if members is None:
            if d == st.current_node:
                return "current"
            return st.node_status.get(d, "normal")
        if st.current_node in members:
            return "current"
        return box_status(self.view.members[d], st.node_status)

    def _constant_state(self, d: str, st: StepState) -> str:
        return "absent" if self.first_step.get(d, 0) > st.index else "normal"

    def _hidden(self, d: str, st: StepState) -> bool:
        """A node not drawn at this step; a box when none of its nodes is drawn."""
        consumer = self.constant_of.get(d)
        if consumer is not None:
            return consumer in st.hidden_nodes
        members = self.member_set.get(d)
        return d in st.hidden_nodes if members is None else members <= st.hidden_nodes

    def edge_state(self, key: EdgeKey, st: StepState, active: set[EdgeKey]) -> str:
        u, v, _ = key
        if st.hidden_nodes and (self._hidden(u, st) or self._hidden(v, st)):
            return "hidden"
        if self.first_step.get(u, 0) > st.index or self.first_step.get(v, 0) > st.index:
            return "absent"
        originals = self.view.edges_of.get(key, ())
        if any(e in active for e in originals):
            return "active"
        return "done" if any(e in st.edge_grads for e in originals) else "normal"

    def badge(self, d: str, k: int, marks: dict[str, tuple[int, str]]) -> str:
        """ "NaN" or "Inf" where a non-finite gradient has first appeared by step ``k``."""
        if not marks:
            return ""
        members = self.view.members.get(d, (d,))
        hits = [marks[m] for m in members if m in marks and marks[m][0] <= k]
        return min(hits)[1] if hits else ""

    # ----------------------------------------------------------- changes
    def changed(
        self, old: StepState, new: StepState, marks: dict[str, tuple[int, str]]
    ) -> tuple[set[str], set[EdgeKey]]:
        """The drawn nodes and edges whose look may differ between two steps."""
        lo, hi = sorted((old.index, new.index))
        flipped = (old.visible_nodes ^ new.visible_nodes) | (old.hidden_nodes ^ new.hidden_nodes)
        nodes: set[str | None] = {old.current_node, new.current_node}
        nodes |= flipped | {n for n, _ in old.node_status.items() ^ new.node_status.items()}
        nodes |= {n for n, (s, _) in marks.items() if lo < s <= hi}
        edges: set[EdgeKey] = set(old.edge_grads.keys() ^ new.edge_grads.keys())
        edges |= set(old.active_edges) | set(new.active_edges)
        for n in flipped:
            edges.update(self.incident.get(n, ()))
            nodes.update(self.constants_at.get(n, ()))  # they come and go with n
        drawn_of, drawn_edge = self.view.drawn_of, self.view.drawn_edge
        return (
            {d for n in nodes if n is not None and (d := drawn_of.get(n)) is not None},
            {de for e in edges if (de := drawn_edge.get(e)) is not None},
        )

    def boxes(self) -> Iterable[str]:
        return (d for d in self.view.graph if is_box(d))


def node_lines(data: Mapping[str, Any]) -> tuple[str, str]:
    """(title, subtitle) of a drawn node from its graph data: the variable name over the
    grad_fn; an unnamed op's source expression over it (``w * x`` / ``MulBackward0``); a
    leaf's name over "leaf"; a constant input's name and value alone (``x = 6.7``)."""
    kind = data.get("kind")
    if kind == "module":
        return box_lines(data["module"], data.get("size", 0))
    if kind == "leaf":
        return (data.get("name") or "leaf", "leaf")
    if kind == "constant":
        return (str(data.get("label") or ""), "")
    name, op = data.get("name"), str(data.get("op") or "")
    if name:
        return (str(name), op)
    expr = data.get("expr")
    if expr:
        return (short_expr(str(expr)), op)
    return (op, "")


def box_status(members: list[str], status: Mapping[str, str]) -> str:
    """A box in a pass: done when all its nodes in the pass are, received once any started."""
    seen = [s for m in members if (s := status.get(m)) is not None]
    if not seen:
        return "normal"
    if all(s == "done" for s in seen):
        return "done"
    if any(s != "pending" for s in seen):
        return "received"
    return "pending"


def box_lines(path: str, size: int) -> tuple[str, str]:
    """(title, subtitle) of a box: ``layers.3`` and how many nodes it holds."""
    parts = path.split(".")
    title = ".".join(parts[-2:]) if parts[-1].isdigit() and len(parts) > 1 else parts[-1]
    return title, f"▸ {size} nodes"


def search(graph: nx.MultiDiGraph, text: str) -> list[str]:
    """Nodes whose variable name, op or module contains ``text`` (any case), in graph order.

    Exact matches come first: ``loss`` finds the loss before ``loss_fn.weight``, and
    ``model.3`` the nodes made right in that module before those of ``model.3.linear``.
    """
    needle = text.strip().lower()
    if not needle:
        return []
    exact, partial = [], []
    for node, data in graph.nodes(data=True):
        fields = [str(data.get(f) or "").lower() for f in ("name", "op", "label", "module")]
        if needle in fields:
            exact.append(node)
        elif any(needle in f for f in fields) or needle == node.lower():
            partial.append(node)
    return exact + partial


def nonfinite_marks(trace: Trace) -> dict[str, tuple[int, str]]:
    """Where a gradient first turns non-finite: node -> (step, "NaN" or "Inf").

    The places and steps are ``first_nonfinite``'s; the word says what the
    node sent on (a NaN where there is one, else an infinity).
    """
    marks: dict[str, tuple[int, str]] = {}
    for node, k in first_nonfinite(trace).items():
        record = trace.record_for(trace.steps[k]) if 0 <= k < len(trace.steps) else None
        values: list[Any] = []
        if record is not None:
            values = [*record.grad_inputs, record.grad_after, *record.grad_outputs]
        marks[node] = (k, "NaN" if any(_has_nan(v) for v in values) else "Inf")
    return marks


def _has_nan(v: Any) -> bool:
    if is_summary(v):
        return bool(v.get("nan"))
    if isinstance(v, list):
        return any(_has_nan(x) for x in v)
    return v == "NaN" or (isinstance(v, float) and math.isnan(v))
