"""A cursor over a trace's steps: the state at step k, without Qt or torch.

The state at step k is a pure function of the trace and k; everything here is
precomputed once per trace so that moving the cursor costs O(changes), which
keeps a step within a frame on graphs of thousands of nodes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from psygnal import Signal

from gradstep.trace.model import (
    BackwardPass,
    GraphNode,
    NodeRecord,
    Step,
    Trace,
    VariableState,
)

NodeStatus = Literal["pending", "received", "done"]


@dataclass
class StepState:
    """What the views show at one step."""

    index: int
    step: Step
    line: int | None
    visible_nodes: frozenset[str]
    current_node: str | None
    current_record: NodeRecord | None
    pass_index: int | None
    node_status: dict[str, NodeStatus] = field(default_factory=dict)
    # (producer, consumer, input slot) -> gradient flowing along that edge, for done nodes
    edge_grads: dict[tuple[str, str, int], Any] = field(default_factory=dict)
    active_edges: list[tuple[str, str, int]] = field(default_factory=list)
    variables: dict[str, VariableState] = field(default_factory=dict)
    # nodes not drawn at all: graphs no longer alive, and graphs not begun before the next
    # pass ends (a training loop's other iterations); see Session.hidden_at
    hidden_nodes: frozenset[str] = frozenset()


class Selection:
    """The node chosen in any panel (None: none), kept once: the graph marks it, the
    inspector pins it, the variables table selects its row. A panel that lets the user
    choose a node calls ``set``; every panel that shows the choice subscribes to
    ``changed``. Each ``set`` is announced, even of the same node, so that a panel
    with a choice of its own (the graph's selected box) drops it."""

    changed = Signal(object)  # str | None

    def __init__(self) -> None:
        self.node: str | None = None

    def set(self, node: str | None) -> None:
        self.node = node
        self.changed.emit(node)


class Session:
    """The trace on screen and where the user is in it."""

    step_changed = Signal(int)
    trace_changed = Signal()

    def __init__(self, trace: Trace) -> None:
        self._index = 0
        self.set_trace(trace)

    # --------------------------------------------------------------- trace
    def set_trace(self, trace: Trace, *, keep_place: bool = False) -> None:
        """Show another trace; ``keep_place`` (a reload of the same file): stay at the step
        that matches the one shown (``place_in``)."""
        old = self._index
        previous: Trace | None = getattr(self, "trace", None)
        self.trace = trace
        self._memo: StepState | None = None  # the last state computed (every panel asks)
        self._changes: dict[str, tuple[list[int], list[VariableState | None]]] = {}
        for s in trace.steps:
            for name, state in s.variables.items():
                idx, vals = self._changes.setdefault(name, ([], []))
                idx.append(s.index)
                vals.append(state)
        self._pass_of_step: list[int | None] = [s.pass_index for s in trace.steps]
        # nodes in order of appearance: the visible set at step k is a prefix, cached per length
        by_step = sorted(trace.nodes.values(), key=lambda n: n.step)
        self._node_steps = [n.step for n in by_step]
        self._node_order = [n.id for n in by_step]
        self._visible_cache: dict[int, frozenset[str]] = {}
        self._producers = {
            nid: [src for src, _ in node.inputs if src is not None]
            for nid, node in trace.nodes.items()
        }
        # the last step of the pass that ends at or after each step (the look-ahead horizon)
        self._pass_ends = sorted(p.last_step for p in trace.passes)
        self._alive_cache: dict[frozenset[str], frozenset[str]] = {}
        self._pass_nodes = [frozenset(r.node for r in p.nodes) for p in trace.passes]
        #: node -> the node it is drawn in place of (a loop's later iterations; graph.layout.fold)
        self.folded = representatives(trace)
        self._copies: dict[str, list[str]] = {}  # a representative and its copies, oldest first
        for nid, rep in self.folded.items():
            self._copies.setdefault(rep, [rep]).append(nid)
        #: the trace is a reload of the one before it (the same file, run again)
        self.reloaded = bool(keep_place and previous)
        self._stops: list[int] | None = None  # node_stops(trace), made when first asked for
        self._index = place_in(previous, old, trace) if keep_place and previous else 0
        self.trace_changed.emit()
        self.step_changed.emit(self._index)

    @property
    def step_count(self) -> int:
        return len(self.trace.steps)

    # -------------------------------------------------------------- cursor
    @property
    def index(self) -> int:
        return self._index

    def go_to(self, k: int) -> None:
        k = max(0, min(int(k), self.step_count - 1))
        if k != self._index:
            self._index = k
            self.step_changed.emit(k)

    def step_forward(self) -> None:
        self.go_to(self._index + 1)

    def step_back(self) -> None:
        self.go_to(self._index - 1)

    def first(self) -> None:
        self.go_to(0)

    def last(self) -> None:
        self.go_to(self.step_count - 1)

    @property
    def node_stops(self) -> list[int]:
        """The steps that stepping by node stops at (``node_stops``)."""
        if self._stops is None:
            self._stops = node_stops(self.trace)
        return self._stops

    def next_node(self) -> None:
        """Forward to the next node stop (a node's compute, its receive and hooks folded in);
        past the last one, the last step."""
        stops = self.node_stops
        i = bisect_right(stops, self._index)
        self.go_to(stops[i] if i < len(stops) else self.step_count - 1)

    def previous_node(self) -> None:
        """Back to the node stop before the cursor; before the first one, the first step."""
        stops = self.node_stops
        i = bisect_left(stops, self._index) - 1
        self.go_to(stops[i] if i >= 0 else 0)

    def next_pass(self) -> None:
        for p in self.trace.passes:
            if p.first_step > self._index:
                self.go_to(p.first_step)
                return
        self.last()

    def previous_pass(self) -> None:
        for p in reversed(self.trace.passes):
            if p.first_step < self._index:
                self.go_to(p.first_step)
                return
        self.first()

    def next_at_node(self, node: str) -> int | None:
        """The next step after the cursor that concerns ``node`` (a breakpoint)."""
        for s in self.trace.steps[self._index + 1 :]:
            if s.node == node or node in s.new_nodes:
                return s.index
        return None

    def first_step_of_line(self, line: int) -> int | None:
        for s in self.trace.steps:
            if s.line == line:
                return s.index
        return None

    def step_for_node(self, node: str) -> int | None:
        """The step where ``node`` computes in the most recent pass that ran it."""
        for p in reversed(self.trace.passes):
            for rec in p.nodes:
                if rec.node == node and rec.compute_step is not None:
                    return rec.compute_step
        n = self.trace.nodes.get(node)
        return n.step if n is not None else None

    # --------------------------------------------------------------- state
    def variables_at(self, k: int) -> dict[str, VariableState]:
        out: dict[str, VariableState] = {}
        for name, (idx, vals) in self._changes.items():
            i = bisect_right(idx, k) - 1
            if i >= 0 and (value := vals[i]) is not None:
                out[name] = value
        return out

    def visible_at(self, k: int) -> frozenset[str]:
        """The nodes created at or before step k (shared between steps: do not mutate)."""
        count = bisect_right(self._node_steps, k)
        cached = self._visible_cache.get(count)
        if cached is None:
            cached = frozenset(self._node_order[:count])
            self._visible_cache = {count: cached}  # stepping revisits one or two sizes
        return cached

    def hidden_at(
        self, k: int, variables: dict[str, VariableState] | None = None
    ) -> frozenset[str]:
        """The nodes not drawn at step k.

        A graph is drawn while it is alive: reachable from a variable bound at k,
        from the pass running at k, or made by step k itself. Once its variables
        are rebound (the next iteration of a loop builds its own graph) it is
        gone, as it is in PyTorch. Nodes not made yet are drawn faded as far as
        the end of the next backward pass, and not at all beyond it.
        """
        created = self.visible_at(k)
        ends = self._pass_ends
        i = bisect_right(ends, k - 1)  # the first pass that ends at or after k
        horizon = ends[i] if i < len(ends) else len(self.trace.steps)
        beyond = self._node_order[bisect_right(self._node_steps, horizon) :]
        bpass = self.pass_at(k)
        # a pass holds the whole graph below its roots while it runs (also the branches the
        # engine skips, as with ``inputs=``)
        in_pass = self._pass_nodes[bpass.index] if bpass is not None else frozenset()
        if bpass is not None and not created <= in_pass:
            in_pass = in_pass | self._alive(frozenset(bpass.roots))
        rest = created - in_pass
        if rest:
            if variables is None:
                variables = self.variables_at(k)
            roots = {v.node for v in variables.values() if v.node is not None}
            roots.update(self.trace.steps[k].new_nodes)
            rest = rest - self._alive(frozenset(roots))
        hidden = frozenset(rest).union(beyond) if rest or beyond else frozenset()
        if self._copies:
            hidden = hidden.union(self._displaced(created, hidden))
        return hidden

    def _displaced(self, created: frozenset[str], hidden: frozenset[str]) -> list[str]:
        """Copies drawn in one place (a loop's iterations, see ``graph.layout.fold``) that would
        be on top of each other: one stays, the newest made so far, else the next to come."""
        out: list[str] = []
        for copies in self._copies.values():
            shown = [c for c in copies if c not in hidden]
            if len(shown) < 2:
                continue
            made = [c for c in shown if c in created]
            keep = made[-1] if made else shown[-1]
            out.extend(c for c in shown if c != keep)
        return out

    def _alive(self, roots: frozenset[str]) -> frozenset[str]:
        """The nodes reachable from ``roots`` through their inputs (cached: stepping
        through a pass or between rebindings keeps the same roots)."""
        cached = self._alive_cache.get(roots)
        if cached is not None:
            return cached
        producers = self._producers
        seen = set(r for r in roots if r in producers)
        stack = list(seen)
        while stack:
            for src in producers[stack.pop()]:
                if src not in seen:
                    seen.add(src)
                    stack.append(src)
        alive = frozenset(seen)
        if len(self._alive_cache) > 8:
            self._alive_cache.clear()
        self._alive_cache[roots] = alive
        return alive

    def pass_at(self, k: int) -> BackwardPass | None:
        pi = self._pass_of_step[k] if 0 <= k < len(self._pass_of_step) else None
        return self.trace.passes[pi] if pi is not None else None

    def state(self, k: int | None = None) -> StepState:
        """The state at step ``k`` (default: the current step), computed once however many
        panels ask for it."""
        k = self._index if k is None else k
        if self._memo is None or self._memo.index != k:
            self._memo = self._state(k)
        return self._memo

    def record_at(self, node: str, k: int | None = None) -> NodeRecord | None:
        """What ``node`` did in the latest backward pass begun by step ``k`` (None: none yet)."""
        k = self._index if k is None else k
        found = None
        for bpass in self.trace.passes:
            if bpass.first_step > k:
                break
            for rec in bpass.nodes:
                if rec.node == node:
                    found = rec
        return found

    def _state(self, k: int) -> StepState:
        step = self.trace.steps[k]
        visible = self.visible_at(k)
        st = StepState(
            index=k,
            step=step,
            line=step.line,
            visible_nodes=visible,
            current_node=step.node,
            current_record=self.trace.record_for(step),
            pass_index=step.pass_index,
            variables=self.variables_at(k),
        )
        st.hidden_nodes = self.hidden_at(k, st.variables)
        bpass = self.pass_at(k)
        if bpass is not None:
            for rec in bpass.nodes:
                if rec.compute_step is not None and rec.compute_step <= k:
                    st.node_status[rec.node] = "done"
                    self._edge_grads(rec, st)
                elif rec.receive_step is not None and rec.receive_step <= k:
                    st.node_status[rec.node] = "received"
                else:
                    st.node_status[rec.node] = "pending"
            if step.node is not None and step.kind == "compute":
                node = self.trace.nodes[step.node]
                st.active_edges = [
                    (src, step.node, slot)
                    for slot, (src, _) in enumerate(node.inputs)
                    if src is not None
                ]
        return st

    def _edge_grads(self, rec: NodeRecord, st: StepState) -> None:
        node = self.trace.nodes.get(rec.node)
        if node is None:
            return
        for slot, (src, _) in enumerate(node.inputs):
            if (
                src is not None
                and slot < len(rec.grad_inputs)
                and rec.grad_inputs[slot] is not None
            ):
                st.edge_grads[(src, rec.node, slot)] = rec.grad_inputs[slot]


#: steps that stepping by node folds into the node step that follows them in their pass
FOLDED_KINDS = frozenset({"receive", "tensor_hook"})


def node_stops(trace: Trace) -> list[int]:
    """The steps a lecture stops at when it steps by node, in order: every step but those
    that only lead up to a node's own step. A receive or a tensor hook is folded into the
    compute (or a leaf's accumulate) that follows it in the same pass (where none follows,
    a pass cut short by an error, it stays a stop), and a pass's end into the node step
    before it. So a pass of n nodes takes n presses, plus one for its start."""
    stops: list[int] = []
    ahead: int | None = None  # the pass of the node step the receives and hooks fold into
    for s in reversed(trace.steps):
        if s.kind in ("compute", "accumulate"):
            ahead = s.pass_index
        elif s.kind in FOLDED_KINDS and ahead is not None and s.pass_index == ahead:
            continue
        elif s.kind == "pass_end" and s.index > 0:
            ahead = None
            continue
        else:
            ahead = None
        stops.append(s.index)
    stops.reverse()
    return stops


def place_in(old: Trace, index: int, new: Trace) -> int:
    """The step of ``new`` that matches step ``index`` of ``old`` (a reload keeps one's place).

    The same description (kind and text) nearest to the old index wins; a line
    edited away falls back to the same index, clamped.
    """
    if not new.steps:
        return 0
    if not 0 <= index < len(old.steps):
        return min(max(index, 0), len(new.steps) - 1)
    ref = old.steps[index]
    same = [s.index for s in new.steps if s.kind == ref.kind and s.text == ref.text]
    if same:
        return min(same, key=lambda i: abs(i - index))
    return min(index, len(new.steps) - 1)


def _role(node: GraphNode) -> str:
    """What a node is, short of its id: its op, the variable it made and its module."""
    return f"{node.op}:{node.name or ''}:{node.module or ''}"


def _ranked(nodes: Iterable[tuple[str, Hashable]]) -> Iterator[tuple[str, int]]:
    """(node id, its rank among the nodes of the same group before it), in the given
    order: ids come in creation order."""
    seen: dict[Hashable, int] = {}
    for nid, group in nodes:
        rank = seen[group] = seen.get(group, -1) + 1
        yield nid, rank


def node_keys(trace: Trace) -> dict[str, str]:
    """A name for each node that a reload can find again, where its id may have moved:
    its role, numbered among nodes alike in creation order (``MulBackward0:y:#0``). An
    unchanged file gives every node its old key back."""
    roles = {nid: _role(node) for nid, node in trace.nodes.items()}
    return {nid: f"{roles[nid]}#{rank}" for nid, rank in _ranked(roles.items())}


def representatives(trace: Trace) -> dict[str, str]:
    """Node id -> the node whose place it takes in the drawing (only those that take
    another's): a node made after the k-th backward pass stands where the node in the same
    role made before the first pass does (same op, variable and module, and the same rank
    among the nodes alike made between the same two passes). Leaves keep their own place.
    """
    ends = sorted(p.last_step for p in trace.passes)
    # a node's generation: how many passes had ended before it was made
    ops = {
        nid: (bisect_left(ends, node.step), _role(node))
        for nid, node in trace.nodes.items()
        if node.kind != "leaf"
    }
    first: dict[tuple[str, int], str] = {}
    rep: dict[str, str] = {}
    for nid, rank in _ranked(ops.items()):
        r = first.setdefault((ops[nid][1], rank), nid)
        if r != nid:
            rep[nid] = r
    return rep
