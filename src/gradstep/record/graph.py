"""Capturing the autograd graph: stable ids, names from the scenario, saved values.

Nodes are walked iteratively (deep graphs would hit the recursion limit) and
keyed by the node object itself, which is hashable; holding it keeps the graph
alive until the run ends, which is what lets later passes refer back to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from gradstep.record.encode import dtype_name, encode_value, oid
from gradstep.record.provenance import Provenance
from gradstep.trace.model import GraphNode

_SAVED_NAMES: dict[type, list[str]] = {}
#: list and tuple elements are named ``name[i]`` up to this length
_MAX_ITEMS = 32
#: the first nodes of one run of a line that get its expressions: a lesson's line makes a
#: few; a loop of ``y = y + 0`` thousands, and a model call's line many that no operation
#: written on the line is
_LABELLED_PER_RUN = 256


def saved_attribute_names(node: Any) -> list[str]:
    cls = type(node)
    names = _SAVED_NAMES.get(cls)
    if names is None:
        names = [a for a in dir(node) if a.startswith("_saved_")]
        _SAVED_NAMES[cls] = names
    return names


def saved_values(node: Any, exact_numel: int, *, stats: bool = True) -> dict[str, Any]:
    """The node's ``_saved_*`` values; must be read before backward frees them.

    ``stats=False`` (a large pass): tensors beyond ``exact_numel`` elements are
    recorded by shape and dtype only.
    """
    out: dict[str, Any] = {}
    for attr in saved_attribute_names(node):
        key = attr[7:]  # without "_saved_"
        try:
            value = getattr(node, attr)
        except RuntimeError:
            out[key] = "<freed>"
            continue
        if not stats and isinstance(value, torch.Tensor) and value.numel() > exact_numel:
            out[key] = {
                "summary": True,
                "shape": list(value.shape),
                "dtype": dtype_name(value.dtype),
            }
        else:
            out[key] = encode_value(value, exact_numel, stats=stats)
    return out


class GraphTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the autograd graph grew past {limit} nodes")
        self.limit = limit


def sequence_length(value: list[Any] | tuple[Any, ...]) -> int:
    """``len(value)`` by ``list``'s or ``tuple``'s own method: a subclass's runs no code."""
    return list.__len__(value) if isinstance(value, list) else tuple.__len__(value)


#: what a tensor subclass may define without the recorder leaving it out: nothing the
#: recorder calls (it reads tensors by their attributes and methods)
_HARMLESS_OVERRIDES = frozenset(
    {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__init__",
     "__repr__", "__str__", "__annotations__", "__firstlineno__", "__static_attributes__"}
)  # fmt: skip
_TENSOR_NAMES = frozenset(dir(torch.Tensor))
_readable_types: dict[type, bool] = {torch.Tensor: True}


def readable_tensor(t: torch.Tensor) -> bool:
    """Whether the recorder may read ``t``: its class is torch's (``Parameter``...) or a
    subclass that overrides none of ``torch.Tensor``'s attributes, so reading it runs
    no scenario code (an overridden ``detach`` may raise or never return)."""
    cls = type(t)
    known = _readable_types.get(cls)
    if known is None:
        known = _readable_types[cls] = all(
            str(getattr(c, "__module__", "")).startswith("torch")
            or not (set(vars(c)) - _HARMLESS_OVERRIDES) & _TENSOR_NAMES
            for c in cls.__mro__
            if c is not object
        )
    return known


def is_leaf_node(node: Any) -> bool:
    return type(node).__name__ == "AccumulateGrad"


class NameTable:
    """Which scenario variable a tensor is bound to, taken from a namespace.

    Tensors bound to names, the elements of lists and tuples of tensors
    (``grads[0]``) and the parameters of bound modules, named by their path
    from the outermost bound module (``model.0.weight`` even when ``layer =
    model[0]`` is bound too), which is also what ``module_paths`` gives for
    every submodule.

    Reading the namespace runs none of the scenario's code: lists and tuples
    are read through ``list``'s and ``tuple``'s own methods (a subclass's
    ``__len__`` may raise), and tensors of a scenario's subclass that
    overrides what the recorder calls (``detach``, ``tolist``, ``shape``...)
    are left out (see :func:`readable_tensor`).
    """

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.by_tensor: dict[int, str] = {}
        self.tensors: dict[str, torch.Tensor] = {}
        self.module_paths: dict[int, str] = {}  # oid(module) -> qualified path
        self.param_module: dict[int, str] = {}  # oid(parameter) -> its module's path
        self._modules: list[tuple[str, torch.nn.Module]] = []
        for name, value in list(namespace.items()):
            if name.startswith("_"):
                continue
            if isinstance(value, torch.Tensor):
                if readable_tensor(value):
                    self._add(name, value)
            elif isinstance(value, torch.nn.Module):
                self._modules.append((name, value))
            elif isinstance(value, (list, tuple)) and 0 < sequence_length(value) <= _MAX_ITEMS:
                items = list.copy(value) if isinstance(value, list) else value[:]
                for i, item in enumerate(items):
                    if isinstance(item, torch.Tensor):
                        if readable_tensor(item):
                            self._add(f"{name}[{i}]", item)
                    elif isinstance(item, torch.nn.Module):
                        self._modules.append((f"{name}[{i}]", item))
        if self._modules:
            self._add_modules()
        self.by_node: dict[Any, str] = {}
        for name, t in self.tensors.items():
            if t.grad_fn is not None and t.grad_fn not in self.by_node:
                self.by_node[t.grad_fn] = name

    def _add(self, name: str, t: torch.Tensor) -> None:
        self.tensors[name] = t
        self.by_tensor.setdefault(oid(t), name)

    def _add_modules(self) -> None:
        """Each parameter under its module path, which also names its node: a loop variable
        (``for param in model.parameters()``) or a list of them (``params[0]``) holding
        the same tensor keeps its own name beside it, and no parameter goes missing."""
        layout = _LAYOUTS.get(self._modules)
        self.module_paths.update(layout.paths)
        by_tensor = self.by_tensor
        named_here: set[int] = set()
        for full, p, path in layout.params:
            key = oid(p)
            if key in named_here:
                continue  # shared weights: the first path names them
            named_here.add(key)
            self.tensors[full] = p
            by_tensor[key] = full
            self.param_module[key] = path

    def name_of(self, node: Any) -> str | None:
        if is_leaf_node(node):
            return self.by_tensor.get(oid(node.variable))
        return self.by_node.get(node)

    def module_of(self, node: Any, provenance: Provenance | None) -> str | None:
        """The qualified path of the module that made ``node`` (or owns the leaf's parameter)."""
        if is_leaf_node(node):
            return self.param_module.get(oid(node.variable))
        if provenance is None:
            return None
        for m in reversed(provenance.modules_of(node)):
            path = self.module_paths.get(oid(m))
            if path is not None:
                return path
        return None


class GraphCapture:
    """Every autograd node seen during a run, with a stable id each."""

    def __init__(self, provenance: Provenance | None = None) -> None:
        self.provenance = provenance
        self.ids: dict[Any, str] = {}
        self.nodes: dict[str, GraphNode] = {}
        # oid(leaf tensor) -> its AccumulateGrad node id; the node holds the tensor,
        # so the id cannot be reused while this capture lives
        self.leaf_ids: dict[int, str] = {}

    def walk(
        self, roots: Iterable[Any], *, new_only: bool = False, limit: int | None = None
    ) -> list[Any]:
        """The nodes reachable from ``roots`` (consumers before their producers).

        ``new_only``: stop at nodes seen before; their producers were registered
        with them (a node's inputs never change). Raises GraphTooLarge past
        ``limit`` new nodes: a runaway loop can build millions of nodes, and
        walking them all would outlast any time limit.
        """
        seen: set[Any] = set()
        order: list[Any] = []
        fresh = 0
        stack = [r for r in roots if r is not None]
        ids = self.ids
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            if node not in ids:
                fresh += 1
                if limit is not None and fresh > limit:
                    raise GraphTooLarge(limit)
            elif new_only:
                continue
            order.append(node)
            for producer, _ in node.next_functions:
                if producer is not None and producer not in seen:
                    stack.append(producer)
        return order

    def register(
        self, nodes: Iterable[Any], names: NameTable, *, line: int | None, step: int
    ) -> list[str]:
        """Give new nodes ids and records; return the ids of the new ones.

        ``line`` is the fallback for nodes whose line the provenance does not
        know (leaves, and nodes made outside the scenario's code).
        """
        fresh = [n for n in nodes if n not in self.ids]
        # ids in creation order, so that they read naturally (n0 is the first op)
        fresh.sort(key=_creation_key)
        for node in fresh:
            self.ids[node] = f"n{len(self.ids)}"
            if is_leaf_node(node):
                self.leaf_ids[oid(node.variable)] = self.ids[node]
        prov = self.provenance
        labels = self._expressions(fresh, names) if prov is not None else {}
        new_ids = []
        for node in fresh:
            nid = self.ids[node]
            leaf = is_leaf_node(node)
            made_at = prov.line_of(node) if prov is not None and not leaf else None
            meta = node._input_metadata
            self.nodes[nid] = GraphNode(
                id=nid,
                op=type(node).__name__,
                kind="leaf" if leaf else "op",
                inputs=[
                    (self.ids.get(p) if p is not None else None, int(nr))
                    for p, nr in node.next_functions
                ],
                num_outputs=len(meta),
                name=names.name_of(node),
                line=made_at if made_at is not None else line,
                step=step,
                module=names.module_of(node, prov),
                output_shapes=[list(m.shape) for m in meta],
            )
            label = labels.get(node)
            if label is not None:
                self.nodes[nid].expr, self.nodes[nid].constants = label
            new_ids.append(nid)
        return new_ids

    def _expressions(
        self, fresh: list[Any], names: NameTable
    ) -> dict[Any, tuple[str | None, list[dict[str, Any] | None]]]:
        """Source expressions and constants of new op nodes, a line's run at a time."""
        prov = self.provenance
        assert prov is not None
        groups = prov.runs(fresh, _LABELLED_PER_RUN)  # fresh: in creation order already
        if not groups:
            return {}
        try:
            return prov.expressions.label(
                groups, names.name_of, names.by_tensor, names.tensors.keys()
            )
        except (RecursionError, ValueError, AttributeError, RuntimeError):
            return {}  # a label is a nicety: never a reason to lose the recording

    def leaf_node(self, t: torch.Tensor) -> Any:
        """The AccumulateGrad node of a leaf that requires grad (created if need be)."""
        with torch.enable_grad():  # under no_grad the view would have no grad_fn
            view_node = t.view_as(t).grad_fn
        assert view_node is not None  # t requires grad
        return view_node.next_functions[0][0]

    def rename(self, nodes: Iterable[Any], names: NameTable) -> list[GraphNode]:
        """Name nodes after the variables and modules bound at this moment; return
        the records that changed.

        Loops rebind names, and a layer bound alone (``layer``) may later become
        part of a model (``model.1``): the names at backward time are the ones
        the lecture talks about.
        """
        changed = []
        for node in nodes:
            gnode = self.nodes[self.ids[node]]
            name = names.name_of(node)
            module = names.module_of(node, self.provenance)
            if (name is not None and name != gnode.name) or (
                module is not None and module != gnode.module
            ):
                gnode.name = name if name is not None else gnode.name
                gnode.module = module if module is not None else gnode.module
                changed.append(gnode)
        return changed


class _Layout:
    """The paths of the modules and parameters under some bound modules, and what they
    were read from: valid while every module's ``_modules`` and ``_parameters`` hold
    the same entries."""

    def __init__(self, bound: list[tuple[str, torch.nn.Module]]) -> None:
        self.bound = list(bound)
        # the trees are walked through ``_modules`` and ``_parameters`` directly (what
        # ``named_modules`` and ``named_parameters(recurse=False)`` read, in the same order)
        trees = [(m, _subtree(m, name)) for name, m in bound]
        inner: set[int] = set()
        for m, tree in trees:
            inner.update(oid(sub) for _, sub in tree if sub is not m)
        # outermost modules first, so that parts get the container's path
        ordered = [t for t in trees if oid(t[0]) not in inner]
        ordered += [t for t in trees if oid(t[0]) in inner]
        self.paths: dict[int, str] = {}  # oid(module) -> qualified path
        # (qualified name, parameter, its module's path), first occurrence of each parameter
        self.params: list[tuple[str, torch.Tensor, str]] = []
        self.snapshot: list[tuple[Any, Any, Any, Any, Any]] = []
        paths = self.paths
        seen_params: set[int] = set()
        for _, tree in ordered:
            for path, sub in tree:
                if oid(sub) in paths:
                    continue
                paths[oid(sub)] = path
                d = sub.__dict__
                mods, params = d.get("_modules"), d.get("_parameters")
                self.snapshot.append((sub, mods, _entries(mods), params, _entries(params)))
                if not params:
                    continue
                for pname, p in params.items():
                    if p is not None and oid(p) not in seen_params:
                        seen_params.add(oid(p))
                        self.params.append((f"{path}.{pname}", p, path))

    def valid_for(self, bound: list[tuple[str, torch.nn.Module]]) -> bool:
        if len(bound) != len(self.bound):
            return False
        for (name, m), (name0, m0) in zip(bound, self.bound):
            if m is not m0 or name != name0:
                return False
        for sub, mods, mods_items, params, params_items in self.snapshot:
            d = sub.__dict__
            m2, p2 = d.get("_modules"), d.get("_parameters")
            if m2 is not mods or p2 is not params:
                return False
            if _entries(mods) != mods_items or _entries(params) != params_items:
                return False
        return True


def _entries(d: dict[str, Any] | None) -> tuple[Any, ...]:
    """A dict's keys and the ids of its values: ``==`` on these never calls a value's
    ``__eq__`` (a tensor's is element-wise). The layout holds the values themselves, so
    their ids cannot be reused while it lives."""
    if d is None:
        return ()
    return (tuple(d), tuple(map(oid, d.values())))


class _LayoutCache:
    """The last layout, reused while the bound modules and their trees are unchanged:
    the name table is rebuilt after every statement, and the trees rarely change."""

    def __init__(self) -> None:
        self._last: _Layout | None = None

    def get(self, bound: list[tuple[str, torch.nn.Module]]) -> _Layout:
        last = self._last
        if last is not None and last.valid_for(bound):
            return last
        self._last = _Layout(bound)
        return self._last

    def clear(self) -> None:
        self._last = None


_LAYOUTS = _LayoutCache()


def forget_layouts() -> None:
    """Let go of the modules the layout cache holds (the recorder calls this after a run)."""
    _LAYOUTS.clear()


def _subtree(root: torch.nn.Module, prefix: str) -> list[tuple[str, torch.nn.Module]]:
    """``list(root.named_modules(prefix=prefix))``, iteratively and without generators."""
    out: list[tuple[str, torch.nn.Module]] = []
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [(prefix, root)]
    while stack:
        path, m = stack.pop()
        if oid(m) in seen:
            continue
        seen.add(oid(m))
        out.append((path, m))
        children = m.__dict__.get("_modules")
        if children:
            for name, child in reversed(children.items()):
                if child is not None:
                    stack.append((f"{path}.{name}" if path else name, child))
    return out


def _creation_key(node: Any) -> tuple[int, int]:
    seq = node._sequence_nr()
    # AccumulateGrad reports UINT64_MAX; place leaves before the ops that use them
    return (0, 0) if seq >= 1 << 63 else (1, seq)
