"""The trace: what running a scenario recorded, as plain data.

A trace is independent of torch and Qt. It is written once by the recorder
(in the worker process) and read by everything else: the session, the graph
model, the GUI and the exporters. Its JSON form is documented in
``docs/trace-format.md``; ``to_dict``/``from_dict`` are the only converters.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal

from gradstep.trace.figure_bounds import figure_refusal

FORMAT = "gradstep.trace"
VERSION = 1

StepKind = Literal[
    "statement",  # a top-level statement of the forward code ran
    "pass_start",  # a backward computation begins: its graph is captured
    "receive",  # a node receives its incoming gradient(s) (pre-hook)
    "compute",  # a node computes outgoing = incoming x local (post-hook)
    "accumulate",  # a leaf's .grad goes from old to old + new
    "tensor_hook",  # a named intermediate receives its gradient (retain_grad or not)
    "pass_end",  # the backward computation returned
    "error",  # the scenario raised, was refused, or hit a limit
]


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(v: Any) -> Any:
    """A dataclass tree as dicts and lists, sharing the (immutable-by-convention) values.

    ``dataclasses.asdict`` deep-copies every nested list of every tensor value,
    which made writing a trace of a real model cost ten times its recording.
    """
    if is_dataclass(v) and not isinstance(v, type):
        names = _FIELD_NAMES.get(type(v))
        if names is None:
            names = _FIELD_NAMES[type(v)] = tuple(f.name for f in fields(v))
        return {name: _plain(getattr(v, name)) for name in names}
    if isinstance(v, dict):
        if any(is_dataclass(x) for x in v.values()):
            return {k: _plain(x) for k, x in v.items()}
        return v
    if isinstance(v, list) and v and is_dataclass(v[0]):
        return [_plain(x) for x in v]
    return v


def is_summary(value: Any) -> bool:
    """True for the encoding of a tensor too large to store exactly.

    Tensors are stored as their value (a number for 0-d, nested lists
    otherwise) up to ``limits["exact_numel"]`` elements; beyond that as
    ``{"summary": true, "shape", "dtype", "min", "max", "mean", "norm",
    "nan", "inf", "preview"}``. Non-finite floats are the strings ``"NaN"``,
    ``"Infinity"`` and ``"-Infinity"`` so that the document is strict JSON.
    """
    return isinstance(value, dict) and value.get("summary") is True


@dataclass
class VariableState:
    """A name in the scenario's namespace bound to a tensor (or a module parameter)."""

    shape: list[int]
    dtype: str
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None
    value: Any  # encoded tensor (see is_summary)
    grad: Any  # encoded tensor, or None where .grad is None
    node: str | None = None  # graph node id: grad_fn, or AccumulateGrad for leaves
    retains_grad: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VariableState:
        return cls(
            shape=list(d["shape"]),
            dtype=d["dtype"],
            requires_grad=d["requires_grad"],
            is_leaf=d["is_leaf"],
            grad_fn=d.get("grad_fn"),
            value=d.get("value"),
            grad=d.get("grad"),
            node=d.get("node"),
            retains_grad=d.get("retains_grad", False),
        )


@dataclass
class GraphNode:
    """One autograd node (a ``grad_fn`` or a leaf's ``AccumulateGrad``)."""

    id: str
    op: str  # grad_fn class name; "AccumulateGrad" for leaves
    kind: Literal["op", "leaf"]
    # (producer node id or None, output_nr) per input slot, as next_functions
    inputs: list[tuple[str | None, int]]
    num_outputs: int = 1
    name: str | None = None  # the scenario variable it produced (or the leaf's name)
    line: int | None = None  # source line that created it
    step: int = 0  # index of the step at which it first appeared
    module: str | None = None  # qualified nn.Module path that created it
    output_shapes: list[list[int]] = field(default_factory=list)
    # the source expression that made an unnamed node (``w * x``, ``1 - prediction``)
    expr: str | None = None
    # per input slot: null, or a constant input ({"name": "x", "value": 6.7}; either may be absent)
    constants: list[dict[str, Any] | None] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GraphNode:
        return cls(
            id=d["id"],
            op=d["op"],
            kind=d["kind"],
            inputs=[(i[0], int(i[1])) for i in d["inputs"]],
            num_outputs=d.get("num_outputs", 1),
            name=d.get("name"),
            line=d.get("line"),
            step=d.get("step", 0),
            module=d.get("module"),
            output_shapes=[list(s) for s in d.get("output_shapes", [])],
            expr=d.get("expr"),
            constants=list(d.get("constants", [])),
        )


@dataclass
class NodeRecord:
    """What one node did in one backward pass, in engine execution order."""

    node: str
    op: str
    name: str | None
    grad_outputs: list[Any]  # incoming gradients, one per node output (null: none)
    grad_inputs: list[Any]  # outgoing gradients, one per node input (null: none)
    local_derivatives: list[Any]  # aligned with inputs; null where not applicable
    local_derivative_kinds: list[str | None] = field(default_factory=list)
    formula: str | None = None  # human formula of the local derivative
    saved: dict[str, Any] = field(default_factory=dict)
    grad_before: Any = None  # leaves: .grad before accumulation
    grad_after: Any = None  # leaves: .grad after accumulation
    receive_step: int | None = None
    compute_step: int | None = None
    # what the chain rule needs beyond the gradients and saved values (docs/trace-format.md):
    # "local": per slot f′(x) in the output's shape (elementwise ops), "custom": the
    # backward of a user's autograd.Function ({"function", "line"})
    chain: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NodeRecord:
        return cls(
            node=d["node"],
            op=d["op"],
            name=d.get("name"),
            grad_outputs=d.get("grad_outputs", []),
            grad_inputs=d.get("grad_inputs", []),
            local_derivatives=d.get("local_derivatives", []),
            local_derivative_kinds=d.get("local_derivative_kinds", []),
            formula=d.get("formula"),
            saved=d.get("saved", {}),
            grad_before=d.get("grad_before"),
            grad_after=d.get("grad_after"),
            receive_step=d.get("receive_step"),
            compute_step=d.get("compute_step"),
            chain=d.get("chain") or {},
        )


@dataclass
class BackwardPass:
    """One call of ``backward()``, ``torch.autograd.backward`` or ``torch.autograd.grad``."""

    index: int
    line: int | None
    kind: Literal["backward", "grad"]
    roots: list[str]
    nodes: list[NodeRecord]
    first_step: int = 0
    last_step: int = 0
    retained: dict[str, Any] = field(default_factory=dict)  # name -> grad kept by retain_grad()
    results: list[Any] = field(default_factory=list)  # autograd.grad return values
    root_name: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BackwardPass:
        return cls(
            index=d["index"],
            line=d.get("line"),
            kind=d.get("kind", "backward"),
            roots=list(d.get("roots", [])),
            nodes=[NodeRecord.from_dict(n) for n in d["nodes"]],
            first_step=d.get("first_step", 0),
            last_step=d.get("last_step", 0),
            retained=d.get("retained", {}),
            results=d.get("results", []),
            root_name=d.get("root_name"),
        )


@dataclass
class StepFigure:
    """A matplotlib figure as the step that drew it left it (``plt.show()``, or open at
    the end of a top-level statement): a PNG, base64-encoded, or why it was left out."""

    number: int  # matplotlib's figure number (plt.figure(3))
    title: str  # the figure's suptitle or its first axes' title, "" if none
    width: int  # pixels
    height: int
    png: str = ""  # base64 of the PNG; "" when ``omitted`` says why
    omitted: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepFigure:
        """From a trace's data (a JSON file, the worker): a PNG whose header claims more
        pixels than a figure has, or that is no PNG, is kept as why it is not shown."""
        png, omitted = str(d.get("png", "")), str(d.get("omitted", ""))
        if png and (why := figure_refusal(png)) is not None:
            png, omitted = "", why
        return cls(
            number=int(d.get("number", 0)),
            title=str(d.get("title", "")),
            width=int(d.get("width", 0)),
            height=int(d.get("height", 0)),
            png=png,
            omitted=omitted,
        )

    def png_bytes(self) -> bytes:
        import base64

        return base64.b64decode(self.png) if self.png else b""


@dataclass
class Step:
    """One point in time. The state at step k is a fold of steps 0..k."""

    index: int
    kind: StepKind
    line: int | None
    text: str  # one-line description for the timeline
    pass_index: int | None = None
    node: str | None = None
    record: int | None = None  # index into passes[pass_index].nodes
    new_nodes: list[str] = field(default_factory=list)
    variables: dict[str, VariableState | None] = field(
        default_factory=dict
    )  # deltas; None: unbound
    output: str = ""  # what the statement printed (and the repr of an expression's value)
    figures: list[StepFigure] = field(default_factory=list)  # what it drew (matplotlib)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        return cls(
            index=d["index"],
            kind=d["kind"],
            line=d.get("line"),
            text=d.get("text", ""),
            pass_index=d.get("pass"),
            node=d.get("node"),
            record=d.get("record"),
            new_nodes=list(d.get("new_nodes", [])),
            variables={
                k: (VariableState.from_dict(v) if v is not None else None)
                for k, v in d.get("variables", {}).items()
            },
            output=d.get("output", ""),
            figures=[StepFigure.from_dict(f) for f in d.get("figures", ())],
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = _plain(self)
        d["pass"] = d.pop("pass_index")
        if not d["figures"]:
            del d["figures"]  # most steps draw nothing: no key in the JSON
        return d


@dataclass
class ScenarioInfo:
    """Where the trace came from, and the notes that explain it."""

    path: str
    title: str
    summary: str
    source: str  # the scenario's code, as executed (line numbers refer to it)
    cells: list[dict[str, Any]] = field(default_factory=list)  # {"kind", "text", "line"}
    #: a notebook's: the line in ``source`` of each notebook cell's marker, in order
    notebook_cells: list[int] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScenarioInfo:
        return cls(
            path=d.get("path", ""),
            title=d.get("title", ""),
            summary=d.get("summary", ""),
            source=d.get("source", ""),
            cells=list(d.get("cells", [])),
            notebook_cells=[int(n) for n in d.get("notebook_cells", [])],
        )

    def where(self, line: int | None) -> str:
        """``line 17``, or in a notebook ``cell 4, line 2`` as Jupyter users read it (cells
        counted from 1, markdown ones included; lines counted within the cell)."""
        if line is None:
            return ""
        cells = self.notebook_cells
        if not cells or line <= cells[0]:
            return f"line {line}"
        at = bisect.bisect_left(cells, line)  # cells[at - 1] < line: the cell's marker
        return f"cell {at}, line {line - cells[at - 1]}"


#: How a run failed; what each kind means for the user is in ``gradstep.trace.errors``.
ErrorKind = Literal["exception", "refused", "syntax", "limit", "crash"]


@dataclass
class TraceError:
    type: str
    message: str
    line: int | None
    kind: ErrorKind = "exception"

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> TraceError | None:
        if d is None:
            return None
        return cls(d["type"], d["message"], d.get("line"), d.get("kind", "exception"))


@dataclass
class LoopRounds:
    """A long top-level loop whose later rounds were summarised (see ``record.rounds``):
    rounds 1 to ``full_rounds`` and those in ``detailed`` are in full detail (steps,
    passes); ``summarised_count`` rounds were summarised, and each round in
    ``summarised`` left one row of ``values``, a value per name in ``names`` (a number, a
    list for a small tensor, None where it was no tensor). Up to 20,000 rows that is
    every summarised round; a longer loop keeps every 2nd, 4th … round's row."""

    line: int
    text: str  # the loop's header, as written
    full_rounds: int = 0
    detailed: list[int] = field(default_factory=list)
    summarised: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    values: list[list[Any]] = field(default_factory=list)
    summarised_count: int = 0  # rounds summarised (traces before it: len(summarised))
    passes: list[list[int]] = field(default_factory=list)  # [pass index, round] of detailed ones

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoopRounds:
        return cls(
            line=int(d.get("line", 0)),
            text=str(d.get("text", "")),
            full_rounds=int(d.get("full_rounds", 0)),
            detailed=[int(r) for r in d.get("detailed", [])],
            summarised=[int(r) for r in d.get("summarised", [])],
            names=[str(n) for n in d.get("names", [])],
            values=[list(row) for row in d.get("values", [])],
            summarised_count=int(d.get("summarised_count", len(d.get("summarised", [])))),
            passes=[[int(p), int(r)] for p, r in d.get("passes", [])],
        )

    def detail_text(self) -> str:
        """``rounds 1–20, 100, 200 … 2,000 in full detail; 1,960 summarised``."""
        shown = [f"1–{self.full_rounds:,}" if self.full_rounds > 1 else "1"]
        later = [f"{r:,}" for r in self.detailed]
        if len(later) > 6:
            later = [*later[:3], "…", *later[-2:]]
        rounds = ", ".join(shown + later)
        n = max(self.summarised_count, len(self.summarised))
        what = f" ({', '.join(self.names)} each round)" if self.names else ""
        return f"rounds {rounds} in full detail; {n:,} summarised{what}"


@dataclass
class Trace:
    scenario: ScenarioInfo
    nodes: dict[str, GraphNode] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    passes: list[BackwardPass] = field(default_factory=list)
    variables: dict[str, VariableState] = field(default_factory=dict)  # when the run ended
    error: TraceError | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)  # timings, sizes
    loops: list[LoopRounds] = field(default_factory=list)  # long loops, partly summarised

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "scenario": _plain(self.scenario),
            "error": _plain(self.error) if self.error else None,
            "variables": _plain(self.variables),
            "passes": _plain(self.passes),
            "nodes": _plain(self.nodes),
            "steps": [s.to_dict() for s in self.steps],
            "limits": self.limits,
            "stats": self.stats,
            "loops": _plain(self.loops),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trace:
        if d.get("format") != FORMAT:
            raise ValueError(f"not a gradstep trace (format={d.get('format')!r})")
        if int(d.get("version", 0)) > VERSION:
            raise ValueError(f"trace version {d.get('version')} is newer than this gradstep")
        return cls(
            scenario=ScenarioInfo.from_dict(d["scenario"]),
            nodes={k: GraphNode.from_dict(v) for k, v in d.get("nodes", {}).items()},
            steps=[Step.from_dict(s) for s in d.get("steps", [])],
            passes=[BackwardPass.from_dict(p) for p in d.get("passes", [])],
            variables={k: VariableState.from_dict(v) for k, v in d.get("variables", {}).items()},
            error=TraceError.from_dict(d.get("error")),
            limits=d.get("limits", {}),
            stats=d.get("stats", {}),
            loops=[LoopRounds.from_dict(x) for x in d.get("loops", [])],
        )

    def record_for(self, step: Step) -> NodeRecord | None:
        """The node record a backward step refers to, if any."""
        if step.pass_index is None or step.record is None:
            return None
        return self.passes[step.pass_index].nodes[step.record]
