"""What issue 11 widened, run restricted in a sealed worker behind the walls, with
PyTorch as the oracle: explicit gradients (torch imports sympy lazily), gradcheck,
numpy, the standard library's pure computation, ``torch.utils.data`` and
``torch.set_default_*``. Each lesson's final ``.grad`` (and printed numbers) must be
what the same code gives as plain Python in this process.
"""

from __future__ import annotations

import contextlib
import io
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from gradstep.worker import WorkerPool

EXPLICIT_GRADIENT = """
import torch
torch.manual_seed(0)
x = torch.randn(3, requires_grad=True)
y = x * 2
y.backward(torch.ones(3))
a = torch.randn(2, requires_grad=True)
b = a.exp()
b.backward(gradient=torch.tensor([0.5, 2.0]))
w = torch.randn(3, requires_grad=True)
out = (w ** 3)
(g,) = torch.autograd.grad(out, w, grad_outputs=torch.ones_like(out))
print(g.tolist())
"""

GRADCHECK = """
import torch
from torch.autograd import gradcheck
from torch.autograd.functional import jacobian, hessian
torch.manual_seed(1)
x = torch.randn(4, dtype=torch.double, requires_grad=True)
print(gradcheck(torch.sin, (x,), eps=1e-6, atol=1e-4))
J = jacobian(lambda t: t.sin() * t, x.detach())
Jv = jacobian(lambda t: t.sin() * t, x.detach(), vectorize=True)
H = hessian(lambda t: (t ** 3).sum(), x.detach())
print(J.diagonal().tolist(), Jv.diagonal().tolist(), H.diagonal().tolist())
y = (x ** 2).sum()
y.backward()
"""

NUMPY_AND_STDLIB = """
from __future__ import annotations
import math, random, itertools, functools, statistics
from collections import defaultdict, namedtuple
from dataclasses import dataclass
from typing import List
import numpy as np
import torch
random.seed(3)
np.random.seed(3)
torch.manual_seed(3)
xs = np.linspace(-math.pi, math.pi, 50)
ys = np.sin(xs)
w = torch.from_numpy(np.random.randn(3)).requires_grad_()
x = torch.from_numpy(xs)
pred = w[0] + w[1] * x + w[2] * x ** 2
loss = ((pred - torch.from_numpy(ys)) ** 2).sum()
loss.backward()
Point = namedtuple("Point", "x y")
@dataclass
class Config:
    lr: float = 0.1
counts = defaultdict(int)
for k in itertools.chain("ab", "b"):
    counts[k] += 1
picks = [random.randint(0, 9) for _ in range(3)]
print(w.grad.numpy().round(6).tolist(), dict(counts), picks, statistics.mean(picks),
      functools.reduce(lambda a, b: a * b, [1, 2, 3]), Config().lr, Point(1, 2).y,
      torch.__version__ == torch.__version__)
"""

DATA_LOADER = """
import torch
from torch import nn
from torch.utils.data import Dataset, DataLoader, TensorDataset, random_split
torch.set_default_dtype(torch.float64)
torch.set_default_device("cpu")
torch.manual_seed(4)
class Squares(Dataset):
    def __init__(self, n):
        self.x = torch.linspace(-1, 1, n).unsqueeze(1)
    def __len__(self):
        return len(self.x)
    def __getitem__(self, i):
        return self.x[i], self.x[i] ** 2
train, held = random_split(Squares(20), [16, 4], generator=torch.Generator().manual_seed(0))
loader = DataLoader(train, batch_size=4, shuffle=True, num_workers=0)
model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(2):
    for xb, yb in loader:
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        opt.step()
pairs = TensorDataset(torch.ones(3), torch.zeros(3))
print(round(loss.item(), 12), len(pairs), torch.get_default_dtype())
"""

LESSONS = {
    "explicit gradient": EXPLICIT_GRADIENT,
    "gradcheck": GRADCHECK,
    "numpy and stdlib": NUMPY_AND_STDLIB,
    "data loader": DATA_LOADER,
}


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(prestart=False) as p:  # no retire thread outlives the module
        yield p


def _plain(source: str) -> tuple[dict[str, Any], str]:
    """The oracle: the same code as plain Python, its namespace and what it printed."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    out = io.StringIO()
    dtype = torch.get_default_dtype()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, "lesson.py", "exec"), namespace)
    finally:
        # what a lesson sets for the whole process is set back: set_default_device leaves a
        # torch function mode behind, under which later in-process recordings counted the
        # oracle's passes twice (test_recorder after this file: 1 == 2)
        torch.set_default_dtype(dtype)
        torch.set_default_device(None)
    return namespace, out.getvalue()


def _flat(x: Any) -> list[float]:
    if isinstance(x, list):
        return [v for item in x for v in _flat(item)]
    return [float(x)]


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_runs_restricted_with_pytorchs_numbers(pool: WorkerPool, tmp_path: Path, name: str):
    source = textwrap.dedent(LESSONS[name]).lstrip()
    path = tmp_path / "lesson.py"
    path.write_text(source)
    result = pool.run(path)
    trace = result.trace
    assert trace.error is None, trace.error
    assert trace.stats.get("guard") == "sealed"  # the real thing: a sealed worker
    namespace, printed = _plain(source)
    assert "".join(s.output for s in trace.steps) == printed
    compared = 0
    for var, state in trace.variables.items():
        if not (state.is_leaf and state.requires_grad and state.grad is not None):
            continue
        head, *attrs = var.split(".")
        tensor = namespace[head]
        for attr in attrs:  # model.0.weight: a module's parameter, by its path
            tensor = getattr(tensor, attr)
        want = tensor.grad
        assert _flat(state.grad) == [float(v) for v in want.flatten().tolist()], var
        compared += 1
    if name != "gradcheck":
        assert compared, "no leaf .grad compared"


def test_a_data_loader_with_worker_processes_is_refused_at_its_line(
    pool: WorkerPool, tmp_path: Path
):
    path = tmp_path / "lesson.py"
    path.write_text(
        "import torch\nfrom torch.utils.data import DataLoader, TensorDataset\n"
        "ds = TensorDataset(torch.ones(4))\n"
        "loader = DataLoader(ds, batch_size=2, num_workers=2)\n"
    )
    trace = pool.run(path).trace
    assert trace.error is not None and trace.error.line == 4
    assert "num_workers=2" in trace.error.message and "--trust" in trace.error.message


def test_setting_num_workers_later_is_refused_when_iterated(pool: WorkerPool, tmp_path: Path):
    path = tmp_path / "lesson.py"
    path.write_text(
        "import torch\nfrom torch.utils.data import DataLoader, TensorDataset\n"
        "loader = DataLoader(TensorDataset(torch.ones(4)), batch_size=2)\n"
        "loader.num_workers = 3\n"
        "batches = list(loader)\n"
    )
    trace = pool.run(path).trace
    assert trace.error is not None and trace.error.line == 5
    assert "num_workers=3" in trace.error.message


def test_refusals_come_up_front_all_at_once_with_the_trust_hint(pool: WorkerPool, tmp_path: Path):
    path = tmp_path / "lesson.py"
    path.write_text(
        "import numpy as np\nimport torch\nx = np.zeros(3)\nnp.savez('x.npz', x)\n"
        "f = np.lib.format\nimport socket\n"
    )
    trace = pool.run(path).trace
    assert trace.error is not None and trace.error.kind == "refused"
    assert len(trace.steps) == 1  # nothing ran
    message = trace.error.message
    assert "'.savez'" in message and "numpy.lib" in message and "'socket'" in message
    assert message.count("--trust") >= 3


def test_the_backward_calls_a_torch_function_makes_are_one_group_under_its_call(
    pool: WorkerPool, tmp_path: Path
):
    """gradcheck runs the engine itself, many times; those calls are no passes of their
    own but one note on the step of the line that called it, with how many there were."""
    path = tmp_path / "lesson.py"
    path.write_text(textwrap.dedent(GRADCHECK).lstrip())
    trace = pool.run(path).trace
    assert trace.error is None, trace.error
    assert [p.line for p in trace.passes] == [12]  # only the scenario's own y.backward()
    by_line = {s.line: s.text for s in trace.steps if s.kind == "statement"}
    # the call as written, not torch's function inside it (test_grouped_calls)
    assert "· gradcheck(torch.sin, (x,), eps=1e-6, atol=1e-4) ran " in by_line[6]
    assert "(one group, not stepped through)" in by_line[6]
    for line in (7, 8, 9):  # jacobian (row by row, then batched) and hessian
        assert "backward call" in by_line[line], by_line[line]
    assert trace.stats["grouped_backward_calls"] >= 10
