"""Showing a step on the graph's items: only what differs from the step shown before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from gradstep.graph.drawing import Drawing
from gradstep.gui.graph.items import NodeItem
from gradstep.gui.graph.node_values import show_values
from gradstep.gui.graph.scene import SceneBuild
from gradstep.session import StepState

if TYPE_CHECKING:
    from gradstep.gui.graph.host import GraphHost


class StepStyles:
    """The step the items of a ``GraphView`` show, and the selection ring on them."""

    def __init__(self, view: GraphHost) -> None:
        self._view = view
        self.shown: StepState | None = None  # the step on screen (None: restyle everything)
        self.restyles = 0  # counts what restyles every node: selection, breakpoints, badges

    def show(self, k: int) -> None:
        """Restyle only what differs from the step shown before."""
        view = self._view
        d = view.drawing
        if view.session is None or d is None or not view.node_items:
            return
        new = view.session.state(k)
        old = self.shown
        if old is None:
            nodes: Any = view.node_items.keys()
            edges: Any = view.edge_items.keys()
        else:
            nodes, edges = d.changed(old, new, view.marks)
            nodes.add(d.drawn(view.selected))
        for nid in nodes:
            self._restyle(nid, new)
        active = set(new.active_edges)
        for key in edges:
            edge = view.edge_items.get(key)
            if edge is not None:
                edge.set_visual(d.edge_state(key, new, active))
        view.labels.show(new, view.scene(), view.theme, d, view.edge_items)
        if view.show_values:
            show_values(view.node_items, view.session, new, view.labels.blanks(new).grads)
        self.shown = new
        current = view.item_of(d.drawn(new.current_node))
        if view.follow and current is not None:
            self.keep_in_view(current)
        view.minimap.schedule()

    def restyle_all(self) -> None:
        self.restyles += 1  # a scene being made restyles all its items when it goes up
        self.shown = None
        if self._view.session is not None:
            self.show(self._view.session.index)

    def select(self, node: str | None) -> None:
        """Mark ``node`` as the selection (None clears it); a node in a box selects the box."""
        view = self._view
        if node == view.selected:
            return
        previous, view.selected = view.selected, node
        self.restyles += 1
        if view.session is None or view.drawing is None:
            return
        st = view.session.state()
        for nid in (previous, node):
            self._restyle(view.drawing.drawn(nid), st)
        item = view.item_of(view.drawing.drawn(node))
        if item is not None:
            view.ensureVisible(item, 40, 40)

    def style_new(self, build: SceneBuild) -> Iterator[None]:
        """Style the new items for the current step (one item per iteration), so that the
        scene, once up, restyles only what changed since (``build.styled``)."""
        if self._view.session is None:
            return
        st, restyles, d = self._view.session.state(), self.restyles, build.drawing
        for item in build.nodes.values():
            self._style(d, item, st)
            yield
        active = set(st.active_edges)
        for key, edge in build.edges.items():
            edge.set_visual(d.edge_state(key, st, active))
            yield
        build.styled = (st, restyles)

    def adopt(self, build: SceneBuild) -> None:
        """A new scene is up: styled for a step while it was made, only what differs from
        that step is restyled (everything, if something restyled all since)."""
        styled = build.styled
        self.shown = styled[0] if styled is not None and styled[1] == self.restyles else None

    def keep_in_view(self, item: NodeItem) -> None:
        """Scroll when the current node nears an edge, leaving a third of the view around it:
        the nodes the pass goes to next are in sight, and the view jumps seldom."""
        vp = self._view.viewport().rect()  # margins in pixels
        self._view.ensureVisible(
            item.sceneBoundingRect(), min(vp.width() // 3, 300), min(vp.height() // 3, 300)
        )

    def _restyle(self, nid: str | None, st: StepState) -> None:
        item = self._view.item_of(nid)
        if item is not None and self._view.drawing is not None:
            self._style(self._view.drawing, item, st)

    def _style(self, d: Drawing, item: NodeItem, st: StepState) -> None:
        view = self._view
        nid = item.node_id
        members = d.member_set.get(nid)
        breakpoints = view.breakpoints.nodes
        breakpoint = nid in breakpoints if members is None else not members.isdisjoint(breakpoints)
        item.set_visual(
            d.node_state(nid, st),
            breakpoint,
            view.selected is not None and d.drawn(view.selected) == nid,
            d.badge(nid, st.index, view.marks),
        )
