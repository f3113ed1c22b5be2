"""Running a scenario statement by statement and recording every backward pass.

``torch.autograd.backward`` (which ``Tensor.backward`` calls) and
``torch.autograd.grad`` are wrapped for the duration of the run: each call
captures the graph reachable from its roots, hooks it, lets the real engine
run, and turns the hook events into steps. Meanwhile a
:class:`~gradstep.record.provenance.Provenance` notes which line and which
``nn.Module`` made each node.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import io
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch

from gradstep.collection import collection_paused
from gradstep.record.deadline import Deadline, LimitExceeded
from gradstep.record.encode import (
    EXACT_NUMEL,
    LARGE_PASS_EXACT_NUMEL,
    LARGE_PASS_NODES,
    Encoder,
    dtype_name,
    encode,
    oid,
    same_values,
    snapshot,
)
from gradstep.record.formulas import formula_for
from gradstep.record.graph import (
    GraphCapture,
    GraphTooLarge,
    NameTable,
    forget_layouts,
    is_leaf_node,
    sequence_length,
)
from gradstep.record.limits import MAX_NODES, MAX_STEPS
from gradstep.record.passes import Event, PassHooks
from gradstep.record.provenance import STEP, Provenance
from gradstep.scenario.loader import Scenario
from gradstep.trace.clean import storable
from gradstep.trace.model import (
    BackwardPass,
    NodeRecord,
    Step,
    Trace,
    TraceError,
    VariableState,
)

#: steps made for the statements nested in one top-level block, at most: past it the rest
#: of the block (a long training loop) is one step, which keeps the trace bounded (its
#: passes are still recorded, each with its steps)
MAX_NESTED_STEPS = 500
#: tensors up to this size are compared by value after each statement, besides their
#: version counter (which ``.data`` bypasses); larger ones by the counter alone
SNAPSHOT_NUMEL = 1024


class _Open:
    """A statement that is running: its step is made when the next one starts."""

    __slots__ = ("always", "line", "note", "out_pos", "text", "top")

    def __init__(self, line: int, text: str, out_pos: int) -> None:
        self.line = line
        self.text = text
        self.out_pos = out_pos  # where its output starts
        self.always = False  # a step even when it changed nothing
        self.note = ""  # said after the statement's first line
        self.top = False  # a top-level statement: its names are read afresh


def _first_line(text: str, limit: int = 80) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _echo(value: Any) -> str | None:
    """What a REPL would print for an expression statement; nothing for bare object reprs.

    ``<torch._C.Generator object at 0x…>`` says nothing to a student and would
    make two recordings of the same file differ.
    """
    if value is None:
        return None
    text = repr(value)
    if text.startswith("<") and " at 0x" in text:
        return None
    return text


def _root_nodes(roots: Any, leaf_node: Callable[[torch.Tensor], Any]) -> list[Any]:
    """The graph nodes a backward call starts from: tensors' grad_fns, leaves, GradientEdges."""
    if isinstance(roots, (torch.Tensor, torch.autograd.graph.GradientEdge)):
        roots = [roots]
    nodes: list[Any] = []
    for r in roots:
        if isinstance(r, torch.autograd.graph.GradientEdge):
            nodes.append(r.node)
        elif isinstance(r, torch.Tensor):
            if r.grad_fn is not None:
                nodes.append(r.grad_fn)
            elif r.requires_grad:
                nodes.append(leaf_node(r))
    return nodes


class Recorder:
    """Owns the trace being built; one per run."""

    def __init__(
        self,
        scenario: Scenario,
        namespace: dict[str, Any],
        *,
        max_steps: int = MAX_STEPS,
        max_nodes: int = MAX_NODES,
        jacobians: bool = True,
        exact_numel: int = EXACT_NUMEL,
        sink: Any = None,
        deadline: Deadline | None = None,
    ) -> None:
        """``sink``: gets the trace as it grows (``publish``, see
        ``gradstep.worker.protocol.TraceStream``); ``deadline``: the run's time limit."""
        self.scenario = scenario
        self.filename = scenario.path
        self.ns = namespace
        self.max_steps = max_steps
        self.max_nodes = max_nodes
        self.jacobians = jacobians
        self.exact_numel = exact_numel
        self._deadline = deadline or Deadline(float("inf"), scenario.path)
        self.provenance = Provenance(scenario.source, self._deadline.slots)
        self.provenance.bind(namespace)
        self.capture = GraphCapture(self.provenance)
        self.trace = Trace(
            scenario=scenario.info(),
            limits={
                "exact_numel": exact_numel,
                "large_pass_nodes": LARGE_PASS_NODES,
                "large_pass_exact_numel": min(exact_numel, LARGE_PASS_EXACT_NUMEL),
            },
        )
        self.trace.nodes = self.capture.nodes
        # name -> (key, state): the last state recorded, and what it was recorded for
        self._vars: dict[str, tuple[tuple[Any, ...], VariableState]] = {}
        self._values: dict[int, tuple[torch.Tensor, int, Any]] = {}
        self._line: int | None = None
        self._lines: list[str] | None = None
        self._in_pass = False
        self._freeze = False
        # the statement whose step is still to be made, and where its output starts
        self._open: _Open | None = None
        self._out = io.StringIO()
        self._nested_left = MAX_NESTED_STEPS
        self._runs: dict[int, int] = {}
        self._caught: list[warnings.WarningMessage] = []
        # the last names read, and the bindings they were read for (see _names_now)
        self._names: tuple[tuple[Any, ...], NameTable] | None = None
        self._sink = sink
        self._holding = False  # a pass's steps are sent with the pass, once it is complete
        namespace[STEP] = self._nested

    def _encode(self, t: torch.Tensor | None) -> Any:
        return encode(t, self.exact_numel)

    # ----------------------------------------------------------------- steps
    def _add_step(self, step: Step) -> Step:
        if len(self.trace.steps) >= self.max_steps:
            raise LimitExceeded("trace", f"the trace grew past {self.max_steps} steps")
        step.index = len(self.trace.steps)
        self.trace.steps.append(step)
        if self._sink is not None and not self._holding:
            self._sink.publish(self.trace)  # the caller has it, whatever happens next
        return step

    def current_line(self) -> int | None:
        """The scenario line executing now (the innermost frame in the scenario file)."""
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.filename:
                return frame.f_lineno
            frame = frame.f_back
        return self._line

    # ------------------------------------------------------------- variables
    def _variable_state(self, t: torch.Tensor, grad: Any = ...) -> VariableState:
        """``grad``: an already encoded gradient to show instead of the tensor's own."""
        if grad is ...:
            # reading .grad of a non-leaf that keeps none warns; it is None by definition
            grad = self._encode(t.grad if (t.is_leaf or t.retains_grad) else None)
        node = None
        if t.grad_fn is not None:
            node = self.capture.ids.get(t.grad_fn)
        elif t.requires_grad:
            node = self.capture.leaf_ids.get(oid(t))
        return VariableState(
            shape=list(t.shape),
            dtype=dtype_name(t.dtype),
            requires_grad=t.requires_grad,
            is_leaf=t.is_leaf,
            grad_fn=type(t.grad_fn).__name__ if t.grad_fn is not None else None,
            value=self._value(t),
            grad=grad,
            node=node,
            retains_grad=bool(t.retains_grad) if not t.is_leaf else False,
        )

    def _value(self, t: torch.Tensor) -> Any:
        """The encoded value, reused while the tensor is unchanged (a parameter whose
        gradient changes every pass keeps its value)."""
        hit = self._values.get(oid(t))
        small = t.numel() <= SNAPSHOT_NUMEL  # encoded afresh: ``.data`` changes keep versions
        if hit is not None and hit[0] is t and hit[1] == _version(t) and not small:
            return hit[2]
        value = self._encode(t)
        self._values[oid(t)] = (t, _version(t), value)
        return value

    @staticmethod
    def _key(t: torch.Tensor, snapshot: bool = False) -> tuple[Any, ...]:
        """What a variable's state depends on. Compared element by element with ``is``:
        the key holds the objects themselves, since a freed gradient's id is soon reused
        by the next one (``retain_grad`` replaces ``.grad`` on every pass)."""
        g = t.grad if t.is_leaf or t.retains_grad else None
        return (
            t,
            _version(t),
            t.requires_grad,
            t.retains_grad if not t.is_leaf else False,
            t.grad_fn,
            g,
            _version(g) if g is not None else -1,
            # what the version counter misses: ``w.data -= lr * w.grad`` (the SGD step of
            # many lessons) changes w in place through a tensor with a counter of its own.
            # A stored key keeps a copy of a small tensor's values, a fresh one none: it is
            # compared with the tensor itself (see _same)
            _snapshot(t) if snapshot and t.numel() <= SNAPSHOT_NUMEL else None,
        )

    @staticmethod
    def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
        """``a``, a stored key, still describes the tensor of ``b``, a fresh one."""
        # spelled out for ``_key``'s layout (ints at 1 and 6, a snapshot at 7, the rest by
        # identity): this runs for every bound tensor after every statement
        return (
            a[0] is b[0]
            and a[1] == b[1]
            and a[2] is b[2]
            and a[3] is b[3]
            and a[4] is b[4]
            and a[5] is b[5]
            and a[6] == b[6]
            and (a[7] is None or same_values(a[7], b[0].detach()))
        )

    def variable_deltas(self, names: NameTable) -> dict[str, VariableState | None]:
        deltas: dict[str, VariableState | None] = {}
        for name, t in names.tensors.items():
            key = self._key(t)
            known = self._vars.get(name)
            if known is None or not self._same(known[0], key):
                state = self._variable_state(t)
                self._vars[name] = (self._key(t, snapshot=True), state)
                deltas[name] = state
        for name in list(self._vars):
            if name not in names.tensors:
                del self._vars[name]
                deltas[name] = None
        # the value cache holds its tensors: keep only those still bound
        live = {oid(t) for t in names.tensors.values()}
        for k in [k for k in self._values if k not in live]:
            del self._values[k]
        return deltas

    def final_variables(self) -> dict[str, VariableState]:
        out: dict[str, VariableState] = {}
        for name, t in NameTable(self.ns).tensors.items():
            known = self._vars.get(name)
            if known is not None and self._same(known[0], self._key(t)):
                out[name] = known[1]
            else:
                out[name] = self._variable_state(t)
        return out

    # ------------------------------------------------------------ statements
    def run(self, tree: ast.Module) -> Trace:
        started = time.perf_counter()
        body = tree.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(getattr(body[0], "value", None), ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body = body[1:]  # the module docstring is the scenario's title, not a step
        # what the recorder keeps lives to the end of the run: frozen after each pass, the
        # collector stops walking it again and again (unless someone else froze objects)
        self._freeze = gc.get_freeze_count() == 0
        try:
            with self.provenance.active():
                for stmt in body:
                    self._deadline.check()  # no statement starts after the time limit
                    self._line = stmt.lineno
                    if not self._run_statement(stmt):
                        break
                self._deadline.check()
        except LimitExceeded as e:  # hit while the recorder itself was busy
            self._deadline.settle()
            if self.trace.error is None:
                self._record_error(e, self._line)
        finally:
            self._deadline.settle()  # what is left is the recorder's: not under the limit
            if self._freeze:
                gc.unfreeze()
        try:
            self.trace.variables = self.final_variables()
        except Exception as e:  # noqa: BLE001 - the recorder's trouble: the trace still stands
            self._note_recording_error(self._line, e)
        finally:
            forget_layouts()
            # the namespace holds our method and we hold the namespace: without this
            # cycle everything the scenario made is freed when the caller lets go
            self.ns.pop(STEP, None)
        self.trace.stats["record_seconds"] = round(time.perf_counter() - started, 6)
        self.trace.stats["nodes"] = len(self.trace.nodes)
        return self.trace

    def _run_statement(self, stmt: ast.stmt) -> bool:
        """Run one top-level statement; False when the scenario must stop.

        Its step is made when it has run. Inside a top-level loop, ``with``, ``if``
        or ``try``, each nested statement is a step of its own (``_nested``), so
        ``zero_grad()`` and ``optimizer.step()`` between two passes show what they
        change; a statement that changed nothing (a loop header, ``pass``) is no step,
        but every top-level statement makes at least one.
        """
        out = io.StringIO()
        first_step = len(self.trace.steps)
        self._out = out
        self._nested_left = MAX_NESTED_STEPS
        self._runs = {stmt.lineno: 1}  # line -> times it has run in this block
        text = self._source_segment(stmt)
        self._open = _Open(stmt.lineno, text, 0)
        self._open.top = True
        error: BaseException | None = None
        self.provenance.statement(stmt.lineno)
        with _capture_output(out) as self._caught:
            try:
                if isinstance(stmt, ast.Expr):
                    code = compile(ast.Expression(stmt.value), self.filename, "eval")
                    echo = _echo(eval(code, self.ns))
                    if echo is not None:
                        print(echo)
                else:
                    marked = self.provenance.instrument(stmt)
                    code = compile(ast.Module([marked], type_ignores=[]), self.filename, "exec")
                    exec(code, self.ns)
            except LimitExceeded as e:
                error = e
            except MemoryError as e:
                error = _memory_limit(str(e)).with_traceback(e.__traceback__)
            except Exception as e:
                error = _as_memory_limit(e) or e
            except BaseException as e:  # noqa: BLE001 - raise BaseException(...), SystemExit
                error = e  # the scenario's, at its line: the worker goes on
        if self._deadline.fired:
            # past the time limit the run ends here, whatever the statement made of the
            # limit (swallowed it, or raised something else instead)
            self._deadline.settle()
            if not isinstance(error, LimitExceeded):
                tb = error.__traceback__ if error is not None else None
                error = self._deadline.error().with_traceback(tb)
        try:
            self._close_open()
            if len(self.trace.steps) == first_step:  # nothing shown: the statement itself
                self._open = _Open(stmt.lineno, text, 0)
                self._open.always = self._open.top = True
                self._close_open()
        except LimitExceeded as e:
            error = error or e  # the first error is the one to report
        except Exception as e:  # noqa: BLE001 - the recorder's trouble, not the scenario's
            self._note_recording_error(stmt.lineno, e)
        if error is not None:
            self._record_error(error, stmt.lineno)
            return False
        return True

    def _nested(self, line: int) -> None:
        """Called by the scenario before a statement nested in a top-level block (and
        after each round of a loop, for its header)."""
        self._deadline.check()  # past the time limit, no statement starts
        self.provenance.line(line)
        if self._in_pass or self._open is None:
            return
        if self._nested_left <= 0:
            return  # the rest of the block is one step (see MAX_NESTED_STEPS)
        try:
            if self._close_open():
                self._nested_left -= 1
        except LimitExceeded:
            raise
        except Exception as e:  # noqa: BLE001 - the recorder's trouble, not the scenario's
            self._note_recording_error(line, e)
        self._line = line
        runs = self._runs[line] = self._runs.get(line, 0) + 1
        text = self._line_text(line)
        if runs > 1:  # a loop's later rounds: which one this is
            text = f"{text}  · {_ordinal(runs)} time"
        self._open = _Open(line, text, self._out.tell())
        if self._nested_left == 0:  # shown even when the passes showed all it changed
            self._open.note = "  … (and what follows in the block, as one step)"
            self._open.always = True

    def _close_open(self) -> bool:
        """Make the step of the statement that just ran, if it changed anything (True)."""
        opened = self._open
        if opened is None:
            return False
        self._open = None
        # inside the scenario's own blocks: not under its no_grad() or inference_mode()
        with collection_paused(), torch.inference_mode(False), torch.enable_grad():
            names = self._names_now(fresh=opened.top)
            new_ids = self._capture_forward(names)
            deltas = self.variable_deltas(names)
        _flush_warnings(self._caught, self._out)  # a loop's warnings go to their own step
        output = storable(self._out.getvalue()[opened.out_pos :])
        if not (new_ids or deltas or output or opened.always):
            return False
        self._add_step(
            Step(
                index=0,
                kind="statement",
                line=opened.line,
                text=_first_line(opened.text) + opened.note,
                new_nodes=new_ids,
                variables=deltas,
                output=output,
            )
        )
        return True

    def _names_now(self, fresh: bool) -> NameTable:
        """The namespace's names, reused while it binds the same tensors, modules and
        sequences (a loop's statements that only count or print): reading a big model's
        module tree again after each of them cost more than the loop. A statement that
        adds a module in place, leaving every name bound as it was, is seen at the end of
        its top-level statement."""
        ns = self.ns
        bound = tuple(
            (k, oid(v), sequence_length(v) if isinstance(v, (list, tuple)) else -1)
            for k, v in ns.items()
            if isinstance(v, (torch.Tensor, torch.nn.Module, list, tuple))
        )
        if fresh or self._names is None or bound != self._names[0]:
            self._names = (bound, NameTable(ns))
        return self._names[1]

    def _line_text(self, line: int) -> str:
        if self._lines is None:
            self._lines = _source_lines(self.scenario.source)
        return self._lines[line - 1].strip() if 0 < line <= len(self._lines) else ""

    def _source_segment(self, stmt: ast.stmt) -> str:
        """``ast.get_source_segment(source, stmt) or ""`` with the source split once per
        run: that function splits the whole source on every call (quadratic in a long
        scenario)."""
        if self._lines is None:
            self._lines = _source_lines(self.scenario.source)
        lines = self._lines
        first, last = stmt.lineno - 1, (stmt.end_lineno or 0) - 1
        col, end_col = stmt.col_offset, stmt.end_col_offset
        if stmt.end_lineno is None or end_col is None or not 0 <= first <= last < len(lines):
            return ""
        # the offsets count UTF-8 bytes
        if first == last:
            return lines[first].encode()[col:end_col].decode()
        head = lines[first].encode()[col:].decode()
        tail = lines[last].encode()[:end_col].decode()
        return "".join([head, *lines[first + 1 : last], tail])

    def _capture_forward(self, names: NameTable) -> list[str]:
        """Register the nodes made by the statement that just ran (the graph grows)."""
        roots = [t.grad_fn for t in names.tensors.values() if t.grad_fn is not None]
        # a named leaf that requires grad is shown from the statement that made it
        roots += [
            self.capture.leaf_node(t)
            for t in names.tensors.values()
            if t.is_leaf and t.requires_grad and oid(t) not in self.capture.leaf_ids
        ]
        nodes = self._walk(roots, new_only=True)
        return self.capture.register(nodes, names, line=self._line, step=len(self.trace.steps))

    def _walk(self, roots: list[Any], *, new_only: bool = False) -> list[Any]:
        try:
            return self.capture.walk(
                roots, new_only=new_only, limit=self.max_nodes - len(self.capture.nodes)
            )
        except GraphTooLarge:
            raise LimitExceeded(
                "graph", f"the autograd graph grew past the limit of {self.max_nodes} nodes"
            ) from None

    def _record_error(self, error: BaseException, line: int | None) -> None:
        tb = error.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        if isinstance(error, LimitExceeded):
            kind, etype = "limit", f"{error.limit.capitalize()}Limit"
        else:
            kind, etype = "exception", type(error).__name__
        message = _message_of(error)
        self.trace.error = TraceError(etype, message, line, kind)
        self._add_step(
            Step(index=0, kind="error", line=line, text=_first_line(f"{etype}: {message}", 120))
        )

    # ---------------------------------------------------------------- passes
    @contextlib.contextmanager
    def patched_autograd(self) -> Iterator[None]:
        real_backward = torch.autograd.backward
        real_grad = torch.autograd.grad

        def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            if self._in_pass:
                return real_backward(tensors, *args, **kwargs)
            return self.record_pass(
                "backward", tensors, lambda: real_backward(tensors, *args, **kwargs)
            )

        def grad(outputs: Any, *args: Any, **kwargs: Any) -> Any:
            if self._in_pass:
                return real_grad(outputs, *args, **kwargs)
            return self.record_pass("grad", outputs, lambda: real_grad(outputs, *args, **kwargs))

        backward.__doc__, grad.__doc__ = real_backward.__doc__, real_grad.__doc__
        torch.autograd.backward = backward
        torch.autograd.grad = grad
        try:
            yield
        finally:
            torch.autograd.backward = real_backward
            torch.autograd.grad = real_grad

    def record_pass(self, kind: str, roots: Any, run: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        first = len(self.trace.passes)
        try:
            with collection_paused():
                return self._record_pass(kind, roots, run)
        finally:
            # whole cost of a recorded pass: capture, hooks, the engine, encoding
            self.trace.stats.setdefault("pass_seconds", []).append(
                round(time.perf_counter() - started, 6)
            )
            if self._holding:  # the pass is complete: it goes out with the steps held
                if self._sink is not None:  # (if this is cut short, they go out at the end)
                    passes = self.trace.passes[first:]
                    self._sink.publish(self.trace, passes=passes, complete=True)
                self._holding = False

    def _record_pass(self, kind: str, roots: Any, run: Callable[[], Any]) -> Any:
        try:
            root_nodes = _root_nodes(roots, self.capture.leaf_node)
        except (TypeError, AttributeError):
            root_nodes = []  # not tensors: let the engine say what is wrong
        if not root_nodes:
            return run()  # the engine raises its own error ("does not require grad")
        line = self.current_line()
        names = NameTable(self.ns)
        nodes = self._walk(root_nodes)
        new_ids = self.capture.register(nodes, names, line=line, step=len(self.trace.steps))
        renamed = self.capture.rename(nodes, names)
        index = len(self.trace.passes)
        root_ids = [self.capture.ids[n] for n in root_nodes]
        root_name = next((names.name_of(n) for n in root_nodes if names.name_of(n)), None)
        what = f"{root_name}." if root_name else ""
        label = f"{what}backward()" if kind == "backward" else "torch.autograd.grad(…)"
        self._holding = True  # the pass_start step goes out with its pass
        start = self._add_step(
            Step(
                index=0,
                kind="pass_start",
                line=line,
                text=f"pass {index + 1}: {label} — {len(nodes)} nodes",
                pass_index=index,
                new_nodes=new_ids,
                # what changed since the last step: inside a loop, the statements between
                # two passes (optimizer.step(), zero_grad()) are no steps of their own
                variables=self.variable_deltas(names),
            )
        )
        bpass = BackwardPass(
            index=index, line=line, kind=kind, roots=root_ids, nodes=[], root_name=root_name
        )
        self.trace.passes.append(bpass)
        if self._sink is not None:  # the pass as it starts: a crash inside keeps it
            fresh = set(new_ids)
            nodes_renamed = [g for g in renamed if g.id not in fresh]
            self._sink.publish(self.trace, passes=[bpass], nodes=nodes_renamed)
        members = set(nodes)
        retaining = {
            name: t
            for name, t in names.tensors.items()
            if not t.is_leaf and t.retains_grad and t.grad_fn in members
        }
        large = len(nodes) > LARGE_PASS_NODES
        encoder = Encoder(
            min(self.exact_numel, LARGE_PASS_EXACT_NUMEL) if large else self.exact_numel
        )
        hooks = PassHooks(
            nodes, names, encoder, local=not large, jacobians=self.jacobians, large=large
        )
        self._in_pass = True
        try:
            result = run()
        finally:
            self._in_pass = False
            hooks.remove()
            hooks.materialize()
            self._events_to_steps(bpass, hooks, names, line)
            for name, t in retaining.items():  # also when the pass failed half-way
                bpass.retained[name] = self._encode(t.grad)
            if hooks.errors:
                self.trace.stats.setdefault("recording_errors", []).extend(hooks.errors[:20])
            bpass.first_step = start.index
            end = self._add_step(
                Step(
                    index=0,
                    kind="pass_end",
                    line=line,
                    text=f"pass {index + 1} done",
                    pass_index=index,
                    variables=self.variable_deltas(NameTable(self.ns)),
                )
            )
            bpass.last_step = end.index
        if kind == "grad":
            values = result.values() if isinstance(result, dict) else result
            values = values if isinstance(values, (tuple, list)) else (values,)
            bpass.results = [
                self._encode(r) if isinstance(r, torch.Tensor) else None for r in values
            ]
        if self._freeze:
            gc.freeze()
        return result

    def _events_to_steps(
        self,
        bpass: BackwardPass,
        hooks: PassHooks,
        names: NameTable,
        line: int | None,
    ) -> None:
        records: dict[Any, int] = {}
        ids = self.capture.ids
        gnodes = self.capture.nodes

        def record_of(node: Any) -> int:
            r = records.get(node)
            if r is None:
                gnode = gnodes[ids[node]]
                n_in = len(gnode.inputs)
                r = records[node] = len(bpass.nodes)
                saved = hooks.saved.get(node, {})
                bpass.nodes.append(
                    NodeRecord(
                        node=gnode.id,
                        op=gnode.op,
                        name=gnode.name,
                        grad_outputs=[],
                        grad_inputs=[None] * n_in,
                        local_derivatives=[None] * n_in,
                        local_derivative_kinds=[None] * n_in,
                        formula=formula_for(gnode.op, saved),
                        saved=saved,
                        chain=hooks.chain.get(node, {}),
                    )
                )
            return r

        for ev in hooks.events:
            if ev.node not in ids:
                continue
            r = record_of(ev.node)
            rec = bpass.nodes[r]
            step = Step(
                index=0,
                kind=ev.kind,  # type: ignore[arg-type]
                line=line,
                text="",
                pass_index=bpass.index,
                node=rec.node,
                record=r,
            )
            values = ev.values or []
            if ev.kind == "tensor_hook":
                self._tensor_hook_step(step, ev, values, names)
            elif ev.kind == "receive":
                rec.grad_outputs = values
                rec.receive_step = len(self.trace.steps)
                label = rec.name or rec.op
                if is_leaf_node(ev.node):
                    rec.grad_before = ev.before
                    step.text = f"{label} receives its gradient"
                elif rec.name:
                    step.text = f"{rec.op} ({rec.name}) receives its gradient"
                else:
                    step.text = f"{rec.op} receives its gradient"
                if ev.local is not None:
                    rec.local_derivatives, rec.local_derivative_kinds = ev.local
            elif ev.kind == "compute":
                rec.grad_inputs = values
                rec.compute_step = len(self.trace.steps)
                step.text = f"{rec.op} computes upstream × local = downstream"
            elif ev.kind == "accumulate":
                rec.grad_after = values[0] if values else None
                rec.compute_step = len(self.trace.steps)
                step.text = f"{rec.name or rec.op}.grad accumulates"
                t = names.tensors.get(ev.name or "")
                if t is not None and ev.name:
                    # AccumulateGrad runs once per pass: what .grad holds now that the
                    # pass is over is what this step made it (encoded as variables are)
                    state = self._variable_state(
                        t, self._summary_of(t.grad, hooks.after.get(ev.node))
                    )
                    step.variables = {ev.name: state}
                    self._vars[ev.name] = (self._key(t, snapshot=True), state)  # not again
            self._add_step(step)

    def _note_recording_error(self, line: int | None, e: Exception) -> None:
        errors = self.trace.stats.setdefault("recording_errors", [])
        errors.append(f"line {line}: {type(e).__name__}: {_message_of(e)}")

    def _summary_of(
        self, g: torch.Tensor | None, after: tuple[torch.Tensor, int, Any] | None
    ) -> Any:
        """``g`` encoded as a variable's gradient, reusing the pass's encoding of the same
        unchanged tensor when both are summaries (a summary does not depend on the
        threshold that made it one); ``...`` when it has to be encoded afresh."""
        if (
            g is not None
            and after is not None
            and after[0] is g
            and after[1] == g._version
            and isinstance(after[2], dict)
            and g.numel() > self.exact_numel
        ):
            return after[2]
        return ...

    def _tensor_hook_step(self, step: Step, ev: Event, values: list[Any], names: NameTable) -> None:
        name = ev.name or ""
        t = names.tensors.get(name)
        if not values or values[0] is None:
            step.text = f"{name} receives no gradient (None)"
            return
        retains = t is not None and t.retains_grad
        step.text = f"{name} receives its gradient" + (" (retained)" if retains else "")
        if retains and t is not None:
            # retain_grad() stores (or adds) this gradient right after the hook, once per
            # pass: what .grad holds now that the pass is over is what it kept at this step
            state = self._variable_state(t)
            step.variables = {name: state}
            self._vars[name] = (self._key(t, snapshot=True), state)  # pass_end: not again


_snapshot = snapshot  # Recorder._key has a parameter of that name


def _version(t: torch.Tensor) -> int:
    """A tensor's version counter; an inference tensor has none (-2: never seen to change)."""
    return -2 if t.is_inference() else t._version


def _ordinal(n: int) -> str:
    """``2nd``, ``3rd``, ``11th``, ``22nd``."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _source_lines(source: str) -> list[str]:
    """The source's lines with their ends, split where the parser counts lines (what
    ``ast.get_source_segment`` does, character by character)."""
    parts = re.split(r"(\r\n|\r|\n)", source)
    lines = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _as_memory_limit(e: Exception) -> LimitExceeded | None:
    """torch reports a refused allocation as a RuntimeError; it is the memory limit (kept
    with the error's traceback, which names the line inside a loop or a function)."""
    if not isinstance(e, RuntimeError):
        return None
    text = _message_of(e)
    if "can't allocate memory" in text or "not enough memory" in text:
        return _memory_limit(_first_line(text, 200)).with_traceback(e.__traceback__)
    return None


def _memory_limit(detail: str) -> LimitExceeded:
    """The memory limit as the scenario met it; ``detail`` from the failed allocation."""
    limit = _address_space_limit_mb()
    what = f"the memory limit of {limit} MB" if limit else "the memory limit"
    return LimitExceeded(
        "memory",
        f"the scenario ran out of memory: it hit {what}" + (f" ({detail})" if detail else ""),
    )


def _address_space_limit_mb() -> int | None:
    try:
        import resource  # POSIX only; the worker sets RLIMIT_AS

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else soft >> 20


#: the longest message a step keeps from an exception (a scenario may raise a huge one)
_MAX_MESSAGE = 10_000


def _message_of(error: BaseException) -> str:
    """``str(error)`` made safe: a scenario's ``__str__`` may raise or run on, and its text
    may hold lone surrogates (not UTF-8) or be megabytes long."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - the scenario's own __str__ failed
        try:
            text = repr(error.args)
        except Exception:  # noqa: BLE001
            text = "(the exception's message could not be read)"
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + f"… ({len(text) - _MAX_MESSAGE} more characters)"
    return storable(text)


@contextlib.contextmanager
def _capture_output(out: io.StringIO) -> Iterator[list[warnings.WarningMessage]]:
    """The scenario's prints and warnings go into the step, not our stdout. Yields the
    warnings caught so far, for ``_flush_warnings`` to write where they belong."""
    with contextlib.redirect_stdout(out), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield caught  # type: ignore[misc]
        finally:
            _flush_warnings(caught, out)


def _flush_warnings(caught: list[warnings.WarningMessage], out: io.StringIO) -> None:
    """Write the warnings caught so far into ``out`` as ``Category: message`` lines."""
    for w in caught:
        message = w.message if isinstance(w.message, str) else _message_of(w.message)
        out.write(f"{w.category.__name__}: {_first_line(message, 200)}\n")
    caught.clear()
