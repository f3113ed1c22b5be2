"""What the OS walls cost a run: a warm reopen of a small lesson, with and without them.

    python benchmarks/walls_bench.py [--runs 7] [--settle 6] [FILE]

Each run takes a warm spare worker (torch imported and its lazy imports done: the
script waits ``--settle`` seconds after the spare says it is ready), as the app does
when a saved edit reloads a lesson. Prints the median wall time of the whole run as
the caller sees it, restricted (walls up) and trusted (no walls), and the time the
worker spent raising the walls (``stats.walls_seconds``), and, in a fresh process,
each layer's own time (what :func:`walls.prepare` builds before the request is not
in the per-run figures).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS = """
import time
import torch
from gradstep.worker import walls
t = time.perf_counter(); walls.prepare(); prepare = time.perf_counter() - t
t = time.perf_counter(); paths = walls.readable_paths(__import__("sys").argv[1])
figures = {"prepare (before the request)": prepare, "readable paths": time.perf_counter() - t}
for name, layer in [
    ("network namespace", walls._enter_network_namespace),
    ("rlimits", walls._limit_resources),
    ("landlock", lambda: walls._restrict_files(__import__("sys").argv[1], 1)),
    ("seccomp", walls._filter_system_calls),
]:
    t = time.perf_counter(); state = layer(); figures[f"{name} ({state})"] = time.perf_counter() - t
for name, seconds in figures.items():
    print(f"  {name:40s} {seconds * 1000:7.2f} ms")
"""


def reopen(path: Path, runs: int, settle: float, trusted: bool) -> tuple[list[float], list[float]]:
    from gradstep.worker import WorkerPool

    totals, walls = [], []
    with WorkerPool() as pool:
        for _ in range(runs + 1):  # the first only warms the pool
            spare = pool._spare
            if spare is not None:
                spare.wait_ready(120)
            time.sleep(settle)
            result = pool.run(path, trusted=trusted)
            if result.error is not None:
                raise SystemExit(f"{path.name}: {result.error}")
            totals.append(result.seconds)
            walls.append(result.trace.stats.get("walls_seconds", 0.0))
    return totals[1:], walls[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=ROOT / "resources/scenarios/01_square.py")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--settle", type=float, default=6.0)
    args = parser.parse_args()
    path = Path(args.file)
    for label, trusted in (("restricted, walls up", False), ("trusted, no walls", True)):
        totals, walls = reopen(path, args.runs, args.settle, trusted)
        print(
            f"{label:22s} warm reopen median {statistics.median(totals) * 1000:6.1f} ms "
            f"(min {min(totals) * 1000:.1f}), walls median {statistics.median(walls) * 1000:.2f} ms"
        )
    print("each layer, once, in a fresh process:")
    subprocess.run([sys.executable, "-c", LAYERS, str(path)], check=True, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
