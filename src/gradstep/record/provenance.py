"""Where each autograd node came from: the source line and the ``nn.Module``.

Autograd numbers nodes as it creates them (``node._sequence_nr()``), and
``torch.autograd._get_sequence_nr()`` is the number the next node will get.
So it is enough to note that number whenever the scenario moves to another
line or enters or leaves a module: a node's line and module are then a binary
search away, for nodes found long after they were made (inside loops,
functions and ``model(x)`` calls). Nothing runs per autograd node.

Lines are noted by the scenario's own code: :meth:`Provenance.instrument`
puts a call ``_gradstep.line(n)`` before every statement nested in a compound
statement or a function, and wraps function bodies so that the caller's line
is noted again when they return. These names hold a dot: the scenario's code
cannot spell them, so it can neither call the recorder's machinery nor
rebind it (the syntax tree is built by us, and the compiler takes any string
as a name). (A ``sys.settrace`` function would do the
same but makes every Python call in torch several times slower.) Modules are
noted by global forward pre- and post-hooks.
"""

from __future__ import annotations

import ast
import contextlib
from bisect import bisect_right
from collections.abc import Iterator
from typing import Any

import torch
from torch._C._autograd import _get_sequence_nr
from torch.nn.modules import module as nn_module

from gradstep.record.deadline import SLOT_LINE, Slots, new_slots
from gradstep.record.expressions import Expressions

# AccumulateGrad nodes report UINT64_MAX: they belong to no line
_NO_SEQUENCE = 1 << 63

LINE = "_gradstep.line"
ENTER = "_gradstep.enter"
LEAVE = "_gradstep.leave"
#: called before each statement nested in a top-level loop, ``with`` or ``if`` (not in a
#: function or class body): the recorder makes each of them a step (see Recorder)
STEP = "_gradstep.step"


class _Marks:
    """A step function from sequence numbers to values, appended in increasing order."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.values: list[Any] = []

    def mark(self, value: Any) -> None:
        seq = _get_sequence_nr()
        values = self.values
        if values and values[-1] == value:
            return
        if self.seqs and self.seqs[-1] == seq:  # no node was made under the previous value
            values[-1] = value
            if len(values) > 1 and values[-2] == value:
                self.seqs.pop()
                values.pop()
            return
        self.seqs.append(seq)
        values.append(value)

    def at(self, seq: int) -> Any:
        i = bisect_right(self.seqs, seq) - 1
        return self.values[i] if i >= 0 else None

    def index(self, seq: int) -> int:
        """Which mark ``seq`` falls under (-1: before the first)."""
        return bisect_right(self.seqs, seq) - 1


class Provenance:
    """Notes lines and modules while active; answers for any node made meanwhile."""

    def __init__(self, source: str = "", where: Slots | None = None) -> None:
        #: the expressions of the scenario's statements, for labelling unnamed nodes
        self.expressions = Expressions(source)
        #: ``where[SLOT_LINE]`` is the line running, for the caller if the worker dies (see
        #: ``gradstep.record.deadline``): a store in shared memory, no system call
        self.where = where if where is not None else new_slots()
        self._lines = _Marks()
        self._modules = _Marks()
        self._module_stack: list[torch.nn.Module] = []
        self._line_stack: list[int | None] = [None]
        self._namespace: dict[str, Any] | None = None
        self._module_hooks: list[Any] = []  # the global module hooks' handles, while active
        self._active = False

    # ------------------------------------------------------------- lines
    def statement(self, line: int | None) -> None:
        """A top-level statement starts (the recorder calls this)."""
        self._line_stack = [line]
        self._lines.mark(line)
        self.where[SLOT_LINE] = line or 0

    def line(self, line: int) -> None:
        self._line_stack[-1] = line
        self._lines.mark(line)
        self.where[SLOT_LINE] = line

    def enter(self) -> None:
        self._line_stack.append(None)

    def leave(self) -> None:
        if len(self._line_stack) > 1:
            self._line_stack.pop()
        self._lines.mark(self._line_stack[-1])
        self.where[SLOT_LINE] = self._line_stack[-1] or 0

    def bind(self, namespace: dict[str, Any]) -> None:
        """Put the names the instrumented code calls into the scenario's namespace."""
        self._namespace = namespace
        namespace[LINE] = self.line
        namespace[ENTER] = self.enter
        namespace[LEAVE] = self.leave

    def release(self) -> None:
        """The run is over: the namespace is let go (it holds our methods: a cycle)."""
        self._namespace = None

    def pause(self, line: int) -> None:
        """A long loop's summarised rounds (see ``record.rounds``) begin: what they make
        belongs to the loop's ``line``, and noting lines and modules stops until
        :meth:`resume` (the global module hooks alone made ``model(x)`` 12 % slower)."""
        self.line(line)
        self._modules.mark(())
        self._hooks_off()
        if self._namespace is not None:
            for name in (LINE, ENTER, LEAVE):
                self._namespace[name] = _ignore

    def resume(self) -> None:
        if self._namespace is not None:
            self.bind(self._namespace)
        if self._active:
            self._hooks_on()

    @staticmethod
    def instrument(stmt: ast.stmt) -> ast.stmt:
        """A top-level statement with line marks put in its nested bodies, in place (the
        tree is parsed for this run; a copy cost more than running a class statement).
        Positions stay as they were; most statements, a line like ``y = f(x)``, have no
        nested body and come back untouched. Statements in the body of a top-level
        ``for``, ``while``, ``with``, ``if`` or ``try`` get a step mark (``STEP``), those in
        functions and classes a line mark (``LINE``)."""
        if not any(isinstance(n, ast.stmt) for n in _descendants(stmt)):
            return stmt
        marked: ast.stmt = _LineMarks().visit(stmt)  # a statement visited is a statement
        return marked

    # ----------------------------------------------------------- modules
    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Global module hooks for the duration of the run."""
        self._active = True
        self._hooks_on()
        try:
            yield
        finally:
            self._active = False
            self._hooks_off()

    def _hooks_on(self) -> None:
        if not self._module_hooks:
            self._module_hooks = [
                nn_module.register_module_forward_pre_hook(self._enter_module),
                nn_module.register_module_forward_hook(self._leave_module, always_call=True),
            ]

    def _hooks_off(self) -> None:
        for handle in self._module_hooks:
            handle.remove()
        self._module_hooks = []

    def _enter_module(self, module: torch.nn.Module, args: Any) -> None:
        self._module_stack.append(module)
        self._modules.mark(tuple(self._module_stack))

    def _leave_module(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        stack = self._module_stack
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is module:
                del stack[i:]
                break
        self._modules.mark(tuple(stack))

    # ----------------------------------------------------------- queries
    def line_of(self, node: Any) -> int | None:
        seq = node._sequence_nr()
        return None if seq >= _NO_SEQUENCE else self._lines.at(seq)

    def runs(self, nodes: list[Any], most: int) -> list[tuple[int, list[Any]]]:
        """``(line, nodes)`` for each run of a line among ``nodes`` (in creation order):
        the nodes one execution of a line made (a loop's rounds make one run each, a
        line repeated with nothing in between makes one), at most ``most`` a run."""
        seqs, values = self._lines.seqs, self._lines.values
        runs: dict[int, tuple[int, list[Any]]] = {}
        i = -2
        for node in nodes:
            seq = node._sequence_nr()
            if seq >= _NO_SEQUENCE:
                continue  # a leaf
            if i == -2:
                i = self._lines.index(seq)
            while i + 1 < len(seqs) and seqs[i + 1] <= seq:  # marks and nodes both ascend
                i += 1
            line = values[i] if i >= 0 else None
            if line is None:
                continue
            run = runs.setdefault(i, (line, []))[1]
            if len(run) < most:
                run.append(node)
        return list(runs.values())

    def modules_of(self, node: Any) -> tuple[torch.nn.Module, ...]:
        """The stack of modules whose forward was running when ``node`` was made, outermost first."""
        seq = node._sequence_nr()
        if seq >= _NO_SEQUENCE:
            return ()
        return self._modules.at(seq) or ()


def _ignore(*args: Any) -> None:
    """What the line marks call while the recorder does not listen."""


def _descendants(node: ast.AST) -> Iterator[ast.AST]:
    nodes = list(ast.iter_child_nodes(node))
    while nodes:
        n = nodes.pop()
        yield n
        nodes.extend(ast.iter_child_nodes(n))


def _call(name: str, *args: int) -> ast.Expr:
    return ast.Expr(
        ast.Call(ast.Name(name, ast.Load()), [ast.Constant(a) for a in args], keywords=[])
    )


def _located(new: ast.stmt, at: ast.AST) -> ast.stmt:
    for n in ast.walk(new):
        if "lineno" in n._attributes:
            ast.copy_location(n, at)
            n.end_lineno, n.end_col_offset = n.lineno, n.col_offset  # type: ignore[attr-defined]
    return new


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _is_generator(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(n, (ast.Yield, ast.YieldFrom, ast.Await)) for n in ast.walk(fn))


class _LineMarks(ast.NodeTransformer):
    """Marks before each nested statement; enter/leave around function bodies."""

    def __init__(self) -> None:
        self._in_body = 0  # depth of function and class bodies around the visited node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self._in_body += 1
        try:
            return self.generic_visit(node)
        finally:
            self._in_body -= 1

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                setattr(node, field, self._marked(stmts))
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            # after each round the header runs again (the next item, the condition): what
            # it does is its own, not the round's last statement's
            mark = LINE if self._in_body else STEP
            node.body.append(_located(_call(mark, node.lineno), node.body[-1]))
        return node

    def _marked(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        mark = LINE if self._in_body else STEP
        out: list[ast.stmt] = []
        for i, s in enumerate(stmts):
            if not (i == 0 and _is_docstring(s)):
                out.append(_located(_call(mark, s.lineno), s))
            out.append(s)
        return out

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._function(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        generator = _is_generator(node)
        self._in_body += 1
        try:
            self.generic_visit(node)
        finally:
            self._in_body -= 1
        if generator:  # suspended at a yield, a pushed line would outlive the call
            return node
        body = node.body
        doc = [body[0]] if body and _is_docstring(body[0]) else []
        rest = body[len(doc) :] or [_located(ast.Pass(), node)]
        leave = _located(_call(LEAVE), rest[-1])
        wrapped = ast.copy_location(
            ast.Try(body=rest, handlers=[], orelse=[], finalbody=[leave]), rest[0]
        )
        wrapped.end_lineno, wrapped.end_col_offset = rest[-1].end_lineno, rest[-1].end_col_offset
        node.body = [*doc, _located(_call(ENTER), node), wrapped]
        return node
