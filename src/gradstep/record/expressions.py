"""The source expression that made each unnamed node, and the constants it used.

Two ``MulBackward0`` nodes are told apart by what the scenario wrote: ``w * x``
and ``(1 - y) * torch.log(1 - p)``. The nodes a line made (one group of
sequence numbers in the provenance) are matched, in creation order, against
the operations of that line's statement in evaluation order (its AST,
post-order): each node takes the first remaining operation it can be
(``*`` for ``MulBackward0``, ``torch.tanh(…)``/``z.tanh()`` for
``TanhBackward0``); an operation on tensors that need no gradient makes no
node and is passed over, and an operand that names another variable than the
node's input rules a candidate out. Nothing runs per op while the scenario
runs: this reads the AST once per statement, when the nodes are registered.

A constant input (``x = 6.7`` in ``w * x``, a tensor that needs no gradient)
is named by its operand in the source (inside a function, the name the function
uses), or, when the operand is an expression or unknown, by the variable bound to
the very tensor the node saved.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterable
from typing import Any

import torch

from gradstep.record.encode import encode, oid

#: constants are recorded with their value up to this many elements (beyond: shape, dtype
#: and first elements, no statistics)
CONSTANT_NUMEL = 16

_BINOPS: dict[type, tuple[str, ...]] = {
    ast.Add: ("add",),
    ast.Sub: ("sub", "rsub"),
    ast.Mult: ("mul",),
    ast.Div: ("div",),
    ast.Pow: ("pow",),
    ast.MatMult: ("mm", "mv", "bmm", "dot"),
}
#: a function or method name -> the op bases it makes (beyond its own name)
_ALIASES: dict[str, tuple[str, ...]] = {
    "matmul": ("mm", "mv", "bmm", "dot"),
    "reshape": ("view", "reshapealias", "unsafeview"),
    "flatten": ("view", "reshapealias", "unsafeview"),
    "square": ("pow",),
    "linear": ("addmm", "mm"),
    "crossentropy": ("logsoftmax",),
    "clip": ("clamp",),
    "clampmin": ("clamp", "clampmin"),
    "subtract": ("sub",),
    "multiply": ("mul",),
    "divide": ("div",),
    "mse": ("mseloss",),
    "maximum": ("maximum",),
    "transpose": ("transpose", "t"),
}
#: per op, the saved attribute that holds each input slot's tensor (for constants)
_SLOT_SAVED: dict[str, tuple[str, ...]] = {
    "MulBackward0": ("self", "other"),
    "DivBackward0": ("self", "other"),
    "MmBackward0": ("self", "mat2"),
    "AddmmBackward0": ("", "mat1", "mat2"),
    "MvBackward0": ("self", "vec"),
    "BmmBackward0": ("self", "mat2"),
    "DotBackward0": ("self", "tensor"),
    "MseLossBackward0": ("self", "target"),
    "PowBackward1": ("self", "exponent"),
}
_GENERATED = re.compile(r"Backward\d+$")


def _base(op: str) -> str:
    return _GENERATED.sub("", op).lower()


def _callee(call: ast.Call) -> str:
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    return name.lower().replace("_", "").rstrip("_")


def _operands(ex: ast.expr) -> list[ast.expr]:
    """The operands in the order of a node's input slots (as torch lists them)."""
    if isinstance(ex, ast.BinOp):
        return [ex.left, ex.right]
    if isinstance(ex, ast.UnaryOp):
        return [ex.operand]
    if isinstance(ex, ast.Call):
        f = ex.func
        receiver = [f.value] if isinstance(f, ast.Attribute) and not _is_module(f.value) else []
        return receiver + list(ex.args)
    if isinstance(ex, ast.Subscript):
        return [ex.value]
    return []


def _is_module(ex: ast.expr) -> bool:
    """``torch``, ``F``, ``torch.nn.functional``: a namespace, not a tensor receiver."""
    while isinstance(ex, ast.Attribute):
        ex = ex.value
    return isinstance(ex, ast.Name) and ex.id in ("torch", "F", "nn", "functional", "np")


def _candidates(stmt: ast.AST) -> list[ast.expr]:
    """The statement's operations in evaluation order (post-order, left to right)."""
    out: list[ast.expr] = []
    stack: list[tuple[ast.AST, bool]] = [(stmt, False)]
    while stack:
        node, done = stack.pop()
        if done:
            if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call, ast.Subscript)):
                out.append(node)
            continue
        stack.append((node, True))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.Call):  # arguments run before the call, the callee first
            children = [node.func, *node.args, *node.keywords]
        for child in reversed(children):
            stack.append((child, False))
    return out


def _fits(op: str, ex: ast.expr) -> bool:
    base = _base(op)
    if isinstance(ex, ast.BinOp):
        return base in _BINOPS.get(type(ex.op), ())
    if isinstance(ex, ast.UnaryOp):
        return isinstance(ex.op, ast.USub) and base == "neg"
    if isinstance(ex, ast.Subscript):
        return base in ("select", "slice", "index", "asstrided")
    if isinstance(ex, ast.Call):
        name = _callee(ex)
        return bool(name) and (base == name or base in _ALIASES.get(name, ()))
    return False


class Expressions:
    """Labels nodes with the source text of the operation that made them."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._lines: list[bytes] | None = None
        self._tree: ast.Module | None = None
        self._stmts: dict[int, ast.stmt | None] = {}
        self._cands: dict[int, list[ast.expr]] = {}  # by line: a loop asks again and again
        self._parsed = False

    # ------------------------------------------------------------- source
    def _statement(self, line: int) -> ast.stmt | None:
        """The innermost simple statement on ``line``."""
        if line in self._stmts:
            return self._stmts[line]
        if not self._parsed:
            self._parsed = True
            try:
                self._tree = ast.parse(self._source)
            except (SyntaxError, ValueError):
                self._tree = None
            for node in ast.walk(self._tree) if self._tree is not None else ():
                if isinstance(node, ast.stmt) and not hasattr(node, "body"):
                    for n in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                        self._stmts.setdefault(n, node)
        return self._stmts.setdefault(line, None)

    def segment(self, ex: ast.expr) -> str:
        if self._lines is None:
            self._lines = [ln.encode() for ln in self._source.splitlines()]
        first, last = ex.lineno - 1, (ex.end_lineno or ex.lineno) - 1
        if ex.end_col_offset is None or not 0 <= first <= last < len(self._lines):
            return ""
        if first == last:
            text = self._lines[first][ex.col_offset : ex.end_col_offset]
        else:
            parts = [self._lines[first][ex.col_offset :], *self._lines[first + 1 : last]]
            text = b" ".join([*parts, self._lines[last][: ex.end_col_offset]])
        return " ".join(text.decode(errors="replace").split())

    # ------------------------------------------------------------- labels
    def label(
        self,
        groups: Iterable[tuple[int, list[Any]]],
        name_of: Any,
        tensor_names: dict[int, str],
        bound: Collection[str] = (),
    ) -> dict[Any, tuple[str | None, list[dict[str, Any] | None]]]:
        """node -> (expression, constants per slot) for each group of ``(line, nodes)``
        (nodes in creation order). ``bound``: the scenario's tensor names, which an
        operand must agree with."""
        out: dict[Any, tuple[str | None, list[dict[str, Any] | None]]] = {}
        for line, nodes in groups:
            cands = self._cands.get(line)
            if cands is None:
                stmt = self._statement(line)
                cands = self._cands[line] = _candidates(stmt) if stmt is not None else []
            agree = _Agreement(name_of, bound)
            if len(nodes) <= _SEARCH_NODES:
                matched = _best_match(nodes, cands, agree)
            else:
                matched = _greedy_match(nodes, cands, agree)
            for node in nodes:
                ex = matched.get(node)
                # an unmatched node can still name a constant by the tensor it saved (the
                # data in model(X)); others are left alone: a loop of one line makes
                # thousands of nodes that no operation of the line can be
                if ex is None and type(node).__name__ not in _SLOT_SAVED:
                    continue
                out[node] = (
                    self.segment(ex) if ex is not None else None,
                    _constants(node, ex, self, tensor_names),
                )
        return out


#: a line's nodes are matched by a search up to this many (a lesson's line), greedily beyond
_SEARCH_NODES = 24
#: assignments the search tries, at most
_SEARCH_BUDGET = 4000


class _Agreement:
    """Whether a node can be the operation ``ex``, given the nodes matched so far."""

    def __init__(self, name_of: Any, bound: Collection[str]) -> None:
        self.name_of = name_of
        self.bound = bound  # the names of the scenario's tensors

    def __call__(self, node: Any, ex: ast.expr, matched: dict[Any, ast.expr]) -> bool:
        if not _fits(type(node).__name__, ex):
            return False
        operands = _operands(ex)
        if _base(type(node).__name__) == "rsub" and isinstance(ex, ast.BinOp):
            operands = [ex.right]
        made_by = {id(e): n for n, e in matched.items()}
        for (producer, _), operand in zip(node.next_functions, operands):
            maker = made_by.get(id(operand))
            if producer is None:
                if maker is not None:  # a constant slot whose operand made a node
                    return False
                continue
            if maker is not None and maker is not producer:
                return False
            if maker is None and isinstance(operand, ast.Name) and operand.id in self.bound:
                name = self.name_of(producer)
                if name is not None and name != operand.id:
                    return False
        return True


def _greedy_match(
    nodes: list[Any], cands: list[ast.expr], agree: _Agreement
) -> dict[Any, ast.expr]:
    matched: dict[Any, ast.expr] = {}
    j = 0
    for node in nodes:
        for k in range(j, len(cands)):
            if agree(node, cands[k], matched):
                matched[node] = cands[k]
                j = k + 1
                break
    return matched


def _best_match(nodes: list[Any], cands: list[ast.expr], agree: _Agreement) -> dict[Any, ast.expr]:
    """The order-keeping assignment of nodes to operations that matches the most nodes
    (the first found among equals: earliest operations first). A later node's slots
    can rule out an earlier choice: ``(1 - y) * log(1 - p)`` with a constant ``y``
    makes no node for ``1 - y``, so the rsub node is ``1 - p``."""
    search = _Search(nodes, cands, agree)
    search.run(0, 0)
    return search.best or _greedy_match(nodes, cands, agree)


class _Search:
    """A depth-first search with a budget (a class, not a recursive closure: that
    would be a reference cycle holding the nodes until the collector runs)."""

    def __init__(self, nodes: list[Any], cands: list[ast.expr], agree: _Agreement) -> None:
        self.nodes, self.cands, self.agree = nodes, cands, agree
        self.best: dict[Any, ast.expr] = {}
        self.matched: dict[Any, ast.expr] = {}
        self.budget = _SEARCH_BUDGET

    def run(self, i: int, j: int) -> None:
        matched, nodes = self.matched, self.nodes
        if self.budget <= 0 or len(matched) + len(nodes) - i <= len(self.best):
            return
        self.budget -= 1
        if i == len(nodes):
            self.best = dict(matched)
            return
        node = nodes[i]
        for k in range(j, len(self.cands)):
            if self.agree(node, self.cands[k], matched):
                matched[node] = self.cands[k]
                self.run(i + 1, k + 1)
                del matched[node]
        self.run(i + 1, j)


def _constants(
    node: Any, ex: ast.expr | None, exprs: Expressions, tensor_names: dict[int, str]
) -> list[dict[str, Any] | None]:
    """Per input slot, the constant it takes (None for slots a gradient flows to)."""
    slots = node.next_functions
    if all(p is not None for p, _ in slots):
        return []
    operands = _reflected(_operands(ex), slots) if ex is not None else []
    saved_keys = _SLOT_SAVED.get(type(node).__name__, ())
    out: list[dict[str, Any] | None] = []
    for i, (producer, _) in enumerate(slots):
        if producer is not None:
            out.append(None)
            continue
        const: dict[str, Any] = {}
        value = _saved(node, saved_keys[i]) if i < len(saved_keys) and saved_keys[i] else None
        operand = operands[i] if i < len(operands) else None
        if isinstance(value, torch.Tensor):
            # the name the code uses where the node is made (inside a function, its
            # parameter ``target``), not the script's variable bound to the same tensor
            name = operand.id if isinstance(operand, ast.Name) else tensor_names.get(oid(value))
            if name is not None:
                const["name"] = name
            const["value"] = encode(value, CONSTANT_NUMEL, stats=False)
        if operand is not None:
            if isinstance(operand, ast.Constant) and isinstance(operand.value, (int, float)):
                const.setdefault("value", operand.value)
            elif "name" not in const:
                const["name"] = exprs.segment(operand)
        out.append(const or None)
    return out


def _reflected(operands: list[ast.expr], slots: Any) -> list[ast.expr]:
    """``2 * y`` runs as ``y.__rmul__(2)``: the node's slots are (y, 2), the source's
    operands (2, y). A number on the left of a tensor's slot is swapped back."""
    if len(operands) == 2 and len(slots) == 2:
        (first, _), (second, _) = slots
        left = operands[0]
        number = isinstance(left, ast.Constant) and isinstance(left.value, (int, float))
        if number and first is not None and second is None:
            return [operands[1], operands[0]]
    return operands


def _saved(node: Any, key: str) -> Any:
    try:
        return getattr(node, f"_saved_{key}")
    except (AttributeError, RuntimeError):
        return None
