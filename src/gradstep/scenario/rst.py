"""reStructuredText notes as Markdown: what sphinx-gallery files (every PyTorch tutorial)
write in their module docstring and text blocks.

The notes panel, the lesson page and the handout all render Markdown, so rst is
converted once, when the scenario is loaded. docutils parses it (the reference
parser: sections, lists, literal blocks, directives, tables), and
:class:`_Markdown` writes the tree back out as Markdown. What Sphinx adds to rst
(``:class:``, ``:func:``, ``.. seealso::``...) is registered here so that it reads
as what it means instead of an "unknown role" error.

Parsing never reads or fetches anything: ``.. include::``, ``.. raw::`` and
``:file:``/``:url:`` options are turned off, and what docutils refuses or does
not know is dropped (an unknown directive leaves a short "not shown" mark).

Heading levels are kept across a file's notes: the first adornment style met
(usually the docstring title's ``====``) is level 1, the next new one level 2,
and so on, as rst itself ranks them, so a text block's ``Section\\n-------`` is
a level-2 heading even though the block is converted on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: a section title's adornment line: one punctuation character repeated
_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+\s*$")

#: roles Sphinx adds whose text names code (``:class:`torch.Tensor```): shown as code
_CODE_ROLES = (
    "class",
    "func",
    "meth",
    "attr",
    "mod",
    "obj",
    "data",
    "exc",
    "const",
    "any",
    "kbd",
    "file",
    "command",
    "program",
    "envvar",
    "option",
    "samp",
)
#: directives docutils itself renders (everything else is registered below or dropped)
_DOCUTILS_DIRECTIVES = frozenset(
    re.findall(
        r"\S+",
        """attention caution danger error hint important note tip warning admonition
        code code-block sourcecode math figure image list-table csv-table table topic
        sidebar rubric epigraph highlights pull-quote compound container line-block
        parsed-literal replace unicode date class role default-role title
        include raw meta header footer sectnum contents target-notes""",
    )
)
_DOCUTILS_ROLES = frozenset(
    re.findall(
        r"\S+",
        """math emphasis strong literal code sub subscript sup superscript title-reference
        title t abbreviation ab acronym ac pep-reference pep rfc-reference rfc raw""",
    )
)
_ROLE_NAME = re.compile(r":((?:[A-Za-z][\w+.-]*:)?[A-Za-z][\w+.-]*):`")
_DIRECTIVE_NAME = re.compile(r"^\s*\.\.\s+([\w:+.-]+)\s*::", re.MULTILINE)


@dataclass
class Headings:
    """What one file's notes share: the adornment styles met so far, in order (a style's
    heading level), and how many more texts docutils may read. A tutorial has tens of
    text blocks; each costs about a millisecond, so a file made of many thousands (it
    is read before any time limit applies) has the rest shown as written."""

    styles: list[str] = field(default_factory=list)
    texts_left: int = 2000

    def level(self, style: str) -> int:
        if style not in self.styles:
            self.styles.append(style)
        return min(self.styles.index(style) + 1, 6)


@dataclass
class Docstring:
    """A module docstring in rst: its title, the summary under it, the rest as a note."""

    title: str
    summary: str  # Markdown
    rest: str  # Markdown; "" when the summary was all there is
    rest_line: int  # the docstring's line (1-based, in the text given) where the rest starts


def has_title(text: str) -> bool:
    """Whether ``text`` has an rst section title: a line underlined (or over- and
    underlined) with one punctuation character repeated at least as long as it."""
    lines = [line.rstrip() for line in text.split("\n")]
    for i in range(len(lines) - 1):
        title, under = lines[i], lines[i + 1]
        if not title.strip() or _ADORNMENT.match(title) or not _ADORNMENT.match(under):
            continue
        overlined = i > 0 and lines[i - 1] == under
        if overlined or (len(under) >= len(title) and not title[0].isspace()):
            return True
    return False


def docstring(text: str, headings: Headings) -> Docstring | None:
    """Title, summary and rest of an rst docstring with a section title; None without one
    (or if docutils cannot make sense of it), so that the plain reading applies.

    The title is the first section title: what comes before it (a tutorial series'
    navigation line, a label) is skipped. The summary is the first paragraph under it,
    with an author line before that paragraph kept with it."""
    if not has_title(text):
        return None
    try:
        from docutils import nodes

        tree = _parse(text)
        section = next(iter(tree.findall(nodes.section)), None)
        if section is None or not isinstance(section[0], nodes.title):
            return None
        writer = _Markdown(text, headings)
        headings.level(writer.style(section[0]))  # the title's style ranks first
        body = list(section.children[1:])
        body += [n for n in _after(section) if not isinstance(n, nodes.system_message)]
        paragraphs = (
            i for i, n in enumerate(body) if isinstance(n, nodes.paragraph) and not _is_byline(n)
        )
        cut = next(paragraphs, len(body) - 1) + 1
        summary = writer.blocks(body[:cut])
        rest = body[cut:]
        line = next((n.line for n in rest if getattr(n, "line", None)), None) or 1
        return Docstring(section[0].astext().strip(), summary, writer.blocks(rest), line)
    except Exception:  # docutils on text it was never meant for: read it plainly
        return None


def to_markdown(text: str, headings: Headings) -> str:
    """An rst text as Markdown; the text itself if docutils fails or the file's budget of
    texts is spent."""
    headings.texts_left -= 1
    if headings.texts_left < 0:
        return text
    try:
        return _Markdown(text, headings).blocks(list(_parse(text).children))
    except Exception:
        return text


def _after(section: Any) -> list[Any]:
    """The nodes that follow ``section`` at its level (further top-level sections)."""
    parent = section.parent
    return list(parent.children[parent.index(section) + 1 :])


def _is_byline(paragraph: Any) -> bool:
    """``**Author:** `Name <url>`_``: who wrote it, not what it is about."""
    from docutils import nodes

    kids = paragraph.children
    if not kids or not isinstance(kids[0], nodes.strong):
        return False
    after = kids[1].astext() if len(kids) > 1 else ""
    return kids[0].astext().strip().endswith(":") or after.startswith(":")


# ------------------------------------------------------------------ parsing


def _parse(text: str) -> Any:
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    if max(map(len, text.split("\n")), default=0) > _LINE_LENGTH_LIMIT:
        raise ValueError("a line too long for docutils")  # it would drop the line
    _register_sphinx_names(text)
    document = new_document("<notes>", _settings().copy())
    Parser().parse(text, document)
    return document


_SETTINGS: Any = None
#: docutils' own bound on a line (its guard against slow inline parsing): a longer line
#: is dropped with an error, so such a text is shown as written instead
_LINE_LENGTH_LIMIT = 10_000


def _settings() -> Any:
    """docutils' settings for notes, made once (building them is most of a short parse)."""
    global _SETTINGS
    if _SETTINGS is None:
        from docutils.frontend import get_default_settings
        from docutils.parsers.rst import Parser

        settings = get_default_settings(Parser)
        settings.report_level = 5  # nothing printed
        settings.halt_level = 5  # nothing raised: a bad construct becomes a system_message
        settings.warning_stream = False  # no output at all
        settings.file_insertion_enabled = False  # .. include::, :file: options
        settings.raw_enabled = False  # .. raw:: (and its :file:/:url:)
        settings.syntax_highlight = "none"  # a literal block stays one text node
        settings.line_length_limit = _LINE_LENGTH_LIMIT
        _SETTINGS = settings
    return _SETTINGS


_registered: set[str] = set()


def _register_sphinx_names(text: str) -> None:
    """Register the roles and directives ``text`` uses that docutils does not know
    (Sphinx's), once per process: docutils keeps one registry."""
    from docutils.parsers.rst import directives, roles

    for name in set(_ROLE_NAME.findall(text)) - _DOCUTILS_ROLES - _registered:
        roles.register_local_role(name, _sphinx_role)
        _registered.add(name)
    for name in set(_DIRECTIVE_NAME.findall(text)) - _DOCUTILS_DIRECTIVES - _registered:
        directives.register_directive(name, _sphinx_directive(name))
        _registered.add(name)


def _sphinx_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Any,
    options: Any = None,
    content: Any = None,
) -> tuple[list[Any], list[Any]]:
    """``:class:`~torch.Tensor``` → ``Tensor`` as code; ``:ref:`Title <label>``` → Title."""
    from docutils import nodes

    shown = text.strip()
    explicit = re.match(r"^(.*?)\s*<[^<>]*>$", shown, re.DOTALL)
    if explicit and explicit.group(1):
        shown = explicit.group(1)
    else:
        shown = shown.lstrip("!")
        if shown.startswith("~"):
            shown = shown[1:].rsplit(".", 1)[-1]
    role = name.rsplit(":", 1)[-1]
    if role in _CODE_ROLES or name.startswith("py:"):
        return [nodes.literal(rawtext, shown)], []
    return [nodes.Text(shown)], []


_VERSIONS = {
    "versionadded": "New in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
}


def _sphinx_directive(name: str) -> Any:
    """A directive class for Sphinx's ``name``: an admonition for ``seealso``, a version
    note for ``versionadded`` and kin, the content for ``only``/``hlist``/``glossary``,
    and a short "not shown" mark for the rest (``mermaid``, ``toctree``, cards...)."""
    from docutils import nodes
    from docutils.parsers.rst import Directive

    class SphinxDirective(Directive):
        has_content = True
        # a version directive's version, then (on the same or the next lines) its text
        optional_arguments = 2 if name in _VERSIONS else 1
        final_argument_whitespace = True
        option_spec = None  # any option is accepted and ignored

        def run(self) -> list[Any]:
            if name == "seealso":
                box = nodes.admonition()
                box += nodes.title("", "See also")
                box += [self.paragraph(a) for a in self.arguments]
                box += self.body()
                return [box]
            if name in _VERSIONS:
                head = f"{_VERSIONS[name]} {self.arguments[0] if self.arguments else ''}"
                para = nodes.paragraph("", "")
                para += nodes.emphasis("", head.strip() + ".")
                return [para, *(self.paragraph(a) for a in self.arguments[1:]), *self.body()]
            if name in ("only", "hlist", "glossary", "centered", "tabularcolumns"):
                return self.body()
            para = nodes.paragraph("", "")
            para += nodes.emphasis("", f"({name}: not shown here)")
            return [para]

        def body(self) -> list[Any]:
            """The directive's content, parsed as rst."""
            box = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, box)
            return list(box.children)

        def paragraph(self, text: str) -> Any:
            """``text`` with its inline markup, as a paragraph."""
            inline, _ = self.state.inline_text(text, self.lineno)
            return nodes.paragraph(text, "", *inline)

    return SphinxDirective


# ------------------------------------------------------------------ writing

_ADMONITION_TITLES = {
    "attention": "Attention",
    "caution": "Caution",
    "danger": "Danger",
    "error": "Error",
    "hint": "Hint",
    "important": "Important",
    "note": "Note",
    "tip": "Tip",
    "warning": "Warning",
}
#: what starts a Markdown block (heading, quote, list, rule) at a paragraph's beginning;
#: a ``*`` there is the writer's own emphasis (a star of the text is escaped already)
_BLOCK_START = re.compile(r"^(\s*)([#>+-]|\d{1,9}[.)](?=\s|$))")
_SKIPPED = (
    "comment",
    "target",
    "substitution_definition",
    "system_message",
    "raw",
    "pending",
    "decoration",
    "transition",  # a rule would read as the line between two notes
    "meta",
)


class _Markdown:
    """Writes docutils nodes as Markdown."""

    def __init__(self, source: str, headings: Headings) -> None:
        self.lines = source.split("\n")
        self.headings = headings

    def style(self, title: Any) -> str:
        """A title's adornment: its character, and whether it has an overline too."""
        line = title.line or title.parent.line or 0
        under = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        char = under[:1] or "="
        over = line >= 3 and self.lines[line - 3].strip()[:1] == char
        return char * (2 if over else 1)

    # -- blocks

    def blocks(self, nodes_: list[Any]) -> str:
        parts = [self.block(n) for n in nodes_]
        return "\n\n".join(p for p in parts if p.strip()).strip("\n")

    def block(self, node: Any) -> str:
        from docutils import nodes

        kind = type(node).__name__
        if kind in _SKIPPED:
            return ""
        if isinstance(node, nodes.section):
            return self.blocks(list(node.children))
        if isinstance(node, nodes.title):
            level = self.headings.level(self.style(node))
            return "#" * level + " " + self.inline(node).strip()
        if isinstance(node, nodes.paragraph):
            return _escape_start(self.inline(node).strip())
        if isinstance(node, (nodes.literal_block, nodes.doctest_block)):
            classes = [str(c) for c in node["classes"] if c != "code"]
            lang = "python" if isinstance(node, nodes.doctest_block) else (classes or [""])[0]
            return _fence(node.astext(), lang)
        if isinstance(node, nodes.math_block):
            return _fence(math_text(node.astext()), "")
        if isinstance(node, nodes.bullet_list):
            return "\n".join(self.item("- ", item) for item in node.children)
        if isinstance(node, nodes.enumerated_list):
            start = int(node.get("start", 1))
            return "\n".join(
                self.item(f"{start + i}. ", item) for i, item in enumerate(node.children)
            )
        if isinstance(node, nodes.definition_list):
            return "\n".join(self.definition(item) for item in node.children)
        if isinstance(node, nodes.field_list):
            return "\n\n".join(self.field(f) for f in node.children)
        if isinstance(node, nodes.Admonition):
            return self.admonition(node)
        if isinstance(node, nodes.block_quote):
            return _quote(self.blocks(list(node.children)))
        if isinstance(node, nodes.line_block):
            return "\\\n".join(self.inline(line) for line in node.findall(nodes.line))
        if isinstance(node, nodes.table):
            return self.table(node)
        if isinstance(node, (nodes.figure, nodes.image)):
            return self.figure(node)
        if isinstance(node, (nodes.topic, nodes.sidebar)):
            head = node[0] if len(node) and isinstance(node[0], nodes.title) else None
            body = self.blocks([c for c in node.children if c is not head])
            return (f"**{self.inline(head).strip()}**\n\n" if head else "") + body
        if isinstance(node, nodes.rubric):
            return f"**{self.inline(node).strip()}**"
        if isinstance(node, (nodes.footnote, nodes.citation)):
            label = node[0].astext() if len(node) and isinstance(node[0], nodes.label) else ""
            body = self.blocks([c for c in node.children if not isinstance(c, nodes.label)])
            return f"[{label}] {body}" if label else body
        if isinstance(node, nodes.Element) and any(
            isinstance(c, nodes.Element) and not isinstance(c, nodes.Inline) for c in node
        ):
            return self.blocks(list(node.children))  # containers, compounds, option lists...
        return _escape_start(self.inline(node).strip())

    def item(self, marker: str, item: Any) -> str:
        return _list_item(marker, self.blocks(list(item.children)))

    def definition(self, item: Any) -> str:
        from docutils import nodes

        term = " ".join(self.inline(t).strip() for t in item.findall(nodes.term))
        defs = [c for c in item.children if isinstance(c, nodes.definition)]
        body = self.blocks([x for d in defs for x in d.children])
        return _list_item("- ", f"**{term}**" + (f"\n\n{body}" if body else ""))

    def field(self, node: Any) -> str:
        name, body = node[0], node[1]
        text = self.blocks(list(body.children))
        return f"**{self.inline(name).strip()}:** {text}"

    def admonition(self, node: Any) -> str:
        from docutils import nodes

        kind = type(node).__name__
        children = list(node.children)
        if children and isinstance(children[0], nodes.title):
            head = self.inline(children.pop(0)).strip()
        else:
            head = _ADMONITION_TITLES.get(kind, kind.title())
        body = self.blocks(children)
        return _quote(f"**{head}:** {body}" if body else f"**{head}**")

    def table(self, node: Any) -> str:
        from docutils import nodes

        rows: list[list[str]] = []
        header = 0
        for group in node.findall(nodes.thead):
            header = len(list(group.findall(nodes.row)))
        for row in node.findall(nodes.row):
            cells = []
            for entry in row.findall(nodes.entry):
                text = " ".join(self.inline_blocks(entry).split("\n"))
                cells.append(text.replace("|", "\\|").strip())
            rows.append(cells)
        if not rows:
            return ""
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        head, body = (rows[0], rows[1:]) if header or len(rows) > 1 else ([""] * width, rows)
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * width]
        out += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(out)

    def inline_blocks(self, node: Any) -> str:
        """A table cell's paragraphs on one line (a cell holds no blocks in Markdown)."""
        return " ".join(self.block(c) for c in node.children)

    def figure(self, node: Any) -> str:
        from docutils import nodes

        images = [node] if isinstance(node, nodes.image) else list(node.findall(nodes.image))
        caption = " ".join(self.inline(c).strip() for c in node.findall(nodes.caption))
        alt = next((i.get("alt", "") for i in images if i.get("alt")), "")
        uri = next((i.get("uri", "") for i in images), "")
        what = caption or alt.strip() or uri.rsplit("/", 1)[-1]
        shown = f"*(figure: {_escape(what)})*" if what else "*(a figure)*"
        legend = [c for c in node.children if isinstance(c, nodes.legend)]
        return shown + ("\n\n" + self.blocks(legend) if legend else "")

    # -- inline

    def inline(self, node: Any) -> str:
        from docutils import nodes

        if isinstance(node, nodes.Text):
            return _escape(node.astext().replace("\n", " "))
        kind = type(node).__name__
        if kind in _SKIPPED or isinstance(node, (nodes.target, nodes.image)):
            return ""
        inner = "".join(self.inline(c) for c in node.children)
        if isinstance(node, nodes.strong):
            return _wrap("**", inner)
        if isinstance(node, nodes.emphasis):
            return _wrap("*", inner)
        if isinstance(node, (nodes.literal, nodes.title_reference)):
            return _code(node.astext())
        if isinstance(node, nodes.math):
            return _code(math_text(node.astext()))
        if isinstance(node, nodes.reference):
            uri = node.get("refuri", "")
            if re.match(r"^(https?|mailto):", uri) and inner.strip():
                if node.astext().strip() == uri:
                    return f"<{uri}>"  # a bare address: shown as itself
                return f"[{inner}]({_destination(uri)})"
            return inner
        if isinstance(node, nodes.footnote_reference):
            return f"[{node.astext()}]"
        if isinstance(node, nodes.problematic):
            return _escape(node.astext())
        return inner


def _list_item(marker: str, body: str) -> str:
    """``body`` after a list marker, its further lines indented to stay in the item."""
    pad = " " * len(marker)
    lines = body.split("\n")
    return marker + lines[0] + "".join("\n" + (pad + ln if ln else "") for ln in lines[1:])


def math_text(latex: str) -> str:
    """LaTeX as Unicode text, as far as it goes: ``\\frac{\\partial L}{\\partial x}`` →
    ``∂L/∂x``, ``\\vec{x}`` → ``x⃗``; the LaTeX itself where pylatexenc gives up."""
    try:
        latex = _dot_products(_PLAIN_MACROS.sub("", latex))
        text = _latex_converter().latex_to_text(latex)
    except Exception:
        return latex.strip()
    if "%s" in text:  # a macro without its arguments (``\\frac{``): pylatexenc's template
        return latex.strip()
    text = re.sub(r"([∂∇]) ", r"\1", re.sub(r"[ \t]+", " ", text))  # ∂L, not ∂ L
    return text.strip() or latex.strip()


_converter: Any = None

#: font macros whose letters pylatexenc writes as mathematical alphanumerics (𝐱), which
#: many fonts lack: the letters are kept plain
_PLAIN_MACROS = re.compile(r"\\(?:mathbf|boldsymbol|bm|mathsf|mathrm|mathit|operatorname)\b")


#: a fraction right after a group: a product, written with a dot (∂L/∂y · ∂y/∂x), since
#: pylatexenc's a/b signs would run together (∂L/∂y∂y/∂x)
_ADJACENT_FRACTIONS = re.compile(r"\}\s*(?=\\[dt]?frac(?![A-Za-z]))")
#: ...but not after an environment's name or column spec (``\\begin{array}{cc}\\frac``)
_ENVIRONMENT_OPEN = re.compile(r"\\(?:begin|end)\{[^{}]*$|\\begin\{[^{}]*\}\{[^{}]*$")


def _dot_products(latex: str) -> str:
    def dot(m: re.Match[str]) -> str:
        return m.group(0) if _ENVIRONMENT_OPEN.search(latex[: m.start()]) else "} · "

    return _ADJACENT_FRACTIONS.sub(dot, latex)


def _latex_converter() -> Any:
    global _converter
    if _converter is None:
        from pylatexenc.latex2text import LatexNodes2Text

        # spaces as the source has them: "R^D \\to R^D" → "R^D → R^D", not "R^D →R^D"
        _converter = LatexNodes2Text(math_mode="text", strict_latex_spaces="based-on-source")
    return _converter


def _destination(uri: str) -> str:
    """A link's target as Markdown reads it: in ``<...>`` if it holds spaces or brackets."""
    return f"<{uri.replace('>', '%3E')}>" if re.search(r"[\s()<>]", uri) else uri


def _wrap(mark: str, inner: str) -> str:
    """``*text*``: the marks inside the spaces, where Markdown sees them as emphasis."""
    core = inner.strip()
    if not core:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{mark}{core}{mark}{trail}"


def _code(text: str) -> str:
    text = " ".join(text.split("\n"))
    ticks = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (ticks + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fence(text: str, lang: str) -> str:
    ticks = max((len(m) for m in re.findall(r"^\s*(`{3,})", text, re.MULTILINE)), default=2)
    fence = "`" * max(3, ticks + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.split("\n"))


#: what Markdown would read as markup inside running text
_INLINE_MARKUP = re.compile(r"([\\`*\[\]<]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def _escape(text: str) -> str:
    return _INLINE_MARKUP.sub(r"\\\1", text)


def _escape_start(text: str) -> str:
    """A paragraph that would begin a heading, list, quote or table in Markdown does not."""
    m = _BLOCK_START.match(text)
    if not m:
        return text
    at = len(m.group(1)) + len(m.group(2)) - 1
    return text[:at] + "\\" + text[at:]
