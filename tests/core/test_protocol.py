"""The streamed trace: what the caller assembles is the trace, and every prefix is usable."""

from __future__ import annotations

import os
import tempfile
import threading

import orjson
import pytest

from gradstep.record.run import record_scenario
from gradstep.resources import scenarios_dir
from gradstep.scenario.loader import load_scenario, scenario_from_source
from gradstep.session import Session
from gradstep.trace.io import dumps, loads
from gradstep.trace.model import Trace, TraceError
from gradstep.worker.protocol import TraceAssembler, TraceStream

# a node named at its line, renamed when the names change before the backward pass, a
# retained gradient, an autograd.grad pass, a loop and an exception at the end
RENAMES = """import torch
x = torch.tensor(2.0, requires_grad=True)
a = x * 3
b = a
a = x + 1
h = b.sin()
h.retain_grad()
h.backward()
for i in range(3):
    y = (x * i) ** 2
    y.backward()
    x.grad.zero_()
(g,) = torch.autograd.grad(x.exp(), x)
print(g)
raise ValueError("the end")
"""


def streamed(scenario) -> tuple[Trace, list[bytes]]:
    """Record in this process, streaming into a file; the trace and the lines sent."""
    with tempfile.TemporaryFile() as f:
        stream = TraceStream(f.fileno())
        stream.scenario(scenario.info())
        trace = record_scenario(scenario, sink=stream)
        stream.finish(trace)
        f.seek(0)
        lines = f.read().splitlines(keepends=True)
    return trace, lines


def assemble(path: str, lines: list[bytes]) -> TraceAssembler:
    assembler = TraceAssembler(path)
    for line in lines:
        assembler.feed(orjson.loads(line))
    return assembler


def comparable(trace: Trace) -> dict:
    d = loads(dumps(trace)).to_dict()
    d.pop("stats")
    return d


@pytest.mark.parametrize(
    "scenario",
    [
        scenario_from_source(RENAMES, "renames.py"),
        load_scenario(scenarios_dir() / "14_mlp_training.py"),
        load_scenario(scenarios_dir() / "15_chain_rule_notebook.ipynb"),
    ],
    ids=["renames", "mlp", "notebook"],
)
def test_the_assembled_trace_is_the_recorded_trace(scenario):
    trace, lines = streamed(scenario)
    assembler = assemble(scenario.path, lines)
    assert assembler.ended
    assert comparable(assembler.trace) == comparable(trace)
    # the stream says everything once: one message a step at most, no pass sent 3 times
    assert len(lines) <= len(trace.steps) + len(trace.passes) + 3


def test_the_renamed_node_reaches_the_caller_under_its_new_name():
    trace, lines = streamed(scenario_from_source(RENAMES, "renames.py"))
    nodes = assemble("renames.py", lines).trace.nodes
    assert trace.nodes["n1"].name == "b" and nodes["n1"].name == "b"  # made as ``a``


def test_every_prefix_of_the_stream_is_a_consistent_trace():
    scenario = scenario_from_source(RENAMES, "renames.py")
    trace, lines = streamed(scenario)
    for k in range(1, len(lines)):
        assembler = assemble(scenario.path, lines[:k])
        assert not assembler.ended
        cut = assembler.cut_short(TraceError("WorkerCrash", "gone", 3, "crash"), {})
        assert [s.index for s in cut.steps] == list(range(len(cut.steps)))
        assert cut.steps[-1].kind == "error" and cut.steps[-1].line == 3
        for step in cut.steps:
            assert all(n in cut.nodes for n in step.new_nodes)
            if step.pass_index is not None:
                bpass = cut.passes[step.pass_index]
                if step.record is not None:
                    assert bpass.nodes[step.record].node == step.node
        for bpass in cut.passes:
            assert all(r in cut.nodes for r in bpass.roots)
        session = Session(cut)
        for i in range(len(cut.steps)):
            session.state(i)  # the window can show every step of what arrived


def test_a_refusal_is_an_end_with_its_error_step():
    scenario = scenario_from_source("import torch\nx = (\n", "broken.py")
    _, lines = streamed(scenario)
    trace = assemble("broken.py", lines).trace
    assert trace.error is not None and trace.error.kind == "syntax"
    assert [s.kind for s in trace.steps] == ["error"]
    assert trace.scenario.source.startswith("import torch")


def test_a_message_larger_than_a_pipe_arrives_whole():
    # a worker writes long lines into a pipe the reader empties as it goes
    read, write = os.pipe()
    big = {"stats": {"text": "x" * (1 << 20)}}
    writer = threading.Thread(target=lambda: TraceStream(write).send(big))
    writer.start()
    with os.fdopen(read, "rb") as f:
        line = f.readline()
    writer.join()
    os.close(write)
    assert orjson.loads(line) == big
