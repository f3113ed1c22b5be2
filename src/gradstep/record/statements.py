"""Running the scenario statement by statement, each one that changed something a step.

A top-level statement is a step once it has run. Inside a top-level loop, ``with``,
``if`` or ``try``, each nested statement is a step of its own (the scenario calls
``nested`` before each, see :mod:`gradstep.record.provenance`), so ``zero_grad()`` and
``optimizer.step()`` between two passes show what they change; a statement that changed
nothing (a loop header, ``pass``) is no step, but every top-level statement makes at
least one.
"""

from __future__ import annotations

import ast
import io
import warnings
from typing import Any

import torch

from gradstep.collection import collection_paused
from gradstep.record import rounds
from gradstep.record.building import TraceBuilder
from gradstep.record.deadline import LimitExceeded
from gradstep.record.encode import oid
from gradstep.record.failures import as_reported
from gradstep.record.graph import NameTable, sequence_length
from gradstep.record.output import (
    captured_output,
    echo,
    first_line,
    flush_warnings,
    shown_expressions,
)
from gradstep.record.snapshots import Snapshots
from gradstep.record.source import SourceText
from gradstep.trace.clean import storable
from gradstep.trace.model import Step

#: steps made for the statements nested in one top-level block, at most: past it the rest
#: of the block (a long training loop) is one step, which keeps the trace bounded (its
#: passes are still recorded, each with its steps)
MAX_NESTED_STEPS = 500


class _Open:
    """A statement that is running: its step is made when the next one starts."""

    __slots__ = ("always", "line", "note", "out_pos", "text", "top")

    def __init__(self, line: int, text: str, out_pos: int, *, top: bool = False) -> None:
        self.line = line
        self.text = text
        self.out_pos = out_pos  # where its output starts
        self.always = False  # a step even when it changed nothing
        self.note = ""  # said after the statement's first line
        self.top = top  # a top-level statement: its names are read afresh


class Statements:
    """Runs top-level statements and makes the steps of them and of their nested ones."""

    def __init__(self, builder: TraceBuilder, snapshots: Snapshots) -> None:
        self._builder = builder
        self._snapshots = snapshots
        self._source = SourceText(builder.scenario.source)
        # the expression statements whose value is shown: a cell's last, as Jupyter
        self._shown = shown_expressions(builder.scenario.source)
        # the statement whose step is still to be made, and where its output starts
        self._open: _Open | None = None
        self._out = io.StringIO()
        self._caught: list[warnings.WarningMessage] = []
        self._nested_left = MAX_NESTED_STEPS
        self._runs: dict[int, int] = {}  # line -> times it has run in this block
        # the last names read, and the bindings they were read for (see _names_now)
        self._names: tuple[tuple[Any, ...], NameTable] | None = None
        # a top-level loop's rounds: which one runs, and the summarised ones (record.rounds)
        self._loop: rounds.LoopSeries | None = None
        self._round = 1
        self._stretch = 0  # the first round of the stretch being summarised
        self._stretch_out = 0  # where its output starts

    def run(self, stmt: ast.stmt) -> bool:
        """Run one top-level statement and make its steps; False when the scenario must stop."""
        first_step = len(self._builder.trace.steps)
        text = self._source.segment(stmt)
        self._out = io.StringIO()
        self._nested_left = MAX_NESTED_STEPS
        self._runs = {stmt.lineno: 1}
        self._open = _Open(stmt.lineno, text, 0, top=True)
        self._builder.provenance.statement(stmt.lineno)
        is_loop = isinstance(stmt, ast.For | ast.While)
        self._loop = (
            rounds.LoopSeries(stmt.lineno, self._source.line(stmt.lineno)) if is_loop else None
        )
        self._round = 1
        with captured_output(self._out) as self._caught:
            error = self._execute(stmt)
            if self._builder.summarising:  # the loop ended in a summarised stretch
                self._end_stretch(self._round - 1 if error is None else self._round)
            if error is None:  # a cell's last statement: what it left open is shown now
                self._builder.figures.statement_ran(stmt.lineno)
        if self._loop is not None and self._loop.record.summarised:
            self._loop.record.full_rounds = rounds.FULL_ROUNDS
            self._builder.trace.loops.append(self._loop.record)
            stats = self._builder.trace.stats
            stats["summarised_rounds"] = stats.get("summarised_rounds", 0) + len(
                self._loop.record.summarised
            )
        error = self._within_time_limit(error)
        limit = self._close_statement(stmt, text, first_step)
        error = error or limit  # the first error is the one to report
        if error is not None:
            self._builder.record_error(error, stmt.lineno)
            return False
        return True

    def nested(self, line: int) -> None:
        """Called by the scenario before a statement nested in a top-level block (and
        after each round of a loop, for its header)."""
        builder = self._builder
        builder.deadline.check()  # past the time limit, no statement starts
        if builder.summarising:  # a summarised round: as fast as the plain loop
            runs = self._runs
            runs[line] = runs.get(line, 0) + 1  # the next detailed round says "· 100th time"
            if self._loop is not None and line == self._loop.record.line:
                self._round_done()
                if not builder.summarising:  # a detailed round comes: stepped from its header
                    builder.provenance.line(line)
                    builder.line = line
                    self._open = self._opened_nested(line)
            return
        builder.provenance.line(line)
        if self._loop is not None and line == self._loop.record.line and not builder.in_pass:
            self._round_done()
            if builder.summarising:
                return
        if builder.in_pass or self._open is None:
            return
        if self._nested_left <= 0:
            return  # the rest of the block is one step (see MAX_NESTED_STEPS)
        try:
            if self._close_open():
                self._nested_left -= 1
        except LimitExceeded:
            raise
        except Exception as e:  # noqa: BLE001 - the recorder's trouble, not the scenario's
            builder.note_recording_error(line, e)
        builder.line = line
        self._open = self._opened_nested(line)

    def _round_done(self) -> None:
        """A round of the top-level loop has ended (its header runs again): the next one
        is recorded in full or summarised (see :mod:`gradstep.record.rounds`)."""
        builder, loop = self._builder, self._loop
        assert loop is not None
        ended = self._round
        if builder.summarising:
            loop.add(ended, builder.ns)
        self._round = upcoming = ended + 1
        full = rounds.detailed(upcoming)
        if builder.summarising and full:
            self._end_stretch(ended)
        elif not builder.summarising and not full:
            try:
                self._close_open()  # the round's last statement, as usual
            except LimitExceeded:
                raise
            except Exception as e:  # noqa: BLE001 - the recorder's trouble
                builder.note_recording_error(loop.record.line, e)
            self._open = None
            loop.choose(builder.ns)
            self._stretch, self._stretch_out = upcoming, self._out.tell()
            builder.summarising = True
        if full:
            loop.detailed_round(upcoming)

    def _end_stretch(self, last: int) -> None:
        """One step for the summarised rounds since ``_stretch``: what they left (their
        variables, their output) and which rounds they were."""
        builder, loop = self._builder, self._loop
        assert loop is not None
        builder.summarising = False
        if last < self._stretch:
            return
        with collection_paused(), torch.inference_mode(False), torch.enable_grad():
            names = NameTable(builder.ns)
            deltas = self._snapshots.deltas(names)
        self._names = None  # read afresh by the next step
        flush_warnings(self._caught, self._out)
        output = storable(self._out.getvalue()[self._stretch_out :])
        builder.add_step(
            Step(
                index=0,
                kind="statement",
                line=loop.record.line,
                text=rounds.stretch_text(loop, self._stretch, last),
                variables=deltas,
                output=output,
            )
        )

    def _execute(self, stmt: ast.stmt) -> BaseException | None:
        """Run ``stmt`` in the scenario's namespace; what stopped it, if anything."""
        builder = self._builder
        try:
            if isinstance(stmt, ast.Expr):
                code = compile(ast.Expression(stmt.value), builder.filename, "eval")
                value = eval(code, builder.ns)
                shown = echo(value) if (stmt.lineno, stmt.col_offset) in self._shown else None
                if shown is not None:
                    print(shown)
            else:
                marked = builder.provenance.instrument(stmt)
                code = compile(ast.Module([marked], type_ignores=[]), builder.filename, "exec")
                exec(code, builder.ns)
        except BaseException as e:  # noqa: BLE001 - raise BaseException(...), SystemExit, limits
            return as_reported(e)  # the scenario's, at its line: the worker goes on
        return None

    def _within_time_limit(self, error: BaseException | None) -> BaseException | None:
        """Past the time limit the run ends here, whatever the statement made of the limit
        (swallowed it, or raised something else instead)."""
        deadline = self._builder.deadline
        if not deadline.fired:
            return error
        deadline.settle()
        if isinstance(error, LimitExceeded):
            return error
        tb = error.__traceback__ if error is not None else None
        return deadline.error().with_traceback(tb)

    def _close_statement(self, stmt: ast.stmt, text: str, first_step: int) -> LimitExceeded | None:
        """Make the last step of a top-level statement; one for the statement itself if
        nothing it ran was shown. Returns the limit it hit, if any."""
        try:
            self._close_open()
            if len(self._builder.trace.steps) == first_step:
                self._open = _Open(stmt.lineno, text, 0, top=True)
                self._open.always = True
                self._close_open()
        except LimitExceeded as e:
            return e
        except Exception as e:  # noqa: BLE001 - the recorder's trouble, not the scenario's
            self._builder.note_recording_error(stmt.lineno, e)
        return None

    def _opened_nested(self, line: int) -> _Open:
        runs = self._runs[line] = self._runs.get(line, 0) + 1
        text = self._source.line(line)
        if runs > 1:  # a loop's later rounds: which one this is
            text = f"{text}  · {_ordinal(runs)} time"
        opened = _Open(line, text, self._out.tell())
        if self._nested_left == 0:  # shown even when the passes showed all it changed
            opened.note = "  … (and what follows in the block, as one step)"
            opened.always = True
        return opened

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
            deltas = self._snapshots.deltas(names)
        flush_warnings(self._caught, self._out)  # a loop's warnings go to their own step
        output = storable(self._out.getvalue()[opened.out_pos :])
        grouped = self._builder.grouped_note()
        figures = self._builder.figures.pending
        if not (new_ids or deltas or output or opened.always or figures or grouped):
            return False
        self._builder.add_step(
            Step(
                index=0,
                kind="statement",
                line=opened.line,
                text=first_line(opened.text) + opened.note + grouped,
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
        ns = self._builder.ns
        bound = tuple(
            (k, oid(v), sequence_length(v) if isinstance(v, (list, tuple)) else -1)
            for k, v in ns.items()
            if isinstance(v, (torch.Tensor, torch.nn.Module, list, tuple))
        )
        if fresh or self._names is None or bound != self._names[0]:
            self._names = (bound, NameTable(ns))
        return self._names[1]

    def _capture_forward(self, names: NameTable) -> list[str]:
        """Register the nodes made by the statement that just ran (the graph grows)."""
        builder = self._builder
        capture = builder.capture
        roots = [t.grad_fn for t in names.tensors.values() if t.grad_fn is not None]
        # a named leaf that requires grad is shown from the statement that made it
        roots += [
            capture.leaf_node(t)
            for t in names.tensors.values()
            if t.is_leaf and t.requires_grad and oid(t) not in capture.leaf_ids
        ]
        nodes = builder.walk(roots, new_only=True)
        return capture.register(nodes, names, line=builder.line, step=len(builder.trace.steps))


def _ordinal(n: int) -> str:
    """``2nd``, ``3rd``, ``11th``, ``22nd``."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"
