"""torch's and numpy's file doors for restricted scenarios, through the scenario's folder.

``torch.save``/``torch.load`` and numpy's ``save``/``load``/``savetxt``/``loadtxt``/
``genfromtxt`` take a file name; given one, torch writes and reads it in native
code that no audit event sees. A restricted scenario gets these functions
instead (the module proxies hand them out under the same names): each resolves
the name in the scenario's folder (:mod:`gradstep.scenario.folder`) and hands the
library an in-memory file, so a save lands in the run's scratch, never on disk,
and a load reads the scratch first, then the file beside the scenario. A file
object the scenario opened itself is passed through as it is.

What loading may do stays what PyTorch's safe default allows: ``torch.load`` runs
with ``weights_only=True`` (tensors, state dicts, plain containers; torch's own
unpickler refuses anything else), and ``weights_only=False``, a ``pickle_module``,
a function as ``map_location`` (it would be handed raw storages) and ``mmap``
are refused with a message; ``np.load`` keeps ``allow_pickle=False`` and no
memory map; ``np.save`` writes no pickled object arrays.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from gradstep.scenario import folder
from gradstep.scenario.errors import TRUST_HINT


def _is_name(f: Any) -> bool:
    return isinstance(f, str | bytes | os.PathLike | int) and not isinstance(f, bool)


def _refuse(what: str, why: str) -> PermissionError:
    return PermissionError(f"{what} is not available in a restricted scenario: {why}; {TRUST_HINT}")


def _to_scratch(name: Any, call: str, write: Callable[[io.BytesIO], Any]) -> None:
    """What ``write`` puts in a buffer, stored in the run's scratch under ``name`` (resolved,
    and refused if it leaves the folder, before anything is written)."""
    scenario = folder.current()
    real = scenario.resolve(name, call)
    buffer = io.BytesIO()
    write(buffer)
    scenario.store(real, buffer.getvalue())


def torch_save(obj: Any, f: Any, pickle_protocol: int = 2) -> None:
    """``torch.save(obj, f)``: a file name goes to the run's scratch, not to disk."""
    if not _is_name(f):
        torch.save(obj, f, pickle_protocol=pickle_protocol)
        return
    _to_scratch(
        f, "torch.save", lambda buffer: torch.save(obj, buffer, pickle_protocol=pickle_protocol)
    )


def torch_load(
    f: Any,
    map_location: Any = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    encoding: str | None = None,
) -> Any:
    """``torch.load(f, weights_only=True)``: from the scratch, else beside the scenario."""
    if weights_only is not None and not weights_only:
        raise _refuse(
            "torch.load(..., weights_only=False)",
            "it unpickles arbitrary objects, which can run any code; a restricted scenario "
            "loads tensors and state dicts (weights_only=True, PyTorch's default)",
        )
    if pickle_module is not None:
        raise _refuse("torch.load(..., pickle_module=...)", "it unpickles with another module")
    if mmap:
        raise _refuse("torch.load(..., mmap=True)", "it maps a file into memory")
    if callable(map_location):
        raise _refuse(
            "torch.load(..., map_location=<a function>)",
            "it would be handed torch's raw storages; give a device or a dict of devices",
        )
    if _is_name(f):
        f = io.BytesIO(folder.current().read_bytes(f, "torch.load"))
    if encoding is None:
        return torch.load(f, map_location=map_location, weights_only=True)
    return torch.load(f, map_location=map_location, weights_only=True, encoding=encoding)


def np_save(file: Any, arr: Any, allow_pickle: bool = True) -> None:
    """``np.save(file, arr)``: to the scratch (``.npy`` added as numpy does); no pickles."""
    if not _is_name(file):
        np.save(file, arr, allow_pickle=False)
        return
    name = os.fspath(file) if not isinstance(file, int) else file
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    if isinstance(name, str) and not name.endswith(".npy"):
        name += ".npy"
    _to_scratch(name, "np.save", lambda buffer: np.save(buffer, arr, allow_pickle=False))


def np_load(
    file: Any,
    mmap_mode: Any = None,
    allow_pickle: bool = False,
    fix_imports: bool = True,
    encoding: Any = "ASCII",
    **kwargs: Any,
) -> Any:
    """``np.load(file)``: from the scratch, else beside the scenario; no pickles, no maps."""
    if allow_pickle:
        raise _refuse("np.load(..., allow_pickle=True)", "unpickling can run any code")
    if mmap_mode is not None:
        raise _refuse("np.load(..., mmap_mode=...)", "it maps a file into memory")
    if _is_name(file):
        file = io.BytesIO(folder.current().read_bytes(file, "np.load"))
    return np.load(file, allow_pickle=False, fix_imports=fix_imports, encoding=encoding, **kwargs)


def np_savetxt(fname: Any, X: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N803 - numpy's
    """``np.savetxt(fname, X, ...)``: a file name goes to the run's scratch."""
    if not _is_name(fname):
        np.savetxt(fname, X, *args, **kwargs)
        return
    with folder.current().open(fname, "wb") as f:
        np.savetxt(f, X, *args, **kwargs)


def _text_reader(read: Callable[..., Any], call: str) -> Callable[..., Any]:
    """numpy's ``loadtxt``/``genfromtxt`` reading a file name from the scenario's folder."""

    def reader(fname: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_name(fname):
            return read(fname, *args, **kwargs)
        encoding = kwargs.get("encoding")
        text = encoding if isinstance(encoding, str) and encoding != "bytes" else None
        with folder.current().open(fname, "r", encoding=text) as f:
            return read(f, *args, **kwargs)

    reader.__name__ = reader.__qualname__ = call.rpartition(".")[2]
    reader.__doc__ = f"``{call}(fname, ...)``: a file name is read from the scenario's folder."
    return reader


for _f, _name in ((torch_save, "save"), (torch_load, "load"), (np_save, "save")):
    _f.__name__ = _f.__qualname__ = _name
np_load.__name__ = np_load.__qualname__ = "load"
np_savetxt.__name__ = np_savetxt.__qualname__ = "savetxt"

#: (module path, name) -> what a restricted scenario gets for that door
REPLACEMENTS: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch", "save"): torch_save,
    ("torch", "load"): torch_load,
    ("numpy", "save"): np_save,
    ("numpy", "load"): np_load,
    ("numpy", "savetxt"): np_savetxt,
    ("numpy", "loadtxt"): _text_reader(np.loadtxt, "np.loadtxt"),
    ("numpy", "genfromtxt"): _text_reader(np.genfromtxt, "np.genfromtxt"),
}
