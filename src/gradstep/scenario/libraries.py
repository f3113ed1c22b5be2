"""What a restricted scenario may use beyond torch: numpy, matplotlib, ``torch.utils.data``
and the standard library's pure computation (issue 11).

Teaching code uses these, and none of it needs a file, a process, the network
or the interpreter's internals. Each module is handed to the scenario as an
allow-listing proxy (:class:`gradstep.scenario.sandbox.RestrictedModule`) whose
names are the module's public, non-module names minus the doors listed here:

- numpy: everything but its file, process and foreign-code doors
  (:data:`NUMPY_DENIED`: ``savez``/``fromfile``/``fromregex``/``memmap``/``DataSource``,
  ``ctypeslib``, ``lib`` (``lib.format.open_memmap``, ``lib.npyio``),
  ``f2py``, ``testing``, ``rec`` (``rec.fromfile``), ``frombuffer``/``from_dlpack``
  (foreign memory)); ``numpy.random``, ``numpy.linalg``, ``numpy.fft`` and
  ``numpy.polynomial`` whole; its ``save``/``load``/``savetxt``/``loadtxt``/
  ``genfromtxt``, like ``torch.save``/``torch.load``, go through the scenario's
  folder and the run's scratch in memory (:data:`FOLDER_DOORS`,
  :mod:`gradstep.scenario.savers`);
- matplotlib: ``pyplot`` (with ``cm`` and ``style``) and ``rcParams``, drawing
  on the worker's Agg canvas; gradstep captures the figures, so the doors to
  files (``savefig``, ``imsave``, ``imread``) and to other backends
  (``use``, ``switch_backend``, which import a module by name) stay shut;
  the pure plotting modules lecture notebooks import beside it:
  ``matplotlib.ticker``, ``cm``, ``colors``, ``patches``, ``animation``
  (``FuncAnimation`` and ``ArtistAnimation`` only, whose ``save``,
  ``to_html5_video`` and ``to_jshtml`` run ffmpeg or write files and raise at
  their line, :mod:`gradstep.scenario.animations`; no movie writers) and
  ``mpl_toolkits.mplot3d`` (3-D loss surfaces: ``Axes3D``,
  ``projection="3d"``);
- ``torch.utils.data`` in-process: datasets, samplers, ``random_split`` and a
  ``DataLoader`` that refuses ``num_workers > 0`` (worker processes) up front;
- graphviz, when installed (:data:`OPTIONAL`): ``Digraph`` and ``Graph`` to
  build graphs (pure Python), whose ``render``/``view``/``pipe``/``save``/
  ``unflatten`` (they run the Graphviz programs or write files) raise at their
  line (:mod:`gradstep.scenario.graphs`); not installed, the import fails at
  its line saying ``pip install graphviz``, as in plain Python;
- the standard library modules of :data:`STDLIB_DENIED`, minus the few
  names that read attributes or evaluate code by a string
  (``operator.attrgetter``, ``string.Formatter``, ``typing.get_type_hints``,
  ``functools.singledispatch``, ``functools.wraps``...) or make a class from
  a dict built at run time (``abc.ABCMeta``, ``enum.EnumType``), whose
  dunders the static check never sees (``__array_interface__`` lets numpy view
  any address: ``tests/core/test_attack_widened.py``); ``enum``'s functional
  API refuses dunder member names while a restricted scenario runs
  (:mod:`gradstep.scenario.enums`).

What stays refused is refused by the static check before anything runs, with
the reason and ``--trust`` (see :mod:`gradstep.scenario.check`). None of this
is the security boundary: the worker's operating-system walls are
(:mod:`gradstep.worker.walls`); ``tests/core/test_walls.py`` judges the doors
named here by their effect.
"""

from __future__ import annotations

#: Standard-library modules a scenario may import, each with the names it may not use.
STDLIB_DENIED: dict[str, frozenset[str]] = {
    "math": frozenset(),
    "cmath": frozenset(),
    "random": frozenset(),
    "statistics": frozenset(),
    # ABCMeta(name, bases, dict) makes a class from a dict built at run time (see ABCMeta)
    "numbers": frozenset({"ABCMeta"}),
    "fractions": frozenset(),
    "decimal": frozenset(),
    "itertools": frozenset(),
    # attrgetter/methodcaller read attributes by a string; the walk of names sees no string
    "operator": frozenset({"attrgetter", "methodcaller"}),
    # wraps/update_wrapper copy attributes named by the caller (``assigned=("__globals__",)``)
    # singledispatch's register(fn) evaluates fn's annotation strings (typing.get_type_hints)
    "functools": frozenset(
        {
            "wraps",
            "update_wrapper",
            "WRAPPER_ASSIGNMENTS",
            "WRAPPER_UPDATES",
            "singledispatch",
            "singledispatchmethod",
        }
    ),
    "collections": frozenset(),
    "collections.abc": frozenset(),
    "heapq": frozenset(),
    "bisect": frozenset(),
    "copy": frozenset(),
    # make_dataclass builds a class from names and types given at run time
    "dataclasses": frozenset({"make_dataclass"}),
    # get_type_hints and ForwardRef evaluate annotation strings
    "typing": frozenset({"get_type_hints", "ForwardRef", "ABCMeta", "NamedTupleMeta"}),
    "abc": frozenset({"get_cache_token", "ABCMeta"}),
    # Formatter().get_field and vformat walk attributes named by a string ("{0.__class__}")
    "string": frozenset({"Formatter"}),
    "textwrap": frozenset(),
    "re": frozenset(),
    "pprint": frozenset(),
    # clock_settime and tzset change the process's clock and time zone
    "time": frozenset({"clock_settime", "clock_settime_ns", "tzset", "pthread_getcpuclockid"}),
    "datetime": frozenset(),
    # EnumType(name, bases, dict) makes a class from a dict built at run time; the global_*
    # helpers write into the scenario's module; Enum('E', names) is checked (scenario.enums)
    "enum": frozenset(
        {
            "EnumType",
            "EnumMeta",
            "global_enum",
            "global_enum_repr",
            "global_flag_repr",
            "global_str",
        }
    ),
    "__future__": frozenset(),
}

#: Standard-library modules that allowed modules' C code imports on first use through
#: the calling frame's ``__import__``, which is the scenario's: ``datetime.strptime`` and
#: ``time.strptime`` import ``_strptime``. Imported before the run and let through the
#: sandbox's ``__import__`` (as an empty proxy: the C code takes the module from
#: ``sys.modules``); a scenario's own ``import _strptime`` stays refused by the check.
LAZY_IMPORTS: frozenset[str] = frozenset({"_strptime"})

#: torch modules a scenario may import that ``import torch`` does not load (~1 ms each):
#: imported before the run, as the guard refuses new imports while it runs
TORCH_LAZY: tuple[str, ...] = ("functorch",)

#: numpy's doors to files, processes and foreign code (module attributes).
NUMPY_DENIED: frozenset[str] = frozenset(
    {
        "savez", "savez_compressed", "fromfile", "fromregex", "memmap", "DataSource", "frombuffer", "from_dlpack",
        "show_config", "show_runtime", "info", "get_include", "setbufsize",
    }
)  # fmt: skip

#: The file doors that a restricted scenario may call on the module itself (``torch.save``,
#: ``np.load``, ``from torch import save``): they take paths in the scenario's folder and
#: write to the run's scratch in memory (:mod:`gradstep.scenario.savers`). The same names
#: on anything else stay refused by the static check (``t = torch; t.save``).
FOLDER_DOORS: dict[str, frozenset[str]] = {
    "torch": frozenset({"save", "load"}),
    "numpy": frozenset({"save", "load", "savetxt", "loadtxt", "genfromtxt"}),
}

#: matplotlib.pyplot's doors to files, other backends and waiting on a window.
PYPLOT_DENIED: frozenset[str] = frozenset(
    {
        "savefig", "imsave", "imread", "switch_backend", "install_repl_displayhook",
        "uninstall_repl_displayhook", "new_figure_manager", "get_current_fig_manager",
        "ginput", "waitforbuttonpress", "connect", "disconnect", "figimage", "Enum",
    }
)  # fmt: skip

#: matplotlib.ticker's names that read attributes named by a string ("{x.__class__}")
TICKER_DENIED: frozenset[str] = frozenset({"StrMethodFormatter"})

#: matplotlib.animation: the animations, built and drawn by gradstep's captures; its
#: writers run ffmpeg or ImageMagick or write files (handed out hardened: scenario.animations)
ANIMATION_NAMES: frozenset[str] = frozenset({"FuncAnimation", "ArtistAnimation"})

#: What a scenario may read on the top-level ``matplotlib`` module.
MATPLOTLIB_NAMES: frozenset[str] = frozenset(
    {"rcParams", "rc", "rc_context", "rcdefaults", "colormaps", "color_sequences"}
)

#: torch.utils.data in-process (its DataLoader is handed out hardened: num_workers=0).
DATA_NAMES: frozenset[str] = frozenset(
    {
        "Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
        "ChainDataset", "Subset", "DataLoader", "random_split", "Sampler", "SequentialSampler",
        "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
        "default_collate", "default_convert", "get_worker_info",
    }
)  # fmt: skip

#: What a scenario may read on ``graphviz`` (the classes are handed out hardened).
GRAPHVIZ_NAMES: frozenset[str] = frozenset({"Digraph", "Graph", "escape", "nohtml"})

#: Libraries a scenario may import when they are installed (not dependencies of gradstep).
OPTIONAL: tuple[str, ...] = ("graphviz",)

#: Which attribute of which library module is itself a proxied module.
CHILDREN: dict[str, dict[str, str]] = {
    "collections": {"abc": "collections.abc"},
    "numpy": {
        "random": "numpy.random",
        "linalg": "numpy.linalg",
        "fft": "numpy.fft",
        "polynomial": "numpy.polynomial",
    },
    "matplotlib": {
        "pyplot": "matplotlib.pyplot",
        "cm": "matplotlib.cm",
        "ticker": "matplotlib.ticker",
        "colors": "matplotlib.colors",
        "patches": "matplotlib.patches",
        "animation": "matplotlib.animation",
    },
    "mpl_toolkits": {"mplot3d": "mpl_toolkits.mplot3d"},
    "matplotlib.pyplot": {"cm": "matplotlib.cm", "style": "matplotlib.style"},
    "matplotlib.style": {},
    "torch.utils": {"data": "torch.utils.data"},
}

#: Explicit allow-lists of library modules (the others take their public names).
EXPLICIT: dict[str, frozenset[str]] = {
    "matplotlib": MATPLOTLIB_NAMES,
    "matplotlib.style": frozenset({"use", "context", "available"}),
    "matplotlib.animation": ANIMATION_NAMES,
    "mpl_toolkits": frozenset(),
    "mpl_toolkits.mplot3d": frozenset({"Axes3D"}),
    "torch.utils": frozenset(),
    "torch.utils.data": DATA_NAMES,
    "graphviz": GRAPHVIZ_NAMES,
}

#: Module attributes denied by path (the rest of a library module's public names pass).
DENIED: dict[str, frozenset[str]] = {
    **STDLIB_DENIED,
    "numpy": NUMPY_DENIED,
    "numpy.random": frozenset(),
    "numpy.linalg": frozenset(),
    "numpy.fft": frozenset(),
    "numpy.polynomial": frozenset(),
    "matplotlib.pyplot": PYPLOT_DENIED,
    "matplotlib.cm": frozenset(),
    "matplotlib.ticker": TICKER_DENIED,
    "matplotlib.colors": frozenset(),
    "matplotlib.patches": frozenset(),
}

#: The modules a scenario may import from this module's libraries.
IMPORTS: tuple[str, ...] = (
    "numpy",
    "numpy.random",
    "numpy.linalg",
    "numpy.fft",
    "numpy.polynomial",
    "matplotlib",
    "matplotlib.pyplot",
    "matplotlib.cm",
    "matplotlib.ticker",
    "matplotlib.colors",
    "matplotlib.patches",
    "matplotlib.animation",
    "mpl_toolkits",
    "mpl_toolkits.mplot3d",
    "torch.utils.data",
    *OPTIONAL,
    *STDLIB_DENIED,
)

#: Why a door stays shut, by name: said by the static check with the suggestion of --trust.
REASONS: dict[str, str] = {
    **{n: "it reads or writes files" for n in NUMPY_DENIED - {"frombuffer", "from_dlpack"}},
    **dict.fromkeys(
        set().union(*FOLDER_DOORS.values()),
        "it reads or writes files; only torch.save/torch.load and numpy's save/load/savetxt/"
        "loadtxt/genfromtxt, called on the module itself, use the scenario's folder",
    ),
    "frombuffer": "it views foreign memory",
    "lib": "it holds numpy's file formats and memory maps (lib.format, lib.npyio)",
    "ctypeslib": "it loads native code",
    "tofile": "it writes a file",
    "dump": "it writes a file",
    "testing": "it runs test tools that start processes and read files",
    "f2py": "it compiles and loads native code",
    "rec": "it reads files (rec.fromfile)",
    "from_dlpack": "it views foreign memory",
    "savefig": "it writes a file (gradstep shows each figure at the step that drew it)",
    "imsave": "it writes a file",
    "imread": "it reads a file",
    "use": "it switches to another backend, which imports a module by name",
    "switch_backend": "it switches to another backend, which imports a module by name",
    "attrgetter": "it reads attributes named by a string",
    "Formatter": "it reads attributes named by a string ('{0.__class__}' in get_field and vformat)",
    "methodcaller": "it calls methods named by a string",
    "wraps": "it copies attributes named by the caller",
    "update_wrapper": "it copies attributes named by the caller",
    "get_type_hints": "it evaluates annotation strings as code",
    "singledispatch": "its register() evaluates annotation strings as code",
    "singledispatchmethod": "its register() evaluates annotation strings as code",
    "ForwardRef": "it evaluates a string as code",
    "make_dataclass": "it builds a class from names given at run time",
    # a class whose dunders come from a dict the check cannot see: __array_interface__
    # then made numpy view any address in the worker's memory (id() gives them)
    "ABCMeta": "it makes a class from a dict built at run time, dunder names included",
    "EnumType": "it makes a class from a dict built at run time, dunder names included",
    "EnumMeta": "it makes a class from a dict built at run time, dunder names included",
    "NamedTupleMeta": "it makes a class from a dict built at run time, dunder names included",
    "render": "it runs the Graphviz program and writes a file",
    "view": "it runs the Graphviz program and opens a viewer",
    "pipe": "it runs the Graphviz program",
    "pipe_string": "it runs the Graphviz program",
    "pipe_lines": "it runs the Graphviz program",
    "pipe_lines_string": "it runs the Graphviz program",
    "unflatten": "it runs Graphviz's unflatten program",
    "Source": "its render() and view() run the Graphviz program and write files",
    "set_jupyter_format": "it changes how Jupyter renders graphs (the dot program)",
    "StrMethodFormatter": "it reads attributes named by a string ('{x.__class__}'); use "
    "FormatStrFormatter('%.2f') or FuncFormatter",
    "to_html5_video": "it runs ffmpeg and writes a file (gradstep shows the figure at each step)",
    "to_jshtml": "it writes the frames to files (gradstep shows the figure at each step)",
    "tensorboard_trace_handler": "it writes trace files for TensorBoard; "
    "print(prof.key_averages().table()) shows the profile in the step's output",
    "export_chrome_trace": "it writes a trace file; print(prof.key_averages().table()) shows "
    "the profile in the step's output",
    "export_stacks": "it writes a file; print(prof.key_averages().table()) shows the profile",
    "export_memory_timeline": "it writes a file; print(prof.key_averages().table()) shows the profile",
    "ExecutionTraceObserver": "it writes an execution trace file",
    "benchmark": "its Timer runs code given as strings (stmt=..., setup=...), which the check "
    "cannot read; time a call with time.perf_counter() before and after it",
    "Timer": "it runs code given as strings (stmt=..., setup=...), which the check cannot read; "
    "time a call with time.perf_counter() before and after it",
    "Enum": "Enum('E', names) makes a class from names given at run time, dunder names included",
}
