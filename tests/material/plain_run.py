"""Run one course file as plain Python and dump the ``.grad`` of named tensors.

    python tests/material/plain_run.py FILE [--names NAMES.json --out OUT.json]
                                            [--until-cell N]

The oracle for the material tests: the file runs unchanged (a notebook's code
cells in order, as gradstep's loader converts them, IPython magics commented
out), in the current directory, with its own folder first on ``sys.path`` as
``python FILE`` has it (micrograd's checks import the ``micrograd/`` package
beside them), with one thread like gradstep's worker. ``--until-cell N``: a
notebook's cells before cell N only (cells counted from 1 as Jupyter and
gradstep's ``cell N, line M`` count them, markdown ones included). With
``--names`` (a JSON list of variable names as a gradstep trace spells them:
``w``, ``params[0]``, ``model.0.weight``), each is looked up in the final
namespace and its ``.grad`` written to OUT as ``{"name": {"shape": [...],
"grad": nested list or null}}``; a name that resolves to nothing maps to null.
Exit status: 0 the file ran to its end, 1 it raised (the traceback on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from typing import Any

_PART = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


def resolve(namespace: dict[str, Any], name: str) -> Any:
    """``model.0.weight`` → getattr chain; ``grads[1]`` → an index."""
    value: Any = None
    for i, m in enumerate(_PART.finditer(name)):
        index, attr = m.group(1), m.group(2)
        if i == 0:
            if attr is None or attr not in namespace:
                return None
            value = namespace[attr]
        elif index is not None:
            try:
                value = value[int(index)]
            except (IndexError, KeyError, TypeError):
                return None
        else:
            value = getattr(value, attr, None)
        if value is None:
            return None
    return value


def grad_of(value: Any) -> dict[str, Any] | None:
    import torch

    if not isinstance(value, torch.Tensor):
        return None
    g = value.grad if value.is_leaf else None
    return {
        "shape": list(value.shape),
        "grad": None if g is None else g.detach().cpu().double().tolist(),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--names")
    ap.add_argument("--out")
    ap.add_argument("--until-cell", type=int)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    path = os.path.abspath(args.file)
    sys.path.insert(0, os.path.dirname(path))  # as `python FILE` does
    if path.endswith(".ipynb"):
        from gradstep.scenario.loader import load_scenario

        scenario = load_scenario(path)
        source = scenario.source
        if args.until_cell:  # the lines before that cell's marker
            marker = scenario.notebook_cells[args.until_cell - 1]
            source = "\n".join(source.split("\n")[: marker - 1]) + "\n"
    else:
        with open(path, encoding="utf-8-sig") as f:
            source = f.read()
    import torch

    torch.set_num_threads(1)  # gradstep's worker runs single-threaded: same reduction order
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": path}
    status = 0
    try:
        exec(compile(source, path, "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        status = 1
    if args.names and args.out:
        with open(args.names, encoding="utf-8") as f:
            names = json.load(f)
        dump = {n: grad_of(resolve(namespace, n)) for n in names}
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(dump, f)
    return status


if __name__ == "__main__":
    sys.exit(main())
