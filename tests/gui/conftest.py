"""The real window, a real scenario file, the real worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

SCENARIO = '''"""Sine times x.

The gradient of a small chain, checked against PyTorch.
"""
# %% [markdown]
# We square a sine and average it.
# %%
import torch

x = torch.tensor([0.5, -1.5, 2.0], requires_grad=True)
y = torch.sin(x) * x
y.retain_grad()
loss = (y**2).mean()
# %%
loss.backward()
'''


@pytest.fixture(autouse=True)
def _empty_clipboard(qapp):
    """Offscreen Qt crashes at exit (status 139, after every test passed) while the
    clipboard holds data, so no test leaves any there. A real display (xcb) does not."""
    yield
    from PySide6.QtGui import QGuiApplication

    QGuiApplication.clipboard().clear()


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "sine.py"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def worker_pool():
    """One pool for every window: each run still gets a fresh worker process."""
    from gradstep.worker.client import WorkerPool

    with WorkerPool() as pool:
        yield pool


@pytest.fixture
def window(qtbot, tmp_path: Path, worker_pool):
    from gradstep.gui import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings, pool=worker_pool)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()
