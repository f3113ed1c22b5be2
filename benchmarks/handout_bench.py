"""How long a handout takes: a 30-step scenario, recorded in the worker, written headless.

    python benchmarks/handout_bench.py [--repeat 3]

Prints the recording time, then the time to write the handout folder one
image per backward node, one image per step, and one image per step plus
the PDF (with the PDF's pages, size and pictures: none, its figures are
vector). The numbers feed the closing note of the export work; they are
measured here, not asserted in a timed test.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SCENARIO = '''"""Thirty steps: a chain of scalar ops

A small forward chain and one backward pass, long enough for a handout.
"""
# %% [markdown]
# Each op's local derivative is a slope; the chain rule multiplies them.
# %%
import torch
x = torch.tensor(0.8, requires_grad=True)
a = x ** 2
b = torch.sin(a)
c = torch.sigmoid(b)
d = torch.exp(c)
loss = torch.log(d + 1)
loss.backward()
print(x.grad)
print(loss.item())
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from gradstep.gui.export.handout import write_handout
    from gradstep.worker.client import WorkerPool

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "thirty_steps.py"
        path.write_text(SCENARIO)
        with WorkerPool() as pool:
            pool.run(path, trusted=True)  # a warm worker, as in the app
            t0 = time.perf_counter()
            trace = pool.run(path, trusted=True).trace
            record_s = time.perf_counter() - t0
        if trace.error is not None:
            print(f"the scenario failed: {trace.error}", file=sys.stderr)
            return 1
        print(
            f"scenario: {len(trace.steps)} steps, {len(trace.passes)} pass(es); "
            f"recorded in {record_s:.2f} s (warm worker)"
        )
        for label, per, pdf in (
            ("per backward node", "node", False),
            ("per step", "step", False),
            ("per step + PDF", "step", True),
        ):
            times, images = [], 0
            for k in range(args.repeat):
                out = Path(tmp) / f"handout-{per}-{pdf}-{k}"
                t0 = time.perf_counter()
                write_handout(trace, out, per=per, pdf=pdf)
                times.append(time.perf_counter() - t0)
                images = len(list((out / "images").iterdir()))
            pdf_note = ""
            if pdf:
                raw = (out / "handout.pdf").read_bytes()
                pages = len(re.findall(rb"/Type /Page\b", raw))
                pictures = raw.count(b"/Subtype /Image")
                pdf_note = f"; PDF {pages} pages, {len(raw) / 1024:.0f} KiB, {pictures} pictures"
            print(
                f"handout {label:<18} {images:3d} images: "
                f"median {statistics.median(times):.2f} s (min {min(times):.2f} s){pdf_note}"
            )
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
