"""Reading and writing traces as JSON, atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from gradstep.trace.model import Trace


def dumps(trace: Trace, *, indent: int | None = None) -> str:
    # allow_nan=False: non-finite numbers are already encoded as strings; a bare NaN here is a bug
    return json.dumps(trace.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)


def loads(text: str) -> Trace:
    return Trace.from_dict(json.loads(text))


def save(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write the trace completely or not at all."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dumps(trace))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike[str]) -> Trace:
    return loads(Path(path).read_text(encoding="utf-8"))
