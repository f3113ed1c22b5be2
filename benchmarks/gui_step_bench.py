"""How fast the window answers: one step on graphs of 2,000 and 5,400 nodes, and a cold start.

    python benchmarks/gui_step_bench.py            # all, offscreen
    python benchmarks/gui_step_bench.py --step     # only the 2,000-node step timings
    python benchmarks/gui_step_bench.py --big      # the 5,400-node transformer stack
    python benchmarks/gui_step_bench.py --start    # only the cold start

Budgets (docs: design brief): a step updates every panel and repaints within
16 ms on a graph of 2,000 nodes; opening a bundled scenario shows a drawn
graph in under 2.5 s from a cold start (a new Python process).

The step benchmark records a real scenario through the real worker (a stack
of gated layers, ~2,000 autograd nodes), opens it in the real window at
1920×1080, and times ``session.go_to(k)`` followed by the event processing
that repaints what changed, for steps spread over the backward pass — both
at the window's readable zoom and zoomed out to the whole graph.

The big benchmark records ``benchmarks/scenarios/transformer_96.py`` (96
encoder layers, ~5,400 nodes), opens it (one box per layer), steps on the
boxes, opens one layer, then every module ("Expand all": laid out in a
thread, its items made a batch per turn of the event loop) and steps on the
5,400 drawn nodes. For the commands that redraw the graph it reports the
time until the new drawing is up and the longest the window went without
answering meanwhile (the largest gap between ticks of a 2 ms timer).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

LAYERS = 222  # 9 autograd nodes per layer -> ~2,000 nodes
SCENARIOS = Path(__file__).parent / "scenarios"

BIG_SCENARIO = f'''"""A deep stack of gated layers: about 2,000 autograd nodes."""
import torch

torch.manual_seed(0)
x = torch.randn(4, 8)
weights = [torch.randn(8, 8, requires_grad=True) for _ in range({LAYERS})]
h = x
for W in weights:
    a = torch.tanh(h @ W)
    b = torch.sigmoid(h @ W.t())
    h = (a * b + h) / 2
loss = h.pow(2).mean()
loss.backward()
'''


def _percentiles(ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms   max {ms[-1]:6.2f} ms"


def bench_step(samples: int = 200) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from gradstep.worker.client import WorkerPool

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    from gradstep.gui import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deep.py"
        path.write_text(BIG_SCENARIO)
        t0 = time.perf_counter()
        with WorkerPool(prestart=False) as pool:
            trace = pool.run(path, trusted=True).trace
        record_s = time.perf_counter() - t0
        assert trace.error is None, trace.error
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings)
        window.setGeometry(0, 0, 1920, 1080)
        window.show()
        t0 = time.perf_counter()
        from gradstep.gui.loader import LoadResult

        window._loaded(LoadResult(str(path), trace, 0.0, True, False))
        _wait_drawn(app, window.graph)
        build_s = time.perf_counter() - t0
        session = window.session
        bpass = trace.passes[0]
        print(
            f"graph: {len(trace.nodes)} nodes, {session.step_count} steps, "
            f"{len(bpass.nodes)} nodes in the backward pass"
        )
        print(f"record (worker): {record_s:.2f} s;  layout + scene + panels: {build_s:.2f} s")

        ks = _spread(bpass, samples)
        window.graph.follow = True
        zoom = window.graph.transform().m11()
        _time_steps(app, session, ks, f"step, readable zoom (×{zoom:.2f}), following the node:")
        window.graph.follow = False
        window.graph.fit()
        zoom = window.graph.transform().m11()
        _time_steps(app, session, ks, f"step, whole graph in view (×{zoom:.3f}):")
        window.close()


def _spread(bpass, samples: int) -> list[int]:
    """Steps spread evenly over a backward pass."""
    span = range(bpass.first_step, bpass.last_step + 1)
    return list(span)[:: max(1, len(span) // samples)]


def _time_steps(app, session, ks: list[int], label: str) -> None:
    """``go_to(k)`` then the repaint of what changed, for each k."""
    session.go_to(ks[0] - 1)
    app.processEvents()
    handler, total = [], []
    for k in ks:
        t0 = time.perf_counter()
        session.go_to(k)
        t1 = time.perf_counter()
        app.processEvents()  # the repaint of what changed
        t2 = time.perf_counter()
        handler.append((t1 - t0) * 1000)
        total.append((t2 - t0) * 1000)
    print(label)
    print(f"  panels updated : {_percentiles(handler)}")
    print(f"  + repaint      : {_percentiles(total)}")


def _wait_drawn(app, graph) -> None:
    """Until the drawing asked for is on screen (laid out, its items made), then paint."""
    while graph.laying_out:
        app.processEvents()
        time.sleep(0.0005)
    app.processEvents()


def _answering(app, graph, command) -> tuple[float, float]:
    """Run ``command`` and wait for its drawing: (seconds to it, longest stall in seconds)."""
    from PySide6.QtCore import QTimer

    end = time.perf_counter() + 0.5  # what the last steps left due (the plots) first
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)
    ticks = [time.perf_counter()]
    timer = QTimer()
    timer.setInterval(2)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    t0 = time.perf_counter()
    command()
    _wait_drawn(app, graph)
    elapsed = time.perf_counter() - t0
    for _ in range(10):  # a tick after the last paint
        app.processEvents()
        time.sleep(0.002)
    timer.stop()
    stall = max(b - a for a, b in zip(ticks, ticks[1:])) if len(ticks) > 1 else elapsed
    return elapsed, stall


def bench_big(samples: int = 200) -> None:
    """The 96-layer transformer stack: record, open, step collapsed and expanded."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from gradstep.worker.client import WorkerPool
    from gradstep.worker.limits import Limits

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    from gradstep.gui import MainWindow
    from gradstep.gui.loader import LoadResult

    path = SCENARIOS / "transformer_96.py"
    t0 = time.perf_counter()
    with WorkerPool(prestart=False) as pool:
        result = pool.run(path, trusted=False, limits=Limits.from_env(seconds=60))
    record_s = time.perf_counter() - t0
    trace = result.trace
    assert trace.error is None, trace.error
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings)
        window.setGeometry(0, 0, 1920, 1080)
        window.show()
        app.processEvents()
        t0 = time.perf_counter()
        window._loaded(LoadResult(str(path), trace, 0.0, False, False))
        while window.graph.laying_out:
            app.processEvents()
        window.graph.viewport().repaint()
        open_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        app.processEvents()  # what comes due once the trace is on screen
        settle_s = time.perf_counter() - t0
        graph, session = window.graph, window.session
        bpass = trace.passes[0]
        print(
            f"transformer_96: {len(trace.nodes)} nodes, {session.step_count} steps; "
            f"record (worker, cold, restricted) {record_s:.2f} s (in the worker {result.seconds:.2f} s)"
        )
        print(
            f"open: {open_s:.2f} s to a drawn window ({len(graph._nodes)} boxes and nodes drawn, "
            f"layout {graph.layout_seconds * 1000:.0f} ms); then {settle_s * 1000:.0f} ms of "
            "events (one collection, the trace then out of the collector's sight)"
        )
        ks = _spread(bpass, samples)
        graph.follow = True
        _time_steps(app, session, ks, "step, one box per layer, following the current box:")
        app.processEvents()
        took, stall = _answering(app, graph, lambda: graph.boxes.open_box(sorted(graph.closed)[0]))
        print(
            f"open one layer's box: {took * 1000:.0f} ms, "
            f"longest the window did not answer {stall * 1000:.0f} ms"
        )
        for run in range(3):
            if run:
                _answering(app, graph, graph.collapse_all)
            took, stall = _answering(app, graph, graph.expand_all)
            print(
                f"expand all: {took:.2f} s to {len(graph._nodes)} drawn nodes (layout "
                f"{graph.layout_seconds:.2f} s in a thread); longest the window did not answer "
                f"{stall * 1000:.0f} ms"
            )
        _time_steps(app, session, ks, "step, every node drawn, readable zoom, following:")
        graph.follow = False
        graph.fit()
        _time_steps(
            app, session, ks, f"step, whole graph in view (×{graph.transform().m11():.4f}):"
        )
        t0 = time.perf_counter()
        graph.minimap.render_scene()
        print(f"overview map redrawn (after a step): {(time.perf_counter() - t0) * 1000:.0f} ms")
        took, stall = _answering(app, graph, graph.collapse_all)
        print(
            f"collapse all: {took * 1000:.0f} ms, "
            f"longest the window did not answer {stall * 1000:.0f} ms"
        )
        window.close()


COLD = textwrap.dedent(
    """
    import os, sys
    os.environ["XDG_CONFIG_HOME"] = sys.argv[1]  # a new user: no saved layout
    from gradstep.gui.app import launch
    from gradstep.resources import default_scenario
    w = launch(str(default_scenario()))  # what `gradstep` does: restricted, as a user opens it
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance()
    def drawn():
        app.processEvents()
        w.graph.viewport().repaint()  # the graph is on screen
        print("DRAWN", len(w.graph.scene().items()), flush=True)
        app.quit()
    w.trace_ready.connect(drawn)
    w.load_failed.connect(lambda m: (print("FAILED", m, flush=True), app.quit()))
    QTimer.singleShot(30000, app.quit)
    app.exec()
    """
)


def bench_start(runs: int = 3) -> None:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", COLD, tmp],
                capture_output=True,
                text=True,
                timeout=60,
            )
            elapsed = time.perf_counter() - t0
            line = next(
                (ln for ln in out.stdout.splitlines() if ln.startswith(("DRAWN", "FAILED"))), ""
            )
            if not line.startswith("DRAWN"):
                print("cold start failed:", line or out.stderr[-500:])
                return
            times.append(elapsed)
    print(
        f"cold start to a drawn graph (default scenario, restricted): "
        f"{', '.join(f'{t:.2f} s' for t in times)}  (best {min(times):.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--step", action="store_true")
    parser.add_argument("--start", action="store_true")
    parser.add_argument("--big", action="store_true")
    args = parser.parse_args()
    every = not (args.step or args.start or args.big)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.start or every:
        bench_start()
    if args.step or every:
        bench_step()
    if args.big or every:
        bench_big()


if __name__ == "__main__":
    main()
