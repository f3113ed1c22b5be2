"""The inspector panel: what the current (or pinned) node received, computed and passed on."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from gradstep.graph.model import constant_consumer, is_constant
from gradstep.gui.panels.chain_html import rule_html
from gradstep.gui.panels.panel import FollowsSession
from gradstep.gui.panels.tensor_html import pre, tensor_html
from gradstep.gui.theme import Theme
from gradstep.session import Selection, Session, StepState
from gradstep.trace.blocks import columns, shape_text, side_by_side, tensor_lines
from gradstep.trace.chainrule import node_label, rule_as_of
from gradstep.trace.chainrule.view import constant_label
from gradstep.trace.model import BackwardPass, GraphNode, NodeRecord, TraceError
from gradstep.trace.quiz import HIDDEN, NONE, Blanks, blank_rule
from gradstep.trace.refusals import refusal_list
from gradstep.trace.text import step_label, step_number

_NOW = {
    "receive": "receives its gradient in this step",
    "compute": "computes its outgoing gradients in this step",
    "accumulate": "adds the incoming gradient to .grad in this step",
    "tensor_hook": "its tensor's gradient arrives in this step",
}


#: changes listed for one step, at most (building a model binds all its parameters)
_MAX_CHANGES = 12


class Inspector(QWidget, FollowsSession):
    """Follows the current step's node unless the user pinned another one."""

    pin_changed = Signal(object)  # the pinned node id, or None when following

    def __init__(
        self, theme: Theme, selection: Selection | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("inspector")
        self.session: Session | None = None
        self.pinned: str | None = None
        self.shown_node: str | None = None
        self.blanks: Callable[[StepState], Blanks] = lambda st: NONE  # quiz mode's "?"
        self._banner = QLabel()
        self._follow = QPushButton("Follow current step")
        self._browser = QTextBrowser()
        self._browser.setObjectName("inspector_text")
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 2)
        bar.addWidget(self._banner, 1)
        bar.addWidget(self._follow)
        self._bar = QWidget()
        self._bar.setLayout(bar)
        self._bar.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._bar)
        layout.addWidget(self._browser, 1)
        self.set_theme(theme)
        # the selection is pinned; following the steps again clears it everywhere
        self.selection = selection if selection is not None else Selection()
        self.selection.changed.connect(self.pin)
        self._follow.clicked.connect(lambda: self.selection.set(None))

    # -------------------------------------------------------------- public
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._browser.setFont(theme.ui_font(1.05))
        self._banner.setFont(theme.ui_font())
        if self.session is not None:
            self.show_step(self.session.index)

    def pin(self, node: str | None) -> None:
        """Show ``node`` whatever the step (None: follow the current step again)."""
        if node == self.pinned:
            return
        self.pinned = node
        self.pin_changed.emit(node)
        if self.session is not None:
            self.show_step(self.session.index)

    def unpin(self) -> None:
        self.pin(None)

    def toPlainText(self) -> str:  # noqa: N802 - reads like QTextEdit's, for tests
        return self._browser.toPlainText()

    def html(self) -> str:
        return self._browser.toHtml()

    # ---------------------------------------------------------------- view
    @property
    def _shown(self) -> Session:
        """The session, for the content methods: they run only from ``show_step``, with one."""
        assert self.session is not None
        return self.session

    def _on_trace(self) -> None:
        assert self.session is not None
        if self.pinned is not None and self.pinned not in self.session.trace.nodes:
            self.selection.set(None)
        self.show_step(self.session.index)

    def show_step(self, k: int) -> None:
        if self.session is None:
            return
        st = self.session.state(k)
        node = self.pinned or st.current_node
        if node is None and st.step.kind == "statement" and st.step.new_nodes:
            node = st.step.new_nodes[-1]
        self.shown_node = node
        pinned = self.pinned is not None
        self._bar.setVisible(pinned)
        if pinned:
            label = node_label(self.session.trace, self.pinned)
            self._banner.setText(
                f"Pinned: <b>{escape(str(label))}</b> (Esc: follow the steps again)"
            )
        if node in self.session.trace.nodes:
            body = self._node_html(node, st)
        elif node is not None and is_constant(node):
            body = self._constant_html(node)
        else:
            body = self._step_html(st)
        scroll = self._browser.verticalScrollBar().value()
        self._browser.setHtml(body)
        self._browser.verticalScrollBar().setValue(scroll)

    # ------------------------------------------------------------- content
    def _step_html(self, st: StepState) -> str:
        trace = self._shown.trace
        step = st.step
        count = len(trace.steps)
        out = [f"<h3>{step_label(st.index, count)}: {escape(step.text)}</h3>"]
        if step.kind == "error" and trace.error is not None:
            out.append(self._error_html(trace.error, trace.scenario.notebook_cells))
        bpass = self._shown.pass_at(st.index)
        if bpass is not None:
            out.append(self._pass_html(bpass))
        out.append(self._changes_html(st))
        if step.output.strip():
            out.append(
                f"<p>Printed:</p><pre style='white-space: pre-wrap'>{escape(step.output.strip())}</pre>"
            )
        if step.line:
            out.append(self._source_line(step.line))
        return "".join(out)

    def _error_html(self, error: TraceError, notebook_cells: list[int]) -> str:
        """The error's type and reason; a refusal's further refused constructs as the list
        they are, each with its line (the check reports them all at once)."""
        listed = refusal_list(error.message, notebook_cells)
        colour = self.theme.error_text
        reason = escape(listed.reason).replace("\n", "<br>")
        out = [f"<p style='color:{colour}'><b>{escape(error.type)}</b>: {reason}</p>"]
        if listed.rows:
            rows = "".join(
                f"<li><b>{escape(r.where)}</b>: {escape(r.reason)}</li>"
                if r.where
                else f"<li>{escape(r.reason)}</li>"
                for r in listed.rows
            )
            out.append(f"<p style='color:{colour}'>{escape(listed.head)}</p>")
            out.append(f"<ul style='color:{colour}'>{rows}</ul>")
        return "".join(out)

    def _changes_html(self, st: StepState) -> str:
        """What the step changed, before → after: an update ``x -= lr * x.grad`` moves x,
        ``zero_grad()`` clears the gradients, a new variable appears."""
        changed = st.step.variables
        if not changed or self.session is None:
            return ""
        before = self.session.variables_at(st.index - 1) if st.index > 0 else {}
        t = self._t
        rows: list[str] = []
        for name, new in changed.items():
            old = before.get(name)
            label = f"<b>{escape(name)}</b>"
            if new is None:
                rows.append(f"{label} is no longer bound")
            elif old is None:
                grad = f", .grad = {t(new.grad)}" if new.grad is not None else ""
                rows.append(f"{label} = {t(new.value)}{grad}")
            else:
                parts = []
                if new.value != old.value:
                    parts.append(f"{label}: {t(old.value)} → {t(new.value)}")
                if new.grad != old.grad:
                    parts.append(f"{label}.grad: {t(old.grad)} → {t(new.grad)}")
                if new.requires_grad != old.requires_grad:
                    parts.append(
                        f"{label}.requires_grad: {old.requires_grad} → {new.requires_grad}"
                    )
                rows += parts or [f"{label} = {t(new.value)} (a new tensor, the same values)"]
        more = len(rows) - _MAX_CHANGES
        if more > 0:
            rows = rows[:_MAX_CHANGES] + [f"… and {more} more (see Variables)"]
        return "<p>Changed:</p><ul>" + "".join(f"<li>{r}</li>" for r in rows) + "</ul>"

    def _pass_html(self, bpass: BackwardPass) -> str:
        what = "torch.autograd.grad" if bpass.kind == "grad" else "backward()"
        root = f" from <b>{escape(bpass.root_name)}</b>" if bpass.root_name else ""
        out = [f"<p>Backward pass {bpass.index + 1} ({what}){root}: {len(bpass.nodes)} nodes.</p>"]
        for name, grad in bpass.retained.items():
            out.append(f"<p>retain_grad() keeps <b>{escape(name)}.grad</b> = {self._t(grad)}</p>")
        for i, result in enumerate(bpass.results):
            out.append(f"<p>result {i}: {self._t(result)}</p>")
        return "".join(out)

    def _node_html(self, nid: str, st: StepState) -> str:
        trace = self._shown.trace
        node = trace.nodes[nid]
        rec, bpass, status = self._record(nid, st)
        label = node_label(trace, nid)
        title = escape(label) + " — " if label != node.op else ""
        shapes = ", ".join(shape_text(s) for s in node.output_shapes)
        out = [
            f"<h2 style='margin-bottom:2px'>{title}<span style='font-family:monospace'>{escape(node.op)}</span></h2>"
        ]
        out.append(
            f"<p style='color:{self.theme.muted_text}'>{'leaf tensor' if node.kind == 'leaf' else 'operation'}"
            f"{', output ' + shapes if shapes else ''}{self._status_html(status, rec)}</p>"
        )
        if nid not in st.visible_nodes:
            out.append(
                f"<p><i>Not created yet: it appears at step {step_number(node.step)}.</i></p>"
            )
        if rec is not None and bpass is not None:
            out.append(self._record_html(rec, bpass))
        out.append(self._variable_html(node, st, bpass))
        if node.line:
            out.append(self._source_line(node.line))
        return "".join(out)

    def _constant_html(self, drawn: str) -> str:
        """A constant input: what it is, which node takes it, and that no gradient flows to it."""
        trace = self._shown.trace
        consumer, slot = constant_consumer(drawn)
        node = trace.nodes.get(consumer)
        if node is None or slot >= len(node.constants):
            return ""
        value = (node.constants[slot] or {}).get("value")
        return (
            f"<h2>{escape(str(constant_label(node, slot) or 'constant'))}</h2>"
            f"<p style='color:{self.theme.muted_text}'>constant input {slot + 1} of "
            f"<b>{escape(node_label(trace, consumer))}</b> ({escape(node.op)}): it needs no "
            "gradient, so none flows to it.</p>"
            + (f"<p>value = {self._t(value)}</p>" if value is not None else "")
            + (self._source_line(node.line) if node.line else "")
        )

    def _record(
        self, nid: str, st: StepState
    ) -> tuple[NodeRecord | None, BackwardPass | None, str]:
        """The node's record in the pass at this step, else in the last pass finished before it."""
        session = self.session
        assert session is not None
        current = session.pass_at(st.index)
        passes = [current] if current is not None else []
        passes += [
            p for p in reversed(session.trace.passes) if p.last_step < st.index and p is not current
        ]
        for bpass in passes:
            for rec in bpass.nodes:
                if rec.node == nid:
                    status: str
                    if bpass is current:
                        status = (
                            "current"
                            if st.current_node == nid
                            else st.node_status.get(nid, "pending")
                        )
                    else:
                        status = "earlier"
                    return rec, bpass, status
        return None, None, "forward"

    def _status_html(self, status: str, rec: NodeRecord | None) -> str:
        text = {
            "current": _NOW.get(self._shown.trace.steps[self._shown.index].kind, "in this step"),
            "pending": (
                f"waiting: receives its gradient at step {step_number(rec.receive_step)}"
                if rec and rec.receive_step is not None
                else ""
            ),
            "received": "gradient received, not computed yet",
            "done": "done in this pass",
            "earlier": "values from the last backward pass",
        }.get(status, "")
        colour = {
            "current": self.theme.current_text,
            "done": self.theme.done_text,
            "received": self.theme.received_text,
        }.get(status, self.theme.muted_text)
        return f" — <b style='color:{colour}'>{escape(text)}</b>" if text else ""

    def _record_html(self, rec: NodeRecord, bpass: BackwardPass) -> str:
        """The node's chain rule as far as the pass has got at this step (see ``chain_html``)."""
        trace = self._shown.trace
        index = self._shown.index
        try:
            rule = rule_as_of(trace, bpass.index, bpass.nodes.index(rec), index)
            if self.blanks(self._shown.state(index)).node == rec.node:
                rule = blank_rule(rule)
        except Exception:  # noqa: BLE001 - a trace of an unexpected form: its raw numbers
            return self._raw_record_html(rec)
        out = [rule_html(rule, self.theme, self._width_in_chars())]
        if rec.saved and rule.family in ("other", "custom"):
            lines: list[str] = []
            for k, v in rec.saved.items():
                lines += side_by_side([[f"{k} ="], tensor_lines(v)])
            out.append("<p><b>Saved for backward</b></p>" + pre(lines))
        return "".join(out)

    def _raw_record_html(self, rec: NodeRecord) -> str:
        blocks = [
            tensor_lines(rec.grad_outputs, "…"),
            ["→"],
            tensor_lines(rec.grad_inputs, "…"),
        ]
        return pre(columns(["upstream (in)", "", "downstream"], blocks))

    def _width_in_chars(self) -> int:
        """How many characters of a ``<pre>`` block fit across the panel."""
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(self._browser.font().pointSizeF())
        width = self._browser.viewport().width() - 24  # the document's margins
        return max(24, int(width / QFontMetricsF(font).horizontalAdvance("0")))

    def _variable_html(self, node: GraphNode, st: StepState, bpass: BackwardPass | None) -> str:
        var = next((v for name, v in st.variables.items() if v.node == node.id), None)
        name = next((name for name, v in st.variables.items() if v.node == node.id), node.name)
        if var is None:
            return ""
        out = [f"<p><b>{escape(name or '')}</b> = {self._t(var.value)}</p>"]
        if node.kind == "leaf":
            grad = HIDDEN if node.id in self.blanks(st).grads else self._t(var.grad)
            out.append(f"<p>{escape(name or '')}.grad = {grad}</p>")
        elif var.retains_grad or var.grad is not None:
            out.append(
                f"<p>{escape(name or '')}.grad (kept by retain_grad()) = {self._t(var.grad)}</p>"
            )
        else:
            out.append(
                f"<p style='color:{self.theme.muted_text}'>{escape(name or '')}.grad is <b>None</b>: "
                f"{escape(name or 'it')} is not a leaf, so autograd passes its gradient on and frees it. "
                f"Call <code>{escape(name or 'it')}.retain_grad()</code> before backward() to keep it.</p>"
            )
        return "".join(out)

    def _source_line(self, line: int) -> str:
        lines = self._shown.trace.scenario.source.split("\n")
        code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        return (
            f"<p style='color:{self.theme.muted_text}'>line {line}: "
            f"<code style='color:{self.theme.text}'>{escape(code)}</code></p>"
        )

    def _t(self, value: Any, empty: str = "None") -> str:
        return tensor_html(value, empty=empty)
