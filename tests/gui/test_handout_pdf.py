"""The handout's PDF: graphs as vector with their labels as text, fonts embedded, a page per step.

Checked by reading the PDF: its objects directly (no images, embedded font
files) and, where poppler-utils is installed, through ``pdftotext``,
``pdfimages`` and ``pdffonts``, as a reader of the PDF would see it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradstep.gui.export.book import Book, _cut
from gradstep.gui.export.handout import write_handout
from gradstep.plotting.labels import chain_lines
from gradstep.trace.model import Trace
from gradstep.trace.text import step_what

GOLDEN = Path(__file__).parent / "golden"  # the trace of resources/scenarios/02_sin_of_square.py
ROOT = Path(__file__).parents[2]
SIN = ROOT / "resources" / "scenarios" / "02_sin_of_square.py"
NODE_KINDS = ("pass_start", "compute", "accumulate", "error")  # the steps a per-node handout shows

needs_poppler = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdftotext", "pdfimages", "pdffonts")),
    reason="needs poppler-utils",
)


def _golden() -> dict:
    return json.loads((GOLDEN / "sin_of_square.trace.json").read_text())


@pytest.fixture(scope="module")
def trace() -> Trace:
    return Trace.from_dict(_golden())


@pytest.fixture(scope="module")
def pdf(qapp, trace, tmp_path_factory) -> Path:
    out = write_handout(trace, tmp_path_factory.mktemp("pdf") / "handout", per="node", pdf=True)
    return out / "handout.pdf"


def _run(*args: str | Path) -> str:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True).stdout


def _pages(path: Path) -> list[str]:
    """The text of each page, whitespace collapsed."""
    pages = _run("pdftotext", path, "-").split("\f")
    return [" ".join(p.split()) for p in pages[:-1]]  # pdftotext ends every page with \f


def _page_count(raw: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", raw))


def _assert_vector_with_embedded_fonts(path: Path) -> None:
    raw = path.read_bytes()
    assert raw.startswith(b"%PDF")
    assert b"/Subtype /Image" not in raw, "the PDF holds pictures: the figures must be vector"
    fonts = raw.count(b"/Type /FontDescriptor")
    assert fonts >= 2 and raw.count(b"/FontFile2") == fonts, "every font embedded"
    if shutil.which("pdfimages") and shutil.which("pdffonts"):
        listed = _run("pdfimages", "-list", path).strip().splitlines()
        assert listed[2:] == [], "pdfimages finds pictures in the PDF:\n" + "\n".join(listed)
        table = _run("pdffonts", path).splitlines()
        emb = table[0].index(" emb ") + 1
        rows = table[2:]
        assert rows and all(r[emb : emb + 3] == "yes" for r in rows), "\n".join(table)


def test_the_pdf_has_no_pictures_and_embeds_its_fonts(pdf) -> None:
    _assert_vector_with_embedded_fonts(pdf)


@needs_poppler
def test_each_step_has_a_page_with_its_graph_as_text_and_its_chain_rule(pdf, trace) -> None:
    pages = _pages(pdf)
    shown = [s for s in trace.steps if s.kind in NODE_KINDS]
    assert len(shown) == 8
    assert len(pages) == 1 + len(shown)  # the notes and code first, then a page per step
    assert _page_count(pdf.read_bytes()) == len(pages)
    assert pages[0].startswith("z = sin(x²) at x = 4: the chain rule")
    for step, page in zip(shown, pages[1:]):
        # its node titled as in the graph under it: "SinBackward0 (z) computes …"
        heading = f"Step {step.index + 1} (line {step.line}): {step_what(trace, step, where=False)}"
        assert page.startswith(" ".join(heading.split())), (heading, page[:120])
        # the graph's labels are text in the PDF: node names and their ops
        for label in ("x", "y", "z", "leaf", "PowBackward0", "SinBackward0"):
            assert re.search(rf"(^|\s){re.escape(label)}(\s|$)", page), (label, page)
        for line in chain_lines(trace, step):
            assert f"Chain rule: {' '.join(line.split())}" in " ".join(page.split()), page
    # step 11, SinBackward0, as taught: the formula, the input's name and true arithmetic
    assert re.search(
        r"Chain rule: upstream × cos x = downstream → \w+: 1 × -0.9577 = -0.9577", pages[2]
    )


@needs_poppler
def test_the_graphs_are_drawn_at_a_readable_size(pdf, trace) -> None:
    """A small graph is not shrunk: its labels are at least as tall as the body text."""
    sin = next(s for s in trace.steps if s.kind == "compute")
    page = 1 + [s for s in trace.steps if s.kind in NODE_KINDS].index(sin) + 1  # from 1
    words = re.findall(
        r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)<',
        _run("pdftotext", "-bbox", "-f", page, "-l", page, pdf, "-"),
    )
    height: dict[str, float] = {}
    for y0, y1, word in words:  # a word in the graph and in the text: the taller
        height[word] = max(height.get(word, 0.0), float(y1) - float(y0))
    assert height["leaf"] > height["Chain"] and height["PowBackward0"] > height["Chain"]


@needs_poppler
def test_per_step_every_step_once_and_small_steps_share_a_page(qtbot, trace, tmp_path) -> None:
    out = write_handout(trace, tmp_path / "h", per="step", pdf=True)
    _assert_vector_with_embedded_fonts(out / "handout.pdf")
    pages = _pages(out / "handout.pdf")
    # two or more steps to a page where they fit (35 steps took 36 pages)
    assert len(pages) < 1 + len(trace.steps) * 2 / 3, len(pages)
    text = " ".join(pages)  # the notes' page may hold the first steps too
    at = 0
    for step in trace.steps:  # each step's section once, in order, never split from its start
        heading = f"Step {step.index + 1} (line {step.line}): "
        found = text.find(heading, at)
        assert found >= at, heading
        assert text.count(heading) == 1, heading
        at = found + len(heading)
    for page in pages[1:]:  # every later page begins with a step, not the end of one
        assert re.match(r"Step \d+ \(line \d+\): ", page), page[:80]
    # the folder is as before: Markdown and one PNG per step (and the plots)
    md = (out / "handout.md").read_text()
    refs = re.findall(r"!\[[^\]]*\]\((images/[^)]+)\)", md)
    assert sorted(refs) == sorted(f"images/{p.name}" for p in (out / "images").iterdir())
    assert len([r for r in refs if re.fullmatch(r"images/step_\d{3}\.png", r)]) == len(trace.steps)


@needs_poppler
def test_long_notes_and_code_run_over_pages_each_line_once(qtbot, tmp_path) -> None:
    data = _golden()
    notes = "\n\n".join(
        (f"### Part {i}\n\n" if i % 10 == 0 else "")
        + f"Paragraph {i} starts. "
        + "Autograd multiplies the local derivatives on the way back. " * 5
        + f"Paragraph {i} ends."
        for i in range(60)
    )
    code = "\n".join(f"v{i} = {i}" for i in range(100))
    data["scenario"]["cells"][1:1] = [
        {"kind": "markdown", "line": 2, "text": notes},
        {"kind": "code", "line": 3, "text": code},
    ]
    trace = Trace.from_dict(data)
    out = write_handout(trace, tmp_path / "h", per="node", pdf=True)
    raw = _run("pdftotext", out / "handout.pdf", "-")
    pages = raw.split("\f")[:-1]
    first_step = next(i for i, p in enumerate(pages) if p.startswith("Step "))
    assert first_step >= 3, "the notes and code take pages of their own"
    text = " ".join(raw.split())
    for i in range(60):  # a paragraph cut between two pages: each line on one of them
        assert text.count(f"Paragraph {i} starts.") == 1
        assert text.count(f"Paragraph {i} ends.") == 1
    lines = [line.strip() for line in raw.replace("\f", "\n").splitlines()]
    assert [line for line in lines if re.fullmatch(r"v\d+ = \d+", line)] == code.splitlines()
    for page in pages[:first_step]:  # no heading left alone at the bottom of a page
        last = [line for line in page.splitlines() if line.strip()][-1]
        assert not re.fullmatch(r"Part \d+", last.strip()), page[-200:]


def test_a_cut_never_leaves_a_heading_last_or_goes_through_a_line() -> None:
    lines = [(0.0, 10.0, False), (10.0, 20.0, False), (20.0, 30.0, True), (30.0, 40.0, False)]
    assert _cut(lines, 0.0, 35.0) == 20.0  # the heading goes over with its text
    assert _cut(lines, 0.0, 25.0) == 20.0
    assert _cut(lines, 0.0, 45.0) == 45.0
    assert _cut(lines, 20.0, 35.0) == 30.0  # a heading at the top stays: its text follows
    beside = [(0.0, 10.0, False), (10.0, 20.0, False), (12.0, 30.0, False)]  # a table's columns
    assert _cut(beside, 0.0, 25.0) == 10.0


def test_a_failed_pdf_leaves_the_previous_handout(qtbot, trace, tmp_path, monkeypatch) -> None:
    out = write_handout(trace, tmp_path / "h", per="node")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def interrupted(*args, **kwargs) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Book, "graph", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_handout(trace, out, per="node", pdf=True)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before and not (out / "handout.pdf").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["h"]  # no temporary folder left


def test_cli_handout_pdf_without_a_display(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run(
        [sys.executable, "-m", "gradstep", "handout", str(SIN), "-o", "out", "--pdf"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    pdf = tmp_path / "out" / "handout.pdf"
    _assert_vector_with_embedded_fonts(pdf)
    assert (tmp_path / "out" / "handout.md").read_text().startswith("# z = sin(x²) at x = 4")
    if shutil.which("pdftotext"):
        pages = _pages(pdf)
        steps = [p for p in pages if re.match(r"Step \d+ \(line \d+\): ", p)]
        assert len(steps) == len(pages) - 1 == 8
        text = " ".join(pages)
        for label in ("PowBackward0", "SinBackward0", "leaf"):
            assert label in text
        assert "Chain rule: upstream × cos x = downstream → y: 1 × -0.9577 = -0.9577" in text
        assert "Chain rule: upstream × n·xⁿ⁻¹ = downstream → x: -0.95766 × 8 = -7.661" in text
