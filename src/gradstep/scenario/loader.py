"""Loading scenario files: ``.py`` (optionally ``# %%`` cells) and ``.ipynb``.

A scenario becomes one Python source text whose line numbers are what the
code view shows and what every step refers to. A notebook is converted to the
percent format (``# %%`` code cells, ``# %% [markdown]`` note cells), so both
kinds are handled the same way afterwards.

Lines are split where Python's tokenizer splits them (``\r\n``, ``\r``,
``\n``) and nowhere else, and every source is written with ``\n`` only: a
lone ``\r`` in a note or a magic line would otherwise end the comment and run
the rest of the line as code. A note never runs: in a notebook each of its
lines becomes a comment; in a ``.py`` file a ``[markdown]`` cell that holds
code (lines that are not comments) is shown as the code cell it is.
"""

from __future__ import annotations

import ast
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gradstep.scenario import gallery, rst
from gradstep.scenario.check import parse_scenario
from gradstep.scenario.errors import ScenarioRefused
from gradstep.scenario.files import read_scenario_bytes
from gradstep.trace.clean import storable
from gradstep.trace.model import ScenarioInfo

#: where Python's tokenizer starts a new line (str.splitlines also splits at \f, \x1c...)
LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def source_lines(text: str) -> list[str]:
    """``text`` split into the lines Python sees."""
    return LINE_BREAKS.split(text)


_CELL_MARKER = re.compile(r"^#\s*%%(.*)$")


def cell_marker_lines(source: str) -> list[int]:
    """The lines (1-based) of the ``# %%`` cell markers of a scenario's source (every
    notebook has them: :func:`notebook_to_percent` writes one per cell)."""
    return [n for n, line in enumerate(source.split("\n"), start=1) if _CELL_MARKER.match(line)]


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
    #: a notebook's: the line of each cell's marker in ``source`` (see ``notebook_to_percent``)
    notebook_cells: list[int] = field(default_factory=list)

    def info(self) -> ScenarioInfo:
        """What a trace keeps of the scenario: where it came from, its code and notes."""
        return ScenarioInfo(
            path=self.path,
            title=self.title,
            summary=self.summary,
            source=self.source,
            cells=[c.to_dict() for c in self.cells],
            notebook_cells=list(self.notebook_cells),
        )

    @property
    def notes(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "markdown"]


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file; raise ScenarioRefused for what cannot be read."""
    path = Path(path)
    data = read_scenario_bytes(path)  # a regular file of bounded size, or ScenarioRefused
    try:
        raw = data.decode("utf-8-sig")  # an editor's byte-order mark is no code
    except UnicodeDecodeError as e:
        raise ScenarioRefused(
            f"cannot read {path.name}: it is not UTF-8 text ({e.reason} at byte {e.start})",
            0,
            0,
            filename=str(path),
        ) from None
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as text mode reads
    if path.suffix.lower() == ".ipynb":
        source = notebook_to_percent(raw, str(path))
    else:
        source = "\n".join(source_lines(raw))
    return scenario_from_source(source, str(path))


def scenario_from_source(source: str, path: str = "<scenario>") -> Scenario:
    if "\r" in source:  # lines as Python counts them, in the code view and every step
        source = "\n".join(source_lines(source))
    tree = _parse(source)
    doc_end = _docstring_end(tree)
    headings = rst.Headings()  # one ranking of heading styles for the file's rst notes
    doc = _rst_docstring(tree, headings)
    statements = [(s.lineno, s.end_lineno or s.lineno) for s in tree.body] if tree else []
    cells = split_cells(source, skip_to=doc_end, statements=statements, headings=headings)
    if doc is None:
        title, summary = _title_and_summary(tree, cells, path)
    else:
        title, summary = doc.title, doc.summary
        if doc.rest:  # the docstring's text after the summary: the first note
            cells.insert(0, Cell("markdown", doc.rest, doc.rest_line))
    scenario = Scenario(path=path, source=source, title=title, summary=summary, cells=cells)
    if path.lower().endswith(".ipynb"):  # errors and steps say "cell 4, line 2" as Jupyter
        scenario.notebook_cells = [
            n for n, line in enumerate(source.split("\n"), start=1) if line in _NOTEBOOK_MARKERS
        ]
    return scenario


#: the cell markers ``notebook_to_percent`` writes, one per notebook cell
_NOTEBOOK_MARKERS = ("# %%", "# %% [markdown]")


def _parse(source: str) -> ast.Module | None:
    try:
        return parse_scenario(source, "<scenario>")
    except ScenarioRefused:
        return None  # reported with its line when the scenario is checked


def _docstring_end(tree: ast.Module | None) -> int:
    """The last line of the module docstring (0 without one): title and summary, not a cell."""
    if tree is None or ast.get_docstring(tree) is None:
        return 0
    return tree.body[0].end_lineno or 0


def _rst_docstring(tree: ast.Module | None, headings: rst.Headings) -> rst.Docstring | None:
    """The module docstring read as reStructuredText when it has an rst title (as
    sphinx-gallery files do), its lines numbered as in the source; None otherwise."""
    doc = ast.get_docstring(tree) if tree is not None else None
    if not doc or not rst.has_title(doc):
        return None
    parsed = rst.docstring(doc, headings)
    first = tree.body[0] if tree is not None else None
    if parsed is not None and isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        raw = str(first.value.value).split("\n")  # get_docstring dropped its leading blank lines
        blank = next((i for i, line in enumerate(raw) if line.strip()), 0)
        parsed.rest_line += first.lineno + blank - 1
    return parsed


def split_cells(
    source: str,
    *,
    skip_to: int = 0,
    statements: Sequence[tuple[int, int]] = (),
    headings: rst.Headings | None = None,
) -> list[Cell]:
    """Cells of a percent-format file, or of a sphinx-gallery file (see
    :mod:`gradstep.scenario.gallery`); a file with neither is one code cell.

    Lines up to ``skip_to`` (the module docstring) belong to no cell. Blank
    lines around a cell's text are trimmed and ``line`` is the first line of
    what is left, so that it points at the cell's first code or note line.
    ``statements``: the top-level statements' (first, last) lines, where no
    sphinx-gallery text block can start.
    """
    lines = source.split("\n")
    if not any(_CELL_MARKER.match(line) for line in lines):
        blocks = gallery.text_blocks(lines, statements, after=skip_to)
        if blocks:
            return _gallery_cells(lines, blocks, skip_to, headings or rst.Headings())
    cells: list[Cell] = []
    kind = "code"
    body: list[tuple[int, str]] = []  # (line number, text)

    def flush() -> None:
        nonlocal kind
        rows = [(n, text) for n, text in body if n > skip_to]
        if kind == "markdown":
            note = _markdown_rows(rows)
            if note is None:
                kind = "code"  # it runs: say so
            else:
                rows = note
        while rows and not rows[0][1].strip():
            rows.pop(0)
        while rows and not rows[-1][1].strip():
            rows.pop()
        if rows:
            cells.append(Cell(kind, "\n".join(text for _, text in rows), rows[0][0]))

    for i, line in enumerate(lines, start=1):
        m = _CELL_MARKER.match(line)
        if m:
            flush()
            kind = "markdown" if _MARKDOWN_TAG.search(m.group(1)) else "code"
            body = []
        else:
            body.append((i, line))
    flush()
    return cells


def _gallery_cells(
    lines: list[str], blocks: list[tuple[int, int]], skip_to: int, headings: rst.Headings
) -> list[Cell]:
    """Code between the text blocks, and each block's rst as a Markdown note."""
    cells: list[Cell] = []

    def add(kind: str, first: int, texts: list[str]) -> None:
        rows = [(n, t) for n, t in enumerate(texts, start=first) if n > skip_to]
        while rows and not rows[0][1].strip():
            rows.pop(0)
        while rows and not rows[-1][1].strip():
            rows.pop()
        if not rows:
            return
        text = "\n".join(t for _, t in rows)
        if kind == "markdown":
            text = rst.to_markdown(text, headings)
        if text.strip():
            cells.append(Cell(kind, text, rows[0][0]))

    done = 0  # the last line placed in a cell
    for header, end in blocks:
        add("code", done + 1, lines[done : header - 1])
        add("markdown", header + 1, gallery.block_text(lines[header:end]))
        done = end
    add("code", done + 1, lines[done:])
    return cells


def _markdown_rows(rows: list[tuple[int, str]]) -> list[tuple[int, str]] | None:
    """A note cell's text: ``# `` comment markers removed, or the body of one string
    literal; None when a line of it is code, which Python runs whatever the marker says."""
    text = "\n".join(t for _, t in rows).strip()
    if text[:3] in ('"""', "'''") and len(text) >= 6:
        try:
            value = ast.literal_eval(text)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            value = None
        if isinstance(value, str):
            first = next(n for n, t in rows if t.strip())  # the line of the opening quotes
            first += len(value) - len(value.lstrip("\n"))
            return [(first + k, t) for k, t in enumerate(value.strip("\n").split("\n"))]
    if any(t.strip() and not t.lstrip().startswith("#") for _, t in rows):
        return None
    return [(n, _uncomment(t)) for n, t in rows]


def _uncomment(line: str) -> str:
    s = line.lstrip()
    if s.startswith("# "):
        return s[2:]
    if s.startswith("#"):
        return s[1:]
    return line


def _title_and_summary(tree: ast.Module | None, cells: list[Cell], path: str) -> tuple[str, str]:
    """The module docstring's first line and the rest; else the notes that open the file
    (its markdown cells before the first code cell, or its first markdown cell): their first
    heading and the text after it, or their first line of text; HTML is no title (a
    notebook may open with a ``<table>`` banner), its tags are dropped. Else the file name."""
    doc = ast.get_docstring(tree) if tree is not None else None
    if doc:
        first, _, rest = doc.strip().partition("\n")
        return first.strip().rstrip("."), rest.strip()
    notes = [_without_html(c.text) for c in _opening_notes(cells)]
    for note in notes:
        lines = note.split("\n")
        for k, line in enumerate(lines):
            heading = _HEADING.match(line)
            if heading:
                return heading.group(1).strip(), "\n".join(lines[k + 1 :]).strip()
    for note in notes:
        first, _, rest = note.strip().partition("\n")
        if first.strip():
            return first.strip(), rest.strip()
    return Path(path).stem.replace("_", " "), ""


def _opening_notes(cells: list[Cell]) -> list[Cell]:
    """The markdown cells before the first code cell, or the first markdown cell."""
    opening = []
    for cell in cells:
        if cell.kind != "markdown":
            break
        opening.append(cell)
    return opening or [c for c in cells if c.kind == "markdown"][:1]


#: a Markdown heading line (``# Title``, ``### Part 2``; a lone ``#`` is no heading)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(\S.*?)\s*#*\s*$")
_TAG = re.compile(r"<[^<>]*>")


def _without_html(text: str) -> str:
    """Markdown text with its HTML tags dropped and entities read (``&amp;`` -> ``&``);
    the lines that held only tags are gone."""
    if "<" not in text and "&" not in text:
        return text
    lines = [html.unescape(_TAG.sub("", line)).strip() for line in text.split("\n")]
    kept = [
        line for line, raw in zip(lines, text.split("\n"), strict=True) if line or not raw.strip()
    ]
    return "\n".join(kept).strip()


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
            out.extend(_comment(line) for line in source_lines(src))
        elif cell.cell_type == "code":
            out.append("# %%")
            out.extend(_code_lines(src))
        else:
            continue  # raw cells are neither code nor notes
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _comment(line: str, prefix: str = "# ") -> str:
    """A line of a note as a comment: nothing in it ends the comment (``line`` holds no
    line break) or stops the parser (a NUL is written as ``\\0``, a lone surrogate escaped)."""
    return (prefix + storable(line.replace("\0", "\\0"))).rstrip()


#: cell magics whose body is still Python that runs (timed, or with its output captured)
_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")
_MAGIC_NOTE = "# (IPython magic, not run) "


def _code_lines(src: str) -> list[str]:
    """A code cell's lines; IPython's ``%``/``!`` lines and ``?`` help become comments.

    A cell magic other than timing or capturing (``%%bash``, ``%%writefile``...)
    turns the whole cell into comments: its body is not Python.
    """
    lines = source_lines(src)
    first = lines[0].strip() if lines else ""
    if first.startswith("%%") and not first.startswith(_PYTHON_CELL_MAGICS):
        return [_comment(line, _MAGIC_NOTE) if line.strip() else line for line in lines]
    out = []
    continued = False  # IPython reads a magic line ending in a backslash on the next line
    for line in lines:
        stripped = line.strip()
        magic = stripped.startswith(("%", "!")) or (stripped.endswith("?") and _is_help(stripped))
        if magic or continued:
            continued = stripped.endswith("\\")
            line = _comment(line, _MAGIC_NOTE)
        out.append(line)
    return out


def _is_help(stripped: str) -> bool:
    """``x?`` or ``torch.tensor??``: IPython's help syntax, never valid Python."""
    name = stripped.rstrip("?")
    return bool(name) and all(part.isidentifier() for part in name.split("."))
