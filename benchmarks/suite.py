"""The benchmark suite: one command, one table.

    python benchmarks/suite.py [--only mlp,resnet_like] [--runs 3] [--no-dot] [--no-window]

For each benchmark scenario (``benchmarks/scenarios/*.py`` and the bundled MLP
lesson), measured side by side in one run:

- ``nodes``: autograd nodes recorded;
- ``plain`` / ``traced`` / ``x``: wall time of the whole scenario run as plain
  Python vs recorded by gradstep (restricted, in-process, median of ``--runs``),
  and their ratio; ``bw x``: the same ratio for the backward calls alone
  (plain ``backward()`` vs a recorded pass: capture, hooks, engine, encoding);
- ``py s`` / ``cli s`` / ``cx``: the same as a user meets it, whole processes:
  ``python FILE`` vs ``gradstep trace FILE --json`` (worker start, torch import,
  restricted run, recording, JSON to the caller), median wall time, and ratio;
- ``MB``: peak resident memory of the recording process over the plain one;
- ``layout`` / ``cross``: our layered layout's time and exact edge crossings;
  ``dot`` / ``dcross`` and the ratios when Graphviz ``dot`` is on PATH (never
  required) — dot is given the same graph, node size and spacing;
- ``scene``: building the window's graph scene and panels for the trace
  (offscreen); ``step``: median time of one step (panels + repaint) in the
  window, over the steps of the last backward pass.

Each scenario is measured in fresh subprocesses: the torch side (timings,
memory, the trace as JSON) and the window side (no torch, like the app).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

SCENARIOS = {
    "mlp_lesson": ROOT / "resources" / "scenarios" / "14_mlp_training.py",
    "mlp": HERE / "scenarios" / "mlp.py",
    "resnet_like": HERE / "scenarios" / "resnet_like.py",
    "tanh_mlp_60": HERE / "scenarios" / "tanh_mlp_60.py",
    "transformer_6": HERE / "scenarios" / "transformer_6.py",
    "transformer_24": HERE / "scenarios" / "transformer_24.py",
    "transformer_96": HERE / "scenarios" / "transformer_96.py",
}


# ------------------------------------------------------------------ torch side
def measure_torch(path: Path, runs: int, mode: str, out: Path | None) -> dict[str, float]:
    """Run in a subprocess: ``plain`` or ``traced`` timings of one scenario."""
    import torch

    torch.set_num_threads(1)  # as the worker runs
    from gradstep.record.run import record_scenario
    from gradstep.scenario import sandbox
    from gradstep.scenario.loader import load_scenario
    from gradstep.trace.io import dumps

    sandbox.install_audit_guard()
    sandbox.prewarm()  # the worker does this before it is asked for anything
    source = path.read_text()
    code = compile(source, str(path), "exec")
    times, backward = [], []
    result: dict[str, float] = {}
    for _ in range(runs):
        if mode == "plain":
            real = torch.autograd.backward
            spent = []

            def timed(*a, _real=real, _spent=spent, **k):  # noqa: ANN002, ANN003
                t = time.perf_counter()
                try:
                    return _real(*a, **k)
                finally:
                    _spent.append(time.perf_counter() - t)

            torch.autograd.backward = timed
            t0 = time.perf_counter()
            try:
                exec(code, {"__name__": "__main__"})
            finally:
                torch.autograd.backward = real
            times.append(time.perf_counter() - t0)
            backward.append(sum(spent))
        else:
            scenario = load_scenario(path)
            t0 = time.perf_counter()
            trace = record_scenario(scenario)
            text = dumps(trace)
            times.append(time.perf_counter() - t0)
            backward.append(sum(trace.stats.get("pass_seconds", [])))
            if trace.error is not None:
                raise SystemExit(f"{path.name}: {trace.error}")
            result["nodes"] = len(trace.nodes)
            result["steps"] = len(trace.steps)
            result["json_mb"] = len(text) / 1e6
            if out is not None:
                out.write_text(text)
    result["seconds"] = statistics.median(times)
    result["backward"] = statistics.median(backward)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


# ----------------------------------------------------------------- window side
def measure_window(trace_path: Path, runs: int, use_dot: bool, window: bool) -> dict[str, float]:
    """Run in a subprocess without torch: layout vs dot, scene build, one step."""
    from layout_bench import compare

    from gradstep.graph import build_graph
    from gradstep.graph.layout.crossings import count_crossings
    from gradstep.trace.io import load

    trace = load(trace_path)
    g = build_graph(trace)
    timing, ours, theirs = compare(g, runs, use_dot)
    result: dict[str, float] = {
        "layout_ms": timing.ours * 1000,
        "cross": count_crossings(g, ours),
        "dot_ms": timing.dot * 1000,
        "dot_cross": count_crossings(g, theirs) if theirs is not None else math.nan,
    }
    if not window:
        return result
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from gradstep.gui import MainWindow
    from gradstep.gui.loader import LoadResult

    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings)
        win.setGeometry(0, 0, 1920, 1080)
        win.show()
        app.processEvents()
        t0 = time.perf_counter()
        win._loaded(LoadResult(str(trace_path), trace, 0.0, True, False))
        app.processEvents()
        result["scene_ms"] = (time.perf_counter() - t0) * 1000
        session = win.session
        last = trace.passes[-1]
        ks = list(range(last.first_step, last.last_step + 1))
        ks = ks[:: max(1, len(ks) // 150)]
        session.go_to(ks[0] - 1)
        app.processEvents()
        spent = []
        for k in ks:
            t0 = time.perf_counter()
            session.go_to(k)
            app.processEvents()
            spent.append((time.perf_counter() - t0) * 1000)
        result["step_ms"] = statistics.median(spent)
        result["step_p95_ms"] = sorted(spent)[int(0.95 * (len(spent) - 1))]
        win.close()
    return result


def measure_processes(path: Path, runs: int) -> tuple[float, float]:
    """Median wall time of ``python FILE`` and of ``gradstep trace FILE --json``."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    plain, traced = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(path)], env=env, capture_output=True, check=True)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "gradstep", "trace", str(path), "--json"],
            env=env,
            capture_output=True,
            check=True,
        )
        traced.append(time.perf_counter() - t0)
    return statistics.median(plain), statistics.median(traced)


# ---------------------------------------------------------------------- driver
def _sub(args: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt(v: float, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.{digits}f}"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--only", help="comma-separated scenario names")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--no-dot", action="store_true")
    p.add_argument("--no-window", action="store_true")
    p.add_argument("--torch", nargs=3, metavar=("PATH", "MODE", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--window", metavar="TRACE", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.torch:
        path, mode, out = args.torch
        print(
            json.dumps(
                measure_torch(Path(path), args.runs, mode, Path(out) if out != "-" else None)
            )
        )
        return
    if args.window:
        print(
            json.dumps(
                measure_window(Path(args.window), args.runs, not args.no_dot, not args.no_window)
            )
        )
        return

    use_dot = not args.no_dot and shutil.which("dot") is not None
    names = args.only.split(",") if args.only else list(SCENARIOS)
    header = (
        f"{'scenario':<15} {'nodes':>6} {'plain s':>8} {'traced s':>8} {'x':>5} {'bw x':>5} "
        f"{'py s':>5} {'cli s':>5} {'cx':>4} "
        f"{'MB':>11} {'layout ms':>9} {'cross':>5} {'dot ms':>8} {'dcross':>6} "
        f"{'time/dot':>8} {'scene ms':>8} {'step ms':>7}"
    )
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; dot: {'yes' if use_dot else 'not installed'}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = SCENARIOS[name]
            trace_file = Path(tmp) / f"{name}.json"
            plain = _sub(["--torch", str(path), "plain", "-", "--runs", str(args.runs)])
            traced = _sub(
                ["--torch", str(path), "traced", str(trace_file), "--runs", str(args.runs)]
            )
            win_args = ["--window", str(trace_file), "--runs", str(args.runs)]
            if not use_dot:
                win_args.append("--no-dot")
            if args.no_window:
                win_args.append("--no-window")
            w = _sub(win_args)
            py_s, cli_s = measure_processes(path, args.runs)
            ratio = traced["seconds"] / plain["seconds"]
            bw = traced["backward"] / plain["backward"] if plain["backward"] else math.nan
            print(
                f"{name:<15} {int(traced['nodes']):>6} {plain['seconds']:>8.3f} {traced['seconds']:>8.3f} "
                f"{ratio:>5.2f} {_fmt(bw, 2):>5} "
                f"{py_s:>5.2f} {cli_s:>5.2f} {cli_s / py_s:>4.2f} "
                f"{plain['peak_mb']:>5.0f}/{traced['peak_mb']:<5.0f} {w['layout_ms']:>9.1f} {int(w['cross']):>5} "
                f"{_fmt(w['dot_ms']):>8} {_fmt(w['dot_cross'], 0):>6} "
                f"{_fmt(w['layout_ms'] / w['dot_ms'], 2) if use_dot else '—':>8} "
                f"{_fmt(w.get('scene_ms', math.nan), 0):>8} {_fmt(w.get('step_ms', math.nan), 1):>7}",
                flush=True,
            )


if __name__ == "__main__":
    main()
