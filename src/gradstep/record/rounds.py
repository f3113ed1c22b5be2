"""Long training loops recorded within budget: the first rounds in full, later ones summarised.

PyTorch's polynomial tutorials run 2,000 rounds and ``dynamic_net`` 30,000; recorded
in full detail (every pass hooked, every node a step) they made 20–40 MB traces, ran
five times longer than the plain file and passed the step limit. A lesson needs the
first rounds in detail and how the loss and the parameters went afterwards, so the
rounds of a top-level ``for``/``while`` loop are recorded as:

- rounds 1 to :data:`FULL_ROUNDS` in full detail, as before;
- after that every :data:`EVERY`-th round in full, every ``EVERY * 10``-th past
  ``EVERY * 10``, every ``EVERY * 100``-th past ``EVERY * 100`` and so on, so a late
  round can still be stepped through and a loop of a million rounds details 60, not
  a thousand;
- the rest summarised: they run as plain PyTorch, and each leaves one row of numbers —
  the scalar tensors the loop assigns (the loss) and the small parameters it uses
  (``a``, ``b``, ``model.0.weight``) — in the trace's
  :class:`~gradstep.trace.model.LoopRounds` (past :data:`MOST_ROWS` rows, every other
  one is let go and then every second round's row kept, and so on: a loop stopped by
  the time limit after millions of rounds leaves a trace of a few MB). Each stretch of
  summarised rounds is one step, whose variables are what the stretch left, so
  stepping stays exact.

A summarised round costs next to nothing: the loop is compiled with two bodies
(:func:`two_bodies`), the one with the recorder's step marks and the statements as
written, and each round picks one; the loop's iterator (or its condition) tells the
recorder that a round begins, which is also where the round's row is read.

The window's timeline, ``gradstep trace`` and the handout say which rounds are
detailed: the stretch's step names them, and the trace keeps the list.
"""

from __future__ import annotations

import ast
import copy
from typing import Any

import torch

from gradstep.record.graph import NameTable
from gradstep.trace.model import LoopRounds

#: rounds recorded in full detail before any is summarised (toy lessons never get there)
FULL_ROUNDS = 20
#: past FULL_ROUNDS, every EVERY-th round in full (every 10 * EVERY-th past 10 * EVERY, …)
EVERY = 100
#: rows of numbers kept for one loop, at most (then thinned, see the module's docstring)
MOST_ROWS = 20_000
#: the names the two-bodied loop calls (a dot: the scenario's code cannot spell them):
#: the iterator that announces each round, the announcement itself (for ``while``), and
#: the flag that picks the body
ROUNDS = "_gradstep.rounds"
ROUND = "_gradstep.round"
DETAILED = "_gradstep.detailed"
#: the numbers kept for each summarised round: at most this many names ...
MOST_NAMES = 8
#: ... each a tensor of at most this many elements
MOST_NUMEL = 16


def detailed(round_: int) -> bool:
    """Whether round ``round_`` (1-based) of a long loop is recorded in full."""
    if round_ <= FULL_ROUNDS:
        return True
    step = EVERY
    while round_ > step * 10:
        step *= 10
    return round_ % step == 0


class LoopSeries:
    """One top-level loop's summarised rounds: which names, and a row of numbers a round."""

    def __init__(self, loop: ast.For | ast.While, text: str) -> None:
        self.record = LoopRounds(line=loop.lineno, text=text)
        self._tracked: list[tuple[str, Any]] = []  # (name, a parameter held, or None: by name)
        self._chosen = False
        self._stride = 1  # a row kept for each round divisible by it (see MOST_ROWS)
        #: the rows of the first and the last round of the stretch being summarised
        self.first: list[Any] | None = None
        self.last: list[Any] | None = None
        self._assigned, self._used = _names_in(loop)
        #: the lines of the loop's header and body (not its ``else``): the rounds' own
        self.lines = range(loop.lineno, (loop.body[-1].end_lineno or loop.lineno) + 1)

    def choose(self, ns: dict[str, Any]) -> None:
        """The names to follow, chosen once: the scalar tensors the loop assigns (the loss)
        and the small leaves that require grad among what it uses (the parameters, a
        module's too); a tensor the loop never touches is left out."""
        if self._chosen:
            return
        self._chosen = True
        names = NameTable(ns)
        scalars, params = [], []
        for name, t in names.tensors.items():
            if "[" in name or t.numel() > MOST_NUMEL:
                continue
            root = name.partition(".")[0]
            if t.is_leaf and t.requires_grad and root in self._used:
                params.append((name, t if "." in name else None))
            elif (
                t.dim() == 0
                and t.dtype.is_floating_point
                and "." not in name
                and name in self._assigned
            ):
                scalars.append((name, None))
        self._tracked = (scalars + params)[:MOST_NAMES]
        self.record.names = [name for name, _ in self._tracked]

    def add(self, round_: int, ns: dict[str, Any]) -> None:
        """The numbers of summarised round ``round_``, as it left them."""
        record = self.record
        record.summarised_count += 1
        row = [_numbers(held if held is not None else ns.get(name)) for name, held in self._tracked]
        self.last = row
        if self.first is None:
            self.first = row
        if round_ % self._stride:
            return
        record.summarised.append(round_)
        record.values.append(row)
        if len(record.summarised) >= MOST_ROWS:  # keep every other row from here on
            self._stride *= 2
            kept = [i for i, r in enumerate(record.summarised) if r % self._stride == 0]
            record.summarised = [record.summarised[i] for i in kept]
            record.values = [record.values[i] for i in kept]

    def stretch_begins(self) -> None:
        self.first = self.last = None

    def detailed_round(self, round_: int) -> None:
        if round_ > FULL_ROUNDS:
            self.record.detailed.append(round_)


def _names_in(loop: ast.For | ast.While) -> tuple[set[str], set[str]]:
    """The names a loop binds (its targets, assignments, ``with … as``) and all it mentions."""
    assigned: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(loop):
        if isinstance(node, ast.Name):
            used.add(node.id)
            if isinstance(node.ctx, ast.Store):
                assigned.add(node.id)
    return assigned, used


def _numbers(t: Any) -> Any:
    if not isinstance(t, torch.Tensor) or t.numel() > MOST_NUMEL:
        return None
    return t.tolist()  # reads the values only (a no_grad block around it cost 4x as much)


def stretch_text(series: LoopSeries, first: int, last: int) -> str:
    """The step of a stretch of summarised rounds: which, and how the first of its numbers
    that moved went (none when nothing the loop follows changed)."""
    record = series.record
    rounds = f"round {first:,}" if first == last else f"rounds {first:,}–{last:,}"
    text = f"{rounds} of `{record.text}` summarised (no steps)"
    if series.first is None or series.last is None:
        return text
    for i, name in enumerate(record.names):
        a, b = series.first[i], series.last[i]
        if isinstance(a, float) and isinstance(b, float) and a != b:
            return text + f": {name} {a:.4g} → {b:.4g}"
    return text


def two_bodies(loop: ast.For | ast.While, plain: list[ast.stmt]) -> ast.For | ast.While:
    """``loop`` (its body already marked for steps) made to pick its body each round:
    ``for t in _gradstep.rounds(ITER, line): if _gradstep.detailed: <marked> else: <plain>``
    (``while COND and _gradstep.round(line)`` for a ``while``). ``plain`` is a copy of the
    body as written. The loop's ``else`` clause and positions stay as they were."""
    if isinstance(loop, ast.For):
        loop.iter = _at(_call(ROUNDS, loop.iter, ast.Constant(loop.lineno)), loop.iter)
    else:
        announce = _at(_call(ROUND, ast.Constant(loop.lineno)), loop.test)
        loop.test = _at(ast.BoolOp(ast.And(), [loop.test, announce]), loop.test)
    first = loop.body[0]
    pick = ast.If(test=ast.Name(DETAILED, ast.Load()), body=loop.body, orelse=plain)
    _at(pick.test, first)
    loop.body = [ast.copy_location(pick, first)]
    last = plain[-1]  # the body as written ends where it did
    pick.end_lineno, pick.end_col_offset = last.end_lineno, last.end_col_offset
    return loop


def plain_copy(body: list[ast.stmt]) -> list[ast.stmt]:
    """The loop's body as written, before the step marks go in (they go in in place)."""
    return copy.deepcopy(body)


def outer_loops(stmt: ast.stmt) -> list[ast.For | ast.While]:
    """The loops whose rounds are counted: a top-level ``for``/``while``, or the outermost
    ones in a top-level ``with``, ``if`` or ``try`` (makemore trains inside ``with
    torch.no_grad():``); not those in functions, classes or other loops."""
    if isinstance(stmt, ast.For | ast.While):
        return [stmt]
    found: list[ast.For | ast.While] = []
    if isinstance(stmt, ast.With | ast.If | ast.Try | ast.TryStar):
        bodies = [stmt.body, getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])]
        bodies += [h.body for h in getattr(stmt, "handlers", [])]
        for body in bodies:
            for child in body:
                found += outer_loops(child)
    return found


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(name, ast.Load()), list(args), keywords=[])


def _at(new: ast.expr, at: ast.AST) -> ast.expr:
    """``new``'s nodes placed at ``at`` (what they replace or stand before)."""
    for n in ast.walk(new):
        if "lineno" in n._attributes and not hasattr(n, "lineno"):
            ast.copy_location(n, at)
            n.end_lineno, n.end_col_offset = n.lineno, n.col_offset  # type: ignore[attr-defined]
    return new
