"""Long training loops recorded within budget: the first rounds in full, later ones summarised.

PyTorch's polynomial tutorials run 2,000 rounds and ``dynamic_net`` 30,000; recorded
in full detail (every pass hooked, every node a step) they made 20–40 MB traces, ran
five times longer than the plain file and passed the step limit. A lesson needs the
first rounds in detail and how the loss and the parameters went afterwards, so the
rounds of a top-level ``for``/``while`` loop are recorded as:

- rounds 1 to :data:`FULL_ROUNDS` in full detail, as before;
- after that every :data:`EVERY`-th round in full (every ``EVERY * 10``-th past
  ``EVERY * 10``), so a late round can still be stepped through;
- the rest summarised: they run as plain PyTorch (no hooks, no steps), and each
  leaves one row of numbers — the loop's scalar tensors (the loss) and its small
  parameters (``a``, ``b``, ``model.0.weight``) — in the trace's
  :class:`~gradstep.trace.model.LoopRounds`. Each stretch of summarised rounds is one
  step, whose variables are what the stretch left, so stepping stays exact.

The window's timeline, ``gradstep trace`` and the handout say which rounds are
detailed: the stretch's step names them, and the trace keeps the list.
"""

from __future__ import annotations

from typing import Any

import torch

from gradstep.record.graph import NameTable
from gradstep.trace.model import LoopRounds

#: rounds recorded in full detail before any is summarised (toy lessons never get there)
FULL_ROUNDS = 20
#: past FULL_ROUNDS, every EVERY-th round in full (and every 10 * EVERY-th past 10 * EVERY)
EVERY = 100
#: the numbers kept for each summarised round: at most this many names ...
MOST_NAMES = 8
#: ... each a tensor of at most this many elements
MOST_NUMEL = 16


def detailed(round_: int) -> bool:
    """Whether round ``round_`` (1-based) of a long loop is recorded in full."""
    if round_ <= FULL_ROUNDS:
        return True
    step = EVERY if round_ <= EVERY * 10 else EVERY * 10
    return round_ % step == 0


class LoopSeries:
    """One top-level loop's summarised rounds: which names, and a row of numbers a round."""

    def __init__(self, line: int, text: str) -> None:
        self.record = LoopRounds(line=line, text=text)
        self._tracked: list[tuple[str, Any]] = []  # (name, a parameter held, or None: by name)
        self._chosen = False

    def choose(self, ns: dict[str, Any]) -> None:
        """The names to follow, chosen once: the scalar tensors bound to names (the loss)
        and the small leaves that require grad (the parameters, a module's too)."""
        if self._chosen:
            return
        self._chosen = True
        names = NameTable(ns)
        scalars, params = [], []
        for name, t in names.tensors.items():
            if "[" in name or t.numel() > MOST_NUMEL:
                continue
            if t.is_leaf and t.requires_grad:
                params.append((name, t if "." in name else None))
            elif t.dim() == 0 and t.dtype.is_floating_point and "." not in name:
                scalars.append((name, None))
        self._tracked = (scalars + params)[:MOST_NAMES]
        self.record.names = [name for name, _ in self._tracked]

    def add(self, round_: int, ns: dict[str, Any]) -> None:
        """The numbers of summarised round ``round_``, as it left them."""
        row: list[Any] = []
        for name, held in self._tracked:
            t = held if held is not None else ns.get(name)
            row.append(_numbers(t))
        self.record.summarised.append(round_)
        self.record.values.append(row)

    def detailed_round(self, round_: int) -> None:
        if round_ > FULL_ROUNDS:
            self.record.detailed.append(round_)


def _numbers(t: Any) -> Any:
    if not isinstance(t, torch.Tensor) or t.numel() > MOST_NUMEL:
        return None
    return t.tolist()  # reads the values only (a no_grad block around it cost 4x as much)


def stretch_text(series: LoopSeries, first: int, last: int) -> str:
    """The step of a stretch of summarised rounds: which, and how its first number went."""
    record = series.record
    rounds = f"round {first}" if first == last else f"rounds {first:,}–{last:,}"
    text = f"{rounds} of `{record.text}` summarised (no steps)"
    if record.names and record.values:
        rows = record.values[-(last - first + 1) :]
        start, end = rows[0][0], rows[-1][0]
        if isinstance(start, float) and isinstance(end, float):
            text += f": {record.names[0]} {start:.4g} → {end:.4g}"
    return text
