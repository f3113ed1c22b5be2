"""Capturing the autograd graph: stable ids, names from the scenario, saved values.

Nodes are walked iteratively (deep graphs would hit the recursion limit) and
keyed by the node object itself, which is hashable; holding it keeps the graph
alive until the run ends, which is what lets later passes refer back to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from gradstep.record.encode import encode_value
from gradstep.trace.model import GraphNode

_SAVED_NAMES: dict[type, list[str]] = {}


def saved_attribute_names(node: Any) -> list[str]:
    cls = type(node)
    names = _SAVED_NAMES.get(cls)
    if names is None:
        names = [a for a in dir(node) if a.startswith("_saved_")]
        _SAVED_NAMES[cls] = names
    return names


def saved_values(node: Any, exact_numel: int) -> dict[str, Any]:
    """The node's ``_saved_*`` values; must be read before backward frees them."""
    out: dict[str, Any] = {}
    for attr in saved_attribute_names(node):
        try:
            out[attr.removeprefix("_saved_")] = encode_value(getattr(node, attr), exact_numel)
        except RuntimeError:
            out[attr.removeprefix("_saved_")] = "<freed>"
    return out


class GraphTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the autograd graph grew past {limit} nodes")
        self.limit = limit


class NameTable:
    """Which scenario variable a tensor is bound to, taken from a namespace."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.by_tensor: dict[int, str] = {}
        self.tensors: dict[str, torch.Tensor] = {}
        for name, value in list(namespace.items()):
            if name.startswith("_"):
                continue
            if isinstance(value, torch.Tensor):
                self._add(name, value)
            elif isinstance(value, torch.nn.Module):
                for pname, p in value.named_parameters():
                    self._add(f"{name}.{pname}", p)
        self.by_node: dict[Any, str] = {}
        for name, t in self.tensors.items():
            if t.grad_fn is not None and t.grad_fn not in self.by_node:
                self.by_node[t.grad_fn] = name

    def _add(self, name: str, t: torch.Tensor) -> None:
        self.tensors[name] = t
        self.by_tensor.setdefault(id(t), name)

    def name_of(self, node: Any) -> str | None:
        if type(node).__name__ == "AccumulateGrad":
            return self.by_tensor.get(id(node.variable))
        return self.by_node.get(node)


class GraphCapture:
    """Every autograd node seen during a run, with a stable id each."""

    def __init__(self) -> None:
        self.ids: dict[Any, str] = {}
        self.nodes: dict[str, GraphNode] = {}
        # id(leaf tensor) -> its AccumulateGrad node id; the node holds the tensor,
        # so the id cannot be reused while this capture lives
        self.leaf_ids: dict[int, str] = {}

    def walk(self, roots: Iterable[Any], limit: int | None = None) -> list[Any]:
        """All nodes reachable from ``roots`` (producers after consumers).

        Raises GraphTooLarge past ``limit`` new nodes: a runaway loop can build
        millions of nodes, and walking them all would outlast any time limit.
        """
        seen: set[Any] = set()
        order: list[Any] = []
        stack = [r for r in roots if r is not None]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            order.append(node)
            if limit is not None and len(order) > limit and node not in self.ids:
                raise GraphTooLarge(limit)
            for producer, _ in node.next_functions:
                if producer is not None and producer not in seen:
                    stack.append(producer)
        return order

    def register(
        self, nodes: Iterable[Any], names: NameTable, *, line: int | None, step: int
    ) -> list[str]:
        """Give new nodes ids and records; return the ids of the new ones."""
        fresh = [n for n in nodes if n not in self.ids]
        # ids in creation order, so that they read naturally (n0 is the first op)
        fresh.sort(key=_creation_key)
        for node in fresh:
            self.ids[node] = f"n{len(self.ids)}"
            if type(node).__name__ == "AccumulateGrad":
                self.leaf_ids[id(node.variable)] = self.ids[node]
        new_ids = []
        for node in fresh:
            nid = self.ids[node]
            is_leaf = type(node).__name__ == "AccumulateGrad"
            self.nodes[nid] = GraphNode(
                id=nid,
                op=type(node).__name__,
                kind="leaf" if is_leaf else "op",
                inputs=[
                    (self.ids.get(p) if p is not None else None, int(nr))
                    for p, nr in node.next_functions
                ],
                num_outputs=len(node._input_metadata),
                name=names.name_of(node),
                line=line,
                step=step,
                output_shapes=[list(m.shape) for m in node._input_metadata],
            )
            new_ids.append(nid)
        # inputs of new nodes may point at nodes registered in this same call
        for node in fresh:
            rec = self.nodes[self.ids[node]]
            rec.inputs = [
                (self.ids.get(p) if p is not None else None, int(nr))
                for p, nr in node.next_functions
            ]
        return new_ids

    def leaf_node(self, t: torch.Tensor) -> Any:
        """The AccumulateGrad node of a leaf that requires grad (created if need be)."""
        return t.view_as(t).grad_fn.next_functions[0][0]

    def rename(self, nodes: Iterable[Any], names: NameTable) -> None:
        """Name nodes after the variables bound at this moment (loops rebind names)."""
        for node in nodes:
            name = names.name_of(node)
            if name is not None:
                self.nodes[self.ids[node]].name = name


def _creation_key(node: Any) -> tuple[int, int]:
    seq = node._sequence_nr()
    # AccumulateGrad reports UINT64_MAX; place leaves before the ops that use them
    return (0, 0) if seq >= 1 << 63 else (1, seq)
