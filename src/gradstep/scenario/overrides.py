"""What-if: the scenario's top-level literal scalars, found and given other values.

``gradstep trace FILE --set x=5.0`` and the app's What-if panel run a scenario
with one of its numbers changed, without touching the file: the literal is
rewritten in the source handed to the worker, in place, on its own line, so
every line number (of steps, errors and breakpoints) stays what it was.

A *settable literal* is a top-level statement (a ``.py`` file's module level,
or a notebook code cell's top level) that assigns one name one of:

- a number: ``lr = 0.1``, ``w = 2``, ``eps = -1e-3`` (``lr: float = 0.1`` too);
- a scalar tensor made from a number: ``x = torch.tensor(3.0, requires_grad=True)``,
  ``torch.tensor(data=3.0)``, ``torch.tensor(3.0).requires_grad_()`` (``torch``
  under any name it was imported as, or ``tensor`` imported from it).

Booleans, lists, expressions (``2 * 3``) and assignments inside functions,
loops or ``with`` blocks are not settable. A name assigned such a literal on
several lines is set by ``name@LINE=value`` (``x@37=5``); ``name=value`` alone
is then refused as ambiguous, with the lines it could mean.

A value is a finite Python int or float. A float literal stays a float
(``x = torch.tensor(3.0)`` set to 5 becomes ``torch.tensor(5.0)``: an integer
tensor could not require a gradient); an int literal takes the value as given.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gradstep.scenario.check import parse_scenario
from gradstep.scenario.errors import ScenarioRefused
from gradstep.scenario.loader import Scenario, scenario_from_source

Number = int | float


@dataclass(frozen=True)
class Literal:
    """One settable literal: the name it is assigned to and where its text is."""

    name: str
    line: int  # the assignment's first line (where the name is): what ``name@LINE`` says
    value: Number
    text: str  # the literal as written ("3.0", "-2")
    tensor: bool  # inside torch.tensor(...)
    at: int  # the line of the literal itself (1-based)
    start: int  # UTF-8 byte offsets of the literal in that line, as the syntax tree counts
    end: int

    @property
    def key(self) -> str:
        """``name@line``: this literal and no other."""
        return f"{self.name}@{self.line}"

    def label(self) -> str:
        return f"{self.name} (line {self.line})"


class NotSettable(ScenarioRefused):
    """A ``--set`` that names no settable literal, or gives it no usable value."""


# ------------------------------------------------------------------ finding
def find_literals(source: str) -> list[Literal]:
    """Every settable literal of ``source``, in source order; none when it does not parse
    (the run then reports the syntax error at its line)."""
    try:
        tree = parse_scenario(source, "<scenario>")
    except ScenarioRefused:
        return []
    modules, functions = _torch_names(tree)
    lines = source.split("\n")
    found: list[Literal] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        number, tensor = _number_node(value, modules, functions)
        if number is None or number.end_lineno != number.lineno:
            continue
        if number.end_col_offset is None:
            continue
        raw = lines[number.lineno - 1].encode("utf-8")
        text = raw[number.col_offset : number.end_col_offset].decode("utf-8")
        found.append(
            Literal(
                name=target.id,
                line=stmt.lineno,
                value=ast.literal_eval(number),
                text=text,
                tensor=tensor,
                at=number.lineno,
                start=number.col_offset,
                end=number.end_col_offset,
            )
        )
    return found


def _torch_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """The names torch was imported as (``torch``, ``T``), and ``tensor`` imported from it."""
    modules, functions = {"torch"}, set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.name == "torch":
                    modules.add(alias.asname or "torch")
        elif isinstance(stmt, ast.ImportFrom) and stmt.module == "torch" and stmt.level == 0:
            for alias in stmt.names:
                if alias.name == "tensor":
                    functions.add(alias.asname or "tensor")
    return modules, functions


def _number_node(
    node: ast.expr, modules: set[str], functions: set[str]
) -> tuple[ast.expr | None, bool]:
    """The number literal ``node`` is, or makes a scalar tensor of; and whether a tensor."""
    if _is_number(node):
        return node, False
    # torch.tensor(3.0).requires_grad_(): the tensor call under the method
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "requires_grad_"
        and isinstance(node.func.value, ast.Call)
    ):
        node = node.func.value
    if not isinstance(node, ast.Call):
        return None, False
    func = node.func
    is_tensor = (
        isinstance(func, ast.Attribute)
        and func.attr == "tensor"
        and isinstance(func.value, ast.Name)
        and func.value.id in modules
    ) or (isinstance(func, ast.Name) and func.id in functions)
    if not is_tensor:
        return None, False
    data = node.args[0] if node.args else None
    if data is None:
        data = next((k.value for k in node.keywords if k.arg == "data"), None)
    if data is not None and _is_number(data):
        return data, True
    return None, False


def _is_number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


# -------------------------------------------------------------- values
def parse_value(text: str) -> Number:
    """A finite int or float written as Python writes numbers (``5``, ``-0.5``, ``1e-3``);
    ValueError saying why for anything else."""
    s = text.strip()
    try:
        return int(s, 10)
    except ValueError:
        pass
    try:
        value = float(s)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def format_value(value: Number, literal: Literal) -> str:
    """``value`` as source text for ``literal``'s place: a float literal stays a float."""
    if isinstance(literal.value, float) or isinstance(value, float):
        return repr(float(value))
    return str(int(value))


# -------------------------------------------------------------- setting
def resolve(literals: list[Literal], key: str, filename: str = "<scenario>") -> Literal:
    """The literal ``key`` (``name`` or ``name@LINE``) means; NotSettable if none, or several."""
    name, _, at = key.partition("@")
    matches = [lit for lit in literals if lit.name == name]
    if at:
        matches = [lit for lit in matches if str(lit.line) == at.strip()]
    where = Path(filename).name
    if not matches:
        raise NotSettable(
            f"cannot set {key} in {where}: it is not a top-level literal. {_settable(literals)}",
            0,
            0,
            filename,
        )
    if len(matches) > 1:
        options = " or ".join(f"{lit.key}=…" for lit in matches)
        raise NotSettable(
            f"cannot set {key} in {where}: {name} is assigned a literal on lines "
            f"{', '.join(str(lit.line) for lit in matches)}; say which: {options}",
            matches[0].line,
            0,
            filename,
        )
    return matches[0]


def _settable(literals: list[Literal]) -> str:
    if not literals:
        return (
            "The file has no settable literal (a name assigned a number, or "
            "torch.tensor(number), at the top level)."
        )
    names = ", ".join(lit.label() for lit in literals)
    return f"The names that can be set: {names}."


def substitute(source: str, literal: Literal, text: str) -> str:
    """``source`` with ``literal``'s text replaced by ``text`` on its own line."""
    lines = source.split("\n")
    raw = lines[literal.at - 1].encode("utf-8")
    lines[literal.at - 1] = (
        raw[: literal.start] + text.encode("utf-8") + raw[literal.end :]
    ).decode("utf-8")
    return "\n".join(lines)


def apply_overrides(
    source: str, overrides: Mapping[str, Number | str], filename: str = "<scenario>"
) -> str:
    """``source`` with each ``name`` (or ``name@LINE``) set to its value; NotSettable,
    naming the file and what can be set, for a name that is not a settable literal or a
    value that is not a number. The lines stay where they were."""
    if not overrides:
        return source
    literals = find_literals(source)
    if not literals:
        try:  # a file that does not parse: its syntax error is the message to show
            parse_scenario(source, filename)
        except ScenarioRefused:
            return source
    chosen: dict[str, tuple[Literal, str]] = {}  # by literal: ``x`` then ``x@3``, the last wins
    for key, given in overrides.items():
        literal = resolve(literals, key, filename)
        try:
            value = parse_value(given) if isinstance(given, str) else _checked(given)
        except ValueError as e:
            raise NotSettable(
                f"cannot set {key} in {Path(filename).name}: {e}", literal.line, 0, filename
            ) from None
        chosen[literal.key] = (literal, format_value(value, literal))
    # right to left within a line, so that earlier offsets stay valid
    for literal, text in sorted(chosen.values(), key=lambda c: (c[0].at, c[0].start), reverse=True):
        source = substitute(source, literal, text)
    return source


def _checked(value: Number) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return value


def scenario_with(scenario: Scenario, overrides: Mapping[str, Number | str] | None) -> Scenario:
    """``scenario`` as it runs with ``overrides``: its source, notes and title remade from
    the rewritten source (the same lines). What the worker does with a request's overrides."""
    if not overrides:
        return scenario
    return scenario_from_source(
        apply_overrides(scenario.source, overrides, scenario.path), scenario.path
    )
