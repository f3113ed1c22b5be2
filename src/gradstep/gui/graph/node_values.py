"""Writing each tensor's value and gradient in its node at a step (View ▸ Values in Nodes)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from gradstep.graph.values import node_values
from gradstep.gui.graph.items import NodeItem
from gradstep.session import Session, StepState


def show_values(
    items: Mapping[str, NodeItem],
    session: Session,
    st: StepState,
    hidden: Collection[str] = (),
) -> None:
    """Set the ``data … | grad …`` row of every node item that has one (Qt repaints only
    the rows that changed); the leaves in ``hidden`` show their gradient as "?" (a quiz)."""
    texts = node_values(session, st, hidden)
    for nid, item in items.items():
        if item.values_row:
            item.set_values(texts.get(nid, ""))
