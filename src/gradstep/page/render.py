"""The page itself: one HTML file with its SVG, styles, script and data inline.

The template, styles and script are package files (``template.html``,
``page.css``, ``page.js``); here they are filled in. Every text from the
scenario is escaped; notes are Markdown rendered without raw HTML, so a
scenario from a course page cannot put a script into the page.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from string import Template

from markdown_it import MarkdownIt

from gradstep import __version__
from gradstep.page.build import EDGE_STATES, NODE_STATES, PageData, PageNode, edge_path
from gradstep.palette import LIGHT

# tables too: a tutorial's rst list-table reaches the notes as a Markdown table
_MD = MarkdownIt("commonmark", {"html": False}).enable("table")


def _asset(name: str) -> str:
    return resources.files("gradstep.page").joinpath(name).read_text(encoding="utf-8")


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def css_variables() -> str:
    """The app's light theme as CSS custom properties (``--current``, ``--done-fill``, ...)."""
    out = []
    for name, value in LIGHT.colours().items():
        out.append(f"--{name.replace('_', '-')}: {value};")
    out.append(f"--faded-opacity: {LIGHT.faded_opacity};")
    out.append(f"--active-edge-width: {LIGHT.active_edge_width}px;")
    return "\n  ".join(out)


# ------------------------------------------------------------------ graph
def _node_svg(i: int, n: PageNode, jump_label: str) -> str:
    x, y, w, h = n.x - n.w / 2, n.y - n.h / 2, n.w, n.h
    radius = h / 2 if n.kind in ("leaf", "constant") else 5.0
    kind = "named" if n.named else n.kind
    parts = [
        f'<g class="node k-{kind}" data-i="{i}" tabindex="-1" role="button" '
        f'aria-label="{_esc(jump_label)}">'
    ]
    if n.kind == "module":  # a stack of cards: there is more inside
        parts.append(
            f'<rect class="back" x="{x + 4:.1f}" y="{y - 4:.1f}" width="{w:.1f}" '
            f'height="{h:.1f}" rx="5"/>'
        )
    parts.append(
        f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
        f'rx="{radius:.1f}"/>'
    )
    if n.subtitle:
        parts.append(
            f'<text class="title" x="{n.x:.1f}" y="{y + 4 + 11.1:.1f}">{_esc(n.title)}</text>'
            f'<text class="sub" x="{n.x:.1f}" y="{y + h - 4 - 2.4:.1f}">{_esc(n.subtitle)}</text>'
        )
    else:
        parts.append(
            f'<text class="title" x="{n.x:.1f}" y="{n.y + 4.2:.1f}">{_esc(n.title)}</text>'
        )
    cx, cy = x + w - 1, y + 1  # the "done" tick, clear of the text
    parts.append(
        f'<g class="tick"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="5.5"/>'
        f'<polyline points="{cx - 2.8:.1f},{cy:.1f} {cx - 0.8:.1f},{cy + 2.2:.1f} '
        f'{cx + 3:.1f},{cy - 2.2:.1f}"/></g>'
    )
    if n.badge is not None:
        tw = len(n.badge[1]) * 9 + 8
        parts.append(
            f'<g class="badge"><rect x="{x + w - tw + 6:.1f}" y="{y - 16:.1f}" width="{tw}" '
            f'height="17" rx="4"/><text x="{x + w - tw / 2 + 6:.1f}" y="{y - 3.5:.1f}">'
            f"{_esc(n.badge[1])}</text></g>"
        )
    parts.append("</g>")
    return "".join(parts)


def graph_svg(data: PageData) -> str:
    x, y, w, h = data.bounds
    out = [
        f'<svg id="graph" xmlns="http://www.w3.org/2000/svg" viewBox="{x:.0f} {y:.0f} '
        f'{w:.0f} {h:.0f}" style="max-width:{w * 1.25:.0f}px" role="group" '
        f'aria-label="Autograd graph: {len(data.nodes)} nodes. Tab to a node, Enter to go to '
        f'its step.">'
    ]
    out.append('<g id="edges">')
    for e in data.edges:
        src, dst = data.nodes[e.u], data.nodes[e.v]
        d, arrow = edge_path(e.points, src, dst)
        pts = " ".join(f"{px:.1f},{py:.1f}" for px, py in arrow)
        out.append(f'<g class="edge"><path d="{d}"/><polygon points="{pts}"/></g>')
    out.append('</g><g id="nodes">')
    trace = data.trace
    for i, n in enumerate(data.nodes):
        what = f"{n.title}, {n.subtitle}" if n.subtitle else n.title
        if n.jump is not None:
            label = f"{what}: go to step {n.jump + 1}"
        else:
            label = f"{what}: not computed in a backward pass"
        if n.id in trace.nodes and trace.nodes[n.id].line:
            label += f" (line {trace.nodes[n.id].line})"
        out.append(_node_svg(i, n, label))
    out.append('</g><g id="labels"></g></svg>')
    return "".join(out)


# ------------------------------------------------------------------ panels
def code_html(source: str) -> str:
    rows = []
    for i, line in enumerate(source.splitlines(), start=1):
        rows.append(f'<li id="L{i}" value="{i}"><code>{_esc(line) or " "}</code></li>')
    return "".join(rows)


def notes_html(data: PageData) -> tuple[str, list[int]]:
    """The markdown cells, each a section; and the line each starts at (to mark the current)."""
    parts, lines = [], []
    for cell in data.trace.scenario.cells:
        text = cell.get("text", "")
        if cell.get("kind") != "markdown" or not text.strip():
            continue
        parts.append(f'<div class="note">{_MD.render(text)}</div>')
        lines.append(int(cell.get("line") or 0))
    if not parts:
        parts.append('<p class="muted">This scenario has no notes.</p>')
    return "".join(parts), lines


def legend_html() -> str:
    entries = [
        ("leaf tensor", "k-leaf"),
        ("operation (grad_fn)", "k-op"),
        ("named intermediate", "k-named"),
        ("current node", "k-op s-current"),
        ("gradient received", "k-op s-received"),
        ("done in this pass", "k-op s-done"),
        ("waiting in this pass", "k-op s-pending"),
    ]
    items = [
        f'<li><svg width="30" height="16" aria-hidden="true"><g class="node {cls}">'
        f'<rect class="box" x="1.5" y="1.5" width="27" height="13" '
        f'rx="{6.5 if "leaf" in cls else 3}"/></g></svg>{label}</li>'
        for label, cls in entries
    ]
    for label, cls in (("gradient flowing now", "e-active"), ("gradient computed", "e-done")):
        items.append(
            f'<li><svg width="30" height="16" aria-hidden="true"><g class="edge {cls}">'
            f'<path d="M2 8H28"/></g></svg>{label}</li>'
        )
    return "".join(items)


# ------------------------------------------------------------------ data
def script_data(data: PageData, note_lines: list[int], start: int = 0) -> str:
    """The steps for the script, compact: per step [line, current, lines, node changes, edge
    changes, label changes]; per node the step a click goes to."""
    doc = {
        "start": start,
        "nodeStates": NODE_STATES,
        "edgeStates": EDGE_STATES,
        "jump": [n.jump if n.jump is not None else -1 for n in data.nodes],
        "badge": [n.badge[0] if n.badge is not None else -1 for n in data.nodes],
        "labelled": [1 if e.labelled else 0 for e in data.edges],
        "labels": data.labels,
        "notes": note_lines,
        "steps": [
            [s.line or 0, s.current, s.lines, s.nodes, s.edges, s.labels] for s in data.steps
        ],
    }
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    # inside <script> no "<" at all: "</script>" would close it early, "<!--" start a comment
    return text.replace("<", "\\u003c")


def page_html(data: PageData, *, start: int = 0) -> str:
    trace = data.trace
    scenario = trace.scenario
    title = scenario.title or scenario.path or "gradstep lesson"
    notes, note_lines = notes_html(data)
    n = len(data.steps)
    return Template(_asset("template.html")).substitute(
        title=_esc(title),
        summary=_MD.render(scenario.summary) if scenario.summary.strip() else "",
        palette=css_variables(),
        css=_asset("page.css"),
        js=_asset("page.js"),
        graph=graph_svg(data),
        code=code_html(scenario.source),
        notes=notes,
        legend=legend_html(),
        steps=n,
        data=script_data(data, note_lines, start),
        version=_esc(__version__),
        source=_esc(scenario.path.rsplit("/", 1)[-1] if scenario.path else ""),
    )
