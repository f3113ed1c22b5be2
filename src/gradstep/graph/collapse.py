"""Collapsing a graph by ``nn.Module``: one box per closed module (no Qt, no torch).

The recorder gives every node the qualified path of the module that made it
(``model.layers.3.self_attn``; a leaf gets its parameter's module). The
module paths form a tree; a *view* of the graph closes some of its modules:
each closed module becomes one box node standing for every node inside it,
edges into, out of and between boxes are merged (one per pair of drawn
nodes), and edges inside a box disappear. The model graph itself never
changes, so stepping, the inspector and the exports keep their node ids; the
view only says which drawn node (a box or the node itself) shows each one.

A module with fewer than two nodes is never a box: the node shows itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

BOX = "module:"  # drawn ids of boxes: "module:" + the module path
COLLAPSE_ABOVE = 300  # graphs with more nodes open collapsed
OVERVIEW_BUDGET = 150  # the drawn nodes an opening overview aims for at most
OVERVIEW_LEAST = 16  # and at least: one box for the whole model is no overview

EdgeKey = tuple[str, str, Any]


def box_id(path: str) -> str:
    return BOX + path


def is_box(drawn: str) -> bool:
    return drawn.startswith(BOX)


def module_of_box(drawn: str) -> str:
    return drawn[len(BOX) :]


def prefixes(path: str) -> list[str]:
    """``a.b.c`` -> ``[a, a.b, a.b.c]``: the module and the modules around it, outermost first."""
    parts = path.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def depth(path: str) -> int:
    return path.count(".") + 1


@dataclass
class ModuleTree:
    """The modules of a graph: which nodes each holds, which modules nest in which."""

    members: dict[str, list[str]] = field(default_factory=dict)  # path -> nodes in its subtree
    children: dict[str, list[str]] = field(default_factory=dict)  # path -> child paths ("" root)
    direct: dict[str, list[str]] = field(default_factory=dict)  # path -> nodes made right there
    module: dict[str, str | None] = field(default_factory=dict)  # node -> its module path
    loose: list[str] = field(default_factory=list)  # nodes made outside any module

    def boxable(self, path: str) -> bool:
        """A module that can be a box: one that holds at least two nodes."""
        return len(self.members.get(path, ())) >= 2

    @property
    def has_modules(self) -> bool:
        return any(self.boxable(p) for p in self.members)


def module_tree(g: nx.MultiDiGraph) -> ModuleTree:
    """Read the ``module`` attribute of each node of ``g`` (as ``build_graph`` sets it)."""
    tree = ModuleTree(children={"": []})
    for node, path in g.nodes(data="module"):
        tree.module[node] = path or None
        if not path:
            tree.loose.append(node)
            continue
        tree.direct.setdefault(path, []).append(node)
        parent = ""
        for p in prefixes(path):
            members = tree.members.get(p)
            if members is None:
                members = tree.members[p] = []
                tree.children.setdefault(parent, []).append(p)
                tree.children.setdefault(p, [])
            members.append(node)
            parent = p
    return tree


# ---------------------------------------------------------------- which boxes
def at_depth(tree: ModuleTree, d: int) -> set[str]:
    """Every module ``d`` levels deep closed (shallower nodes stay loose)."""
    return {p for p in tree.members if depth(p) == d and tree.boxable(p)}


def drawn_count(tree: ModuleTree, closed: Iterable[str]) -> int:
    """How many nodes a view with ``closed`` draws (boxes plus nodes shown themselves)."""
    return len(set(drawn_map(tree, set(closed)).values()))


def default_collapsed(
    tree: ModuleTree,
    *,
    above: int = COLLAPSE_ABOVE,
    budget: int = OVERVIEW_BUDGET,
    least: int = OVERVIEW_LEAST,
) -> set[str]:
    """What a graph opens with: nothing closed when it is small, else an overview.

    The overview closes every module at one depth of the module tree: the
    shallowest depth that draws from ``least`` to ``budget`` nodes (a
    transformer stack: one box per layer, not one box for the whole stack);
    failing that the depth that draws the most within the budget, or else
    the fewest.
    """
    if len(tree.module) <= above or not tree.members:
        return set()
    counts: list[tuple[int, set[str]]] = []
    for d in range(1, max(map(depth, tree.members)) + 1):
        closed = at_depth(tree, d)
        if closed:
            counts.append((drawn_count(tree, closed), closed))
    for count, closed in counts:
        if least <= count <= budget:
            return closed
    # on a tie the deeper depth: ``model.layers`` says more than ``model`` around it
    within = [(count, d, closed) for d, (count, closed) in enumerate(counts) if count <= budget]
    if within:
        return max(within, key=lambda c: c[:2])[2]
    fewest = [(-count, d, closed) for d, (count, closed) in enumerate(counts)]
    return max(fewest, key=lambda c: c[:2])[2] if fewest else set()


def collapse_all(tree: ModuleTree) -> set[str]:
    """The outermost modules closed, each below its lone wrappers.

    (``model`` holding nothing but ``model.layers`` closes as ``model.layers``.)
    """
    return {_through_wrappers(tree, p) for p in tree.children.get("", []) if tree.boxable(p)}


def _through_wrappers(tree: ModuleTree, path: str) -> str:
    """A module with no nodes of its own and one child module stands for that child."""
    while not tree.direct.get(path) and len(kids := tree.children.get(path, [])) == 1:
        path = kids[0]
    return path


def expand(tree: ModuleTree, closed: set[str], path: str) -> set[str]:
    """Open ``path``: its child modules become boxes (lone wrappers opened through)."""
    out = {p for p in closed if p != path}
    for child in tree.children.get(path, []):
        if tree.boxable(child):
            out.add(_through_wrappers(tree, child))
    return out


def expand_inside(closed: set[str], path: str) -> set[str]:
    """Open ``path`` and every module inside it."""
    return {p for p in closed if p != path and not p.startswith(path + ".")}


def collapse_module(closed: set[str], path: str) -> set[str]:
    """Close ``path`` (the modules inside it are forgotten: it is one box now)."""
    return {p for p in closed if not p.startswith(path + ".")} | {path}


def reveal(tree: ModuleTree, closed: set[str], node: str) -> set[str]:
    """Open the boxes around ``node`` until it is drawn as itself."""
    path = tree.module.get(node)
    if not path:
        return closed
    out = set(closed)
    while (drawn := drawn_map(tree, out).get(node, node)) != node:
        out = expand(tree, out, module_of_box(drawn))
    return out


# --------------------------------------------------------------- the view
@dataclass
class CollapsedGraph:
    """A view of the graph with some modules closed."""

    graph: nx.MultiDiGraph  # drawn nodes (boxes have kind "module") and merged edges
    drawn_of: dict[str, str]  # original node -> the drawn node that shows it
    members: dict[str, list[str]]  # box -> the original nodes inside it
    edges_of: dict[EdgeKey, list[EdgeKey]]  # drawn edge -> the original edges it stands for
    drawn_edge: dict[EdgeKey, EdgeKey]  # original edge -> drawn edge (absent: inside a box)


def drawn_map(tree: ModuleTree, closed: set[str]) -> dict[str, str]:
    """Original node -> the box of its outermost closed module, or itself."""
    boxes = {p for p in closed if tree.boxable(p)}
    out: dict[str, str] = {}
    for node, path in tree.module.items():
        out[node] = node
        if path and boxes:
            for p in prefixes(path):
                if p in boxes:
                    out[node] = box_id(p)
                    break
    return out


def collapse(g: nx.MultiDiGraph, tree: ModuleTree, closed: set[str]) -> CollapsedGraph:
    """The graph ``g`` with the modules in ``closed`` drawn as boxes.

    Drawn nodes keep the order of the original nodes (a box takes the place
    of its first member), so the layout is as deterministic as on ``g``.
    An edge between two nodes drawn as themselves keeps its key; merged
    edges are keyed by the smallest input slot among them.
    """
    drawn_of = drawn_map(tree, closed)
    out = nx.MultiDiGraph()
    members: dict[str, list[str]] = {}
    for node, data in g.nodes(data=True):
        d = drawn_of[node]
        if d == node:
            out.add_node(node, **data)
            continue
        if d not in members:
            members[d] = []
            path = module_of_box(d)
            out.add_node(d, label=path, op="module", kind="module", name=None, module=path)
        members[d].append(node)
    for d, inside in members.items():
        out.nodes[d]["size"] = len(inside)
        out.nodes[d]["step"] = min(g.nodes[n].get("step", 0) for n in inside)
    edges_of: dict[EdgeKey, list[EdgeKey]] = {}
    drawn_edge: dict[EdgeKey, EdgeKey] = {}
    merged: dict[tuple[str, str], list[EdgeKey]] = {}
    for u, v, k in g.edges(keys=True):
        du, dv = drawn_of[u], drawn_of[v]
        if du == u and dv == v:
            out.add_edge(u, v, key=k)
            edges_of[(u, v, k)] = [(u, v, k)]
            drawn_edge[(u, v, k)] = (u, v, k)
        elif du != dv:
            merged.setdefault((du, dv), []).append((u, v, k))
    for (du, dv), originals in merged.items():
        key = min((e[2] for e in originals), key=_slot_order)
        out.add_edge(du, dv, key=key, count=len(originals))
        edges_of[(du, dv, key)] = originals
        for e in originals:
            drawn_edge[e] = (du, dv, key)
    return CollapsedGraph(out, drawn_of, members, edges_of, drawn_edge)


def _slot_order(key: Any) -> tuple[int, Any]:
    return (0, key) if isinstance(key, int) else (1, str(key))
