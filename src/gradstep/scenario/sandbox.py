"""The run-time layer of the restricted scenario language: defence in depth.

:mod:`gradstep.scenario.check` refuses what the syntax tree shows. This module
stops what it cannot see, when the scenario runs:

- :func:`restricted_globals` gives the scenario curated built-ins (no
  ``eval``, ``vars``, ``globals``, ...; ``getattr``/``setattr``/``delattr``
  refuse internal names, :mod:`gradstep.scenario.reflect`; ``type`` takes one argument and never
  hands out a metaclass; ``open`` is the scenario folder's, which reads beside
  the scenario and writes to the run's scratch in memory,
  :mod:`gradstep.scenario.folder`) and an ``__import__`` that grants only the
  allowed modules, each as a :class:`RestrictedModule`: a proxy that exposes
  an allow-list of names (ATen's public functions minus the file and
  raw-memory ones, dtypes, ``nn`` layers, ``F`` functions, optimisers, ...)
  and looks each one up on the real module at access time, so the recorder's
  patch of ``torch.autograd.backward`` and ``torch.autograd.grad`` is seen. A
  few torch classes that reflect on what the scenario hands them are handed
  out hardened (:mod:`gradstep.scenario.hardened`);
- :mod:`gradstep.scenario.audit` (re-exported here: :func:`guarded`,
  :func:`seal`) refuses processes, sockets, file writes and foreign reads.

What it cannot see: native code raises no audit events. ``torch.save``
writes through a C++ zip writer (the scenario's ``torch.save`` is
:mod:`gradstep.scenario.savers`', which hands torch an in-memory file), ``torch.from_file(..., shared=True)`` and
``UntypedStorage.from_file`` create and map files, ``share_memory_()`` makes
shared-memory files, all without an ``open`` event (numpy's ``tofile`` and
``save`` do raise one). Those are kept out by name: the static check refuses
them and the proxies never hand out the real torch module. With the
allow-lists below, no module object and no reflective built-in is reachable
in three public attribute steps from a proxy, a tensor, a ``grad_fn``, an
``nn.Module`` or an optimiser (``test_sandbox`` walks it).

None of this is the security boundary: a language-level sandbox of Python
is broken by design, and the worker's operating-system walls are what hold
(``gradstep.worker.walls``). This layer refuses early, with a clear message.
"""

from __future__ import annotations

import builtins
import importlib
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import torch

from gradstep.scenario import (
    animations,
    enums,
    folder,
    graphs,
    hardened,
    libraries,
    reflect,
    savers,
)
from gradstep.scenario.audit import (
    SCENARIO_MARK,
    guarded,
    install_audit_guard,
    is_sealed,
    needs_prewarm,
    prepare_for,
    prepare_library,
    prewarm,
    prewarm_in_background,
    seal,
)
from gradstep.scenario.check import (
    ALLOWED_MODULES,
    Siblings,
    find_refusals,
    import_message,
    refused_attribute_reason,
)
from gradstep.scenario.errors import TRUST_HINT, ScenarioRefused
from gradstep.scenario.siblings import SiblingModules

hardened.install()
graphs.install()  # graphviz's Digraph and Graph, built but never rendered
enums.install()  # Enum('E', names) takes no dunder name in a restricted run

__all__ = [
    "RestrictedModule",
    "allowed_names",
    "guarded",
    "install_audit_guard",
    "is_sealed",
    "needs_prewarm",
    "prepare_for",
    "prewarm",
    "prewarm_in_background",
    "restricted_globals",
    "restricted_module",
    "seal",
    "trusted_globals",
]

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
        "utils": "torch.utils",
        "profiler": "torch.profiler",
    },
    "torch.nn": {
        "functional": "torch.nn.functional",
        "init": "torch.nn.init",
        "utils": "torch.nn.utils",
    },
    "torch.optim": {"lr_scheduler": "torch.optim.lr_scheduler"},
    "torch.autograd": {
        "functional": "torch.autograd.functional",
        "forward_ad": "torch.autograd.forward_ad",
        "profiler": "torch.autograd.profiler",
    },
    **libraries.CHILDREN,
}

#: ``torch.FloatTensor(...)`` and friends: tensor constructors of a fixed dtype (their
#: storage argument form needs a storage, which no scenario can reach)
LEGACY_TENSOR_TYPES = (
    "FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor", "IntTensor",
    "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor",
)  # fmt: skip

#: torch's own names beyond the ATen functions: types, grad modes, seeds, constants.
_TORCH_EXTRA = {
    "Tensor", "Size", "dtype", "device", "layout", "memory_format", "Generator", "finfo", "iinfo",
    "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
    "is_inference_mode_enabled", "manual_seed", "seed", "initial_seed", "get_rng_state",
    "set_rng_state", "pi", "e", "inf", "nan", "newaxis", "is_tensor", "get_default_dtype",
    "set_default_dtype", "set_printoptions", "broadcast_shapes", "unravel_index", "unique",
    "vmap", "typename", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
    "set_default_device", "get_default_device", "from_numpy", "as_tensor",
    # the legacy typed constructors old course material uses: torch.FloatTensor([0.1, 1.0])
    *LEGACY_TENSOR_TYPES,
}  # fmt: skip

#: ATen functions that read or map files, or view foreign memory.
_TORCH_DENIED = {
    "from_file",
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
    "torch.autograd.gradcheck": {"gradcheck", "gradgradcheck", "GradcheckError"},
    # forward-mode AD (its module's os and torch re-exports stay out)
    "torch.autograd.forward_ad": {
        "dual_level", "make_dual", "unpack_dual", "enter_dual_level", "exit_dual_level",
        "UnpackedDualTensor",
    },
    # the profilers in-process: a context manager whose key_averages().table() prints; their
    # export_chrome_trace/export_stacks and tensorboard_trace_handler write files (refused)
    "torch.autograd.profiler": {"profile", "record_function"},
    "torch.profiler": {"profile", "record_function", "ProfilerActivity", "schedule", "ProfilerAction"},
    # torch's deprecated alias of torch.func (its make_fx and functionalize trace programs);
    # make_functional copies a module whose parameters the call then takes as arguments
    "functorch": {
        "grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
        "make_functional", "make_functional_with_buffers",
    },
    "torch.cuda": {"is_available", "device_count"},
    **{path: set(names) for path, names in libraries.EXPLICIT.items()},
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
}


def _library_names(denied: frozenset[str]) -> Callable[[types.ModuleType], set[str]]:
    """A library module's public names that are no modules, minus its doors."""
    return lambda m: {
        n for n, v in _public(m) if not isinstance(v, types.ModuleType) and n not in denied
    }


_RULES.update({path: _library_names(denied) for path, denied in libraries.DENIED.items()})

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
        names |= libraries.FOLDER_DOORS.get(path, frozenset())  # through the folder (savers)
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
        if name == "__version__" and "." not in path:  # torch.__version__, np.__version__
            return _real_module(path).__version__
        child = _CHILDREN.get(path, {}).get(name)
        if child is not None:
            return restricted_module(child)
        module = _real_module(path)
        if name in allowed_names(path):
            safer = hardened.REPLACEMENTS.get((path, name)) or savers.REPLACEMENTS.get((path, name))
            if safer is not None:
                return safer
            return getattr(module, name)  # looked up now: patches made during a run are seen
        if name in dir(module):
            why = libraries.REASONS.get(name)
            raise AttributeError(
                f"{path}.{name} is not available in a restricted scenario"
                + (f": {why}; {TRUST_HINT}" if why else "")
            )
        raise AttributeError(f"module '{path}' has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        path = object.__getattribute__(self, "_gs_path")
        raise AttributeError(f"{path} is read-only in a restricted scenario")

    __delattr__ = __setattr__  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<restricted module '{object.__getattribute__(self, '_gs_path')}'>"

    def __dir__(self) -> list[str]:
        return sorted(allowed_names(object.__getattribute__(self, "_gs_path")))


reflect.PROXY_TYPES = (RestrictedModule,)  # getattr(torch, name): the proxy answers itself


def member(path: str, name: str) -> tuple[str, str]:
    """What the proxy of ``path`` gives for ``name``, for the static check up front:
    ``(child module, "")``, ``("", "")`` for an allowed name, or ``("", reason)``."""
    child = _CHILDREN.get(path, {}).get(name)
    if child is not None:
        return child, ""
    if name == "__version__" and "." not in path:
        return "", ""
    try:
        allowed = allowed_names(path)
    except ImportError:
        return "", ""  # not importable here: the run says so at the import
    if name in allowed:
        return "", ""
    if name not in dir(_real_module(path)):
        return "", ""  # a typo: let the run raise Python's own AttributeError
    why = libraries.REASONS.get(name) or refused_attribute_reason(name)
    return "", why or "it is not part of what a restricted scenario may use"


def restricted_module(path: str) -> RestrictedModule:
    """The shared proxy of module ``path`` (one of ``ALLOWED_MODULES`` or their children)."""
    proxy = _proxies.get(path)
    if proxy is None:
        proxy = _proxies[path] = RestrictedModule(_TOKEN, path)
    if path == "matplotlib.animation" and not animations.install():
        _real_module(path)  # save/to_html5_video run ffmpeg: refused at their line
        animations.install()
    return proxy


# ------------------------------------------------------------------- builtins

_SAFE_BUILTINS = (
    "print", "range", "len", "abs", "min", "max", "sum", "round", "float", "int", "bool", "str",
    "complex", "bytes", "bytearray", "list", "tuple", "dict", "set", "frozenset", "zip", "enumerate", "map", "filter",
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
    # what reading and writing files in the scenario's folder raise (scenario.folder)
    "OSError", "IOError", "FileNotFoundError", "FileExistsError", "IsADirectoryError",
    "NotADirectoryError", "EOFError", "UnicodeError", "UnicodeDecodeError", "UnicodeEncodeError",
)  # fmt: skip


#: Libraries whose native code imports their own modules through the scenario's __import__.
_NATIVE_IMPORTERS = frozenset({"torch", "numpy", "matplotlib"})


def _restricted_import(
    name: str,
    globals: dict[str, Any] | None = None,
    locals: dict[str, Any] | None = None,
    fromlist: Iterable[str] | None = (),
    level: int = 0,
) -> RestrictedModule:
    """``__import__`` for scenarios: the allowed modules only, as proxies.

    torch's C++ code imports its own modules (``torch.storage`` when a tensor
    is made), and numpy's C code its own (``numpy._core.arrayprint`` when an
    array is first printed), through the ``__import__`` of the Python frame
    that called it, which here is the scenario's; it then takes the module from
    ``sys.modules`` and ignores what this returns. So other ``torch.*`` and
    ``numpy.*`` names are imported for real but handed back as a proxy that
    exposes nothing; so is ``_strptime``, which ``datetime.strptime`` and
    ``time.strptime`` import the same way (``libraries.LAZY_IMPORTS``).
    """
    if level:
        raise ImportError("relative imports are not allowed in a restricted scenario")
    top = name.partition(".")[0]
    if name not in ALLOWED_MODULES:
        if top not in _NATIVE_IMPORTERS and name not in libraries.LAZY_IMPORTS:
            raise ImportError(import_message(name))
        importlib.import_module(name)
    elif name not in sys.modules:
        prepare_library(name)
    # 'import torch.nn' binds 'torch'; 'from torch.nn import X' and 'import torch.nn as nn'
    # take the attribute from the proxy of the right module
    return restricted_module(name if fromlist else top)


def _type_of(obj: object, /) -> type:
    """type(x) with one argument: the class, never a new class, never a metaclass.

    ``type(type(x))`` would be the real ``type`` (or torch's ``_TensorMeta``, the
    ``FunctionMeta`` of ``autograd.Function``): called with three arguments it
    makes a class from a dict whose keys are computed at run time, which the
    static check of ``def __...__`` cannot see.
    """
    cls = type(obj)
    if issubclass(cls, type):  # obj is a class: an instance of type or of a metaclass
        name = cast(type, obj).__name__
        raise TypeError(f"type() of a class ({name}) is not available in a restricted scenario")
    return cls


# "type() takes 1 positional argument but 3 were given" reads right to the scenario's author
_type_of.__name__ = _type_of.__qualname__ = "type"


def restricted_globals(
    filename: str,
    scenario_folder: folder.ScenarioFolder | None = None,
    modules: SiblingModules | None = None,
) -> dict[str, Any]:
    """A fresh namespace for ``exec`` of a restricted scenario.

    ``filename`` mirrors :func:`trusted_globals`; the scenario is not told its
    path (``__file__`` is refused: paths lead to files). Its ``open`` and the
    library doors (``torch.save``...) use ``scenario_folder``, by default the
    folder of ``filename`` if that is a file (:mod:`gradstep.scenario.folder`),
    which becomes the current one. Its ``__import__`` also loads the modules in
    that folder, ``modules`` (:mod:`gradstep.scenario.siblings`), each in
    restricted globals like these.
    """
    if scenario_folder is None:
        scenario_folder = folder.ScenarioFolder(filename)
    folder.use(scenario_folder)
    if modules is None:
        modules = SiblingModules(scenario_folder, check_file)
    return _namespace(scenario_folder, modules, "__main__")


def check_file(source: str, path: str, siblings: Siblings) -> list[ScenarioRefused]:
    """The static check of one of the scenario's files with the proxies' allow-lists (a
    restricted run adds the libraries' internal names: ``record.run``)."""
    return find_refusals(source, path, member, siblings=siblings)


def _namespace(
    scenario_folder: folder.ScenarioFolder, modules: SiblingModules, name: str
) -> dict[str, Any]:
    safe: dict[Any, Any] = {name: getattr(builtins, name) for name in _SAFE_BUILTINS}
    safe["open"] = _folder_open(scenario_folder)
    safe["__import__"] = _importer(modules)
    safe["type"] = _type_of
    safe.update(reflect.BUILTINS)  # names checked at run time (scenario.reflect)
    safe[SCENARIO_MARK] = True  # lets the audit hook tell scenario frames apart
    return {"__builtins__": safe, "__name__": name, "__doc__": None}


def _importer(modules: SiblingModules) -> Callable[..., Any]:
    """The scenario's ``__import__``: the allowed modules as proxies
    (:func:`_restricted_import`), else one of its own modules, run restricted."""

    def run(path: str, source: str, module: types.ModuleType) -> None:
        namespace = vars(module)
        namespace.update(_namespace(modules.folder, modules, module.__name__))
        exec(compile(source, path, "exec", dont_inherit=True), namespace)

    def __import__(  # noqa: N807 - the built-in's name
        name: str,
        globals: dict[str, Any] | None = None,  # noqa: A002
        locals: dict[str, Any] | None = None,  # noqa: A002
        fromlist: Iterable[str] | None = (),
        level: int = 0,
    ) -> Any:
        top = name.partition(".")[0]
        if (
            not level
            and name not in ALLOWED_MODULES
            and top not in _NATIVE_IMPORTERS
            and modules.files(name) is not None
        ):
            module = modules.load(name, run)
            if fromlist:
                for item in fromlist:
                    modules.submodule(module, name, item, run)
                return module
            return modules.loaded[top]
        return _restricted_import(name, globals, locals, fromlist, level)

    return __import__


def _folder_open(scenario_folder: folder.ScenarioFolder) -> Callable[..., Any]:
    """The scenario's ``open``: a plain function (no bound method to walk from)."""

    def open(  # noqa: A001 - the scenario's built-in of that name
        file: Any,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        closefd: bool = True,
        opener: Any = None,
    ) -> Any:
        return scenario_folder.open(
            file, mode, buffering, encoding, errors, newline, closefd, opener
        )

    open.__doc__ = "open(file, mode='r', ...): a file in the scenario's folder, or its scratch"
    return open


def trusted_globals(filename: str) -> dict[str, Any]:
    """The namespace of a ``--trust`` run: ordinary built-ins, real modules."""
    return {"__builtins__": builtins, "__name__": "__main__", "__file__": filename, "__doc__": None}
