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
from collections.abc import Iterator
from typing import Any

import torch

from gradstep.collection import collection_paused
from gradstep.record import rounds
from gradstep.record.aside import aside
from gradstep.record.building import TraceBuilder
from gradstep.record.deadline import SLOT_LOOP, SLOT_ROUND, LimitExceeded
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
        self._round = 0
        self._stretch = 0  # the first round of the stretch being summarised
        self._stretch_out = 0  # where its output starts
        self._by_round = False  # after a stretch, steps say which round they are in
        self._loop_nodes: dict[int, ast.For | ast.While] = {}  # line -> loop with rounds
        self._slots = builder.deadline.slots  # the page the caller reads if we are stopped

    def run(self, stmt: ast.stmt, text: str | None = None) -> bool:
        """Run one top-level statement and make its steps; False when the scenario must stop.
        ``text``: what its step says, for a statement that is not in the source (a test
        function's call, see :mod:`gradstep.record.pytest_style`)."""
        first_step = len(self._builder.trace.steps)
        text = self._source.segment(stmt) if text is None else text
        self._out = io.StringIO()
        self._nested_left = MAX_NESTED_STEPS
        self._runs = {stmt.lineno: 1}
        self._open = _Open(stmt.lineno, text, 0, top=True)
        self._builder.provenance.statement(stmt.lineno)
        self._loop, self._loop_nodes = None, {}
        with captured_output(self._out) as self._caught:
            error = self._within_time_limit(self._execute(stmt))
            self._rounds_over(error)
            if error is None:  # a cell's last statement: what it left open is shown now
                self._builder.figures.statement_ran(stmt.lineno)
        error = self._where_in_the_loop(error)
        self._loop_done()
        limit = self._close_statement(stmt, text, first_step)
        error = error or limit  # the first error is the one to report
        if error is not None:
            self._builder.record_error(error, stmt.lineno)
            return False
        return True

    def nested(self, line: int) -> None:
        """Called by the scenario before a statement nested in a top-level block (and
        after each detailed round of a loop, for its header)."""
        builder = self._builder
        builder.deadline.check()  # past the time limit, no statement starts
        builder.provenance.line(line)
        if builder.summarising:  # a loop's ``else`` after summarised rounds: they are over
            self._rounds_over(None)
            builder.line = line
            self._open = self._opened_nested(line)
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

    def round_items(self, iterable: Any, line: int) -> Iterator[Any]:
        """A top-level ``for`` loop's iterator (see ``rounds.two_bodies``): each item
        begins a round."""
        next_round = self.next_round
        for item in iterable:
            next_round(line)
            yield item

    def next_round(self, line: int) -> bool:
        """A round of a top-level loop begins (its header has fetched what it needs): the
        one that ended leaves its row if it was summarised, and this one is recorded in full
        or summarised (see :mod:`gradstep.record.rounds`). True, for a ``while``'s test."""
        builder, loop = self._builder, self._loop
        builder.deadline.check()
        if loop is None or loop.record.line != line:  # the loop's first round
            loop = self._loop_begins(line)
        ended = self._round
        self._round = builder.loop_round = upcoming = ended + 1
        self._slots[SLOT_ROUND] = upcoming  # for the caller, if the worker is stopped
        full = rounds.detailed(upcoming)
        if builder.summarising:
            if not full:
                with aside():
                    loop.add(ended, builder.ns)
                return True
            with aside():
                loop.add(ended, builder.ns)
            self._end_stretch(ended)
            # the detailed round is stepped from its header, which is about to bind
            builder.provenance.line(line)
            builder.line = line
            self._runs = {}
            self._open = self._opened_nested(line)
        elif not full:
            self._start_stretch(upcoming)
            return True
        elif self._by_round:
            self._runs = {line: 1}  # counted within the round (see _opened_nested)
        loop.detailed_round(upcoming)
        return True

    def _loop_begins(self, line: int) -> rounds.LoopSeries:
        """The first round of the loop at ``line``: the one before it in this top-level
        statement (another loop in the same ``with`` block) is over."""
        self._rounds_over(None)
        self._loop_done()
        loop = rounds.LoopSeries(self._loop_nodes[line], self._source.line(line))
        self._loop, self._round, self._by_round = loop, 0, False
        self._slots[SLOT_LOOP] = line
        self._builder.pass_rounds = []
        return loop

    def _loop_done(self) -> None:
        """The loop's record goes into the trace, if any of its rounds were summarised."""
        loop, builder = self._loop, self._builder
        builder.loop_round, self._loop = 0, None
        self._slots[SLOT_ROUND] = self._slots[SLOT_LOOP] = 0
        if loop is None or not loop.record.summarised_count:
            return
        loop.record.full_rounds = rounds.FULL_ROUNDS
        loop.record.passes = builder.pass_rounds
        builder.trace.loops.append(loop.record)
        stats = builder.trace.stats
        stats["summarised_rounds"] = (
            stats.get("summarised_rounds", 0) + loop.record.summarised_count
        )
        self._loop = None

    def _start_stretch(self, first: int) -> None:
        """Summarised rounds begin with round ``first``: the previous round's last step is
        made, the loop runs its plain body, the recorder's marks elsewhere go quiet."""
        builder, loop = self._builder, self._loop
        assert loop is not None
        try:
            self._close_open()  # the previous round's last statement (or its header)
        except LimitExceeded:
            raise
        except Exception as e:  # noqa: BLE001 - the recorder's trouble
            builder.note_recording_error(loop.record.line, e)
        self._open = None
        with aside():
            loop.choose(builder.ns)
        self._stretch, self._stretch_out = first, self._out.tell()
        loop.stretch_begins()
        builder.summarising = True
        builder.ns[rounds.DETAILED] = False
        builder.provenance.pause(loop.record.line)

    def _rounds_over(self, error: BaseException | None) -> None:
        """The loop has ended (or stopped, with ``error``) in a summarised stretch: its last
        round's row, if it ran to its end, and the stretch's step."""
        if not self._builder.summarising:
            return
        if error is None:
            with aside():
                self._loop.add(self._round, self._builder.ns)  # type: ignore[union-attr]
        self._end_stretch(self._round)

    def _end_stretch(self, last: int) -> None:
        """One step for the summarised rounds since ``_stretch``: what they left (their
        variables, their output) and which rounds they were."""
        builder, loop = self._builder, self._loop
        assert loop is not None
        builder.summarising = False
        builder.ns[rounds.DETAILED] = True
        builder.provenance.resume()
        self._by_round = True
        if last < self._stretch:
            return
        with collection_paused(), torch.inference_mode(False), torch.enable_grad(), aside():
            names = NameTable(builder.ns)
            new_ids = self._capture_forward(names)  # the graph the last round left
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
                new_nodes=new_ids,
                variables=deltas,
                output=output,
            )
        )

    def _where_in_the_loop(self, error: BaseException | None) -> BaseException | None:
        """A time limit hit inside a long loop says in which round, in words a user reads."""
        if not (isinstance(error, LimitExceeded) and error.limit == "time"):
            return error
        if self._loop is None or self._round < 1 or "in round" in str(error):
            return error
        if _scenario_line(error, self._builder.filename) not in self._loop.lines:
            return error  # after the loop
        record = self._loop.record
        where = (
            f"{error}, in round {self._round:,} of `{record.text}` "
            f"({self._builder.trace.scenario.where(record.line)}); "
            "the steps before it are kept"
        )
        return LimitExceeded("time", where).with_traceback(error.__traceback__)

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
                loops = rounds.outer_loops(stmt)
                plain = [rounds.plain_copy(loop.body) for loop in loops]
                marked = builder.provenance.instrument(stmt)  # in place: the loops stay
                for loop, body in zip(loops, plain):
                    self._loop_nodes[loop.lineno] = rounds.two_bodies(loop, body)
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
        if self._by_round and self._loop is not None and line in self._loop.lines:
            # a round's statement after summarised rounds: which round
            round_ = self._round
            if line == self._loop.record.line and runs > 1:
                round_ += 1  # the header, at a round's end, fetches the next one's
            text = f"{text}  · round {round_:,}"
            if runs > 1 and line != self._loop.record.line:
                text += f", {_ordinal(runs)} time"
        elif runs > 1:  # a loop's later rounds: which one this is
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
        with collection_paused(), torch.inference_mode(False), torch.enable_grad(), aside():
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


def _scenario_line(error: BaseException, filename: str) -> int | None:
    """The innermost line of the scenario in ``error``'s traceback."""
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _ordinal(n: int) -> str:
    """``2nd``, ``3rd``, ``11th``, ``22nd``."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"
