"""The static allow-list check a scenario passes before anything of it runs.

A scenario is ordinary PyTorch teaching code, so the check accepts the whole
ordinary language (assignments, functions, classes, loops, ``with``,
``try``, comprehensions, f-strings) and refuses, each with its line:

- imports other than torch's teaching parts, numpy, matplotlib and the
  standard library's pure computation (:data:`ALLOWED_MODULES`, see
  :mod:`gradstep.scenario.libraries`) and the scenario's own modules in its
  folder (``siblings``, whose refused constructs are reported with the
  scenario's, see :mod:`gradstep.scenario.siblings`), relative imports and
  ``import *``;
- given the sandbox's allow-lists (``members``, as a restricted run passes
  them), names of those modules that the run would refuse (``np.lib``,
  ``plt.ginput``): up front, with the rest, rather than mid-run;
- the reflective and I/O built-ins (``eval``, ``vars``, ``globals``,
  ``input``, ...) unless the scenario binds the name itself (a variable
  called ``input`` is common in PyTorch code and harmless: the restricted
  built-ins do not have it, see :mod:`gradstep.scenario.sandbox`); ``open``
  is the scenario folder's (:mod:`gradstep.scenario.folder`), and a literal
  path that leaves that folder (``open("../secret")``) is refused here;
- ``getattr``/``setattr``/``delattr`` with a name written out that the
  attribute itself would be refused for (``getattr(torch, "_C")``,
  ``setattr(x, "__class__", T)``); a computed name is checked when the call
  runs (:mod:`gradstep.scenario.reflect`);
- every double-underscore name or attribute, except ``__name__`` read as a
  value (``type(x).__name__``) and ``super().__init__(...)``-style calls;
- every single-underscore attribute (``t._version``, ``torch._C``,
  ``x.grad_fn._saved_self``: the libraries' internals) except those the
  scenario defines itself (see :func:`own_underscore_attributes`: a
  micrograd-style ``Value`` keeps ``self._prev`` and ``self._backward``).
  The check reads names, not types, so it cannot tell ``v._prev`` on the
  scenario's object from the same name on a tensor; such a name is
  therefore let through only when it is no underscore name of the allowed
  libraries' modules and objects (``internals``, as a restricted run passes
  :func:`gradstep.scenario.internals.library_internal`): defining
  ``self._version`` or ``_C = 1`` unlocks neither ``t._version`` nor
  ``torch._C`` (the module proxies refuse the latter at run time as well:
  they never hand out an underscore name). Without ``internals`` every
  single-underscore attribute is refused. Underscore local names and
  parameters (``_children``, ``def _backward():``) are plain variables and
  pass;
- attribute names that reach frames, code, tracebacks or globals without an
  underscore (``gi_frame``, ``f_back``, ``tb_frame``, ...);
- ``str.format``/``format_map`` unless the receiver is a literal whose fields
  are plain (``"{:.4f}".format(x)``): ``"{0.__class__}".format(x)`` walks
  attributes by a string the tree cannot see;
- the escape hatches of torch and numpy by attribute name, wherever they
  appear (:data:`ESCAPE_ATTRIBUTES`), so that aliasing (``t = torch;
  t.save``) does not help; only the file doors that go through the scenario's
  folder, called on the module itself (``torch.save``, ``np.load``: see
  :data:`gradstep.scenario.libraries.FOLDER_DOORS`), pass;
- syntax outside :data:`ALLOWED_NODES`, the node types teaching code needs:
  ``async``, ``await``, ``match`` (its class patterns read attributes by
  name) and ``except*`` only widen the surface, and syntax that later Python
  versions add stays refused until someone reviews it.

The check is one layer of two: what it cannot see (names reached through
aliases, values computed at run time) is stopped by the allow-listing module
proxies, the curated built-ins and the audit hook in ``sandbox``.

Review of torch 2.13's public namespace (``dir(torch)``, ``dir(torch.Tensor)``,
``dir(torch.nn)``, ``dir(torch.autograd)``, ``dir(torch.nn.functional)``,
``dir(torch.optim)``, ``dir(torch.nn.Module)``), done for this module:

- files: ``torch.save``/``load``, ``from_file`` (``shared=True`` creates and
  maps a file), ``UntypedStorage.from_file``, ``torch.serialization``,
  ``torch.package``, ``PyTorchFileReader``/``PyTorchFileWriter``,
  ``torch.jit.save``/``load``, ``torch.onnx.export``, the profilers'
  ``export_chrome_trace``/``export_stacks``/``export_memory_timeline``,
  ``torch.cuda.memory._dump_snapshot``, ``get_file_path``,
  ``prepare_multiprocessing_environment(path)``, ``Tensor.numpy()`` (then
  numpy's ``tofile``/``save``/``load``), ``Tensor.share_memory_()`` and
  ``nn.Module.share_memory()`` (shared-memory files);
- processes, threads and the network: ``torch.multiprocessing``,
  ``torch.distributed``, ``torch.hub`` (downloads, then imports), ``torch.fork``,
  ``nn.DataParallel``, ``torch.utils.data`` workers, ``torch.utils.model_zoo``;
- native code: ``torch.ops.load_library``, ``torch.classes.load_library``,
  ``torch.utils.cpp_extension.load_inline`` (compiles and loads C++),
  ``torch.compile``/``nn.Module.compile`` (Inductor writes and loads C++),
  ``torch.jit``, ``torch.library`` (can override aten kernels for the whole
  process, the recorder's included), ``torch.cuda.jiterator``,
  ``torch.from_dlpack``/``to_dlpack``, ``frombuffer``, numpy's ``.ctypes``;
- Python internals and imports by name: the modules torch re-exports
  (``torch.os``, ``sys``, ``builtins``, ``ctypes``, ``importlib``,
  ``inspect``, ``glob``, ``platform``, ``signal``, ``threading``; ``F.np``,
  ``F.importlib``, ``F.torch``; ``autograd.torch``),
  ``torch.set_default_tensor_type("pkg.mod.Name")`` and
  ``TypedStorage.type("pkg.mod.Name")`` (both ``__import__`` a dotted name),
  ``torch.overrides``, ``torch.fx`` (code generation), ``torch.backends``
  (process-wide switches), ``set_num_threads`` (the worker's setting);
- harmless, kept: ``set_printoptions``, ``manual_seed``, ``Tensor.type(...)``
  (parses only tensor type names), ``data_ptr()``, ``register_hook``,
  ``apply_``/``map_`` (call a Python function), ``as_strided`` (bounds
  checked against the storage), ``nn.Module.get_submodule`` (only yields
  modules).
"""

from __future__ import annotations

import ast
import re
import string
import warnings
from collections.abc import Callable, Iterable, Iterator

from gradstep.scenario import folder, libraries
from gradstep.scenario.errors import TRUST_HINT, ScenarioRefused, ScenarioSyntaxError

#: torch's teaching parts a scenario may import.
TORCH_IMPORTS: tuple[str, ...] = (
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "torch.nn.init",
    "torch.nn.utils",  # its gradient-clipping helpers only (see sandbox)
    "torch.optim",
    "torch.optim.lr_scheduler",
    "torch.autograd",
    "torch.autograd.functional",
    "torch.autograd.gradcheck",
    "torch.func",
    "torch.autograd.forward_ad",
    "torch.autograd.profiler",
    "torch.profiler",
    "functorch",
)

#: Modules a scenario may import (``import x``, ``import x as y``, ``from x import y``):
#: torch's teaching parts, then numpy, matplotlib, ``torch.utils.data`` and the standard
#: library's pure computation (:mod:`gradstep.scenario.libraries` says which names of each).
ALLOWED_IMPORTS: tuple[str, ...] = TORCH_IMPORTS + libraries.IMPORTS
ALLOWED_MODULES: frozenset[str] = frozenset(ALLOWED_IMPORTS)
ALLOWED_MODULES_TEXT = (
    "torch (its teaching parts, torch.utils.data), numpy, matplotlib (pyplot and its plotting "
    "modules, mpl_toolkits.mplot3d), graphviz (to build "
    "graphs) and the standard library's pure computation ("
    + ", ".join(m for m in libraries.STDLIB_DENIED)
    + ")"
)


#: Modules refused with a reason of their own (the rest: "not one teaching code needs").
_MODULE_REASONS: dict[str, str] = {
    **dict.fromkeys(
        ("os", "sys", "io", "pathlib", "shutil", "tempfile", "glob", "fileinput", "pickle",
         "shelve", "marshal", "csv", "json", "sqlite3", "zipfile", "tarfile", "gzip", "h5py",
         "PIL", "torchvision", "datasets", "urllib", "requests"),
        "it reads or writes files, or fetches data",
    ),
    **dict.fromkeys(
        ("subprocess", "multiprocessing", "threading", "concurrent", "asyncio", "signal",
         "socket", "ssl", "http", "ftplib", "smtplib", "webbrowser"),
        "it starts processes or threads or reaches the network",
    ),
    **dict.fromkeys(
        ("importlib", "builtins", "inspect", "ctypes", "gc", "types", "code", "codeop",
         "runpy", "pkgutil", "traceback", "weakref", "cffi"),
        "it reaches the interpreter's internals or native code",
    ),
    **dict.fromkeys(
        ("scipy", "sklearn", "pandas", "sympy", "jax", "tensorflow", "micrograd"),
        "it is a library beyond torch, numpy and matplotlib, which the restricted language "
        "does not review",
    ),
    "torch.utils.benchmark": libraries.REASONS["benchmark"],
}  # fmt: skip

#: Built-ins that reach files, the interpreter or arbitrary attributes by name.
DANGEROUS_BUILTINS: frozenset[str] = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "vars",
        "globals",
        "locals",
        "dir",
        "breakpoint",
        "input",
        "memoryview",
        "help",
        "exit",
        "quit",
        "copyright",
        "credits",
        "license",
    }
)

#: Built-ins that take an attribute's name: a name written out is checked as the attribute
#: would be; the restricted built-ins check a computed one at run time
#: (:mod:`gradstep.scenario.reflect`: no dunder, no library internal, no escape hatch).
NAMED_ATTRIBUTE_BUILTINS: frozenset[str] = frozenset({"getattr", "setattr", "delattr"})

#: Why some of the refused built-ins are, in the author's terms.
_BUILTIN_REASONS: dict[str, str] = {
    "globals": "it hands out the scenario's whole namespace, built-ins included (torch.utils."
    "benchmark's Timer takes it to run code strings)",
    "locals": "it hands out a namespace by name",
    "vars": "it hands out an object's attributes by name, internals included",
    "dir": "it lists internals by name",
    "eval": "it runs a string as code, which the check cannot read",
    "exec": "it runs a string as code, which the check cannot read",
    "compile": "it makes code from a string, which the check cannot read",
}

#: Attributes that reach frames, code objects, tracebacks or globals without an underscore.
FRAME_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "cr_origin",
        "ag_frame",
        "ag_code",
        "ag_await",
        "f_globals",
        "f_locals",
        "f_back",
        "f_builtins",
        "f_code",
        "f_trace",
        "tb_frame",
        "tb_next",
        "co_code",
        "co_consts",
        "co_names",
        "func_globals",
        "func_code",
        "func_closure",
        "im_func",
        "im_self",
        "im_class",
        "cell_contents",
        "mro",
    }
)

#: torch/numpy escape hatches and the stdlib modules torch re-exports, refused by name anywhere.
ESCAPE_ATTRIBUTES: frozenset[str] = frozenset(
    {
        # files and serialisation
        "save",
        "load",
        "from_file",
        "fromfile",
        "tofile",
        "serialization",
        "package",
        "get_file_path",
        "PyTorchFileReader",
        "PyTorchFileWriter",
        "export_chrome_trace",
        "export_stacks",
        "export_memory_timeline",
        "onnx",
        "export",
        # numpy's file doors (``np.save``/``load`` above), raw memory
        "savez",
        "savez_compressed",
        "savetxt",
        "loadtxt",
        "genfromtxt",
        "fromregex",
        "memmap",
        "open_memmap",
        "ctypeslib",
        "DataSource",
        "dump",
        "np",  # torch.nn.functional's re-export of the real numpy module
        "frombuffer",
        "to_dlpack",
        "from_dlpack",
        "storage",
        "untyped_storage",
        "typed_storage",
        "set_",
        "share_memory_",
        "share_memory",
        "ctypes",
        # native code, compilers and process-wide switches
        "hub",
        "ops",
        "utils",
        "cpp_extension",
        "load_inline",
        "load_library",
        "jit",
        "compile",
        "library",
        "classes",
        "fx",
        "backends",
        "overrides",
        "tensorboard_trace_handler",
        "ExecutionTraceObserver",
        "set_default_tensor_type",
        "import_ir_module",
        "import_ir_module_from_buffer",
        "parse_ir",
        # processes and the network
        "distributed",
        "multiprocessing",
        "prepare_multiprocessing_environment",
        "fork",
        "futures",
        "testing",
        # stdlib modules that torch and torch.nn.functional re-export
        "os",
        "sys",
        "builtins",
        "importlib",
        "inspect",
        "subprocess",
        "socket",
        "shutil",
        "pickle",
        "marshal",
        "glob",
        "platform",
        "signal",
        "threading",
        "gc",
        "io",
        "warnings",
        "linecache",
        "functools",
        "dataclasses",
        "types",
        "typing",
        "traceback",
        "weakref",
        # the real torch module, re-exported by torch.nn.functional and torch.autograd,
        # and torch.compiler (its load_cache_artifacts unpickles bytes)
        "torch",
        "compiler",
        # matplotlib's files and backends (gradstep captures the figures itself)
        "savefig",
        "imsave",
        "imread",
        "print_figure",
        "switch_backend",
        "to_html5_video",
        "to_jshtml",
    }
)

#: ``str.format`` walks ``{0.attr}`` and ``{0[key]}`` fields by name: refused unless provably plain.
FORMAT_ATTRIBUTES: frozenset[str] = frozenset({"format", "format_map"})

#: Dunder methods a scenario may define (``__init__``, operators for a micrograd-style ``Value``).
DEFINABLE_DUNDERS: frozenset[str] = frozenset(
    {"__init__", "__call__", "__repr__", "__str__", "__len__", "__iter__", "__next__"}
    | {"__getitem__", "__setitem__", "__delitem__", "__contains__", "__enter__", "__exit__"}
    | {"__bool__", "__hash__", "__float__", "__int__", "__index__", "__neg__", "__pos__"}
    | {"__abs__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"}
    | {
        f"__{prefix}{op}__"
        for op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul")
        for prefix in ("", "r", "i")
    }
)

#: Dunders that may be called on ``super()``, as in ``super().__init__()``.
SUPER_DUNDERS: frozenset[str] = DEFINABLE_DUNDERS

#: Dunder names a scenario may read as values (``if __name__ == "__main__":``) and as
#: attributes (``type(x).__name__``): a string, whatever it is read from.
READABLE_DUNDER_NAMES: frozenset[str] = frozenset({"__name__", "__version__"})

#: The syntax a scenario may use: every node type of Python 3.11 teaching code needs.
#: Anything else, including syntax that later Python versions add, is refused.
ALLOWED_NODES: frozenset[type[ast.AST]] = frozenset(
    {
        ast.Module, ast.Expr, ast.Pass, ast.Break, ast.Continue, ast.Return, ast.Delete,
        ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.While, ast.If, ast.With,
        ast.withitem, ast.Raise, ast.Try, ast.ExceptHandler, ast.Assert, ast.Import,
        ast.ImportFrom, ast.alias, ast.Global, ast.Nonlocal, ast.FunctionDef, ast.ClassDef,
        ast.arguments, ast.arg, ast.keyword, ast.Lambda, ast.Yield, ast.YieldFrom,
        ast.BoolOp, ast.NamedExpr, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Compare, ast.Call,
        ast.Dict, ast.Set, ast.List, ast.Tuple, ast.ListComp, ast.SetComp, ast.DictComp,
        ast.GeneratorExp, ast.comprehension, ast.FormattedValue, ast.JoinedStr, ast.Constant,
        ast.Attribute, ast.Subscript, ast.Starred, ast.Name, ast.Slice,
        ast.Load, ast.Store, ast.Del, ast.And, ast.Or,
        ast.Add, ast.Sub, ast.Mult, ast.MatMult, ast.Div, ast.Mod, ast.Pow, ast.LShift,
        ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.FloorDiv,
        ast.Invert, ast.Not, ast.UAdd, ast.USub,
        ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
    }
)  # fmt: skip

#: Clearer words for the refused syntax teaching code is likeliest to meet.
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.AsyncFunctionDef: "async functions are not needed in a scenario and are not allowed",
    ast.AsyncFor: "'async for' is not allowed in a scenario",
    ast.AsyncWith: "'async with' is not allowed in a scenario",
    ast.Await: "'await' is not allowed in a scenario",
    ast.Match: "'match' statements are not allowed in a scenario; use if/elif",
    ast.TryStar: "'except*' is not allowed in a scenario; use a plain 'except'",
}

_MAX_NESTING = "the code is nested too deeply or is too long to be parsed; split the expression"


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def refused_attribute_reason(name: str) -> str | None:
    """Why an attribute name is refused wherever it appears, or None when it is allowed.

    Shared with the sandbox's module proxies, so both layers refuse the same names.
    """
    if is_dunder(name):
        return (
            f"'.{name}' is not allowed: double-underscore attributes reach Python internals; "
            + TRUST_HINT
        )
    if name.startswith("_"):
        return (
            f"'.{name}' is not allowed: names starting with an underscore are "
            f"PyTorch and Python internals (a scenario may use those it defines itself); "
            f"{TRUST_HINT}"
        )
    if name in FRAME_ATTRIBUTES:
        return f"'.{name}' is not allowed: it reaches the interpreter's frames and code"
    if name in ESCAPE_ATTRIBUTES or name.endswith("Storage"):
        why = libraries.REASONS.get(
            name, "it reaches files, processes, native code or Python internals"
        )
        return f"'.{name}' is not allowed in a scenario: {why}; {TRUST_HINT}"
    return None


#: Where a name is an underscore attribute of the allowed libraries' modules or objects
#: (``"torch.Tensor"``), or None (:func:`gradstep.scenario.internals.library_internal`).
Internals = Callable[[str], str | None]

#: What a module proxy offers, for the check of ``alias.name`` before the run: given a
#: module path and an attribute, the child module's path, ``""`` for an allowed name, or
#: the reason the name is refused (``gradstep.scenario.sandbox.member``).
Members = Callable[[str, str], tuple[str, str]]


#: The scenario's own modules, for the check of its imports: given a module name, ``None``
#: when it is no module in the scenario's folder, else the refused constructs of its files
#: (each message naming the file and line; ``gradstep.scenario.siblings``).
Siblings = Callable[[str], "list[ScenarioRefused] | None"]


def check_source(
    source: str,
    filename: str,
    members: Members | None = None,
    internals: Internals | None = None,
    *,
    siblings: Siblings | None = None,
) -> None:
    """Refuse the scenario with its first problem (the others in its ``more``), or return
    None when it may run. ``members``: also refuse, up front, names of the imported
    modules that the run would refuse. ``internals``: let the scenario use the
    single-underscore attributes it defines that no library object has. ``siblings``:
    imports of the scenario's own modules pass, and their refused constructs are the
    scenario's, at the import."""
    problems = find_refusals(source, filename, members, internals, siblings=siblings)
    if problems:
        first = problems[0]
        first.more = tuple(problems[1:])
        raise first


def find_refusals(
    source: str,
    filename: str,
    members: Members | None = None,
    internals: Internals | None = None,
    *,
    siblings: Siblings | None = None,
) -> list[ScenarioRefused]:
    """Every refused construct, in source order; a syntax error is the only item if any."""
    tree = parse_scenario(source, filename)
    checker = _Checker(filename, _bound_names(tree), members, _bound_names(tree, imports=False))
    if internals is not None:
        checker.own = own_underscore_attributes(tree)
        checker.internals = internals
    checker.siblings = siblings
    try:
        checker.visit(tree)
    except RecursionError:
        return [ScenarioRefused(_MAX_NESTING, _hardest_line(source), 0, filename)]
    return sorted(checker.problems, key=lambda p: (p.line, p.col))


#: the longest line a scenario may have: ten times a long line of data written out
#: (``torch.tensor([...])`` with a thousand numbers), far below what the parser chokes on
MAX_LINE_CHARS = 1_000_000
#: brackets nested deeper than this: the parser's own limit is 200
_DEEP = 100


def parse_scenario(source: str, filename: str) -> ast.Module:
    """The syntax tree of ``source``, or a ScenarioSyntaxError at the line to blame.

    Never anything else: null bytes, lone surrogates, a line of megabytes and
    nesting the parser cannot take (it raises MemoryError or RecursionError,
    with no line) are refused before or after parsing with the line they are on.
    """
    refusal = _unparsable_text(source)
    if refusal is not None:
        raise ScenarioSyntaxError(refusal[1], refusal[0], 0, filename)
    try:
        with warnings.catch_warnings():
            # "invalid escape sequence" and friends are the interpreter's business, not ours
            warnings.simplefilter("ignore")
            return ast.parse(source, filename)
    except SyntaxError as e:
        raise ScenarioSyntaxError(
            e.msg or "invalid syntax", e.lineno or 1, max((e.offset or 1) - 1, 0), filename
        ) from None
    except (ValueError, RecursionError, MemoryError):
        raise ScenarioSyntaxError(_MAX_NESTING, _hardest_line(source), 0, filename) from None


def _unparsable_text(source: str) -> tuple[int, str] | None:
    """(line, message) for text that is no Python source at all, else None."""
    lines = _LINE_BREAKS.split(source)
    for number, line in enumerate(lines, start=1):
        if "\0" in line:
            return number, "the file contains a null byte"
        if len(line) > MAX_LINE_CHARS:
            return number, (
                f"the line is {len(line):,} characters long; a scenario's lines may have "
                f"at most {MAX_LINE_CHARS:,}"
            )
        if not line.isascii() and _SURROGATE.search(line):
            return number, "the file is not valid text (a lone surrogate code point)"
    return None


def _hardest_line(source: str) -> int:
    """Where the parser most likely gave up: the line where brackets nest deepest (if
    deep), else the longest line."""
    depth = deepest = 0
    deepest_line = line = 1
    for char in source:
        if char in "([{":
            depth += 1
            if depth > deepest:
                deepest, deepest_line = depth, line
        elif char in ")]}":
            depth -= 1
        elif char == "\n":
            line += 1
    if deepest > _DEEP:
        return deepest_line
    lengths = [len(part) for part in _LINE_BREAKS.split(source)]
    return lengths.index(max(lengths)) + 1


#: where Python's tokenizer starts a new line
_LINE_BREAKS = re.compile("\r\n|\r|\n")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _bound_names(tree: ast.AST, *, imports: bool = True) -> frozenset[str]:
    """Names the scenario binds itself anywhere (variables, parameters, defs, and with
    ``imports`` the names its imports bind)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif imports and isinstance(node, ast.alias):
            names.add(node.asname or node.name.partition(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return frozenset(names)


def own_underscore_attributes(tree: ast.AST) -> frozenset[str]:
    """The single-underscore attribute names a scenario defines: assigned (or augmented,
    or deleted) as an attribute anywhere (``self._prev = ...``, ``out._backward = f``),
    or bound in a class body (``def _helper(self)``, ``_cache = {}``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.FunctionDef):
                    names.add(stmt.name)
                targets = stmt.targets if isinstance(stmt, ast.Assign) else []
                if isinstance(stmt, ast.AnnAssign | ast.AugAssign):
                    targets = [stmt.target]
                names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    # one underscore only: '__x' is mangled to '_Class__x' and dunders are Python's
    return frozenset(n for n in names if n.startswith("_") and not n.startswith("__"))


#: exceptions a scenario may not catch: the recorder stops a scenario with a BaseException
UNCATCHABLE = frozenset({"BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit"})


class _Checker(ast.NodeVisitor):
    """Walks the tree once and collects a ScenarioRefused per refused construct."""

    def __init__(
        self,
        filename: str,
        bound: frozenset[str],
        members: Members | None = None,
        rebound: frozenset[str] = frozenset(),
    ) -> None:
        self.filename = filename
        self.bound = bound
        self.problems: list[ScenarioRefused] = []
        self.members = members
        self.rebound = rebound  # names also bound otherwise than by an import: not followed
        self.modules: dict[str, str] = {}  # name -> the module an import bound it to
        self.own: frozenset[str] = frozenset()  # the underscore attributes it defines
        self.internals: Internals | None = None
        self.siblings: Siblings | None = None  # the scenario's own modules (see Siblings)
        self.sibling_names: set[str] = set()  # names an import bound to one of them
        self._reported: set[str] = set()  # a sibling's refusals, said once

    def refuse(self, node: ast.AST, message: str) -> None:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        if isinstance(node, ast.Attribute) and node.end_lineno is not None:
            # point at the attribute name itself, which may sit lines below the receiver
            line, col = node.end_lineno, max((node.end_col_offset or 0) - len(node.attr), 0)
        self.problems.append(ScenarioRefused(message, line, col, self.filename))

    def generic_visit(self, node: ast.AST) -> None:
        if type(node) not in ALLOWED_NODES:
            kind = type(node).__name__
            self.refuse(
                node,
                _REFUSED_NODES.get(type(node), f"'{kind}' syntax is not allowed in a scenario"),
            )
            return  # one message per construct; its body is not worth more
        super().generic_visit(node)

    # ---------------------------------------------------------------- imports
    def _sibling(self, node: ast.AST, module: str) -> bool:
        """Whether ``module`` is one of the scenario's own modules; its refusals are
        reported here, at the import."""
        found = self.siblings(module) if self.siblings is not None else None
        if found is None:
            return False
        for problem in found:
            if problem.message not in self._reported:
                self._reported.add(problem.message)
                self.refuse(node, problem.message)
        return True

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name not in ALLOWED_MODULES and self._sibling(node, alias.name):
                self._check_binding(node, alias.asname)
                self.sibling_names.add(alias.asname or alias.name.partition(".")[0])
            elif alias.name not in ALLOWED_MODULES:
                self.refuse(node, import_message(alias.name))
            elif alias.asname:
                self._bind_module(alias.asname, alias.name)
            else:
                top = alias.name.partition(".")[0]
                self._bind_module(top, top)
            self._check_binding(node, alias.asname)

    def _bind_module(self, name: str, module: str) -> None:
        if name not in self.rebound:
            self.modules[name] = module

    def _module_of(self, node: ast.expr) -> str | None:
        """The module an expression names for sure (``np``, ``torch.nn``), else None."""
        if isinstance(node, ast.Name):
            return self.modules.get(node.id)
        if isinstance(node, ast.Attribute) and self.members is not None:
            parent = self._module_of(node.value)
            if parent is not None:
                child, _ = self.members(parent, node.attr)
                return child or None
        return None

    def _of_sibling(self, node: ast.expr) -> bool:
        """Whether an expression is one of the scenario's own modules or a name of one
        (``helpers``, ``pkg.ops``): its attributes are its own, run restricted."""
        while isinstance(node, ast.Attribute):
            node = node.value
        return (
            isinstance(node, ast.Name)
            and node.id in self.sibling_names
            and node.id not in self.rebound
        )

    def _check_member(self, node: ast.AST, module: str, name: str) -> str:
        """Refuse ``module.name`` now if the run would; returns the child module or ''."""
        if self.members is None:
            return ""
        child, reason = self.members(module, name)
        if reason:
            self.refuse(
                node,
                f"{module}.{name} is not available in a restricted scenario: {reason}; {TRUST_HINT}",
            )
        return child

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.refuse(
                node,
                f"relative imports are not allowed; a scenario may import {ALLOWED_MODULES_TEXT}",
            )
            return
        if module not in ALLOWED_MODULES:
            if self._sibling(node, module):
                for alias in node.names:
                    if alias.name == "*":
                        self.refuse(
                            node,
                            f"'from {module} import *' is not allowed; import the names you use",
                        )
                    self._check_binding(node, alias.asname or alias.name)
                    self.sibling_names.add(alias.asname or alias.name)
                return
            self.refuse(node, import_message(module))
            return
        for alias in node.names:
            if alias.name == "*":
                self.refuse(
                    node, f"'from {module} import *' is not allowed; import the names you use"
                )
                continue
            reason = refused_attribute_reason(alias.name)
            if reason and not _is_nn_utils(module, alias.name) and not _is_door(module, alias.name):
                self.refuse(
                    node, f"importing '{alias.name}' from {module} is not allowed: {reason}"
                )
            else:
                child = self._check_member(node, module, alias.name)
                if child:
                    self._bind_module(alias.asname or alias.name, child)
            self._check_binding(node, alias.asname)

    # ------------------------------------------------------------------ names
    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("_") and is_dunder(name):
            if not (name in READABLE_DUNDER_NAMES and isinstance(node.ctx, ast.Load)):
                self.refuse(
                    node,
                    f"the name '{name}' is not allowed: double-underscore names reach Python internals",
                )
        elif name in DANGEROUS_BUILTINS and name not in self.bound:
            why = _BUILTIN_REASONS.get(
                name, "it reaches files, the interpreter or attributes by name"
            )
            self.refuse(
                node, f"the built-in '{name}' is not available in a scenario: {why}; {TRUST_HINT}"
            )
        elif name == "type" and "type" not in self.bound:
            # a bare 'type' is only reachable here when it is not the one-argument call below
            self.refuse(node, "'type' may only be called with one argument, as in type(x)")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        self._check_literal_path(node)
        named = isinstance(func, ast.Name) and func.id in NAMED_ATTRIBUTE_BUILTINS
        if named and isinstance(func, ast.Name) and func.id not in self.bound:
            self._check_named_attribute(node, func.id)
        if isinstance(func, ast.Name) and func.id == "type" and "type" not in self.bound:
            if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
                self.refuse(node, "'type' may only be called with one argument, as in type(x)")
            for child in node.args:
                self.visit(child)
            for keyword in node.keywords:
                self.visit(keyword)
            return
        self.generic_visit(node)

    def _check_literal_path(self, node: ast.Call) -> None:
        """``open('../secret')``, ``torch.save(m, '/tmp/x')``: a path written out that leaves
        the scenario's folder is refused now, with the rest (the run would refuse it)."""
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open" and "open" not in self.bound:
            call, index = "open", 0
        elif isinstance(func, ast.Attribute) and _is_door(self._module_of(func.value), func.attr):
            module = self._module_of(func.value)
            call, index = (
                f"{module}.{func.attr}",
                1 if func.attr == "save" and module == "torch" else 0,
            )
        else:
            return
        given = node.args[index] if len(node.args) > index else None
        for keyword in node.keywords:
            if keyword.arg in ("file", "f", "fname"):
                given = keyword.value
        if isinstance(given, ast.Constant) and isinstance(given.value, str):
            why = folder.literal_path_refusal(given.value, self.filename, call)
            if why:
                self.refuse(node, why)

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            self._check_binding(node, name)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        for name in node.names:
            self._check_binding(node, name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self._check_binding(node, node.name)
        caught = (
            {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)} & UNCATCHABLE
            if node.type is not None
            else {"everything"}
        )
        if caught:
            what = "a bare 'except:'" if node.type is None else f"catching {min(caught)}"
            self.refuse(
                node,
                f"{what} is not allowed: it would also catch the time limit that stops a "
                "runaway scenario; catch Exception or a narrower error",
            )
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self._check_binding(node, node.arg)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if is_dunder(node.name) and node.name not in DEFINABLE_DUNDERS:
            self.refuse(
                node,
                f"defining '{node.name}' is not allowed; a scenario may define __init__, "
                "__call__, __repr__, __len__, __getitem__ and the arithmetic operators",
            )
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._check_binding(node, node.name)
        self.generic_visit(node)

    def _check_binding(self, node: ast.AST, name: str | None) -> None:
        if name and is_dunder(name):
            self.refuse(
                node,
                f"the name '{name}' is not allowed: double-underscore names reach Python internals",
            )

    # ------------------------------------------------------------- attributes
    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = node.attr
        if name in FORMAT_ATTRIBUTES:
            if not (name == "format" and _is_plain_format_literal(node.value)):
                self.refuse(
                    node,
                    f"'.{name}' is not allowed here: only a string literal with plain fields "
                    'such as "{:.4f}".format(x) may be formatted; use an f-string',
                )
        elif is_dunder(name) and _is_super_call(node.value) and name in SUPER_DUNDERS:
            pass  # super().__init__(...) and friends
        elif name in READABLE_DUNDER_NAMES and isinstance(node.ctx, ast.Load):
            pass  # type(x).__name__
        elif name == "utils" and _is_nn_reference(node.value):
            pass  # nn.utils: the sandbox exposes only its gradient-clipping helpers
        else:
            reason = self._attribute_reason(name, node.value)
            if reason:
                self.refuse(node, reason)
            elif isinstance(node.ctx, ast.Load):
                module = self._module_of(node.value)
                if module is not None:
                    self._check_member(node, module, name)
        self.generic_visit(node)

    def _attribute_reason(self, name: str, receiver: ast.expr) -> str | None:
        """Why ``receiver.name`` is refused, or None (the dunders and ``.format`` aside)."""
        reason = refused_attribute_reason(name)
        if reason and _is_door(self._module_of(receiver), name):
            reason = None  # torch.save, np.load: through the scenario's folder
        if reason and name in self.own:
            reason = self._own_attribute_reason(name)
        if reason and self._of_sibling(receiver) and _is_escape_name(name):
            reason = None  # pkg.ops: a name of the scenario's own module, not torch's
        return reason

    def _check_named_attribute(self, node: ast.Call, builtin: str) -> None:
        """``setattr(model, "weight", w)``: the name written out is checked as ``.weight``
        would be; a name computed at run time is checked then (scenario.reflect)."""
        if len(node.args) < 2 or isinstance(node.args[0], ast.Starred):
            return
        given = node.args[1]
        if not (isinstance(given, ast.Constant) and isinstance(given.value, str)):
            return
        name = given.value
        reason: str | None = None
        if name in FORMAT_ATTRIBUTES:
            reason = "a format string walks attributes named by a string; use an f-string"
        elif not (builtin == "getattr" and name in READABLE_DUNDER_NAMES):
            reason = self._attribute_reason(name, node.args[0])
        if reason:
            self.refuse(node, f"{builtin}(..., {name!r}) is not allowed: {reason}")
        elif builtin == "getattr" and self.members is not None:
            module = self._module_of(node.args[0])
            if module is not None:
                self._check_member(node, module, name)

    def _own_attribute_reason(self, name: str) -> str | None:
        """Why a single-underscore attribute the scenario defines is still refused: a
        library object has one of that name, which the check could not tell apart."""
        assert self.internals is not None
        owner = self.internals(name)
        if owner is None:
            return None
        return (
            f"'.{name}' is not allowed: the scenario defines an attribute of that name, but "
            f"{owner} has an internal one too, and the check reads names, not types; "
            f"rename the scenario's attribute (say '{name.lstrip('_')}_'); {TRUST_HINT}"
        )

    def visit_Subscript(self, node: ast.Subscript) -> None:
        for key in _string_constants(node.slice):
            if key.startswith("__"):
                self.refuse(
                    node, f"subscripting with '{key}' is not allowed: it names Python internals"
                )
        self.generic_visit(node)


def import_message(module: str) -> str:
    top = module.partition(".")[0]
    why = _MODULE_REASONS.get(top) or _MODULE_REASONS.get(module)
    if why is None:
        why = (
            f"of {top}, a scenario may import {', '.join(m for m in ALLOWED_IMPORTS if m.startswith(top + '.') or m == top)}"
            if any(m == top or m.startswith(top + ".") for m in ALLOWED_IMPORTS)
            else "it is not one of the modules teaching code needs"
        )
    return (
        f"importing '{module}' is not allowed: {why}; a restricted scenario may import "
        f"{ALLOWED_MODULES_TEXT}; {TRUST_HINT}"
    )


def _is_escape_name(name: str) -> bool:
    """Refused only as one of torch's or numpy's escape hatches, wherever it appears."""
    return name in ESCAPE_ATTRIBUTES or (name.endswith("Storage") and not name.startswith("_"))


def _is_door(module: str | None, name: str) -> bool:
    """``torch.save``, ``np.load``...: a file door of the module, through the scenario's folder."""
    return module is not None and name in libraries.FOLDER_DOORS.get(module, ())


def _is_nn_utils(module: str, name: str) -> bool:
    return module == "torch.nn" and name == "utils"


def _is_nn_reference(node: ast.expr) -> bool:
    """``nn``, ``torch`` or ``<anything>.nn``: the receivers of the allowed ``nn.utils``
    and ``torch.utils`` (the sandbox exposes only ``torch.utils.data`` of the latter)."""
    return (isinstance(node, ast.Name) and node.id in ("nn", "torch")) or (
        isinstance(node, ast.Attribute) and node.attr == "nn"
    )


def _is_super_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def _string_constants(node: ast.expr) -> Iterator[str]:
    parts: Iterable[ast.expr] = node.elts if isinstance(node, ast.Tuple) else (node,)
    for part in parts:
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            yield part.value


def _is_plain_format_literal(node: ast.expr) -> bool:
    """A str literal whose fields are ``{}``, ``{0}`` or ``{name}``, specs included."""
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _plain_fields(node.value, depth=0)
    )


def _plain_fields(template: str, depth: int) -> bool:
    if depth > 2:  # str.format itself refuses specs nested deeper than two levels
        return False
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return False  # malformed: it would fail at run time, but we cannot vouch for it
    for _, field, spec, _ in fields:
        if field is None:
            continue
        if field and not (field.isdigit() or field.isidentifier()):
            return False  # '.' or '[' walks attributes or items by name
        if spec and not _plain_fields(spec, depth + 1):
            return False
    return True
