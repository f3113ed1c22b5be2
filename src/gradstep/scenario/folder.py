"""A restricted scenario's folder: the data files beside it, and a scratch folder in memory.

Teaching files read data that sits beside them (``open('names.txt').read()``) and
save a model to load it back two cells later (``torch.save(model.state_dict(),
"model.pth")``, then ``torch.load("model.pth", weights_only=True)``). A restricted
run does both, and no file on disk changes:

- **Paths** are resolved against the scenario's own folder, not the worker's
  working folder, symlinks followed; a path that ends up outside that folder
  (``../secret``, ``/etc/passwd``, a symlink pointing out) is refused with a
  ``PermissionError`` that names the path and the folder (the recorder puts it
  at the scenario's line). A scenario given as text has no folder: no files.
- **Reading** (``open`` in ``r``/``rb``/``rt`` modes, with ``encoding``,
  ``errors``, ``newline``) gives a real file object: what the run wrote to its
  scratch under that name if anything, else the file on disk. The operating
  system's walls let the worker read that folder and nothing else of the
  user's (:mod:`gradstep.worker.walls`); the audit guard is told the same
  (:meth:`ScenarioFolder.readable`).
- **Writing** (``w``, ``a``, ``x`` and ``+`` modes) goes to the run's
  **scratch**: an in-memory file kept under its resolved path when it is
  flushed or closed, at most :data:`SCRATCH_BYTES` in all (far below the
  worker's memory limit). Later reads of the same name read it back from
  memory. Nothing is written to disk: "restricted runs write no files" stays
  literally true, and the trace says which files went to the scratch.
- **A folder that holds the user's other files** (a home folder, one of its
  ancestors, ``/tmp``: :func:`too_broad`) is not opened to the scenario: the
  walls grant the scenario file alone, so reading anything from disk is
  refused with a message saying to give the lesson a folder of its own; the
  scratch still works.

The library doors that take a file name (``torch.save``/``torch.load``, numpy's
``save``/``load``/``savetxt``/``loadtxt``/``genfromtxt``) go through the same
folder: :mod:`gradstep.scenario.savers` hands each library an in-memory file.
"""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Iterable
from typing import IO, Any

from gradstep.scenario.errors import TRUST_HINT

#: What the scratch of one run may hold in all (the worker's memory limit is 8 GB by default).
SCRATCH_BYTES = 256 << 20

#: Folders whose tree holds other people's or the user's other files: never opened whole.
SHARED_DIRS = ("/", "/tmp", "/var/tmp", "/dev/shm", "/home", "/root", "/Users")


def homes() -> set[str]:
    """The user's home folders (``$HOME`` and the password database's), real paths."""
    found = set()
    for home in (os.environ.get("HOME"), _passwd_home()):
        if home:
            found.add(os.path.realpath(home))
    return found


def _passwd_home() -> str | None:
    try:
        import pwd  # POSIX only

        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError):
        return None


def too_broad(folder: str, home_folders: Iterable[str] | None = None) -> bool:
    """Whether granting ``folder`` would grant the user's other files: a home,
    an ancestor of one, the root, or a shared temporary folder."""
    folder = os.path.realpath(folder)
    if folder in SHARED_DIRS:
        return True
    for home in homes() if home_folders is None else home_folders:
        if folder == home or home.startswith(folder.rstrip("/") + "/"):
            return True
    return False


def scenario_read_path(scenario_path: str | None) -> str | None:
    """What a restricted run of ``scenario_path`` may read of the user's files: the
    scenario's folder, or the file alone when that folder is :func:`too_broad`; None
    for a scenario that is no file on disk."""
    if not scenario_path or not os.path.exists(scenario_path):
        return None
    real = os.path.realpath(scenario_path)
    folder = os.path.dirname(real)
    return real if too_broad(folder) else folder


def _size(n: int) -> str:
    """``5.2 KB``, ``1.4 MB``, ``812 bytes``."""
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def literal_path_refusal(name: str, scenario_path: str, call: str = "open") -> str | None:
    """For the static check: why the path ``name`` written as a literal is refused before
    the run (it leaves the scenario's folder), or None."""
    scenario = ScenarioFolder(scenario_path)
    if scenario.root is None:  # no folder known (text checked on its own): what leaves any
        parts = os.path.normpath(name).split(os.sep)
        if os.path.isabs(name) or parts[0] == "..":
            return (
                f"{call}({name!r}): a restricted scenario may use only the files in its own "
                f"folder, and {name!r} is outside it; {TRUST_HINT}"
            )
        return None
    try:
        scenario.resolve(name, call)
    except (PermissionError, ValueError) as e:
        return str(e)
    return None


class ScenarioFolder:
    """The files one restricted run may read, and its scratch folder in memory."""

    def __init__(self, scenario_path: str | None) -> None:
        readable = scenario_read_path(scenario_path)
        self.path = scenario_path
        self.root: str | None = None  # the folder paths resolve against (real path)
        self.disk = False  # whether files on disk there may be read
        if readable is not None:
            assert scenario_path is not None
            self.root = os.path.dirname(os.path.realpath(scenario_path))
            self.disk = os.path.isdir(readable)
        self.scratch: dict[str, bytes] = {}  # real path -> what the run wrote there
        self.limit = SCRATCH_BYTES

    # -------------------------------------------------------------------- paths

    def readable(self) -> tuple[str, ...]:
        """What the audit guard must let this run read beside Python's own files."""
        return (self.root,) if self.root is not None and self.disk else ()

    def resolve(self, file: Any, call: str = "open") -> str:
        """The real path of ``file`` inside the folder, or an error that says why not."""
        if isinstance(file, int) and not isinstance(file, bool):
            raise PermissionError(
                f"{call}({file!r}): a restricted scenario opens files by name, not by "
                f"descriptor; {TRUST_HINT}"
            )
        name = os.fspath(file)  # a TypeError for what is no path, as Python's open raises
        if isinstance(name, bytes):
            name = os.fsdecode(name)
        if "\0" in name:
            raise ValueError("embedded null byte")
        root = self.root
        if root is None:
            raise PermissionError(
                f"{call}({name!r}): this scenario has no folder of its own (it was not "
                f"opened from a file), so it may not read or write files; {TRUST_HINT}"
            )
        real = os.path.realpath(os.path.join(root, name))
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            raise PermissionError(
                f"{call}({name!r}): a restricted scenario may use only the files in its own "
                f"folder, {root}, and {name!r} is {real}, outside it; {TRUST_HINT}"
            )
        return real

    def relative(self, real: str) -> str:
        """``real`` as the scenario would name it: relative to its folder."""
        if self.root is None:
            return real
        return os.path.relpath(real, self.root)

    # ------------------------------------------------------------------ reading

    def exists(self, real: str) -> bool:
        return real in self.scratch or (self.disk and os.path.isfile(real))

    def read_bytes(self, file: Any, call: str = "open") -> bytes:
        """The bytes of ``file``: from the scratch if the run wrote it, else from disk."""
        real = self.resolve(file, call)
        if real in self.scratch:
            return self.scratch[real]
        with self._open_on_disk(real, file, "rb", call) as f:
            data: bytes = f.read()
        return data

    def _open_on_disk(self, real: str, file: Any, mode: str, call: str, **kw: Any) -> IO[Any]:
        if not self.disk:
            raise PermissionError(
                f"{call}({os.fspath(file)!r}): the scenario sits in {self.root}, a folder that "
                "holds your other files too (a home folder or a shared temporary folder), so a "
                "restricted run may read no file there; put the scenario and its data in a "
                f"folder of their own; {TRUST_HINT}"
            )
        try:
            return open(real, mode, **kw)  # noqa: SIM115 - the caller's to close
        except FileNotFoundError:
            raise FileNotFoundError(
                errno.ENOENT,
                f"No such file in the scenario's folder ({self.root}) or its scratch",
                os.fspath(file),
            ) from None

    # ----------------------------------------------------------------- open()

    def open(
        self,
        file: Any,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        closefd: bool = True,
        opener: Any = None,
    ) -> IO[Any]:
        """Python's ``open`` for a restricted scenario (see the module docstring)."""
        if not closefd or opener is not None:
            raise PermissionError(
                f"open(..., {'opener=' if opener is not None else 'closefd='}...) is not "
                f"available in a restricted scenario; {TRUST_HINT}"
            )
        if not isinstance(mode, str) or not _valid_mode(mode):
            raise ValueError(f"invalid mode: {mode!r}")
        binary = "b" in mode
        if binary and (encoding is not None or errors is not None or newline is not None):
            raise ValueError("binary mode doesn't take an encoding, errors or newline argument")
        real = self.resolve(file, "open")
        if mode.replace("b", "").replace("t", "") == "r":  # reading only
            if real in self.scratch:
                data = io.BytesIO(self.scratch[real])
                if binary:
                    return data
                return io.TextIOWrapper(
                    data, encoding=io.text_encoding(encoding), errors=errors, newline=newline
                )
            return self._open_on_disk(
                real, file, mode, "open", buffering=buffering, encoding=encoding,
                errors=errors, newline=newline,
            )  # fmt: skip
        return self._open_scratch(real, file, mode, encoding, errors, newline)

    def _open_scratch(
        self,
        real: str,
        file: Any,
        mode: str,
        encoding: str | None,
        errors: str | None,
        newline: str | None,
    ) -> IO[Any]:
        kind = next(c for c in mode if c in "rwax")
        if kind == "x" and self.exists(real):
            raise FileExistsError(errno.EEXIST, "File exists", os.fspath(file))
        initial = b""
        if kind in "ra":
            try:
                initial = self.read_bytes(real, "open")
            except FileNotFoundError:
                if kind == "r":  # 'r+' needs the file, as on disk
                    raise
        scratch = ScratchFile(self, real, initial, append=kind == "a")
        if "b" in mode:
            return scratch
        return io.TextIOWrapper(
            scratch,
            encoding=io.text_encoding(encoding),
            errors=errors,
            newline=newline,
            write_through=True,
        )

    # ------------------------------------------------------------------ scratch

    def store(self, real: str, data: bytes) -> None:
        """Keep ``data`` as the scratch file ``real``, within :data:`SCRATCH_BYTES`."""
        self.make_room(real, len(data))
        self.scratch[real] = bytes(data)

    def make_room(self, real: str, size: int) -> None:
        """Raise the error of a full disk if ``real`` cannot grow to ``size`` bytes."""
        others = sum(len(v) for k, v in self.scratch.items() if k != real)
        if others + size > self.limit:
            raise OSError(
                errno.ENOSPC,
                f"the run's scratch folder is full: a restricted scenario's files are kept in "
                f"memory, at most {_size(self.limit)} in all, and "
                f"{self.relative(real)} would take it to {_size(others + size)}",
            )

    def written(self) -> list[tuple[str, int]]:
        """The files the run wrote to its scratch (names relative to the folder), in
        the order they were first written, with their sizes."""
        return [(self.relative(k), len(v)) for k, v in self.scratch.items()]

    def note(self) -> str | None:
        """One sentence for the trace: which files went to the scratch instead of disk."""
        files = self.written()
        if not files:
            return None
        shown = ", ".join(f"{name} ({_size(size)})" for name, size in files)
        verb = "was" if len(files) == 1 else "were"
        return f"{shown} {verb} written to the run's scratch in memory, not to disk"


class ScratchFile(io.BytesIO):
    """A file of the scratch: an in-memory file saved into it when flushed or closed."""

    def __init__(self, folder: ScenarioFolder, real: str, initial: bytes, append: bool) -> None:
        super().__init__(initial)
        self.name = folder.relative(real)
        self._folder = folder
        self._real = real
        self._append = append
        if append:
            self.seek(0, io.SEEK_END)
        folder.store(real, initial)  # opening for writing makes the file, as on disk

    def write(self, data: Any) -> int:
        view = memoryview(data)
        if self._append:
            self.seek(0, io.SEEK_END)
        end = max(self.getbuffer().nbytes, self.tell() + view.nbytes)
        self._folder.make_room(self._real, end)
        return super().write(view)

    def flush(self) -> None:
        super().flush()
        if not self.closed:
            self._folder.store(self._real, self.getvalue())

    def close(self) -> None:
        if not self.closed:
            self._folder.store(self._real, self.getvalue())
        super().close()


def _valid_mode(mode: str) -> bool:
    """Python's rule: one of r/w/x/a, at most one +, b or t (not both), nothing else."""
    if not mode or set(mode) - set("rwxabt+"):
        return False
    if sum(mode.count(c) for c in "rwxa") != 1 or mode.count("+") > 1:
        return False
    return not ("b" in mode and "t" in mode) and all(mode.count(c) <= 1 for c in "bt")


# ------------------------------------------------------------ the run's folder

#: the folder of the restricted namespace made last (one run at a time in a process: the
#: worker runs one scenario and exits)
_current: list[ScenarioFolder] = []


def use(folder: ScenarioFolder) -> None:
    """Make ``folder`` the one the library doors use (:mod:`gradstep.scenario.sandbox`
    calls this for each restricted namespace it makes)."""
    _current[:] = [folder]


def current() -> ScenarioFolder:
    """The folder of the restricted run in progress: the library doors' files go there."""
    return _current[0] if _current else ScenarioFolder(None)
