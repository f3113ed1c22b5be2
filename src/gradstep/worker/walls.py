"""The operating system's walls around a restricted scenario's worker (Linux).

Python cannot sandbox Python: the static check and the run-time proxies give
a scenario's author clear messages, but code that gets past them holds the
whole process. What holds then is the kernel. Just before the first line of
a restricted scenario runs, :func:`apply` confines the worker, irreversibly:

- a **network namespace** of its own (``unshare``; with a user namespace when
  not root): no interface but a loopback that is down, so no network at all;
  and an IPC namespace, so no other process's System V shared memory;
- **Landlock**: no file may be written, created, removed, renamed or linked
  anywhere, and files may be read only under what the run needs (Python's
  installation, ``sys.path``, the system libraries, a few device, ``/etc``
  and ``/sys`` files torch reads, and the scenario's own folder); no TCP
  bind or connect; no signals or abstract unix sockets outside the worker;
- **seccomp-bpf** (through libseccomp): no new process or program, no
  socket, no call that writes, creates, renames, deletes, links or changes
  the mode or owner of a file, none of the usual escape doors (``ptrace``,
  ``mount``, ``bpf``, ``io_uring``, ...), no signal to another process, no
  raising of the worker's limits; refused calls fail with ``EPERM`` (a
  readable ``PermissionError``), calls this list does not know yet (numbers
  past :data:`_NEWEST_KNOWN`) with ``ENOSYS``;
- ``no_new_privs``, ``RLIMIT_FSIZE=0`` (no file grows, even through a
  descriptor opened before) and ``RLIMIT_CORE=0``.

Each layer that the machine lacks (an older kernel, a locked-down
distribution, libseccomp missing, another OS) is skipped, and the returned
description says so: restricted mode then runs with the walls it has.
:func:`probe` answers the same question without confining anything.

Landlock applies to the calling thread and the threads it starts later;
``unshare(CLONE_NEWUSER)`` needs a single-threaded process. The worker is
single-threaded at that point (torch runs with one thread and starts none);
:func:`apply` checks, and says so if another thread was running.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import sys
from collections.abc import Callable
from typing import Any

from gradstep.scenario.folder import SHARED_DIRS, homes, scenario_read_path, too_broad

# Coverage: what raises a wall runs only in the worker it confines (``no cover`` below); the
# tests check it there, by its effects (tests/core/test_walls.py).

#: What each wall is: ``"up"`` or ``"up (detail)"``, ``"unavailable: why"``,
#: ``"off: why"`` (a trusted run), or, from :func:`probe`, ``"available ..."``.
Walls = dict[str, str]

#: The order in which walls are reported (and ``gradstep trace`` names them).
NAMES = ("netns", "landlock", "seccomp", "rlimits")

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_CLONE_NEWIPC = 0x08000000
_CLONE_THREAD = 0x00010000
#: every namespace flag of clone(2) (mount, cgroup, UTS, IPC, user, PID, network): a thread
#: gets none of them
_CLONE_NAMESPACES: tuple[int, ...] = (0x00020000, 0x02000000, 0x04000000, 0x08000000)
_CLONE_NAMESPACES += (_CLONE_NEWUSER, 0x20000000, _CLONE_NEWNET)

_libc: Any = None
_seccomp: Any = None  # pyseccomp, imported by _load_bindings()
_landlock: Any = None  # landlockpy, imported by _load_bindings()
_prepare_error: dict[str, str] = {}
#: built by prepare() before a request: the seccomp filter, the Landlock ruleset less the scenario
_prepared: dict[str, Any] = {}


def _c() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def prepare() -> None:
    """Everything but the raising, done before a request (a spare worker waits anyway).

    Loads the bindings while the worker may still start processes (both look
    libraries up with ``ctypes.util.find_library``, which runs ``ldconfig``),
    builds the seccomp filter and the Landlock ruleset with every rule but the
    scenario's: what is left for :func:`apply` takes about a millisecond.
    """
    if not sys.platform.startswith("linux"):
        return
    _load_bindings()
    if _seccomp is not None and "filter" not in _prepared:
        try:
            _prepared["filter"] = _build_filter(_seccomp)
        except OSError as e:
            _prepare_error["seccomp"] = f"unavailable: {os.strerror(e.errno or 0) or e}"
    if _landlock is not None and "ruleset" not in _prepared:
        try:
            _prepared["ruleset"] = _fixed_ruleset()
        except OSError as e:
            _prepare_error["landlock"] = f"unavailable: {_landlock_error(e)}"


def _load_bindings() -> None:
    global _seccomp, _landlock
    _c()
    if _seccomp is None and "seccomp" not in _prepare_error:
        try:
            import pyseccomp

            _seccomp = pyseccomp
        except (ImportError, RuntimeError, OSError) as e:  # RuntimeError: no libseccomp
            _prepare_error["seccomp"] = f"unavailable: libseccomp not found ({e})"
    if _landlock is None and "landlock" not in _prepare_error:
        try:
            import landlockpy

            landlockpy.abi_version()  # loads libc through the binding now
            _landlock = landlockpy
        except ImportError as e:
            _prepare_error["landlock"] = f"unavailable: the landlockpy binding is missing ({e})"
        except OSError as e:
            _prepare_error["landlock"] = f"unavailable: {_landlock_error(e)}"
            _landlock = None


def _landlock_error(e: OSError) -> str:
    if e.errno == errno.ENOSYS:
        return "this kernel has no Landlock (Linux 5.13 or newer has it)"
    if e.errno == errno.EOPNOTSUPP:
        return "Landlock is turned off in this kernel (lsm= boot option)"
    return os.strerror(e.errno or 0) or str(e)


# ----------------------------------------------------------------- the walls


def apply(scenario_path: str | None) -> Walls:  # pragma: no cover
    """Confine this process for the rest of its life; say which walls are up.

    ``scenario_path`` is the scenario file (its folder stays readable, unless
    that folder is too broad, see :func:`readable_paths`); ``None`` for a
    scenario given as text. Call after everything the run needs is imported
    and the scenario is loaded, before its first line runs.
    """
    if not sys.platform.startswith("linux"):
        why = f"unavailable: only the Python check applies on {sys.platform}"
        return dict.fromkeys(NAMES, why)
    prepare()
    sys.dont_write_bytecode = True  # later imports only read
    threads = _thread_count()
    walls: Walls = {}
    walls["netns"] = _layer(_enter_network_namespace)
    walls["rlimits"] = _layer(_limit_resources)
    walls["landlock"] = _layer(lambda: _restrict_files(scenario_path, threads))
    walls["seccomp"] = _layer(_filter_system_calls)
    return {name: walls[name] for name in NAMES}


def _layer(raise_it: Callable[[], str]) -> str:
    """One wall; a binding's surprise leaves the others standing and is reported."""
    try:
        return raise_it()
    except Exception as e:
        return f"unavailable: {type(e).__name__}: {e}"


def trusted() -> Walls:
    """The description of a ``--trust`` run: no walls, on purpose."""
    return dict.fromkeys(NAMES, "off: trusted run")


#: Test-only: the worker runs a restricted scenario without the static check, the
#: proxies and the audit hook (as Python code with real modules), inside the OS walls,
#: so that tests can show the walls hold on their own. Never set it otherwise.
UNSAFE_TEST_SWITCH = "GRADSTEP_UNSAFE_NO_PYTHON_GUARD_FOR_TESTS"


def python_layer_on() -> bool:
    """False only when :data:`UNSAFE_TEST_SWITCH` is set to 1."""
    return os.environ.get(UNSAFE_TEST_SWITCH) != "1"


def for_request(trusted_run: bool, path: str | None, from_source: bool) -> Walls:
    """The worker's one call: the walls of this run, raised unless it is trusted."""
    if trusted_run:
        return trusted()
    _wait_for_other_threads()  # pragma: no cover
    walls = apply(None if from_source else path)  # pragma: no cover
    if not python_layer_on():  # pragma: no cover
        walls["python_check"] = f"off: {UNSAFE_TEST_SWITCH}=1 (tests only)"
    return walls  # pragma: no cover


def _wait_for_other_threads(timeout: float = 30.0) -> None:  # pragma: no cover
    """Let the worker's own helper threads (torch's lazy imports) finish first.

    A thread running when the walls go up stays outside Landlock, and the
    scenario could make it run its code (a finder on ``sys.meta_path`` is
    called by whichever thread imports next).
    """
    import threading
    import time

    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    # join() returns as the thread's Python code ends, a moment before the kernel's
    # thread is gone; a user namespace needs it gone
    settle = min(deadline, time.monotonic() + 1.0)
    while _thread_count() > 1 and time.monotonic() < settle:
        time.sleep(0.001)


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _namespace_flags() -> int:
    # the IPC namespace comes free with it: no System V shared memory or message queue of
    # another process is in reach either
    flags = _CLONE_NEWNET | _CLONE_NEWIPC
    return flags if os.geteuid() == 0 else flags | _CLONE_NEWUSER


def _enter_network_namespace() -> str:  # pragma: no cover
    if _c().unshare(_namespace_flags()) == 0:
        return "up"
    return _namespace_error(ctypes.get_errno())


def _namespace_error(err: int) -> str:
    if err == errno.EINVAL and _thread_count() > 1:
        return "unavailable: the worker had started a thread (a user namespace needs one)"
    if err in (errno.EPERM, errno.EACCES, errno.ENOSPC):
        return "unavailable: unprivileged user namespaces are turned off on this machine"
    return f"unavailable: {os.strerror(err)}"


def _limit_resources() -> str:  # pragma: no cover
    try:
        # a write past the limit fails with EFBIG instead of killing the worker
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError) as e:
        return f"unavailable: {e}"
    return "up"


# ------------------------------------------------------------------ Landlock

#: Folders of shared libraries that torch and numpy load (some lazily).
_SYSTEM_DIRS = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib")

#: Single files and small trees outside Python that the run reads, found by
#: tracing the bundled lessons' workers (``strace -f -e trace=%file``).
_SYSTEM_READS = (
    "/etc/ld.so.cache",  # the dynamic loader, for libraries loaded lazily
    "/etc/localtime",
    "/usr/share/zoneinfo",
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
    "/sys/devices/system/cpu",  # CPU count and caches (cpuinfo, OpenMP)
    "/proc/cpuinfo",
)

#: Folders whose tree holds other people's or the user's other files: never a read root.
_SHARED_DIRS = SHARED_DIRS
_homes = homes


def readable_paths(scenario_path: str | None) -> list[str]:
    """Everything a restricted run may read (real paths that exist, deduplicated).

    Python's installation and every ``sys.path`` entry except the working
    folder (``python -m`` puts it first; it is wherever the user started
    gradstep, often their home), the system libraries, :data:`_SYSTEM_READS`,
    and the scenario's folder, or the scenario file alone when that folder is
    :func:`too_broad`.
    """
    scenario = _scenario_read_path(scenario_path)
    fixed = _fixed_read_paths()
    return fixed + [scenario] if scenario and scenario not in fixed else fixed


def _fixed_read_paths() -> list[str]:
    home_folders = _homes()
    cwd = os.path.realpath(os.getcwd())
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    candidates += [p for p in sys.path if p and os.path.realpath(p) != cwd]
    candidates += [*_SYSTEM_DIRS, *_SYSTEM_READS]
    if getattr(sys, "frozen", False):  # a desktop bundle imports from the archive in its executable
        candidates.append(sys.executable)
    seen: dict[str, None] = {}
    for path in candidates:
        real = os.path.realpath(path)
        if os.path.exists(real) and not (os.path.isdir(real) and too_broad(real, home_folders)):
            seen.setdefault(real, None)
    return list(seen)


#: The scenario's folder, or the file alone when the folder is too broad (the rule the
#: scenario's own ``open`` follows too: :mod:`gradstep.scenario.folder`).
_scenario_read_path = scenario_read_path


def _allow_reading(ruleset: Any, path: str) -> None:
    ll = _landlock
    if os.path.isdir(path):
        access = ll.AccessFS.READ_FILE | ll.AccessFS.READ_DIR
    else:
        access = ll.AccessFS.READ_FILE
    try:
        ruleset.allow_path(path, access)
    except OSError:
        pass  # gone since it was listed, or on a file system Landlock cannot tag


def _fixed_ruleset() -> Any:
    """A Landlock ruleset that handles every right the kernel knows and grants back
    only reading, under :func:`_fixed_read_paths` (not yet the scenario's folder)."""
    ll = _landlock
    ruleset = ll.Ruleset(scoped=ll.Scope.ABSTRACT_UNIX_SOCKET | ll.Scope.SIGNAL)
    for path in _fixed_read_paths():
        _allow_reading(ruleset, path)
    return ruleset


def _restrict_files(scenario_path: str | None, threads: int) -> str:  # pragma: no cover
    if _landlock is None:
        return _prepare_error.get("landlock", "unavailable: not loaded")
    try:
        ruleset = _prepared.pop("ruleset", None) or _fixed_ruleset()
        with ruleset:
            scenario = _scenario_read_path(scenario_path)
            if scenario:
                _allow_reading(ruleset, scenario)
            ruleset.restrict(no_new_privs=True)
            abi = ruleset.abi_version
    except OSError as e:
        return f"unavailable: {_landlock_error(e)}"
    if threads > 1:
        return f"up (ABI {abi}) for the scenario's thread, not for {threads - 1} others"
    return f"up (ABI {abi})"


# ------------------------------------------------------------------- seccomp

#: Calls that fail with EPERM whatever their arguments, by what they would do.
_REFUSED: dict[str, tuple[str, ...]] = {
    "new processes and programs": ("execve", "execveat", "fork", "vfork"),
    "sockets": ("socket", "socketpair", "connect", "bind", "listen", "accept", "accept4"),
    "files: create, write, rename, remove, link, change": (
        "creat", "open_by_handle_at", "name_to_handle_at", "rename", "renameat", "renameat2",
        "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir", "mknod", "mknodat", "link", "linkat",
        "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown",
        "lchown", "fchownat", "truncate", "ftruncate", "fallocate", "utime", "utimes",
        "futimesat", "utimensat", "setxattr", "lsetxattr", "fsetxattr", "removexattr",
        "lremovexattr", "fremovexattr", "memfd_create", "memfd_secret", "mq_open",
        "mq_unlink", "fanotify_init", "chroot", "acct", "swapon", "swapoff", "quotactl",
        "quotactl_fd",
    ),
    # Landlock does not cover these: extended attributes hold data, and a watch reports
    # the names of the files others open
    "files: attributes and watches outside": (
        "getxattr", "lgetxattr", "listxattr", "llistxattr", "inotify_init", "inotify_init1",
        "inotify_add_watch",
    ),
    "System V shared memory, messages and semaphores": (
        "shmget", "shmat", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop",
        "semtimedop", "semctl",
    ),
    "other processes": (
        "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open",
        "pidfd_getfd", "pidfd_send_signal", "tkill", "migrate_pages",
    ),
    "namespaces, mounts and the kernel": (
        "mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig",
        "fsmount", "fspick", "mount_setattr", "setns", "unshare", "bpf", "perf_event_open",
        "userfaultfd", "keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter",
        "io_uring_register", "personality", "kexec_load", "kexec_file_load", "init_module",
        "finit_module", "delete_module", "reboot", "iopl", "ioperm", "syslog", "uselib",
        "vhangup", "sethostname", "setdomainname", "settimeofday", "clock_settime",
        "clock_adjtime", "adjtimex", "lookup_dcookie", "setrlimit", "modify_ldt",
    ),
}  # fmt: skip

#: Calls newer than libseccomp 2.5's table, by their number (the same on every architecture
#: since Linux 5.1): setxattrat, getxattrat, listxattrat, removexattrat, open_tree_attr,
#: file_setattr.
_REFUSED_BY_NUMBER = (463, 464, 465, 466, 467, 469)

#: The newest system call this list was written against (file_setattr, Linux 6.17); later
#: ones fail with ENOSYS, the answer every caller already handles for an older kernel.
_NEWEST_KNOWN = 469
_FUTURE = range(_NEWEST_KNOWN + 1, 512)

#: ENOSYS rather than EPERM: their callers then fall back to a call the filter can read
#: (glibc's threads to clone(2), whose flags are checked; open to openat, whose flags are).
_NOT_IMPLEMENTED = ("clone3", "openat2")

_WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND, 0o20000000)
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C  # push characters into a terminal's input
_F_SETOWN, _F_SETOWN_EX = 8, 15  # SIGIO to another process


def _argument_rules(sc: Any) -> list[tuple[str, Any]]:
    """Refusals that depend on an argument: (call, comparison)."""
    me = os.getpid()
    rules: list[tuple[str, Any]] = []
    for flag in _WRITE_FLAGS:  # each is one rule: the filter compares one mask at a time
        rules.append(("open", sc.Arg(1, sc.MASKED_EQ, flag, flag)))
        rules.append(("openat", sc.Arg(2, sc.MASKED_EQ, flag, flag)))
    rules.append(("clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0)))  # a process, not a thread
    rules += [("clone", sc.Arg(0, sc.MASKED_EQ, f, f)) for f in _CLONE_NAMESPACES]
    for call in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        rules.append((call, sc.Arg(0, sc.NE, me)))  # signals go to this process only
    rules.append(("prlimit64", sc.Arg(0, sc.NE, 0)))  # another process's limits
    rules.append(("prlimit64", sc.Arg(2, sc.NE, 0)))  # raising this one's
    rules.append(("move_pages", sc.Arg(0, sc.NE, 0)))
    # another process's priority or scheduling (0 is this one; PRIO_USER 0 is all of the user's)
    rules.append(("setpriority", sc.Arg(0, sc.NE, 0)))
    rules.append(("setpriority", sc.Arg(1, sc.NE, 0)))
    rules.append(("ioprio_set", sc.Arg(1, sc.NE, 0)))
    rules += [
        (c, sc.Arg(0, sc.NE, 0)) for c in ("sched_setscheduler", "sched_setparam", "sched_setattr")
    ]
    rules += [("ioctl", sc.Arg(1, sc.EQ, request)) for request in (_TIOCSTI, _TIOCLINUX)]
    rules += [("fcntl", sc.Arg(1, sc.EQ, command)) for command in (_F_SETOWN, _F_SETOWN_EX)]
    return rules


def _build_filter(sc: Any) -> Any:
    refused = sc.ERRNO(errno.EPERM)
    flt = sc.SyscallFilter(sc.ALLOW)
    flt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)  # i386 and x32 calls from a 64-bit process
    flt.set_attr(sc.Attr.CTL_NNP, 1)
    flt.set_attr(sc.Attr.CTL_TSYNC, 1)  # every thread, should one exist
    try:
        flt.set_attr(sc.Attr.CTL_OPTIMIZE, 2)  # a binary tree of call numbers (libseccomp 2.5)
    except OSError:
        pass
    for calls in _REFUSED.values():
        for call in calls:
            number = sc.resolve_syscall(sc.Arch.NATIVE, call)
            if number >= 0:  # absent on this architecture (fork, open on aarch64)
                flt.add_rule(refused, number)
    for number in _REFUSED_BY_NUMBER:
        flt.add_rule(refused, number)
    for call in _NOT_IMPLEMENTED:
        flt.add_rule(sc.ERRNO(errno.ENOSYS), call)
    for number in _FUTURE:
        flt.add_rule(sc.ERRNO(errno.ENOSYS), number)
    for call, arg in _argument_rules(sc):
        if sc.resolve_syscall(sc.Arch.NATIVE, call) >= 0:
            flt.add_rule(refused, call, arg)
    return flt


def _filter_system_calls() -> str:  # pragma: no cover
    if _seccomp is None:
        return _prepare_error.get("seccomp", "unavailable: not loaded")
    try:
        flt = _prepared.pop("filter", None) or _build_filter(_seccomp)
        flt.load()
    except OSError as e:
        return f"unavailable: {os.strerror(e.errno or 0) or e}"
    return "up"


# ------------------------------------------------------------------- probing


def probe() -> Walls:
    """Which walls a restricted run would get here, without raising any.

    The same keys as :func:`apply`; each value ``"available ..."`` or
    ``"unavailable: why"``. The network namespace is tried in a short-lived
    child process (a namespace cannot be left once entered).
    """
    if not sys.platform.startswith("linux"):
        why = f"unavailable: only the Python check applies on {sys.platform}"
        return dict.fromkeys(NAMES, why)
    _load_bindings()
    walls: Walls = {"netns": _probe_network_namespace()}
    if _landlock is not None:
        walls["landlock"] = f"available (ABI {_landlock.abi_version()})"
    else:
        walls["landlock"] = _prepare_error.get("landlock", "unavailable")
    walls["seccomp"] = _probe_seccomp()
    walls["rlimits"] = "available"
    return {name: walls[name] for name in NAMES}


def _probe_seccomp() -> str:
    if _seccomp is None:
        return _prepare_error.get("seccomp", "unavailable")
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            if not any(line.startswith("Seccomp:") for line in f):
                return "unavailable: this kernel has no seccomp"
        _build_filter(_seccomp)  # built, never loaded
    except OSError as e:
        return f"unavailable: {e}"
    return "available"


def _probe_network_namespace() -> str:
    import subprocess

    code = (
        "import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
        f"print(0 if libc.unshare({_namespace_flags()}) == 0 else ctypes.get_errno())"
    )
    try:
        command = [sys.executable, "-I", "-c", code]
        if getattr(sys, "frozen", False):  # a desktop bundle runs only gradstep's modules
            command = [sys.executable, "-m", "gradstep.worker.netns_probe"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=20)
        err = int(done.stdout)
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        return f"unavailable: could not try ({e})"
    return "available" if err == 0 else _namespace_error(err)
