"""What recording a backward pass must cost at least, measured without gradstep.

    python benchmarks/recording_floor.py [--runs 25]

For the ResNet-like and 6-layer transformer benchmark scenarios, builds the
model as the scenario does, then times (medians, one torch thread):

- ``plain``: the scenario's whole run — building the model, forward, backward;
- ``backward``: ``loss.backward()`` alone;
- ``+ hooks``: the same backward with one no-op post-hook on every node (the
  least any per-node record needs: the hooks are added, called and removed);
- ``+ keep``: the hooks keep references to every incoming and outgoing gradient;
- ``+ stats``: and reduce each distinct gradient to min, max, sum and norm (what
  a summary of a large gradient holds), one reduction each;
- ``+ register``: and walk the graph once to name each node (type, inputs).

The last column is the plain run plus these costs, as a ratio of the plain run:
the in-process overhead below which no per-node recording with statistics can go
on this machine, before any step, trace or JSON is made.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
SCENARIOS = ["resnet_like", "transformer_6"]


def _load(name: str) -> tuple[Any, float]:
    """The scenario's namespace after a plain run, and that run's median time."""
    path = HERE / "scenarios" / f"{name}.py"
    code = compile(path.read_text(), str(path), "exec")
    times = []
    ns: dict[str, Any] = {}
    for _ in range(7):
        ns = {"__name__": "__main__"}
        t0 = time.perf_counter()
        exec(code, ns)
        times.append(time.perf_counter() - t0)
    return ns, statistics.median(times[2:])


def _loss_function(name: str, ns: dict[str, Any]) -> Any:
    """The scenario's forward pass and loss, on its model and data."""
    model = ns["model"]
    if name == "resnet_like":
        images, labels = ns["images"], ns["labels"]
        return lambda: torch.nn.functional.cross_entropy(model(images), labels)
    x, target = ns["x"], ns["target"]
    return lambda: (model(x) - target).pow(2).mean()


def _nodes(root: Any) -> list[Any]:
    seen, order, stack = set(), [], [root]
    while stack:
        n = stack.pop()
        if n is None or n in seen:
            continue
        seen.add(n)
        order.append(n)
        stack.extend(p for p, _ in n.next_functions)
    return order


def _backward(loss_of: Any, mode: str) -> float:
    loss = loss_of()
    t0 = time.perf_counter()
    kept: list[Any] = []
    handles = []
    if mode != "backward":
        nodes = _nodes(loss.grad_fn)
        if mode == "register":
            [(type(n).__name__, len(n.next_functions), n._sequence_nr()) for n in nodes]

        def hook(grad_inputs: Any, grad_outputs: Any) -> None:
            if mode != "hooks":
                kept.append((grad_inputs, grad_outputs))

        handles = [n.register_hook(hook) for n in nodes]
    loss.backward()
    for h in handles:
        h.remove()
    if mode in ("stats", "register"):
        seen: dict[int, torch.Tensor] = {}
        for grads in kept:
            for group in grads:
                for g in group:
                    if g is not None:
                        seen[id(g)] = g
        with torch.no_grad():
            parts = []
            for g in seen.values():
                parts += (g.amin(), g.amax(), g.sum(), torch.linalg.vector_norm(g))
            torch.stack(parts).tolist()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=25)
    args = ap.parse_args()
    torch.set_num_threads(1)
    modes = ["backward", "hooks", "keep", "stats", "register"]
    print(
        f"{'scenario':<14} {'nodes':>5} {'plain ms':>9} "
        + " ".join(f"{m:>9}" for m in ["backward", "+ hooks", "+ keep", "+ stats", "+ register"])
        + f" {'floor x':>8}"
    )
    for name in SCENARIOS:
        ns, plain = _load(name)
        loss_of = _loss_function(name, ns)
        nodes = len(_nodes(loss_of().grad_fn))
        times = {}
        for mode in modes:
            samples = [_backward(loss_of, mode) for _ in range(args.runs)]
            times[mode] = statistics.median(samples[3:])
        floor = (plain + times["register"] - times["backward"]) / plain
        print(
            f"{name:<14} {nodes:>5} {plain * 1e3:>9.2f} "
            + " ".join(f"{times[m] * 1e3:>9.2f}" for m in modes)
            + f" {floor:>8.2f}"
        )


if __name__ == "__main__":
    main()
