"""The audit guard: an audit hook (:func:`sys.addaudithook`) that refuses effects
while a restricted scenario runs.

It refuses process creation, sockets, ``ctypes``, writing, removing or
renaming files, reading files outside Python's own installation, importing
modules other than torch's, tracing other frames, and reaching frames and
code objects from scenario code. What it does not refuse on purpose:
``compile`` and ``exec`` (the recorder compiles and runs each statement, and
torch generates code internally), ``sys._getframe`` and frame attributes
read by the recorder itself (only scenario frames are refused those).

Two ways to turn it on:

- :func:`guarded`, re-entrant and reversible, for code that goes on after the
  scenario in the same process (tests, ``gradstep trace --in-process``). Its
  on/off state is Python data: a scenario that obtains real reflection
  (``object.__getattribute__`` from an object that leaks it) can reach it.
- :func:`seal`, what the worker does before a restricted scenario runs: a
  second hook that enforces for the rest of the process. Audit hooks cannot be
  removed, and this one keeps everything it consults in its own closure,
  bound when it is made (the C functions it calls, the folders it may read,
  a private copy of ``os.path.realpath`` and the module globals it reads),
  so there is no attribute anywhere that switches it off or bends it. The
  operating system's walls around the worker (``gradstep.worker.walls``)
  are the boundary all the same; this layer gives clear messages.

Native code raises no audit events: ``torch.save``, ``torch.from_file`` and
friends are kept out by name (the static check, the module proxies).
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import os
import re
import site
import stat
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from gradstep.scenario import libraries

#: A key no scenario can spell, in every restricted builtins dict: it tells scenario frames apart.
SCENARIO_MARK: Any = object()


class _GuardState:
    """What the reversible hook consults: how deep in guarded(), what may be read."""

    def __init__(self) -> None:
        self.depth = 0
        self.installed = False
        self.sealed = False
        self.prewarmed = False
        # the thread importing what torch imports lazily; exempt from the reversible guard
        self.prewarm_thread: threading.Thread | None = None
        # set by prepare_for() when the scenario to run needs none of those lazy imports
        self.prewarm_unneeded = False
        self.read_roots: tuple[str, ...] = ()
        self.extra_reads: tuple[str, ...] = ()
        self.lock = threading.Lock()


_state = _GuardState()

#: Top-level packages whose modules may still be imported while guarded: torch, gradstep,
#: and the libraries a scenario may import (their modules are imported before the guard
#: goes on, see :func:`prepare_library`; this lets a late import through all the same).
IMPORTABLE_ROOTS = frozenset(
    {"torch", "gradstep", "encodings"} | {m.partition(".")[0] for m in libraries.IMPORTS}
)

#: Libraries whose own code may import what it needs while guarded, whatever the name:
#: torch imports sympy the first time a backward gets an explicit gradient
#: (``torch.autograd._make_grads`` imports ``torch.fx.experimental.symbolic_shapes``),
#: numpy and matplotlib import their helpers on first use. An import is theirs when,
#: walking out from the code that asked for it, a frame of one of them comes before
#: any frame of the scenario: the scenario's own imports go through the sandbox's
#: ``__import__`` and its allow-list, and a scenario cannot make a frame that passes
#: for a library's (its functions run with the restricted built-ins that carry
#: :data:`SCENARIO_MARK`, and it cannot name ``__name__`` in its globals).
IMPORTING_LIBRARIES = frozenset({"torch", "numpy", "matplotlib"})

#: Events refused whoever raises them, by their prefix before the first dot.
REFUSED_PREFIXES = frozenset(
    {
        "subprocess", "pty", "socket", "ctypes", "shutil", "tempfile", "mmap", "fcntl",
        "sqlite3", "webbrowser", "urllib", "http", "ftplib", "smtplib", "poplib", "imaplib",
        "nntplib", "telnetlib", "syslog", "winreg", "_winapi", "msvcrt", "resource",
    }
)  # fmt: skip

#: Events refused whoever raises them, exactly. Tracing and profiling hand a function every
#: frame, this hook's included, and may rewrite their locals: refused too.
REFUSED_EVENTS = frozenset(
    {
        "code.__new__", "function.__new__", "pickle.find_class",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
        "sys._current_exceptions", "sys.addaudithook", "builtins.input", "builtins.breakpoint",
        "signal.pthread_kill", "os.add_dll_directory", "os.startfile",
        "sys.settrace", "sys.setprofile", "sys._setprofileallthreads", "sys._settraceallthreads",
    }
)  # fmt: skip

#: ``os`` events that only read; their path is checked like ``open`` for reading.
OS_READS = frozenset(
    {"os.listdir", "os.scandir", "os.walk", "os.fwalk", "os.getxattr", "os.listxattr"}
)

#: Attribute events raised when code reads frames and code objects (``tb_frame``, ``f_code``...).
ATTRIBUTE_EVENTS = frozenset({"object.__getattr__", "object.__setattr__", "object.__delattr__"})

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def _private_realpath() -> Callable[[str], str]:
    """``os.path.realpath`` with its module's globals, ``os``, ``stat`` and the built-ins
    copied now: patching ``posixpath``, ``os`` or ``builtins`` later does not change it."""
    module = os.path
    namespace = dict(vars(module))
    namespace["os"] = types.SimpleNamespace(**vars(os))
    namespace["stat"] = types.SimpleNamespace(**vars(stat))
    namespace["__builtins__"] = dict(vars(builtins))
    for name, value in list(namespace.items()):
        if isinstance(value, types.FunctionType) and value.__globals__ is vars(module):
            namespace[name] = types.FunctionType(
                value.__code__, namespace, value.__name__, value.__defaults__, value.__closure__
            )
            namespace[name].__kwdefaults__ = value.__kwdefaults__
    return namespace["realpath"]  # type: ignore[no-any-return]


def make_policy(
    roots: Callable[[], tuple[str, ...]], caller: int, *, private: bool = False
) -> Callable[[str, tuple[Any, ...]], None]:
    """The check of one audit event: returns, or raises PermissionError.

    ``roots`` gives the folders and files that may be read; ``caller`` is how
    many frames up from the check the code that raised the event runs. All the
    check uses is bound here, once, as locals of this call: nothing is looked
    up in a module or in the built-ins when an event comes, so replacing a
    module attribute later changes nothing. ``private``: ``os.path.realpath``
    too (a copy made now; the reversible guard reads the module's, which is cheaper
    to set up).
    """
    getframe, sep, fspath = sys._getframe, os.sep, os.fspath
    realpath = _private_realpath() if private else os.path.realpath
    encoding, bytes_ = sys.getfilesystemencoding(), bytes
    is_instance, int_, str_, permission_error = isinstance, int, str, PermissionError
    type_error, value_error, type_, any_ = TypeError, ValueError, type, any
    mark, importable, write_flags = SCENARIO_MARK, IMPORTABLE_ROOTS, _WRITE_FLAGS
    libraries = IMPORTING_LIBRARIES
    attribute_events, os_reads = ATTRIBUTE_EVENTS, OS_READS
    refused_events, refused_prefixes = REFUSED_EVENTS, REFUSED_PREFIXES
    kinds: dict[str, int] = {}  # event name -> what to do, filled as events are first seen
    PASS, OPEN, IMPORT, ATTRIBUTE, OS_READ, REFUSE_OS, REFUSE = range(7)  # noqa: N806

    def kind_of(event: str) -> int:
        if event == "open":
            return OPEN
        if event == "import":
            return IMPORT
        if event in attribute_events:
            return ATTRIBUTE
        if event in os_reads or event.startswith("glob.glob"):
            return OS_READ
        if event.startswith("os."):
            return REFUSE_OS
        if event in refused_events or event.partition(".")[0] in refused_prefixes:
            return REFUSE
        return PASS

    def library_import(frame: Any) -> bool:
        """Whether a library's own code asked for the import (see IMPORTING_LIBRARIES)."""
        while frame is not None:
            if frame.f_builtins.get(mark) is True:
                return False  # the scenario's code comes first
            module = frame.f_globals.get("__name__")
            if is_instance(module, str_) and module.partition(".")[0] in libraries:
                return True
            frame = frame.f_back
        return False

    def refuse(what: str) -> None:
        raise permission_error(f"{what} is not allowed while a restricted scenario runs")

    def check_read(path: Any) -> None:
        try:
            path = fspath(path)
            if is_instance(path, bytes_):
                path = path.decode(encoding, "surrogateescape")
            real = realpath(path)
        except (type_error, value_error):
            refuse(f"reading {path!r}")
            return
        for root in roots():
            if real == root or real.startswith(root.rstrip(sep) + sep):
                return
        refuse(f"reading the file {real!r} (only Python's and torch's own files may be read)")

    def check(event: str, args: tuple[Any, ...]) -> None:
        kind = kinds.get(event)
        if kind is None:
            kind = kinds[event] = kind_of(event)
        if kind == PASS:
            return  # most events (``builtins.id`` from every deepcopy) end here
        if kind == OPEN:
            path, mode, flags = (*args, None, None, None)[:3]
            writing = is_instance(mode, str_) and any_(c in mode for c in "wax+")
            if writing or (is_instance(flags, int_) and flags & write_flags):
                refuse(f"writing the file {path!r}")
            if not is_instance(path, int_):  # an already open descriptor was granted before
                check_read(path)
        elif kind == IMPORT:
            name = str_(args[0])
            if name.partition(".")[0] not in importable and not library_import(getframe(caller)):
                refuse(f"importing '{name}'")
        elif kind == ATTRIBUTE:
            frame = getframe(caller)
            if frame is not None and frame.f_builtins.get(mark) is True:
                refuse(f"using '{args[1]}' of {type_(args[0]).__name__} objects")
        elif kind == OS_READ:
            path = args[0] if args and args[0] is not None else "."
            if not is_instance(path, int_):
                check_read(path)
        elif kind == REFUSE_OS:
            refuse(f"{event} (processes, signals and changes to files or the environment)")
        else:
            refuse(event)

    return check


def read_roots() -> tuple[str, ...]:
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


# the reversible hook: inert outside guarded(), one attribute read per event
_reversible = make_policy(lambda: _state.read_roots + _state.extra_reads, caller=2)


def _library_import(frame: types.FrameType | None) -> bool:
    """:func:`make_policy`'s test of who imports, for the import guard (Python data)."""
    while frame is not None:
        if frame.f_builtins.get(SCENARIO_MARK) is True:
            return False
        module = frame.f_globals.get("__name__")
        if isinstance(module, str) and module.partition(".")[0] in IMPORTING_LIBRARIES:
            return True
        frame = frame.f_back
    return False


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    if not _state.depth:
        return  # the common case, outside every scenario run
    if _state.prewarm_thread is not None and threading.current_thread() is _state.prewarm_thread:
        return  # torch's own lazy imports, started before the scenario (see prewarm)
    _reversible(event, args)


class _ImportGuard:
    """First finder on ``sys.meta_path``: refuses, while guarded, what the audit hook misses.

    The ``import`` audit event is raised by the ``import`` statement only;
    ``importlib.import_module`` finds modules without it. Every import of a
    module not yet loaded asks the finders, so this sees both.
    """

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        exempt = threading.current_thread() is _state.prewarm_thread
        if (
            restricted_now()
            and not exempt
            and name.partition(".")[0] not in IMPORTABLE_ROOTS
            and not _library_import(sys._getframe(1))
        ):
            raise PermissionError(
                f"importing '{name}' is not allowed while a restricted scenario runs"
            )
        return None  # let the real finders find it


def install_audit_guard() -> None:
    """Install the reversible hook and the import guard once per process; both are inert
    outside :func:`guarded`."""
    with _state.lock:
        if _state.installed:
            return
        _state.read_roots = read_roots()
        sys.addaudithook(_audit_hook)
        sys.meta_path.insert(0, _ImportGuard)
        _state.installed = True


def seal(readable: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Turn the guard on for the rest of this process, irreversibly.

    Call it outside :func:`guarded`, once torch and everything the recording
    needs are imported: from here on every thread of the process is refused
    what a restricted scenario is refused. torch's lazy imports are finished
    first (nothing is exempt once sealed). ``readable`` adds files or folders
    that may be read.
    """
    install_audit_guard()
    _finish_prewarm(wait=True)
    with _state.lock:
        if _state.sealed:
            return
        roots = _state.read_roots + tuple(os.path.realpath(os.fspath(p)) for p in readable)
        sys.addaudithook(make_policy(lambda: roots, caller=1, private=True))
        _state.sealed = True


def is_sealed() -> bool:
    return _state.sealed


def restricted_now() -> bool:
    """Whether a restricted scenario may be running: inside guarded(), or sealed."""
    return bool(_state.depth) or _state.sealed


# ------------------------------------------------------------------ torch's lazy imports


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
    """Start :func:`prewarm`'s imports in a thread the reversible guard lets through.

    A worker calls this before it reports ready: the ~1 s of imports then
    overlaps the wait for a request (or the run of a scenario that needs
    none of it), instead of delaying the first lesson. A scenario that does
    import them meanwhile waits on the module lock until the thread is done.
    """
    if _state.prewarmed or _state.prewarm_thread is not None:
        return

    def run() -> None:
        import_libraries(None)  # matplotlib too: a lesson that plots opens at once
        importlib.import_module("torch._dynamo")
        _state.prewarmed = True

    _state.prewarm_thread = threading.Thread(target=run, name="gradstep-prewarm", daemon=True)
    _state.prewarm_thread.start()


#: What makes torch import ``torch._dynamo`` lazily, among what a restricted scenario can
#: reach: the optimisers (their methods are wrapped in ``torch._disable_dynamo``, which
#: imports it on first call) and ``torch.func``'s transforms (``grad``, ``jacrev``,
#: ``hessian`` ask it whether they are being compiled). Checked against torch 2.13's
#: sources: the other users of that wrapper (``torch.compile``, ``torch.utils.checkpoint``,
#: ``torch.library``, distributed) are refused by the static check. ``torch.profiler.profile``
#: imports it on entering; ``functorch`` is torch.func by its old name.
_NEEDS_PREWARM = re.compile(r"\b(?:optim|func|functorch|profiler)\b")


#: A scenario that draws: matplotlib (~1 s, ~180 modules, a font cache read from the
#: user's cache folder) is imported before the guard goes on, with the Agg canvas.
_USES_MATPLOTLIB = re.compile(r"\b(?:matplotlib|mpl_toolkits)\b")


def prepare_library(name: str) -> None:
    """Import an allowed library module ``name`` the way a scenario run needs it:
    matplotlib on the Agg canvas (the worker has no display; gradstep captures figures)."""
    if (
        name.partition(".")[0] in ("matplotlib", "mpl_toolkits")
        and "matplotlib.pyplot" not in sys.modules
    ):
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg", force=True)
        importlib.import_module("matplotlib.pyplot")
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        top = name.partition(".")[0]
        if top not in libraries.OPTIONAL or e.name != top:
            raise
        # as plain Python would fail at the import, saying what to do about it
        raise ModuleNotFoundError(f"{top} is not installed: pip install {top}", name=top) from None


def import_libraries(source: str | None) -> None:
    """Import, unguarded, the library modules a scenario may import: the standard
    library's and numpy's (a few ms, most already loaded by torch), ``torch.utils.data``,
    and matplotlib when ``source`` names it (or ``source`` is None: a spare worker)."""
    for name in libraries.LAZY_IMPORTS:
        if name not in sys.modules:
            importlib.import_module(name)
    for name in (*libraries.IMPORTS, *libraries.TORCH_LAZY):
        if name in libraries.OPTIONAL:
            continue  # imported with the sandbox when installed (gradstep.scenario.graphs)
        if name.startswith(("matplotlib", "mpl_toolkits")):
            if source is None or _USES_MATPLOTLIB.search(source):
                prepare_library(name)
        elif name not in sys.modules:
            importlib.import_module(name)


def needs_prewarm(source: str) -> bool:
    """Whether running ``source`` restricted may make torch import ``torch._dynamo``."""
    return _NEEDS_PREWARM.search(source) is not None


def prepare_for(source: str) -> None:
    """Before a restricted run of ``source``: finish :func:`prewarm` if the scenario
    needs it (waiting for the background thread, or importing now), and otherwise
    let :func:`guarded` skip it, so that a one-off run of a scenario without an
    optimiser does not pay a second for imports it never uses."""
    import_libraries(source)
    if needs_prewarm(source):
        prewarm()
    else:
        _state.prewarm_unneeded = True


def _finish_prewarm(*, wait: bool) -> None:
    """Before the guard goes on: torch's lazy imports done, or known not to be needed.
    ``wait``: a background import still under way is waited for (a sealed guard exempts
    no thread)."""
    thread = _state.prewarm_thread
    if thread is not None:
        if wait:
            thread.join()
        return
    if not _state.prewarm_unneeded:
        prewarm()  # no background prewarm under way: import now, unguarded


@contextlib.contextmanager
def guarded(readable: Iterable[str | os.PathLike[str]] = ()) -> Iterator[None]:
    """Refuse processes, sockets, ctypes, file writes and foreign reads while active.

    ``readable`` adds files or folders that may be read (the scenario's own
    file, for tracebacks). Re-entrant; the hook stays installed afterwards but
    is inert. In a sealed process the sealed hook already refuses all of it.
    """
    install_audit_guard()
    if _state.sealed:
        yield
        return
    import_libraries("")
    _finish_prewarm(wait=False)
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
