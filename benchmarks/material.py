"""Real course material through gradstep: which files run, in which mode, at what cost.

    python benchmarks/material.py [--dir DIR] [--only NAME,NAME] [--no-plain] [--markdown]
    python benchmarks/material.py --budget [--only NAME,NAME] [--repeat N]

For each file listed in ``tests/material/manifest.toml`` (public autograd
tutorials, lecture notebooks and docs, unchanged; see that folder's README for
where the files live), one row:

- ``plain``: the file run as ordinary Python (``tests/material/plain_run.py``),
  so that a file that cannot run here at all (a missing package, a data
  download) is not counted against gradstep;
- ``trusted`` / ``restricted``: ``gradstep trace --json`` with ``--trust`` and
  in the default restricted mode, each with the default limits a user gets:
  ``ok`` (ran to its end), ``raised`` (the scenario raised), ``refused``
  (syntax or the allow-list check), ``limit`` or ``crash``;
- ``first problem``: the first error of the restricted run (else of the
  trusted run), with its line in the code as gradstep ran it;
- ``steps``, ``s`` (wall time of the whole command) and ``MB`` (trace size) for
  the trusted and the restricted run.

``--budget``: the long-loop tutorials only (2,000 rounds; ``dynamic_net`` 30,000),
each ``--repeat`` times, plain and recorded in turn: the file's body timed as plain
Python in a process prepared as a worker is before its clock starts (torch on one
thread, the same libraries imported ahead, what is loaded frozen for the collector)
against the restricted recording of it (the trace's ``record_seconds``), medians and
minimums, with the trace's size, its steps, how many rounds were summarised, how the
run ends under the default limits and the load average while it ran (issue 11's
budget: at most 2× the plain time and 10 MB).

Each run happens in a scratch copy of the material folder with the file's folder
as the current directory, so a file that reads ``names.txt`` finds it and one
that writes ``model.pth`` leaves the material untouched.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tests" / "material" / "manifest.toml"
PLAIN_RUN = ROOT / "tests" / "material" / "plain_run.py"


def material_dir(explicit: str | None = None) -> Path | None:
    """``--dir``, else ``$GRADSTEP_MATERIAL``, else ``shared/material`` beside the checkout."""
    for candidate in (explicit, os.environ.get("GRADSTEP_MATERIAL")):
        if candidate:
            return Path(candidate)
    beside = ROOT.parent / "shared" / "material"
    return beside if beside.is_dir() else None


def manifest() -> list[dict[str, str]]:
    with MANIFEST.open("rb") as f:
        return tomllib.load(f)["file"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Run:
    status: str  # ok, raised, refused, limit, crash, timeout, failed
    seconds: float
    steps: int = 0
    mb: float = 0.0
    error: str = ""
    trace: dict = field(default_factory=dict, repr=False)


_KIND = {"exception": "raised", "syntax": "refused", "refused": "refused", "limit": "limit"}


def gradstep_trace(path: Path, *, trusted: bool, timeout: float = 300.0, env=None) -> Run:
    """``gradstep trace --json`` on ``path`` from its folder; the trace parsed."""
    cmd = [sys.executable, "-m", "gradstep", "trace", "--json", path.name]
    if trusted:
        cmd.append("--trust")
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            cmd, cwd=path.parent, capture_output=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return Run("timeout", time.perf_counter() - t0, error=f"no answer in {timeout:.0f} s")
    seconds = time.perf_counter() - t0
    try:
        trace = json.loads(p.stdout)
    except ValueError:
        tail = p.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return Run("failed", seconds, error=f"exit {p.returncode}: {tail[0]}")
    err = trace.get("error")
    status = "ok" if err is None else _KIND.get(err.get("kind"), err.get("kind") or "raised")
    text = ""
    if err is not None:
        text = f"line {err.get('line')}: {err.get('type')}: {err.get('message')}"
    return Run(status, seconds, len(trace.get("steps", [])), len(p.stdout) / 1e6, text, trace)


def plain_run(path: Path, *, timeout: float = 120.0, env=None) -> Run:
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            [sys.executable, str(PLAIN_RUN), path.name],
            cwd=path.parent,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Run(
            "timeout", time.perf_counter() - t0, error=f"still running after {timeout:.0f} s"
        )
    seconds = time.perf_counter() - t0
    if p.returncode == 0:
        return Run("ok", seconds)
    lines = p.stderr.decode(errors="replace").strip().splitlines()
    return Run("raised", seconds, error=lines[-1] if lines else f"exit {p.returncode}")


#: the long-loop tutorials of issue 11's budget: recorded in at most twice the plain run's
#: time, into at most 10 MB (2,000 rounds each; dynamic_net 30,000)
BUDGET_FILES = (
    "pt_polynomial_tensor.py",
    "pt_polynomial_autograd.py",
    "pt_polynomial_custom_function.py",
    "pt_polynomial_nn.py",
    "pt_polynomial_optim.py",
    "pt_polynomial_module.py",
    "pt_polynomial_numpy.py",
    "pt_dynamic_net.py",
)

#: the file's body timed as plain Python, prepared as a worker is before its clock starts:
#: torch on one thread, the libraries a worker imports ahead (``torch._dynamo``, which the
#: first optimiser step would otherwise import inside the plain timing, numpy, matplotlib)
#: and what is loaded then frozen for the cycle collector (the recorder does the same)
_BODY = (
    "import gc, runpy, sys, time, torch\n"
    "torch.set_num_threads(1)\n"
    "from gradstep.scenario.audit import import_libraries, prewarm\n"
    "import_libraries(None)\n"
    "prewarm()\n"
    "gc.freeze()\n"
    "t = time.perf_counter()\n"
    "runpy.run_path(sys.argv[1], run_name='__main__')\n"
    "print(time.perf_counter() - t, file=sys.stderr)\n"
)


def plain_body_seconds(path: Path, env=None) -> float:
    p = subprocess.run(
        [sys.executable, "-c", _BODY, path.name],
        cwd=path.parent,
        capture_output=True,
        env=env,
        check=False,
        timeout=600,
    )
    return float(p.stderr.decode().strip().splitlines()[-1])


def _median(xs: list[float]) -> float:
    ys = sorted(xs)
    mid = len(ys) // 2
    return ys[mid] if len(ys) % 2 else (ys[mid - 1] + ys[mid]) / 2


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def budget(src: Path, tmp: Path, only: list[str] | None, repeat: int = 3) -> list[tuple[str, ...]]:
    """Per long-loop tutorial, ``repeat`` times in turn (so a change of the machine's load
    meets both alike): the plain body's seconds, then the restricted recording's (the
    worker's ``record_seconds``, with a generous time limit). A row: the medians and the
    minimums, their ratios, trace MB, steps, rounds summarised, the load average (1 min)
    before and after, and how the run ends with the default limits a user gets."""
    rows = []
    generous = dict(os.environ, OMP_NUM_THREADS="1", GRADSTEP_TIMEOUT="600")
    default = {k: v for k, v in generous.items() if not k.startswith("GRADSTEP_")}
    work = tmp / "budget"
    shutil.copytree(src, work)
    for name in BUDGET_FILES:
        if only and not any(w in name for w in only):
            continue
        path = work / name
        load_before = _load()
        plain, recorded = [], []
        run = Run("failed", 0.0)
        for _ in range(repeat):
            plain.append(plain_body_seconds(path, generous))
            run = gradstep_trace(path, trusted=False, timeout=900, env=generous)
            recorded.append(float(run.trace.get("stats", {}).get("record_seconds", "nan")))
        at_default = gradstep_trace(path, trusted=False, timeout=900, env=default)
        summarised = run.trace.get("stats", {}).get("summarised_rounds", 0)
        p_med, r_med = _median(plain), _median(recorded)
        rows.append(
            (
                name,
                run.status,
                f"{p_med:.2f} ({min(plain):.2f})",
                f"{r_med:.2f} ({min(recorded):.2f})",
                f"{r_med / p_med:.2f}× ({min(recorded) / min(plain):.2f}×)",
                f"{run.mb:.1f}",
                str(run.steps),
                f"{summarised:,}",
                at_default.status,
                f"{load_before}–{_load()}",
            )
        )
        print(f"  {name}: {rows[-1][2]} s plain, {rows[-1][3]} s recorded", file=sys.stderr)
    return rows


BUDGET_HEADER = (
    "file",
    "restricted",
    "plain s",
    "recorded s",
    "ratio",
    "MB",
    "steps",
    "summarised",
    "default limits",
    "load",
)


def _cell(text: str, width: int = 90) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", help="the material folder (default: $GRADSTEP_MATERIAL)")
    ap.add_argument("--only", help="comma-separated file names (or parts of them)")
    ap.add_argument("--no-plain", action="store_true", help="skip the plain-Python column")
    ap.add_argument("--plain-timeout", type=float, default=120.0)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument(
        "--budget",
        action="store_true",
        help="only the long-loop budget: plain body vs recording time, trace MB",
    )
    ap.add_argument("--repeat", type=int, default=3, help="--budget: runs of each file")
    args = ap.parse_args(argv)
    src = material_dir(args.dir)
    if src is None or not src.is_dir():
        print(
            "benchmarks/material.py: no material folder (pass --dir or set GRADSTEP_MATERIAL; "
            "see tests/material/README.md)",
            file=sys.stderr,
        )
        return 2
    if args.budget:
        only = [w.strip() for w in args.only.split(",")] if args.only else None
        with tempfile.TemporaryDirectory(prefix="gradstep-budget-") as tmp:
            rows = budget(src, Path(tmp), only, args.repeat)
        print(
            f"median of {args.repeat} runs each (minimum in brackets); "
            f"load average over 1 min before–after; {os.cpu_count()} cores"
        )
        print("| " + " | ".join(BUDGET_HEADER) + " |")
        print("|" + "---|" * len(BUDGET_HEADER))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return 0
    entries = manifest()
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        entries = [e for e in entries if any(w in e["file"] for w in wanted)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="gradstep-material-") as tmp:
        for e in entries:
            original = src / e["file"]
            if not original.is_file():
                rows.append((e["file"], "missing", "", "", "", "", "", ""))
                continue
            changed = "" if sha256(original) == e["sha256"] else " (changed!)"
            runs = {}
            for mode in ("plain", "trusted", "restricted"):
                # a fresh copy for each run: a file's own writes never meet the next run
                work = Path(tmp) / mode
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(src, work)
                path = work / e["file"]
                if mode == "plain":
                    if args.no_plain:
                        continue
                    runs[mode] = plain_run(path, timeout=args.plain_timeout)
                else:
                    runs[mode] = gradstep_trace(path, trusted=mode == "trusted")
            t, r = runs["trusted"], runs["restricted"]
            problem = r.error or (f"trusted: {t.error}" if t.error else "")
            rows.append(
                (
                    e["file"] + changed,
                    runs["plain"].status if "plain" in runs else "-",
                    t.status,
                    r.status,
                    _cell(problem),
                    f"{t.steps}/{r.steps}",
                    f"{t.seconds:.1f}/{r.seconds:.1f}",
                    f"{t.mb:.1f}/{r.mb:.1f}",
                )
            )
            print(f"  {rows[-1][0]}: {t.status}/{r.status}", file=sys.stderr, flush=True)
    header = (
        "file",
        "plain",
        "trusted",
        "restricted",
        "first problem",
        "steps T/R",
        "s T/R",
        "MB T/R",
    )
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        for row in (header, *rows):
            print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    ok_t = sum(1 for row in rows if row[2] == "ok")
    ok_r = sum(1 for row in rows if row[3] == "ok")
    print(f"\n{ok_t} of {len(rows)} run to their end trusted, {ok_r} of {len(rows)} restricted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
