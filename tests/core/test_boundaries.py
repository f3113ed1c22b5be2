"""The core runs without Qt, and the trace/graph/session layers without torch."""

from __future__ import annotations

import subprocess
import sys

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
"""


def run_blocked(blocked: set[str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK.format(blocked=blocked) + code],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_core_imports_and_records_without_qt():
    r = run_blocked(
        {"PySide6", "pyqtgraph", "shiboken6"},
        "import gradstep.cli, gradstep.session, gradstep.graph, gradstep.worker, gradstep.record.run\n"
        "from gradstep.scenario.loader import scenario_from_source\n"
        "from gradstep.record.run import record_scenario\n"
        "t = record_scenario(scenario_from_source('import torch\\nx = torch.tensor(3.0, requires_grad=True)\\n(x**2).backward()\\n', 's.py'), trusted=True)\n"
        "print(t.variables['x'].grad)\n",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "6.0"


def test_trace_graph_and_session_need_no_torch():
    r = run_blocked(
        {"torch", "PySide6"},
        "import gradstep.trace, gradstep.graph, gradstep.session, gradstep.worker.client\nprint('ok')\n",
    )
    assert r.returncode == 0, r.stderr
