"""What-if, kept: one top-level literal written into the scenario file, and nothing else.

The What-if panel runs a scenario with other values without touching the file;
"Write value to file" is the explicit step that changes it. Only the literal's
characters change (line endings, encoding mark, every other byte stay), and the
file is replaced in one step (a temporary file moved over it), so an editor or
the app's file watcher never sees half a file. A notebook's cell is edited in
its JSON, found by the line the app showed (see ``notebook_to_percent``).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gradstep.scenario.errors import ScenarioRefused
from gradstep.scenario.files import read_scenario_bytes
from gradstep.scenario.loader import load_scenario, source_lines
from gradstep.scenario.overrides import (
    Literal,
    NotSettable,
    Number,
    find_literals,
    format_value,
    parse_value,
    resolve,
    substitute,
)

_BREAKS = re.compile(r"(\r\n|\r|\n)")
_BOM = "\ufeff"


def write_literal(path: str | os.PathLike[str], key: str, value: Number | str) -> Literal:
    """Set ``key`` (``name`` or ``name@LINE``) to ``value`` in the file ``path``; return the
    literal as it was. NotSettable (or ScenarioRefused, OSError) says why it could not."""
    path = Path(path)
    number = parse_value(value) if isinstance(value, str) else value
    raw = read_scenario_bytes(path).decode("utf-8")
    if path.suffix.lower() == ".ipynb":
        literal, text = _set_in_notebook(path, raw, key, number)
    else:
        literal, text = _set_in_python(path, raw, key, number)
    _replace(path, text)
    return literal


def _set_in_python(path: Path, raw: str, key: str, value: Number) -> tuple[Literal, str]:
    bom = raw.startswith(_BOM)
    body = raw[1:] if bom else raw
    parts = _BREAKS.split(body)  # line, break, line, break, ..., line
    lines, breaks = parts[0::2], parts[1::2]
    literal = resolve(find_literals("\n".join(lines)), key, str(path))
    new = substitute(lines[literal.at - 1], _on_first_line(literal), format_value(value, literal))
    lines[literal.at - 1] = new
    out = "".join(line + brk for line, brk in zip(lines, [*breaks, ""]))
    return literal, (_BOM if bom else "") + out


def _on_first_line(literal: Literal) -> Literal:
    """The same literal, as if its line were line 1 (to edit that line alone)."""
    return Literal(
        literal.name,
        1,
        literal.value,
        literal.text,
        literal.tensor,
        1,
        literal.start,
        literal.end,
    )


def _set_in_notebook(path: Path, raw: str, key: str, value: Number) -> tuple[Literal, str]:
    scenario = load_scenario(path)  # the source the app ran: its lines are the literal's
    literal = resolve(find_literals(scenario.source), key, str(path))
    try:
        nb: dict[str, Any] = json.loads(raw)
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError):
        raise NotSettable(
            f"cannot write to {path.name}: only nbformat 4 notebooks can be written",
            literal.line,
            0,
            str(path),
        ) from None
    line = 1  # notebook_to_percent: each cell is its marker, its lines, a blank line
    for cell in cells:
        if cell.get("cell_type") not in ("markdown", "code"):
            continue
        src = cell.get("source", "")
        text = src if isinstance(src, str) else "".join(src)
        n = len(source_lines(text))
        if cell["cell_type"] == "code" and line < literal.at <= line + n:
            cell["source"] = _edited(src, literal, literal.at - line - 1, value)
            return literal, json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        line += n + 2
    raise NotSettable(  # the file changed since it ran
        f"cannot write to {path.name}: {literal.label()} is not where it was; reload the file",
        literal.line,
        0,
        str(path),
    )


def _edited(src: str | list[str], literal: Literal, index: int, value: Number) -> str | list[str]:
    text = src if isinstance(src, str) else "".join(src)
    parts = _BREAKS.split(text)
    lines, breaks = parts[0::2], parts[1::2]
    line = lines[index]
    if line.encode("utf-8")[literal.start : literal.end].decode("utf-8") != literal.text:
        raise NotSettable(
            f"cannot write {literal.label()}: the notebook's cell differs from what ran",
            literal.line,
            0,
        )
    lines[index] = substitute(line, _on_first_line(literal), format_value(value, literal))
    out = "".join(x + b for x, b in zip(lines, [*breaks, ""]))
    return out if isinstance(src, str) else out.splitlines(keepends=True)


def _replace(path: Path, text: str) -> None:
    """``text`` in a temporary file beside ``path`` (its permissions), moved over it."""
    mode = os.stat(path).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def still_set(path: str | os.PathLike[str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The ``overrides`` that still mean something after the file changed: their literal is
    still there and its value in the file differs (a value written to the file is no
    what-if any more)."""
    if not overrides:
        return {}
    try:
        literals = find_literals(load_scenario(Path(path)).source)
    except ScenarioRefused:
        return {}
    kept = {}
    for key, value in overrides.items():
        try:
            literal = resolve(literals, key)
            if parse_value(value) != literal.value:
                kept[key] = value
        except (NotSettable, ValueError):
            pass
    return kept
