"""Loading scenario files: ``.py`` (optionally ``# %%`` cells) and ``.ipynb``.

A scenario becomes one Python source text whose line numbers are what the
code view shows and what every step refers to. A notebook is converted to the
percent format (``# %%`` code cells, ``# %% [markdown]`` note cells), so both
kinds are handled the same way afterwards.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from gradstep.scenario.errors import ScenarioRefused

_CELL_MARKER = re.compile(r"^#\s*%%(.*)$")
_MARKDOWN_TAG = re.compile(r"\[\s*markdown\s*\]|\[\s*md\s*\]", re.IGNORECASE)


@dataclass
class Cell:
    kind: str  # "code" or "markdown"
    text: str  # markdown cells: the note text, comment markers removed
    line: int  # first line of the cell's body in the source (1-based)

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "text": self.text, "line": self.line}


@dataclass
class Scenario:
    path: str
    source: str
    title: str = ""
    summary: str = ""
    cells: list[Cell] = field(default_factory=list)

    @property
    def notes(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "markdown"]


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file; raise ScenarioRefused for what cannot be read."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioRefused(f"no such file: {path}", 0, 0, filename=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioRefused(f"cannot read {path.name}: {e}", 0, 0, filename=str(path)) from None
    if path.suffix.lower() == ".ipynb":
        source = notebook_to_percent(raw, str(path))
    else:
        source = raw.replace("\r\n", "\n")
    return scenario_from_source(source, str(path))


def scenario_from_source(source: str, path: str = "<scenario>") -> Scenario:
    cells = split_cells(source)
    title, summary = _title_and_summary(source, cells, path)
    return Scenario(path=path, source=source, title=title, summary=summary, cells=cells)


def split_cells(source: str) -> list[Cell]:
    """Cells of a percent-format file; a file without markers is one code cell."""
    lines = source.split("\n")
    cells: list[Cell] = []
    kind, start, body = "code", 1, []

    def flush() -> None:
        text = "\n".join(body).strip("\n")
        if kind == "markdown":
            text = "\n".join(_uncomment(line) for line in body).strip("\n")
        if text.strip():
            cells.append(Cell(kind, text, start))

    for i, line in enumerate(lines, start=1):
        m = _CELL_MARKER.match(line)
        if m:
            flush()
            kind = "markdown" if _MARKDOWN_TAG.search(m.group(1)) else "code"
            start, body = i + 1, []
        else:
            body.append(line)
    flush()
    return cells


def _uncomment(line: str) -> str:
    s = line.lstrip()
    if s.startswith("# "):
        return s[2:]
    if s.startswith("#"):
        return s[1:]
    return line


def _title_and_summary(source: str, cells: list[Cell], path: str) -> tuple[str, str]:
    doc = None
    try:
        doc = ast.get_docstring(ast.parse(source))
    except SyntaxError:
        pass  # reported with its line when the scenario is checked
    if doc:
        first, _, rest = doc.strip().partition("\n")
        return first.strip().rstrip("."), rest.strip()
    for cell in cells:
        if cell.kind == "markdown":
            first, _, rest = cell.text.strip().partition("\n")
            return first.lstrip("#").strip(), rest.strip()
    return Path(path).stem.replace("_", " "), ""


def notebook_to_percent(text: str, path: str) -> str:
    """Convert a notebook to percent-format source; IPython magics become comments."""
    import nbformat  # imported here: only notebooks need it

    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # nbformat raises several unrelated types for bad JSON
        raise ScenarioRefused(
            f"{Path(path).name} is not a readable notebook: {e}", 0, 0, filename=path
        ) from None
    out: list[str] = []
    for cell in nb.cells:
        src = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        if cell.cell_type == "markdown":
            out.append("# %% [markdown]")
            out.extend(("# " + line).rstrip() for line in src.split("\n"))
        elif cell.cell_type == "code":
            out.append("# %%")
            for line in src.split("\n"):
                stripped = line.lstrip()
                if stripped.startswith(("%", "!")):
                    line = "# (IPython magic, not run) " + line
                out.append(line)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
