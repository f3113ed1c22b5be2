"""Running a scenario statement by statement and recording every backward pass.

``torch.autograd.backward`` (which ``Tensor.backward`` calls) and
``torch.autograd.grad`` are wrapped for the duration of the run: each call
captures the graph reachable from its roots, hooks it, lets the real engine
run, and turns the hook events into steps.
"""

from __future__ import annotations

import ast
import contextlib
import io
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from gradstep.record.encode import EXACT_NUMEL, dtype_name, encode
from gradstep.record.formulas import formula_for
from gradstep.record.graph import GraphCapture, GraphTooLarge, NameTable
from gradstep.record.passes import PassHooks
from gradstep.scenario.loader import Scenario
from gradstep.trace.model import (
    BackwardPass,
    NodeRecord,
    ScenarioInfo,
    Step,
    Trace,
    TraceError,
    VariableState,
)


class LimitExceeded(BaseException):
    """A resource limit stopped the scenario (BaseException: scenarios can't catch it)."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


def _first_line(text: str, limit: int = 80) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Recorder:
    """Owns the trace being built; one per run."""

    def __init__(
        self,
        scenario: Scenario,
        namespace: dict[str, Any],
        *,
        max_steps: int = 200_000,
        max_nodes: int = 100_000,
        jacobians: bool = True,
    ) -> None:
        self.scenario = scenario
        self.filename = scenario.path
        self.ns = namespace
        self.max_steps = max_steps
        self.max_nodes = max_nodes
        self.jacobians = jacobians
        self.capture = GraphCapture()
        self.trace = Trace(
            scenario=ScenarioInfo(
                path=scenario.path,
                title=scenario.title,
                summary=scenario.summary,
                source=scenario.source,
                cells=[c.to_dict() for c in scenario.cells],
            ),
            limits={"exact_numel": EXACT_NUMEL},
        )
        self._var_keys: dict[str, tuple[Any, ...]] = {}
        self._line: int | None = None
        self._in_pass = False
        self._lines = scenario.source.split("\n")

    # ----------------------------------------------------------------- steps
    def _add_step(self, step: Step) -> Step:
        if len(self.trace.steps) >= self.max_steps:
            raise LimitExceeded("trace", f"the trace grew past {self.max_steps} steps")
        step.index = len(self.trace.steps)
        self.trace.steps.append(step)
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
    def _variable_state(
        self, t: torch.Tensor, grad: Any = ..., node: str | None = None
    ) -> VariableState:
        if grad is ...:
            # reading .grad of a non-leaf that keeps none warns; it is None by definition
            grad = t.grad if (t.is_leaf or t.retains_grad) else None
        if node is None:
            if t.grad_fn is not None:
                node = self.capture.ids.get(t.grad_fn)
            elif t.requires_grad:
                node = self._leaf_node_id(t)
        return VariableState(
            shape=list(t.shape),
            dtype=dtype_name(t.dtype),
            requires_grad=t.requires_grad,
            is_leaf=t.is_leaf,
            grad_fn=type(t.grad_fn).__name__ if t.grad_fn is not None else None,
            value=encode(t),
            grad=encode(grad),
            node=node,
            retains_grad=bool(t.retains_grad) if not t.is_leaf else False,
        )

    def _leaf_node_id(self, t: torch.Tensor) -> str | None:
        return self.capture.leaf_ids.get(id(t))

    @staticmethod
    def _key(t: torch.Tensor) -> tuple[Any, ...]:
        g = t.grad if t.is_leaf or t.retains_grad else None
        return (
            id(t),
            t._version,
            t.requires_grad,
            id(t.grad_fn),
            id(g),
            g._version if g is not None else -1,
        )

    def variable_deltas(self, names: NameTable) -> dict[str, VariableState | None]:
        deltas: dict[str, VariableState | None] = {}
        for name, t in names.tensors.items():
            key = self._key(t)
            if self._var_keys.get(name) != key:
                self._var_keys[name] = key
                deltas[name] = self._variable_state(t)
        for name in list(self._var_keys):
            if name not in names.tensors:
                del self._var_keys[name]
                deltas[name] = None
        return deltas

    def final_variables(self) -> dict[str, VariableState]:
        names = NameTable(self.ns)
        return {name: self._variable_state(t) for name, t in names.tensors.items()}

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
        try:
            for stmt in body:
                self._line = stmt.lineno
                if not self._run_statement(stmt):
                    break
        except LimitExceeded as e:  # hit while the recorder itself was busy
            if self.trace.error is None:
                self._record_error(e, self._line)
        self.trace.variables = self.final_variables()
        self.trace.stats["record_seconds"] = round(time.perf_counter() - started, 6)
        self.trace.stats["nodes"] = len(self.trace.nodes)
        return self.trace

    def _run_statement(self, stmt: ast.stmt) -> bool:
        """Run one top-level statement; False when the scenario must stop."""
        out = io.StringIO()
        steps_before = len(self.trace.steps)
        error: BaseException | None = None
        with _capture_output(out):
            try:
                if isinstance(stmt, ast.Expr):
                    code = compile(ast.Expression(stmt.value), self.filename, "eval")
                    value = eval(code, self.ns)
                    if value is not None:
                        print(repr(value))
                else:
                    code = compile(ast.Module([stmt], type_ignores=[]), self.filename, "exec")
                    exec(code, self.ns)
            except LimitExceeded as e:
                error = e
            except MemoryError as e:
                error = LimitExceeded(
                    "memory", f"the scenario ran out of memory ({e or 'MemoryError'})"
                )
            except Exception as e:
                error = _as_memory_limit(e) or e
        names = NameTable(self.ns)
        try:
            new_ids = self._capture_forward(names)
        except LimitExceeded as e:
            new_ids = []
            error = error or e  # the first error is the one to report
        deltas = self.variable_deltas(names)
        had_pass = any(s.kind == "pass_end" for s in self.trace.steps[steps_before:])
        if not had_pass or new_ids or deltas or out.getvalue():
            src = ast.get_source_segment(self.scenario.source, stmt) or ""
            self._add_step(
                Step(
                    index=0,
                    kind="statement",
                    line=stmt.lineno,
                    text=_first_line(src),
                    new_nodes=new_ids,
                    variables=deltas,
                    output=out.getvalue(),
                )
            )
        if error is not None:
            self._record_error(error, stmt.lineno)
            return False
        return True

    def _capture_forward(self, names: NameTable) -> list[str]:
        roots = [t.grad_fn for t in names.tensors.values() if t.grad_fn is not None]
        # a named leaf that requires grad is shown from the statement that made it
        roots += [
            self.capture.leaf_node(t)
            for t in names.tensors.values()
            if t.is_leaf and t.requires_grad and id(t) not in self.capture.leaf_ids
        ]
        nodes = self._walk(roots)
        new = self.capture.register(nodes, names, line=self._line, step=len(self.trace.steps))
        self._sync_nodes()
        return new

    def _walk(self, roots: list[Any]) -> list[Any]:
        try:
            return self.capture.walk(roots, limit=self.max_nodes - len(self.capture.nodes))
        except GraphTooLarge as e:
            raise LimitExceeded("graph", f"{e} (the limit is {self.max_nodes})") from None

    def _sync_nodes(self) -> None:
        self.trace.nodes = self.capture.nodes

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
        message = str(error)
        self.trace.error = TraceError(etype, message, line, kind)
        self._add_step(
            Step(index=0, kind="error", line=line, text=_first_line(f"{etype}: {message}", 120))
        )

    # ---------------------------------------------------------------- passes
    @contextlib.contextmanager
    def patched_autograd(self) -> Iterator[None]:
        real_backward = torch.autograd.backward
        real_grad = torch.autograd.grad

        def backward(tensors: Any, grad_tensors: Any = None, *args: Any, **kwargs: Any) -> Any:
            if self._in_pass:
                return real_backward(tensors, grad_tensors, *args, **kwargs)
            roots = [tensors] if isinstance(tensors, torch.Tensor) else list(tensors)
            return self.record_pass(
                "backward", roots, lambda: real_backward(tensors, grad_tensors, *args, **kwargs)
            )

        def grad(outputs: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            if self._in_pass:
                return real_grad(outputs, inputs, *args, **kwargs)
            roots = [outputs] if isinstance(outputs, torch.Tensor) else list(outputs)
            return self.record_pass(
                "grad", roots, lambda: real_grad(outputs, inputs, *args, **kwargs)
            )

        torch.autograd.backward = backward
        torch.autograd.grad = grad
        try:
            yield
        finally:
            torch.autograd.backward = real_backward
            torch.autograd.grad = real_grad

    def record_pass(self, kind: str, roots: list[Any], run: Any) -> Any:
        root_nodes = [
            t.grad_fn for t in roots if isinstance(t, torch.Tensor) and t.grad_fn is not None
        ]
        root_nodes += [
            n
            for t in roots
            if isinstance(t, torch.Tensor) and t.grad_fn is None and t.requires_grad
            for n in self._leaf_nodes_for(t)
        ]
        if not root_nodes:
            return run()  # the engine raises its own error ("does not require grad")
        line = self.current_line()
        names = NameTable(self.ns)
        nodes = self._walk(root_nodes)
        new_ids = self.capture.register(nodes, names, line=line, step=len(self.trace.steps))
        self.capture.rename(nodes, names)
        self._sync_nodes()
        index = len(self.trace.passes)
        root_ids = [self.capture.ids[n] for n in root_nodes]
        root_name = next((names.name_of(n) for n in root_nodes if names.name_of(n)), None)
        what = f"{root_name}." if root_name else ""
        label = f"{what}backward()" if kind == "backward" else "torch.autograd.grad(…)"
        start = self._add_step(
            Step(
                index=0,
                kind="pass_start",
                line=line,
                text=f"pass {index + 1}: {label} — {len(nodes)} nodes",
                pass_index=index,
                new_nodes=new_ids,
            )
        )
        bpass = BackwardPass(
            index=index, line=line, kind=kind, roots=root_ids, nodes=[], root_name=root_name
        )
        self.trace.passes.append(bpass)
        retained_before = {
            name: t.grad.clone()
            for name, t in names.tensors.items()
            if not t.is_leaf and t.retains_grad and t.grad is not None
        }
        hooks = PassHooks(
            self.capture, nodes, names, jacobians=self.jacobians and len(nodes) <= 2000
        )
        self._in_pass = True
        try:
            result = run()
        finally:
            self._in_pass = False
            hooks.remove()
            self._events_to_steps(bpass, hooks, names, line, retained_before)
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
            res = result if isinstance(result, tuple) else (result,)
            bpass.results = [encode(r) if isinstance(r, torch.Tensor) else None for r in res]
        for name, t in names.tensors.items():
            if not t.is_leaf and t.retains_grad and t.grad_fn in self.capture.ids:
                bpass.retained[name] = encode(t.grad)
        return result

    def _leaf_nodes_for(self, t: torch.Tensor) -> list[Any]:
        return [self.capture.leaf_node(t)]

    def _events_to_steps(
        self,
        bpass: BackwardPass,
        hooks: PassHooks,
        names: NameTable,
        line: int | None,
        retained_before: dict[str, torch.Tensor],
    ) -> None:
        records: dict[Any, int] = {}

        def record_of(node: Any) -> int:
            if node not in records:
                nid = self.capture.ids[node]
                gnode = self.capture.nodes[nid]
                n_in = len(gnode.inputs)
                records[node] = len(bpass.nodes)
                bpass.nodes.append(
                    NodeRecord(
                        node=nid,
                        op=gnode.op,
                        name=gnode.name,
                        grad_outputs=[],
                        grad_inputs=[None] * n_in,
                        local_derivatives=[None] * n_in,
                        local_derivative_kinds=[None] * n_in,
                        saved=hooks.saved.get(node, {}),
                    )
                )
            return records[node]

        for ev in hooks.events:
            nid = self.capture.ids.get(ev.node)
            if nid is None:
                continue
            r = record_of(ev.node)
            rec = bpass.nodes[r]
            label = rec.name or rec.op
            step = Step(
                index=0,
                kind=ev.kind,
                line=line,
                text="",
                pass_index=bpass.index,
                node=nid,
                record=r,
            )
            if ev.kind == "tensor_hook":
                t = names.tensors.get(ev.name or "")
                g = ev.tensors[0]
                step.text = f"{ev.name} receives its gradient" + (
                    " (retained)" if t is not None and t.retains_grad else ""
                )
                if t is not None and t.retains_grad and g is not None:
                    prior = retained_before.get(ev.name or "")
                    value = g if prior is None else prior + g
                    step.variables = {ev.name or "": self._variable_state(t, grad=value)}
            elif ev.kind == "receive":
                rec.grad_outputs = [encode(g) for g in ev.tensors]
                rec.receive_step = len(self.trace.steps)
                if gnode_is_leaf(rec):
                    rec.grad_before = encode(ev.before)
                    step.text = f"{label} receives its gradient"
                else:
                    step.text = (
                        f"{rec.op} ({label}) receives its gradient"
                        if rec.name
                        else f"{rec.op} receives its gradient"
                    )
                if ev.local is not None:
                    rec.local_derivatives, rec.local_derivative_kinds = ev.local
                rec.formula = formula_for(rec.op, rec.saved)
            elif ev.kind == "compute":
                if gnode_is_leaf(rec):
                    continue  # AccumulateGrad's post-hook carries nothing new
                rec.grad_inputs = [encode(g) for g in ev.tensors]
                rec.compute_step = len(self.trace.steps)
                step.text = f"{rec.op} computes upstream × local = downstream"
            elif ev.kind == "accumulate":
                rec.grad_after = encode(ev.tensors[0])
                rec.compute_step = len(self.trace.steps)
                step.text = f"{label}.grad accumulates"
                t = names.tensors.get(ev.name or "")
                if t is not None and ev.name:
                    step.variables = {ev.name: self._variable_state(t, grad=ev.tensors[0])}
            self._add_step(step)


def _as_memory_limit(e: Exception) -> LimitExceeded | None:
    """torch reports a refused allocation as a RuntimeError; it is the memory limit."""
    text = str(e)
    if isinstance(e, RuntimeError) and (
        "can't allocate memory" in text or "not enough memory" in text
    ):
        return LimitExceeded(
            "memory", f"the scenario hit the memory limit: {_first_line(text, 200)}"
        )
    return None


def gnode_is_leaf(rec: NodeRecord) -> bool:
    return rec.op == "AccumulateGrad"


@contextlib.contextmanager
def _capture_output(out: io.StringIO) -> Iterator[None]:
    """The scenario's prints and warnings go into the step, not our stdout."""
    with contextlib.redirect_stdout(out), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                out.write(f"{w.category.__name__}: {_first_line(str(w.message), 200)}\n")
