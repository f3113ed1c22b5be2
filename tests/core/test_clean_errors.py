"""What used to crash the worker ends in a step of kind "error" at the right line, with a
readable message, and a trace whose JSON is valid UTF-8."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gradstep.record.encode import encode, same_values, snapshot
from gradstep.record.run import record_scenario
from gradstep.scenario.check import MAX_LINE_CHARS, parse_scenario
from gradstep.scenario.errors import ScenarioSyntaxError
from gradstep.scenario.loader import scenario_from_source
from gradstep.trace.io import dumps, loads
from gradstep.trace.model import Trace
from gradstep.worker import Limits, WorkerPool


def record(source: str, *, trusted: bool = False) -> Trace:
    trace = record_scenario(scenario_from_source(source, "lesson.py"), trusted=trusted)
    text = dumps(trace)
    text.encode("utf-8")  # strict: no lone surrogate survives
    assert loads(text).steps[-1].kind == trace.steps[-1].kind
    return trace


# ------------------------------------------------------------ tensors of every kind

EXOTIC = {
    "sparse coo": "torch.eye(3).to_sparse()",
    "sparse csr": "torch.eye(3).to_sparse_csr()",
    "big sparse": "torch.sparse_coo_tensor(torch.tensor([[0], [0]]), torch.tensor([1.0]), (100000, 100000))",
    "meta": "torch.ones(3, device='meta')",
    "quantized": "torch.quantize_per_tensor(torch.ones(3), 0.1, 0, torch.quint8)",
    "complex32": "torch.ones(3, dtype=torch.complex32)",
    "mkldnn": "torch.ones(3).to_mkldnn()",
    "bits8": "torch.zeros(2, dtype=torch.bits8)",
}


@pytest.mark.parametrize("make", EXOTIC.values(), ids=EXOTIC.keys())
@pytest.mark.parametrize("trusted", [False, True], ids=["restricted", "trusted"])
def test_binding_any_kind_of_tensor_records_it(make: str, trusted: bool) -> None:
    trace = record(f"import torch\nt = {make}\nt2 = t\nprint('after')\n", trusted=trusted)
    assert trace.error is None, trace.error
    assert trace.steps[-1].output == "after\n"
    state = trace.variables["t"]
    assert state.shape == list(eval(make, {"torch": torch}).shape)  # noqa: S307 - our own text


def test_exotic_tensors_encode_to_their_values_or_a_note() -> None:
    assert encode(torch.eye(2).to_sparse()) == [[1.0, 0.0], [0.0, 1.0]]
    assert encode(torch.ones(2).to_mkldnn()) == [1.0, 1.0]
    q = torch.quantize_per_tensor(torch.tensor([0.5, 1.0]), 0.1, 0, torch.quint8)
    assert encode(q) == q.dequantize().tolist()
    assert encode(torch.ones(2, dtype=torch.complex32)) == [[1.0, 0.0], [1.0, 0.0]]
    big = torch.sparse_coo_tensor(torch.tensor([[1], [2]]), torch.tensor([3.0]), (10**6, 10**6))
    summary = encode(big)
    assert summary["shape"] == [10**6, 10**6] and summary["nnz"] == 1
    assert "sparse_coo" in summary["note"]
    assert encode(torch.ones(3, device="meta"))["note"] == "a meta tensor has no data"
    assert snapshot(torch.ones(2, device="meta")) is None
    half = torch.ones(2, dtype=torch.complex32)
    assert same_values(half, half) is False  # no kernel compares them: encoded afresh


# ------------------------------------------------- what the scenario raises or overrides


def test_raising_base_exception_is_a_step_at_its_line() -> None:
    trace = record("x = 1\nraise BaseException('boom')\ny = 2\n")
    assert trace.error is not None
    assert (trace.error.type, trace.error.message, trace.error.line) == ("BaseException", "boom", 2)
    assert trace.steps[-1].kind == "error" and trace.steps[-1].line == 2


def test_system_exit_in_a_trusted_scenario_is_a_step_not_an_exit() -> None:
    trace = record("import sys\nx = 1\nsys.exit(3)\n", trusted=True)
    assert (trace.error.type, trace.error.line) == ("SystemExit", 3)


def test_a_list_whose_len_raises_is_still_recorded() -> None:
    trace = record(
        "import torch\nclass L(list):\n    def __len__(self):\n        raise ValueError('no len')\n"
        "    def __iter__(self):\n        raise ValueError('no iter')\n"
        "xs = L([torch.ones(1), torch.zeros(1)])\nprint('after')\n"
    )
    assert trace.error is None
    assert trace.steps[-1].output == "after\n"
    assert trace.variables["xs[0]"].value == [1.0]  # read through list's own methods


def test_a_tensor_subclass_overriding_what_the_recorder_calls_is_left_out() -> None:
    trace = record(
        "import torch\nclass T(torch.Tensor):\n    def detach(self):\n        raise ValueError('no')\n"
        "    def tolist(self):\n        while True:\n            pass\n"
        "x = torch.ones(2).as_subclass(T)\ny = x * 2\nprint('after')\n"
    )
    assert trace.error is None
    assert trace.steps[-1].output == "after\n"
    assert "x" not in trace.variables and "y" not in trace.variables  # x * 2 is a T too


def test_a_tensor_subclass_adding_methods_only_is_recorded() -> None:
    trace = record(
        "import torch\nclass Named(torch.Tensor):\n    def describe(self):\n        return 'n'\n"
        "x = torch.ones(2).as_subclass(Named)\n"
    )
    assert trace.variables["x"].value == [1.0, 1.0]


def test_an_exception_whose_str_raises_still_has_a_message() -> None:
    trace = record(
        "class Odd(Exception):\n    def __str__(self):\n        raise ValueError('nope')\n"
        "raise Odd('the args')\n"
    )
    assert trace.error.type == "Odd" and trace.error.line == 4
    assert "the args" in trace.error.message


# ----------------------------------------------------------------- text that is not UTF-8


def test_a_lone_surrogate_printed_or_raised_keeps_the_trace_valid_utf8() -> None:
    trace = record("print('a\\ud800b')\nraise ValueError('bad \\udfff here')\n")
    assert trace.steps[0].output == "a\\ud800b\n"
    assert trace.error.message == "bad \\udfff here" and trace.error.line == 2
    document = json.loads(dumps(trace).encode("utf-8"))
    assert document["error"]["message"] == "bad \\udfff here"


def test_a_surrogate_in_a_parameter_name_keeps_the_trace_valid_utf8() -> None:
    trace = record(
        "import torch\nfrom torch import nn\nm = nn.ParameterDict({'w\\ud800': torch.ones(1)})\n"
        "(m['w\\ud800'] * 2).sum().backward()\n"
    )
    assert trace.error is None
    assert dumps(trace).encode("utf-8")
    assert "m.w\\ud800" in loads(dumps(trace)).variables


# ------------------------------------------------------------- files the parser chokes on


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("x = 1\ny = 2\nz = '\0'\n", 3, "null byte"),
        ("x = 1\n# \0 in a comment\n", 2, "null byte"),
        ("x = 1\ny = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n", 2, "nested"),
        ("x = 1\ny = " + "-" * 100_000 + "1\n", 2, "nested too deeply"),
        ("x = 1\n\ny = a" + ".b" * 100_000 + "\n", 3, "nested too deeply"),
        ("x = 1\ny = " + "lambda: " * 100_000 + "1\n", 2, "nested too deeply"),
        ("x = 1\ny = [" + "1," * (MAX_LINE_CHARS // 2 + 1) + "]\n", 2, "characters long"),
        ("x = 1\ns = '\ud800'\n", 2, "not valid text"),
    ],
    ids=[
        "nul",
        "nul in comment",
        "parens",
        "unary",
        "attributes",
        "lambdas",
        "long line",
        "surrogate",
    ],
)
def test_an_unparsable_file_is_refused_at_its_line(source: str, line: int, message: str) -> None:
    with pytest.raises(ScenarioSyntaxError) as refused:
        parse_scenario(source, "lesson.py")
    assert refused.value.line == line and message in refused.value.message
    for trusted in (False, True):
        trace = record(source, trusted=trusted)
        assert trace.error.kind == "syntax" and trace.error.line == line, trace.error


def test_a_2_mb_line_is_refused_quickly_by_the_worker(tmp_path: Path) -> None:
    # (a file past 10 MB is refused before it is parsed: see test_scenario_files)
    big = tmp_path / "big.py"
    big.write_text("x = 1\ny = [" + "1," * (1 << 20) + "]\n")
    with WorkerPool(prestart=False) as pool:
        result = pool.run(big)
    assert result.error is not None and result.error.kind == "syntax"
    assert result.error.line == 2 and "characters long" in result.error.message


# ------------------------------------------------------------------------- limits


def test_a_memory_limit_inside_a_loop_names_the_line_and_the_limit(tmp_path: Path) -> None:
    lesson = tmp_path / "lesson.py"
    lesson.write_text(
        "import torch\nkeep = []\nfor i in range(100):\n    x = i * 2\n"
        "    keep.append(torch.ones(1 << 28))\n"
    )
    plain = tmp_path / "plain.py"
    plain.write_text("keep = []\nfor i in range(100):\n    keep.append([0] * (1 << 28))\n")
    with WorkerPool(prestart=False) as pool:
        limits = Limits(memory_mb=3000, seconds=30)
        torch_limit = pool.run(lesson, limits=limits).trace.error
        python_limit = pool.run(plain, limits=limits, trusted=True).trace.error
    for error, line in ((torch_limit, 5), (python_limit, 3)):
        assert error is not None and error.kind == "limit"
        assert error.line == line, error
        assert "the memory limit of 3000 MB" in error.message


def test_the_graph_limit_names_the_real_limit() -> None:
    from gradstep.scenario.loader import scenario_from_source

    source = "import torch\nx = torch.ones(1, requires_grad=True)\ny = x\nfor i in range(50):\n    y = y * 1.0\n"
    scenario = scenario_from_source(source, "lesson.py")
    import ast

    from gradstep.record.recorder import Recorder

    recorder = Recorder(scenario, {"__name__": "__main__"}, max_nodes=10)
    with recorder.patched_autograd():
        trace = recorder.run(ast.parse(source))
    assert trace.error is not None and trace.error.type == "GraphLimit"
    assert trace.error.message == "the autograd graph grew past the limit of 10 nodes"


def test_batched_encoding_agrees_with_one_by_one_for_every_kind_of_gradient() -> None:
    """``encode_many`` (a big pass's gradients) against ``encode`` of each tensor."""
    from gradstep.record.encode import Encoder, encode_many

    torch.manual_seed(0)
    rows = [torch.randn(40, 50) for _ in range(3)]  # stacked as rows
    odd = torch.randn(40, 50)
    odd[3, 4] = float("nan")
    odd[5, 6] = float("inf")
    tensors = [
        *rows,
        odd,
        torch.randn(300, 300).t(),  # a large transposed view, reduced in place
        torch.randn(4),  # exact
        torch.arange(5000),  # integers: min and max
        torch.ones(3000, dtype=torch.bool),
        torch.sparse_coo_tensor(torch.tensor([[0], [1]]), torch.tensor([2.0]), (3000, 3000)),
        torch.eye(3).to_sparse(),
        torch.randn(2000, dtype=torch.float64),
        torch.randn(2000, dtype=torch.float16),
    ]
    batched = encode_many(tensors, exact_numel=64)
    one_by_one = [encode(t, 64) for t in tensors]

    def close(a: object, b: object) -> bool:
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
        if isinstance(a, float) and isinstance(b, float):
            return a == pytest.approx(b, rel=1e-4, abs=1e-6)
        return a == b

    for i, (a, b) in enumerate(zip(batched, one_by_one)):
        assert close(a, b), (i, a, b)
    assert batched[3]["nan"] == 1 and batched[3]["inf"] == 1
    assert batched[8]["nnz"] == 1
    encoder = Encoder(64)
    assert encoder.many([tensors[5], None, tensors[5]]) == [one_by_one[5], None, one_by_one[5]]
    assert encoder(tensors[5]) is encoder.many([tensors[5]])[0]  # the memo
    encoder.clear()
