"""A restricted scenario's own modules: the ``.py`` files and packages in its folder.

Teaching code splits into files: micrograd's PyTorch checks start with ``from
micrograd.engine import Value``, with the ``micrograd/`` package beside them. A
restricted scenario may import a module that sits in its own folder (``name.py``,
or ``name/__init__.py`` and its submodules ``name/sub.py``); such a **sibling**
module is the scenario's code, not a library, so it goes through the same
restricted pipeline as the scenario:

- **before the run**, the static check reads every sibling the scenario imports,
  and every sibling those import, and reports their refused constructs with the
  scenario's own, all at once, at the scenario's import line, each naming the
  sibling's file and line (``micrograd/engine.py, line 9: ...``);
- **at run time** a sibling runs in restricted globals of its own (the same
  curated built-ins, the same allow-listing ``__import__``, the same folder for
  ``open``), once per run, as a module object that is never put in
  ``sys.modules`` (no library can import it by name, and nothing of it
  outlives the run); its functions run with those globals when the scenario
  calls them.

What counts as a sibling: the first part of the name is an identifier that is not
one of the modules a scenario may import (those always mean the library: a
``torch.py`` beside a lesson changes nothing) and not a standard-library module's
name (``os.py`` beside a lesson does not make ``import os`` pass), and the file is
inside the scenario's folder once symlinks are resolved. A folder without
``__init__.py`` is a namespace package, as in Python. A scenario without a folder
of its own, or in a folder too broad to read (:mod:`gradstep.scenario.folder`),
has no siblings. Relative imports stay refused.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable
from typing import Any

from gradstep.scenario import check
from gradstep.scenario.errors import ScenarioRefused
from gradstep.scenario.files import read_scenario_bytes
from gradstep.scenario.folder import ScenarioFolder

#: The first parts of the modules a scenario may import: never a sibling.
_LIBRARY_TOPS = frozenset(m.partition(".")[0] for m in check.ALLOWED_MODULES)

#: How to run a sibling module's code: (path, source, its module object) -> None.
Runner = Callable[[str, str, types.ModuleType], None]

#: The static check of one file, as the scenario's own: (source, path, siblings) -> refusals.
CheckFile = Callable[[str, str, check.Siblings], list[ScenarioRefused]]


class SiblingModules:
    """The modules in one scenario's folder: found, checked and loaded once per run."""

    def __init__(self, scenario_folder: ScenarioFolder, check_file: CheckFile) -> None:
        """``check_file``: the static check the scenario itself passes, for each file."""
        self.folder = scenario_folder
        self.check_file = check_file
        self.loaded: dict[str, types.ModuleType] = {}
        self._sources: dict[str, str] = {}  # real path -> its text, read once
        self._checked: dict[str, list[ScenarioRefused]] = {}  # real path -> its own refusals

    # ------------------------------------------------------------------- finding

    def files(self, name: str) -> list[str] | None:
        """The files that importing ``name`` runs, parents first (``a/__init__.py``,
        ``a/b.py``); ``None`` when ``name`` is no sibling module. A namespace package
        (a folder without ``__init__.py``) runs nothing."""
        root = self.folder.root
        parts = name.split(".")
        if (
            root is None
            or not self.folder.disk
            or not all(p.isidentifier() for p in parts)
            or parts[0] in _LIBRARY_TOPS
            or parts[0] in sys.stdlib_module_names
        ):
            return None
        found: list[str] = []
        for depth in range(1, len(parts) + 1):
            base = os.path.join(root, *parts[:depth])
            package = os.path.join(base, "__init__.py")
            if os.path.isdir(base):  # a package, or a namespace package without __init__.py
                if not self._inside(os.path.realpath(base)):
                    return None  # a symlink out of the folder: no module of this scenario
                if os.path.isfile(package):
                    found.append(package)
            elif depth == len(parts) and os.path.isfile(base + ".py"):
                found.append(base + ".py")
            else:
                return None
        reals = [os.path.realpath(f) for f in found]
        return reals if all(self._inside(r) for r in reals) else None

    def is_package(self, name: str) -> bool:
        root = self.folder.root
        return root is not None and os.path.isdir(os.path.join(root, *name.split(".")))

    def _inside(self, real: str) -> bool:
        root = self.folder.root
        return root is not None and real.startswith(root.rstrip(os.sep) + os.sep)

    def relative(self, real: str) -> str:
        return self.folder.relative(real)

    def source(self, real: str) -> str:
        text = self._sources.get(real)
        if text is None:
            data = read_scenario_bytes(real)  # a regular file of bounded size
            try:
                text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
            except UnicodeDecodeError as e:
                raise ScenarioRefused(
                    f"cannot read {self.relative(real)}: it is not UTF-8 text", 0, 0, real
                ) from e
            self._sources[real] = text
        return text

    # ------------------------------------------------------------------ checking

    def problems(self, name: str) -> list[ScenarioRefused] | None:
        """``None`` when ``name`` is no sibling; else the refused constructs of its files
        and of every sibling they import, each file once, each message starting with the
        file and line it is at (``micrograd/engine.py, line 9: ...``)."""
        files = self.files(name)
        if files is None:
            return None
        out: list[ScenarioRefused] = []
        seen: set[str] = set()
        for real in files:
            self._collect(real, out, seen)
        return out

    def _collect(self, real: str, out: list[ScenarioRefused], seen: set[str]) -> None:
        if real in seen:
            return
        seen.add(real)
        imported: list[str] = []
        lines: dict[str, list[int]] = {}  # the same reason on several lines is said once
        for problem in self.own_problems(real, imported):
            lines.setdefault(problem.message, []).append(problem.line)
        for message, at in lines.items():
            where = f"{self.relative(real)}, line{'s' if len(at) > 1 else ''} "
            where += ", ".join(map(str, at))
            out.append(ScenarioRefused(f"{where}: {message}", at[0], 0, real))
        for other in imported:
            self._collect(other, out, seen)

    def own_problems(self, real: str, imported: list[str] | None = None) -> list[ScenarioRefused]:
        """The refused constructs of one sibling file itself (the siblings it imports are
        accepted here and added to ``imported``)."""

        def sibling(name: str) -> list[ScenarioRefused] | None:
            files = self.files(name)
            if files is not None and imported is not None:
                imported.extend(files)
            return None if files is None else []

        cached = self._checked.get(real)
        if cached is None or imported is not None:
            try:
                source = self.source(real)
                cached = self.check_file(source, real, sibling)
            except ScenarioRefused as e:  # unreadable, or not Python
                cached = [e]
            self._checked[real] = cached
        return cached

    # ------------------------------------------------------------------- loading

    def load(self, name: str, run: Runner) -> types.ModuleType:
        """Module ``name`` (and its parents), run once each by ``run`` in restricted globals
        of its own; an ImportError that names the file for one the check refuses."""
        files = self.files(name)
        if files is None:
            raise ImportError(f"no module named {name!r} in the scenario's folder")
        parts = name.split(".")
        module: types.ModuleType | None = None
        for depth in range(1, len(parts) + 1):
            full = ".".join(parts[:depth])
            child = self.loaded.get(full)
            if child is None:
                child = self._run(full, run)
            if module is not None:
                vars(module).setdefault(parts[depth - 1], child)  # import a.b binds a.b on a
            module = child
        assert module is not None
        return module

    def _run(self, name: str, run: Runner) -> types.ModuleType:
        root = self.folder.root
        assert root is not None
        base = os.path.join(root, *name.split("."))
        package = os.path.join(base, "__init__.py")
        module = types.ModuleType(name)
        if os.path.isdir(base) and not os.path.isfile(package):
            self.loaded[name] = module  # a namespace package: nothing to run
            return module
        real = os.path.realpath(package if os.path.isfile(package) else base + ".py")
        refused = self.own_problems(real)
        if refused:
            first = refused[0]
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            raise ImportError(
                f"{self.relative(real)}, line {first.line}: {first.message}{more}", name=name
            )
        self.loaded[name] = module  # before it runs: an import cycle sees it, as in Python
        try:
            run(real, self.source(real), module)
        except BaseException:
            del self.loaded[name]
            raise
        return module

    def submodule(self, module: types.ModuleType, name: str, item: str, run: Runner) -> Any:
        """``from package import item`` where ``item`` is a submodule not loaded yet."""
        if item in vars(module) or self.files(f"{name}.{item}") is None:
            return None
        return self.load(f"{name}.{item}", run)
