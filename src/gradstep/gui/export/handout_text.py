"""A handout's words: the Markdown walk-through of a scenario, and the images it refers to.

The document follows the scenario file: its notes, each code cell, and after
the cell the steps it ran — one graph image per step (``per="step"``) or per
backward node (``per="node"``), each with its chain-rule line; the tangent
plot of scalar ops; gradient flow and the passes at the end. The images are
named here and drawn by ``handout_render``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gradstep.plotting import gradient_flow, pass_series, tangent_plot
from gradstep.plotting.labels import chain_lines
from gradstep.trace.model import Step, Trace
from gradstep.trace.quiz import NONE, answers, exercise_blanks
from gradstep.trace.spoilers import Spoilers
from gradstep.trace.text import figure_note, loop_sentence, run_notes, step_number, step_what

IMAGES = "images"
Per = Literal["step", "node"]
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class Image:
    """An image of the handout, named before it is drawn: what ``handout_render`` draws."""

    name: str  # file name under images/
    alt: str
    step: int | None = None  # a graph image of this step
    kind: Literal["graph", "tangent", "flow", "passes", "figure"] = "graph"
    figure: int = 0  # which of the step's matplotlib figures (kind "figure")
    size: tuple[int, int] = (0, 0)  # a figure's pixels


@dataclass
class Document:
    """The handout's Markdown lines, the images they show and where PDF pages begin."""

    lines: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    at: dict[int, Image] = field(default_factory=dict)  # the line that shows each image
    sections: set[int] = field(default_factory=set)  # lines that start a PDF page (step headings)

    def add(self, *lines: str) -> None:
        if (
            self.lines
            and self.lines[-1].startswith("- ")
            and lines
            and not lines[0].startswith("- ")
        ):
            self.lines.append("")  # a paragraph after a list
        self.lines.extend(lines)

    def bullet(self, line: str) -> None:
        self.lines.append(line)  # consecutive bullets: one tight list

    def image(self, img: Image) -> None:
        self.images.append(img)
        self.add(f"![{img.alt}]({IMAGES}/{img.name})", "")
        self.at[len(self.lines) - 2] = img

    def section(self, heading: str) -> None:
        """A step's heading: in the PDF, its section starts a page."""
        self.add(heading, "")
        self.sections.add(len(self.lines) - 2)

    def parts(self) -> list[tuple[Literal["page", "text", "image"], Any]]:
        """The document in order: page breaks, Markdown between the images, the images."""
        out: list[tuple[Literal["page", "text", "image"], Any]] = []
        chunk: list[str] = []

        def flush() -> None:
            text = "\n".join(chunk).strip("\n")
            if text:
                out.append(("text", text))
            chunk.clear()

        for i, line in enumerate(self.lines):
            if i in self.sections:
                flush()
                out.append(("page", None))
            if i in self.at:
                flush()
                out.append(("image", self.at[i]))
            else:
                chunk.append(line)
        flush()
        return out


# ------------------------------------------------------------------ content
def _cells(trace: Trace) -> list[dict[str, Any]]:
    cells = [c for c in trace.scenario.cells if c.get("text", "").strip()]
    if cells:
        return cells
    return (
        [{"kind": "code", "text": trace.scenario.source, "line": 1}]
        if trace.scenario.source
        else []
    )


def _only_docstring(code: str) -> bool:
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    return (
        len(body) == 1
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
    )


def _steps_by_cell(trace: Trace, cells: list[dict[str, Any]]) -> dict[int, list[Step]]:
    """Each step under the cell that holds its line (a step without a line follows the one before)."""
    starts = [(c.get("line") or 1, i) for i, c in enumerate(cells) if c.get("kind") == "code"]
    out: dict[int, list[Step]] = {}
    current = starts[0][1] if starts else -1
    for step in trace.steps:
        if step.line is not None:
            owners = [i for start, i in starts if start <= step.line]
            current = owners[-1] if owners else current
        out.setdefault(current, []).append(step)
    return out


def _wanted(step: Step, per: Per) -> bool:
    if per == "step":
        return True
    return step.kind in ("pass_start", "compute", "accumulate", "error")


def _figures(doc: Document, step: Step) -> None:
    """What the step drew with matplotlib, as the notebook showed it (record.figures)."""
    number = step_number(step.index)
    for j, figure in enumerate(step.figures):
        if figure.png:
            name = f"step_{number:03d}_figure_{j + 1}.png"
            doc.image(
                Image(
                    name,
                    figure.title or f"figure {figure.number}",
                    step.index,
                    "figure",
                    j,
                    (figure.width, figure.height),
                )
            )
        else:
            doc.add(f"*{figure_note(figure)}*", "")


def _step_section(
    doc: Document, trace: Trace, step: Step, per: Per, exercise: bool = False
) -> None:
    where = f" (line {step.line})" if step.line is not None else ""
    number = step_number(step.index)  # numbered as in the window, from 1
    printed = step.output.strip() if not exercise else ""  # an exercise's print: an answer
    what = step_what(trace, step, where=False)  # its node titled as in the graph below
    if not _wanted(step, per):
        detail = f" → `{printed.splitlines()[0]}`" if printed else ""
        doc.bullet(f"- step {number}{where}: {what}{detail}")
        _figures(doc, step)
        return
    doc.section(f"### Step {number}{where}: {what}")
    doc.image(Image(f"step_{number:03d}.png", f"graph at step {number}", step.index))
    rec = trace.record_for(step)
    if rec is not None and step.kind in ("compute", "accumulate"):
        blanks = exercise_blanks(trace, step.index) if exercise else NONE
        for line in chain_lines(trace, step, blanks=blanks):
            doc.add(f"Chain rule: `{line}`", "")
        if rec.formula and step.kind == "compute":
            doc.add(f"Local derivative: {rec.formula}", "")
        if step.kind == "compute" and not exercise and tangent_plot(trace, rec) is not None:
            doc.image(
                Image(f"step_{number:03d}_slope.png", "derivative = slope", step.index, "tangent")
            )
    if printed:
        doc.add("```text", step.output.rstrip(), "```", "")
    _figures(doc, step)


def build_markdown(trace: Trace, per: Per = "node", exercise: bool = False) -> Document:
    """The handout's Markdown and the images it refers to (not rendered yet); ``exercise``:
    the gradients a quiz hides are "?" on every page, with an answer page at the end."""
    doc = Document()
    info = trace.scenario
    # an exercise's notes keep their words, not the numbers that are its answers
    notes = Spoilers(trace).hide if exercise else str
    title = info.title or Path(info.path).stem or "gradstep scenario"
    doc.add(f"# {notes(title)}", "")
    if info.summary:
        doc.add(notes(info.summary.strip()), "")
    name = Path(info.path).name
    doc.add(
        f"*A walk through `{name}` with gradstep: {len(trace.steps)} steps, "
        f"{len(trace.passes)} backward pass{'es' if len(trace.passes) != 1 else ''}.*",
        "",
    )
    for loop in trace.loops:  # a long loop's later rounds are summarised: say which are not
        doc.add(f"*{loop_sentence(trace, loop, markdown=True)}*", "")
    for note in run_notes(trace):  # what the run did that no step shows
        doc.add(f"*{note}*", "")
    if exercise:
        doc.add(
            "*Exercise: predict each `?` (the gradients each node sends back, and each "
            "leaf's new `.grad`; in the notes, the numbers that would give them away); "
            "the answers are on the last page.*",
            "",
        )
    cells = _cells(trace)
    by_cell = _steps_by_cell(trace, cells)
    for i, cell in enumerate(cells):
        text = cell["text"].rstrip()
        if cell.get("kind") == "markdown":
            doc.add(notes(text), "")
            continue
        if not _only_docstring(text):
            doc.add("```python", text, "```", "")
        for step in by_cell.get(i, []):
            _step_section(doc, trace, step, per, exercise)
    for step in by_cell.get(-1, []):
        _step_section(doc, trace, step, per, exercise)
    if trace.error is not None:
        e = trace.error
        at = f" at line {e.line}" if e.line is not None else ""
        doc.add(f"> **The scenario stopped{at}:** {e.type}: {e.message}", "")
    if exercise:  # the plots across passes would give the answers away
        _answer_page(doc, trace)
        return doc
    flow = gradient_flow(trace)
    series = pass_series(trace)
    if (flow is not None and len(flow.params) >= 2) or len(series.passes) >= 2:
        doc.add("## Across parameters and passes", "")
    if flow is not None and len(flow.params) >= 2:
        doc.add(
            f"Gradient magnitude per parameter in pass {flow.pass_index + 1}"
            + (f" — {flow.verdict}." if flow.verdict else "."),
            "",
        )
        doc.image(Image("gradient_flow.png", "gradient flow", kind="flow"))
    if len(series.passes) >= 2:
        doc.add("The loss and each leaf's `.grad` after every backward pass.", "")
        doc.image(Image("passes.png", "across passes", kind="passes"))
    return doc


def _answer_page(doc: Document, trace: Trace) -> None:
    """Each blank's value, as the app shows it, in step order."""
    doc.section("## Answers")
    rows = answers(trace)
    if not rows:
        doc.add("No backward step: nothing to predict.", "")
    for a in rows:
        doc.bullet(f"- step {a.step}: {a.node} → {a.target}: `{a.value}`")
    doc.add("")
