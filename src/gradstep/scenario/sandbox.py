"""The run-time layer of the restricted scenario language: defence in depth.

:mod:`gradstep.scenario.check` refuses what the syntax tree shows. This module
stops what it cannot see, when the scenario runs:

- :func:`restricted_globals` gives the scenario curated built-ins (no
  ``open``, ``eval``, ``getattr``, ``vars``, ...; ``type`` takes one argument)
  and an ``__import__`` that grants only the allowed modules, each as a
  :class:`RestrictedModule`: a proxy that exposes an allow-list of names
  (ATen's public functions minus the file and raw-memory ones, dtypes, ``nn``
  layers, ``F`` functions, optimisers, ...) and looks each one up on the real
  module at access time, so the recorder's patch of ``torch.autograd.backward``
  and ``torch.autograd.grad`` is seen;
- :func:`guarded` turns on an audit hook (:func:`sys.addaudithook`) that
  refuses process creation, sockets, ``ctypes``, writing, removing or renaming
  files, reading files outside Python's own installation, importing modules
  other than torch's and reaching frames and code objects from scenario code.

What the audit hook does not refuse on purpose: ``compile`` and ``exec``
(the recorder compiles and runs each statement inside :func:`guarded`, and
torch generates code internally), ``sys._getframe`` and frame attributes read
by the recorder itself (only scenario frames are refused those).

What it cannot see: native code raises no audit events. ``torch.save``
writes through a C++ zip writer, ``torch.from_file(..., shared=True)`` and
``UntypedStorage.from_file`` create and map files, ``share_memory_()`` makes
shared-memory files, all without an ``open`` event (numpy's ``tofile`` and
``save`` do raise one). Those are kept out by name: the static check refuses
them and the proxies never hand out the real torch module. With the
allow-lists below, no module object and no reflective built-in is reachable
in three public attribute steps from a proxy, a tensor, a ``grad_fn``, an
``nn.Module`` or an optimiser (``test_sandbox`` walks it).
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import os
import re
import site
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from gradstep.scenario.check import ALLOWED_MODULES, ALLOWED_MODULES_TEXT, refused_attribute_reason

# ----------------------------------------------------------------- allow-lists

#: Which attribute of which proxied module is itself a proxied module.
_CHILDREN: dict[str, dict[str, str]] = {
    "torch": {
        "nn": "torch.nn",
        "optim": "torch.optim",
        "autograd": "torch.autograd",
        "linalg": "torch.linalg",
        "special": "torch.special",
        "fft": "torch.fft",
        "func": "torch.func",
        "cuda": "torch.cuda",
    },
    "torch.nn": {
        "functional": "torch.nn.functional",
        "init": "torch.nn.init",
        "utils": "torch.nn.utils",
    },
    "torch.optim": {"lr_scheduler": "torch.optim.lr_scheduler"},
    "torch.autograd": {"functional": "torch.autograd.functional"},
}

#: torch's own names beyond the ATen functions: types, grad modes, seeds, constants.
_TORCH_EXTRA = {
    "Tensor", "Size", "dtype", "device", "layout", "memory_format", "Generator", "finfo", "iinfo",
    "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
    "is_inference_mode_enabled", "manual_seed", "seed", "initial_seed", "get_rng_state",
    "set_rng_state", "pi", "e", "inf", "nan", "newaxis", "is_tensor", "get_default_dtype",
    "set_default_dtype", "set_printoptions", "broadcast_shapes", "unravel_index", "unique",
    "vmap", "typename", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
}  # fmt: skip

#: ATen functions that read or map files, or view foreign memory.
_TORCH_DENIED = {
    "from_file",
    "from_numpy",
    "frombuffer",
    "set_num_threads",
    "set_num_interop_threads",
}

_EXPLICIT: dict[str, set[str]] = {
    "torch.nn.utils": {
        "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
        "parameters_to_vector", "vector_to_parameters",
    },
    "torch.autograd": {
        "backward", "grad", "Function", "Variable", "no_grad", "enable_grad", "set_grad_enabled",
        "inference_mode", "detect_anomaly", "set_detect_anomaly", "gradcheck", "gradgradcheck",
    },
    "torch.autograd.functional": {"jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"},
    "torch.func": {
        "grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
        "functional_call", "linearize",
    },
    "torch.cuda": {"is_available", "device_count"},
}  # fmt: skip

#: torch.nn.functional's helpers for torch's own dispatch, not for scenarios.
_F_INTERNAL = {
    "boolean_dispatch", "assert_int_or_pair", "handle_torch_function", "has_torch_function",
    "has_torch_function_unary", "has_torch_function_variadic",
}  # fmt: skip


def _public(module: types.ModuleType) -> Iterator[tuple[str, Any]]:
    for name in dir(module):
        if not name.startswith("_"):
            yield name, getattr(module, name)


def _is_function(value: Any) -> bool:
    return callable(value) and not isinstance(value, type | types.ModuleType)


def _torch_names(module: types.ModuleType) -> set[str]:
    aten = {n for n in dir(torch._C._VariableFunctions) if not n.startswith("_")}
    names = {n for n in aten if hasattr(module, n)} | _TORCH_EXTRA
    names |= {
        n
        for n, v in _public(module)
        if isinstance(v, torch.dtype | torch.layout | torch.memory_format)
    }
    return names - _TORCH_DENIED


def _nn_names(module: types.ModuleType) -> set[str]:
    layers = {
        n for n, v in _public(module) if isinstance(v, type) and issubclass(v, torch.nn.Module)
    }
    layers -= {"DataParallel", "SyncBatchNorm"}  # threads and process groups
    return layers | {"Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"}


def _functional_names(module: types.ModuleType) -> set[str]:
    return {
        n
        for n, v in _public(module)
        if _is_function(v) and str(getattr(v, "__module__", "")).startswith("torch")
    } - _F_INTERNAL


def _defined_here(module: types.ModuleType, want: Callable[[Any], bool]) -> set[str]:
    return {
        n
        for n, v in _public(module)
        if want(v) and getattr(v, "__module__", None) == module.__name__
    }


def _optim_names(module: types.ModuleType) -> set[str]:
    return {
        n
        for n, v in _public(module)
        if isinstance(v, type) and issubclass(v, torch.optim.Optimizer)
    }


_RULES: dict[str, Callable[[types.ModuleType], set[str]]] = {
    "torch": _torch_names,
    "torch.nn": _nn_names,
    "torch.nn.functional": _functional_names,
    "torch.nn.init": lambda m: _defined_here(m, _is_function),
    "torch.optim": _optim_names,
    "torch.optim.lr_scheduler": lambda m: _defined_here(m, lambda v: isinstance(v, type)),
    "torch.linalg": lambda m: {n for n, v in _public(m) if _is_function(v)},
    "torch.special": lambda m: {n for n, v in _public(m) if _is_function(v)},
    "torch.fft": lambda m: {n for n, v in _public(m) if _is_function(v)},
    "math": lambda m: {n for n, _ in _public(m)},
}

_allowed_cache: dict[str, frozenset[str]] = {}


def _real_module(path: str) -> types.ModuleType:
    module = sys.modules.get(path)
    return module if module is not None else importlib.import_module(path)


def allowed_names(path: str) -> frozenset[str]:
    """The names a restricted scenario may read on module ``path`` (children included)."""
    cached = _allowed_cache.get(path)
    if cached is None:
        rule = _RULES.get(path)
        names = rule(_real_module(path)) if rule else set(_EXPLICIT.get(path, ()))
        # both layers refuse the same names: an allow-list rule never re-admits torch.save
        names = {n for n in names if refused_attribute_reason(n) is None}
        cached = frozenset(names | set(_CHILDREN.get(path, {})))
        _allowed_cache[path] = cached
    return cached


# ---------------------------------------------------------------- the proxies

_TOKEN = object()  # only this module can make a RestrictedModule
_proxies: dict[str, RestrictedModule] = {}


class RestrictedModule:
    """An allow-listing, read-only view of a real module, resolved at each access."""

    __slots__ = ("_gs_path",)

    def __init__(self, token: object, path: str) -> None:
        if token is not _TOKEN:
            raise TypeError("restricted modules are made by the sandbox only")
        object.__setattr__(self, "_gs_path", path)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("restricted modules cannot be subclassed")

    def __getattribute__(self, name: str) -> Any:
        if name == "__class__":  # isinstance() and friends ask for it
            return RestrictedModule
        path: str = object.__getattribute__(self, "_gs_path")
        child = _CHILDREN.get(path, {}).get(name)
        if child is not None:
            return restricted_module(child)
        module = _real_module(path)
        if name in allowed_names(path):
            return getattr(module, name)  # looked up now: patches made during a run are seen
        if name in dir(module):
            raise AttributeError(f"{path}.{name} is not available in a restricted scenario")
        raise AttributeError(f"module '{path}' has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        path = object.__getattribute__(self, "_gs_path")
        raise AttributeError(f"{path} is read-only in a restricted scenario")

    __delattr__ = __setattr__  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<restricted module '{object.__getattribute__(self, '_gs_path')}'>"

    def __dir__(self) -> list[str]:
        return sorted(allowed_names(object.__getattribute__(self, "_gs_path")))


def restricted_module(path: str) -> RestrictedModule:
    """The shared proxy of module ``path`` (one of ``ALLOWED_MODULES`` or their children)."""
    proxy = _proxies.get(path)
    if proxy is None:
        proxy = _proxies[path] = RestrictedModule(_TOKEN, path)
    return proxy


# ------------------------------------------------------------------- builtins

_SAFE_BUILTINS = (
    "print", "range", "len", "abs", "min", "max", "sum", "round", "float", "int", "bool", "str",
    "complex", "list", "tuple", "dict", "set", "frozenset", "zip", "enumerate", "map", "filter",
    "sorted", "reversed", "any", "all", "isinstance", "issubclass", "hasattr", "super",
    "staticmethod", "classmethod", "property", "slice", "repr", "ascii", "format", "divmod",
    "pow", "iter", "next", "hash", "id", "callable", "chr", "ord", "bin", "oct", "hex", "object",
    "NotImplemented", "Ellipsis", "__build_class__",
    # exceptions a scenario raises or catches
    "BaseException", "Exception", "ArithmeticError", "AssertionError", "AttributeError",
    "FloatingPointError", "ImportError", "IndexError", "KeyError", "LookupError", "MemoryError",
    "NameError", "NotImplementedError", "OverflowError", "PermissionError", "RecursionError",
    "RuntimeError", "StopIteration", "TypeError", "UnboundLocalError", "ValueError",
    "ZeroDivisionError", "Warning", "UserWarning", "DeprecationWarning", "RuntimeWarning",
)  # fmt: skip

_SCENARIO_MARK = object()  # a key no scenario can spell, in every restricted builtins dict


def _restricted_import(
    name: str,
    globals: dict[str, Any] | None = None,
    locals: dict[str, Any] | None = None,
    fromlist: Iterable[str] | None = (),
    level: int = 0,
) -> RestrictedModule:
    """``__import__`` for scenarios: the allowed modules only, as proxies.

    torch's C++ code imports its own modules (``torch.storage`` when a tensor
    is made) through the ``__import__`` of the Python frame that called it,
    which here is the scenario's; it then takes the module from
    ``sys.modules`` and ignores what this returns. So other ``torch.*`` names
    are imported for real but handed back as a proxy that exposes nothing.
    """
    if level:
        raise ImportError("relative imports are not allowed in a restricted scenario")
    top = name.partition(".")[0]
    if name not in ALLOWED_MODULES:
        if top != "torch":
            raise ImportError(
                f"importing '{name}' is not allowed; a scenario may import {ALLOWED_MODULES_TEXT}"
            )
        importlib.import_module(name)
    # 'import torch.nn' binds 'torch'; 'from torch.nn import X' and 'import torch.nn as nn'
    # take the attribute from the proxy of the right module
    return restricted_module(name if fromlist else top)


def _type_of(obj: object, /) -> type:
    """type(x) with one argument: the class, never a new class."""
    return type(obj)


# "type() takes 1 positional argument but 3 were given" reads right to the scenario's author
_type_of.__name__ = _type_of.__qualname__ = "type"


def restricted_globals(filename: str) -> dict[str, Any]:
    """A fresh namespace for ``exec`` of a restricted scenario.

    ``filename`` mirrors :func:`trusted_globals`; the scenario is not told its
    path (``__file__`` is refused: paths lead to files).
    """
    safe: dict[Any, Any] = {name: getattr(builtins, name) for name in _SAFE_BUILTINS}
    safe["__import__"] = _restricted_import
    safe["type"] = _type_of
    safe[_SCENARIO_MARK] = True  # lets the audit hook tell scenario frames apart
    return {"__builtins__": safe, "__name__": "__main__", "__doc__": None}


def trusted_globals(filename: str) -> dict[str, Any]:
    """The namespace of a ``--trust`` run: ordinary built-ins, real modules."""
    return {"__builtins__": builtins, "__name__": "__main__", "__file__": filename, "__doc__": None}


# ------------------------------------------------------------------ the audit guard


class _GuardState:
    """What the (unremovable) audit hook consults: how deep in guarded(), what may be read."""

    def __init__(self) -> None:
        self.depth = 0
        self.installed = False
        self.prewarmed = False
        # the thread importing what torch imports lazily; exempt from the guard
        self.prewarm_thread: threading.Thread | None = None
        # set by prepare_for() when the scenario to run needs none of those lazy imports
        self.prewarm_unneeded = False
        self.read_roots: tuple[str, ...] = ()
        self.extra_reads: tuple[str, ...] = ()
        self.lock = threading.Lock()


_state = _GuardState()

#: Top-level packages whose modules may still be imported while guarded.
_IMPORTABLE_ROOTS = frozenset({"torch", "math", "gradstep", "encodings"})

#: Events refused whoever raises them, by their prefix before the first dot.
_REFUSED_PREFIXES = frozenset(
    {
        "subprocess", "pty", "socket", "ctypes", "shutil", "tempfile", "mmap", "fcntl",
        "sqlite3", "webbrowser", "urllib", "http", "ftplib", "smtplib", "poplib", "imaplib",
        "nntplib", "telnetlib", "syslog", "winreg", "_winapi", "msvcrt", "resource",
    }
)  # fmt: skip

#: Events refused whoever raises them, exactly.
_REFUSED_EVENTS = frozenset(
    {
        "code.__new__", "function.__new__", "pickle.find_class",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
        "sys._current_exceptions", "sys.addaudithook", "builtins.input", "builtins.breakpoint",
        "signal.pthread_kill", "os.add_dll_directory", "os.startfile",
    }
)  # fmt: skip

#: ``os`` events that only read; their path is checked like ``open`` for reading.
_OS_READS = frozenset(
    {"os.listdir", "os.scandir", "os.walk", "os.fwalk", "os.getxattr", "os.listxattr"}
)

#: Attribute events raised when code reads frames and code objects (``tb_frame``, ``f_code``...).
_ATTRIBUTE_EVENTS = frozenset({"object.__getattr__", "object.__setattr__", "object.__delattr__"})

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def _refuse(what: str) -> None:
    raise PermissionError(f"{what} is not allowed while a restricted scenario runs")


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    if not _state.depth:
        return  # the common case, outside every scenario run: one attribute read
    check = _CHECKS.get(event, _UNSEEN)
    if check is _UNSEEN:
        check = _CHECKS[event] = _check_for(event)
    if check is None:
        return  # most events (``builtins.id`` from every deepcopy) end here: one lookup
    if _state.prewarm_thread is not None and threading.current_thread() is _state.prewarm_thread:
        return  # torch's own lazy imports, started before the scenario (see prewarm)
    check(event, args)


def _check_attribute(event: str, args: tuple[Any, ...]) -> None:
    if _is_scenario_frame(sys._getframe(2)):
        _refuse(f"using '{args[1]}' of {type(args[0]).__name__} objects")


def _check_os_read(event: str, args: tuple[Any, ...]) -> None:
    path = args[0] if args and args[0] is not None else "."
    if not isinstance(path, int):
        _check_read(path)


def _refuse_os(event: str, args: tuple[Any, ...]) -> None:
    _refuse(f"{event} (processes, signals and changes to files or the environment)")


def _refuse_event(event: str, args: tuple[Any, ...]) -> None:
    _refuse(event)


def _check_for(event: str) -> Callable[[str, tuple[Any, ...]], None] | None:
    """What the guard does with an event of this name (None: lets it through)."""
    if event == "open":
        return lambda _event, args: _check_open(args)
    if event == "import":
        return lambda _event, args: _check_import(str(args[0]))
    if event in _ATTRIBUTE_EVENTS:
        return _check_attribute
    if event in _OS_READS or event.startswith("glob.glob"):
        return _check_os_read
    if event.startswith("os."):
        return _refuse_os
    if event in _REFUSED_EVENTS or event.partition(".")[0] in _REFUSED_PREFIXES:
        return _refuse_event
    return None


#: event name -> its check, filled as events are first seen (names are a small fixed set)
_CHECKS: dict[str, Callable[[str, tuple[Any, ...]], None] | None] = {}
_UNSEEN = object()


def _check_import(name: str) -> None:
    if name.partition(".")[0] not in _IMPORTABLE_ROOTS:
        _refuse(f"importing '{name}'")


def _check_open(args: tuple[Any, ...]) -> None:
    path, mode, flags = (tuple(args) + (None, None, None))[:3]
    writing = any(c in mode for c in "wax+") if isinstance(mode, str) else False
    if isinstance(flags, int) and flags & _WRITE_FLAGS:
        writing = True
    if writing:
        _refuse(f"writing the file {path!r}")
    if not isinstance(path, int):  # an already open descriptor: it was granted before
        _check_read(path)


def _check_read(path: Any) -> None:
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        _refuse(f"reading {path!r}")
        return
    for root in _state.read_roots + _state.extra_reads:
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return
    _refuse(f"reading the file {real!r} (only Python's and torch's own files may be read)")


def _is_scenario_frame(frame: types.FrameType | None) -> bool:
    return frame is not None and frame.f_builtins.get(_SCENARIO_MARK) is True


def _read_roots() -> tuple[str, ...]:
    """Python's installation and site-packages: torch and the stdlib read their own files there."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    candidates.update(site.getsitepackages())
    candidates.add(site.getusersitepackages())
    candidates.add(os.path.dirname(os.path.dirname(torch.__file__)))
    candidates.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # gradstep itself
    if getattr(sys, "frozen", False):  # a desktop bundle imports from the archive in its executable
        candidates.add(sys.executable)
    roots = {os.path.realpath(c) for c in candidates if c}
    return tuple(sorted(r for r in roots if r != os.sep))


class _ImportGuard:
    """First finder on ``sys.meta_path``: refuses, while guarded, what the audit hook misses.

    The ``import`` audit event is raised by the ``import`` statement only;
    ``importlib.import_module`` finds modules without it. Every import of a
    module not yet loaded asks the finders, so this sees both.
    """

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        if _state.depth and threading.current_thread() is not _state.prewarm_thread:
            _check_import(name)
        return None  # let the real finders find it


def install_audit_guard() -> None:
    """Install the audit hook and the import guard once per process; both are inert
    outside :func:`guarded`."""
    with _state.lock:
        if _state.installed:
            return
        _state.read_roots = _read_roots()
        sys.addaudithook(_audit_hook)
        sys.meta_path.insert(0, _ImportGuard)  # type: ignore[arg-type]
        _state.installed = True


def prewarm() -> None:
    """Import what torch otherwise imports lazily on first use, so it happens unguarded.

    Constructing any optimiser imports ``torch._dynamo`` (about 800 modules,
    sympy among them, ~1 s), which also probes the temporary directory by
    writing a file; under the guard both would be refused. :func:`guarded`
    calls this; a worker that calls it at start-up, before a run is
    requested, spares the first lesson that second.
    """
    if _state.prewarmed:
        return
    if _state.prewarm_thread is not None:
        _state.prewarm_thread.join()
        return
    importlib.import_module("torch._dynamo")
    _state.prewarmed = True


def prewarm_in_background() -> None:
    """Start :func:`prewarm`'s imports in a thread the guard lets through.

    A worker calls this before it reports ready: the ~1 s of imports then
    overlaps the wait for a request (or the run of a scenario that needs
    none of it), instead of delaying the first lesson. A scenario that does
    import them meanwhile waits on the module lock until the thread is done.
    """
    if _state.prewarmed or _state.prewarm_thread is not None:
        return

    def run() -> None:
        importlib.import_module("torch._dynamo")
        _state.prewarmed = True

    _state.prewarm_thread = threading.Thread(target=run, name="gradstep-prewarm", daemon=True)
    _state.prewarm_thread.start()


#: What makes torch import ``torch._dynamo`` lazily, among what a restricted scenario can
#: reach: the optimisers (their methods are wrapped in ``torch._disable_dynamo``, which
#: imports it on first call) and ``torch.func``'s transforms (``grad``, ``jacrev``,
#: ``hessian`` ask it whether they are being compiled). Checked against torch 2.13's
#: sources: the other users of that wrapper (``torch.compile``, ``torch.utils.checkpoint``,
#: ``torch.library``, distributed) are refused by the static check.
_NEEDS_PREWARM = re.compile(r"\b(?:optim|func)\b")


def needs_prewarm(source: str) -> bool:
    """Whether running ``source`` restricted may make torch import ``torch._dynamo``."""
    return _NEEDS_PREWARM.search(source) is not None


def prepare_for(source: str) -> None:
    """Before a restricted run of ``source``: finish :func:`prewarm` if the scenario
    needs it (waiting for the background thread, or importing now), and otherwise
    let :func:`guarded` skip it, so that a one-off run of a scenario without an
    optimiser does not pay a second for imports it never uses."""
    if needs_prewarm(source):
        prewarm()
    else:
        _state.prewarm_unneeded = True


@contextlib.contextmanager
def guarded(readable: Iterable[str | os.PathLike[str]] = ()) -> Iterator[None]:
    """Refuse processes, sockets, ctypes, file writes and foreign reads while active.

    ``readable`` adds files or folders that may be read (the scenario's own
    file, for tracebacks). Re-entrant; the hook stays installed afterwards but
    is inert.
    """
    install_audit_guard()
    if _state.prewarm_thread is None and not _state.prewarm_unneeded:
        prewarm()  # no background prewarm under way: import now, unguarded
    extra = tuple(os.path.realpath(os.fspath(p)) for p in readable)
    with _state.lock:
        saved = _state.extra_reads
        _state.extra_reads = saved + extra
        _state.depth += 1
    try:
        yield
    finally:
        with _state.lock:
            _state.depth -= 1
            _state.extra_reads = saved
