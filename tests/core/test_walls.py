"""The OS walls hold on their own: scenarios with real ``os``, ``socket``, ``subprocess``
and ``ctypes`` in hand, the Python layer switched off, cannot write, start, connect,
signal or read outside. Every check is a side effect seen from outside the worker
(a marker file, a listener, a planted secret, a live process), with a positive control
(the same code in a trusted run does it) where one is possible.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from gradstep.trace.io import dumps
from gradstep.trace.model import ScenarioInfo, Trace
from gradstep.trace.text import step_table, walls_summary
from gradstep.worker import WorkerPool
from gradstep.worker import walls as walls_module
from gradstep.worker.client import RunResult

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="the OS walls are Linux's; elsewhere only the Python check applies",
)

PROBE = walls_module.probe() if sys.platform.startswith("linux") else {}


def _available(name: str) -> bool:
    return PROBE.get(name, "").startswith("available")


needs_seccomp = pytest.mark.skipif(
    not _available("seccomp"), reason=f"seccomp: {PROBE.get('seccomp')}"
)
needs_landlock = pytest.mark.skipif(
    not _available("landlock"), reason=f"landlock: {PROBE.get('landlock')}"
)
needs_netns = pytest.mark.skipif(not _available("netns"), reason=f"netns: {PROBE.get('netns')}")
needs_a_wall = pytest.mark.skipif(
    not (_available("seccomp") or _available("landlock")),
    reason=f"neither seccomp ({PROBE.get('seccomp')}) nor landlock ({PROBE.get('landlock')})",
)

SECRET = "gradstep-planted-secret-6f1d2c"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in home with a private key, outside every scenario's folder."""
    home = tmp_path_factory.mktemp("home")
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text(f"-----BEGIN KEY-----\n{SECRET}-ssh\n")
    return home


@pytest.fixture(scope="module")
def bare_pool(home: Path) -> Iterator[WorkerPool]:
    """Workers with the Python layer off (the test switch) and HOME at the stand-in."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(walls_module.UNSAFE_TEST_SWITCH, "1")
        mp.setenv("HOME", str(home))
        with WorkerPool() as pool:
            yield pool  # the env stays set while spares are started


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool() as p:
        yield p


def run(pool: WorkerPool, folder: Path, code: str, *, trusted: bool = False) -> RunResult:
    path = folder / "attack.py"
    path.write_text(textwrap.dedent(code))
    return pool.run(path, trusted=trusted)


def printed(result: RunResult) -> str:
    return "".join(s.output for s in result.trace.steps)


#: Runs each attempt, prints ``name: ok`` or ``name: ErrorType``; one failed attempt never
#: stops the others.
TRY = """
import os, socket, subprocess, ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def attempt(name, f):
    try:
        r = f()
    except BaseException as e:
        print(f"{name}: {type(e).__name__}")
        return
    if isinstance(r, int) and r < 0:
        print(f"{name}: errno {ctypes.get_errno()}")
    else:
        print(f"{name}: ok {str(r)[:60]}")
"""


# ------------------------------------------------------------------ reporting


def test_probe_names_every_wall_without_raising_one() -> None:
    assert set(PROBE) == set(walls_module.NAMES)
    for value in PROBE.values():
        assert value.startswith(("available", "unavailable: "))
    # probing raised nothing here: this test process can still start a process
    assert subprocess.run(["true"]).returncode == 0


def test_a_restricted_run_says_which_walls_held_it_and_a_trusted_run_has_none(pool, tmp_path):
    code = "import torch\nx = torch.tensor(2.0, requires_grad=True)\n(x * x).backward()\n"
    restricted = run(pool, tmp_path, code)
    assert restricted.error is None
    walls = restricted.trace.limits["walls"]
    assert set(walls) == set(walls_module.NAMES)
    for name in walls_module.NAMES:
        expected = "up" if _available(name) else "unavailable"
        assert walls[name].startswith(expected), (name, walls[name], PROBE[name])
    header = step_table(restricted.trace).splitlines()[2]
    assert header.startswith("walls: ")
    if _available("seccomp") and _available("landlock") and _available("netns"):
        assert header.startswith("walls: seccomp, landlock (ABI ")
        assert header.endswith("network namespace")

    trusted = run(pool, tmp_path, code, trusted=True)
    assert trusted.trace.limits["walls"] == walls_module.trusted()
    assert step_table(trusted.trace).splitlines()[2] == "walls: none (trusted run)"


def test_the_summary_line_names_what_is_missing_and_why() -> None:
    walls = {
        "netns": "unavailable: unprivileged user namespaces are turned off on this machine",
        "landlock": "up (ABI 3)",
        "seccomp": "up",
        "rlimits": "up",
    }
    assert walls_summary(walls) == (
        "seccomp, landlock (ABI 3); network namespace unavailable: "
        "unprivileged user namespaces are turned off on this machine"
    )
    trace = Trace(scenario=ScenarioInfo(path="s.py", title="s", summary="", source=""))
    assert not any(ln.startswith("walls") for ln in step_table(trace).splitlines())


# --------------------------------------------------------------------- files


@needs_a_wall
def test_no_file_is_created_written_renamed_removed_or_changed(
    bare_pool, tmp_path, tmp_path_factory
):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    victims = {}
    for folder in (tmp_path, elsewhere):
        victim = folder / "victim.txt"
        victim.write_text("original")
        victim.chmod(0o644)
        victims[folder] = victim
    attempts = []
    for i, folder in enumerate((tmp_path, elsewhere)):
        new, victim = folder / f"new{i}", victims[folder]
        attempts += [
            f"attempt('create {i}', lambda: open({str(new)!r}, 'w').write('x'))",
            f"attempt('os.open creat {i}', lambda: os.open({str(new)!r}, os.O_RDONLY | os.O_CREAT))",
            f"attempt('append {i}', lambda: open({str(victim)!r}, 'a').write('x'))",
            f"attempt('overwrite r+ {i}', lambda: open({str(victim)!r}, 'r+').write('x'))",
            f"attempt('truncate {i}', lambda: os.truncate({str(victim)!r}, 0))",
            f"attempt('rename {i}', lambda: os.rename({str(victim)!r}, {str(new)!r}))",
            f"attempt('link {i}', lambda: os.link({str(victim)!r}, {str(new)!r}))",
            f"attempt('symlink {i}', lambda: os.symlink({str(victim)!r}, {str(new)!r}))",
            f"attempt('unlink {i}', lambda: os.unlink({str(victim)!r}))",
            f"attempt('chmod {i}', lambda: os.chmod({str(victim)!r}, 0o777))",
            f"attempt('utime {i}', lambda: os.utime({str(victim)!r}, (0, 0)))",
            f"attempt('mkdir {i}', lambda: os.mkdir({str(new)!r}))",
            f"attempt('mkfifo {i}', lambda: os.mkfifo({str(new)!r}))",
            f"attempt('setxattr {i}', lambda: os.setxattr({str(victim)!r}, 'user.x', b'1'))",
            # the raw call, past any Python wrapper: openat(AT_FDCWD, path, O_WRONLY|O_CREAT)
            f"attempt('raw openat {i}', lambda: libc.syscall(257, -100, {str(new).encode()!r}, 0o101, 0o644))",
            # O_PATH is allowed, but re-opening it for writing through /proc is not
            f"fd = os.open({str(victim)!r}, os.O_PATH)",
            f"attempt('reopen {i}', lambda: open(f'/proc/self/fd/{{fd}}', 'w').write('x'))",
        ]
    result = run(bare_pool, tmp_path, TRY + "\n".join(attempts) + "\n")
    assert result.error is None, result.error
    out = printed(result)
    assert ": ok" not in out, out
    assert out.count("PermissionError") + out.count("errno 1") >= 30, out
    for folder, victim in victims.items():
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            ["victim.txt"] + (["attack.py"] if folder == tmp_path else [])
        )
        assert victim.read_text() == "original"
        assert victim.stat().st_mode & 0o777 == 0o644
        assert victim.stat().st_mtime > 0


def test_a_trusted_run_writes_files_as_plain_python_does(pool, tmp_path):
    marker = tmp_path / "marker"  # the positive control of the test above
    result = run(pool, tmp_path, f"open({str(marker)!r}, 'w').write('x')\n", trusted=True)
    assert result.error is None
    assert marker.read_text() == "x"


# ---------------------------------------------------------------- processes


@needs_a_wall
def test_no_process_or_program_is_started(bare_pool, tmp_path):
    marker = tmp_path.parent / f"{tmp_path.name}-started"
    touch = f"touch {marker}"
    code = TRY + textwrap.dedent(
        f"""
        attempt('os.system', lambda: -1 if os.system({touch!r}) else 'the shell ran')
        attempt('subprocess', lambda: subprocess.run(['/bin/sh', '-c', {touch!r}]))
        attempt('posix_spawn', lambda: os.posix_spawn('/bin/sh', ['sh', '-c', {touch!r}], {{}}))
        attempt('fork', lambda: os.fork() or -1)
        # raw clone(SIGCHLD) and clone3: a new process past glibc
        attempt('raw clone', lambda: libc.syscall(56, 17, 0, 0, 0, 0))
        attempt('raw clone3', lambda: libc.syscall(435, 0, 0))
        # a program from memory: memfd_create, then execveat
        attempt('memfd', lambda: os.memfd_create('x'))
        attempt('execveat', lambda: libc.syscall(322, 0, b'', None, None, 0x1000))
        attempt('execv', lambda: os.execv('/bin/sh', ['sh', '-c', {touch!r}]))
        """
    )
    result = run(bare_pool, tmp_path, code)
    assert result.error is None, result.error  # the worker is still itself: execv failed
    out = printed(result)
    assert ": ok" not in out, out
    assert not marker.exists()


@needs_seccomp
def test_threads_still_start_and_a_process_does_not(bare_pool, tmp_path):
    code = TRY + textwrap.dedent(
        """
        import threading
        seen = []
        t = threading.Thread(target=lambda: seen.append(1))
        t.start(); t.join()
        print('thread ran', seen)
        attempt('fork', os.fork)
        """
    )
    out = printed(run(bare_pool, tmp_path, code))
    assert "thread ran [1]" in out and "fork: PermissionError" in out


# ------------------------------------------------------------------ network


@pytest.fixture
def listeners(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, socket.socket]]:
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(tmp_path_factory.mktemp("sock") / "s"))
    unix.listen()
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # unique: another test run on the machine may hold the same name
    abstract.bind(f"\0gradstep-walls-test-{os.getpid()}-{id(abstract)}".encode())
    abstract.listen()
    found = {"tcp": tcp, "udp": udp, "unix": unix, "abstract": abstract}
    for s in found.values():
        s.setblocking(False)
    yield found
    for s in found.values():
        s.close()


@needs_a_wall
def test_nothing_connects_to_a_listener_on_this_machine(bare_pool, tmp_path, listeners):
    port = listeners["tcp"].getsockname()[1]
    udp_port = listeners["udp"].getsockname()[1]
    unix_path = listeners["unix"].getsockname()
    abstract_name = listeners["abstract"].getsockname()
    code = TRY + textwrap.dedent(
        f"""
        attempt('tcp', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=2))
        attempt('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {udp_port})))
        attempt('unix', lambda: socket.socket(socket.AF_UNIX).connect({unix_path!r}))
        attempt('abstract', lambda: socket.socket(socket.AF_UNIX).connect({abstract_name!r}))
        attempt('raw socket', lambda: libc.syscall(41, 2, 1, 0))
        attempt('socketpair', socket.socketpair)
        """
    )
    result = run(bare_pool, tmp_path, code)
    assert result.error is None, result.error
    out = printed(result)
    assert ": ok" not in out, out
    for name in ("tcp", "unix", "abstract"):
        with pytest.raises(BlockingIOError):
            listeners[name].accept()  # nobody knocked
    with pytest.raises(BlockingIOError):
        listeners["udp"].recvfrom(16)


# --------------------------------------------------------------------- reads


@pytest.fixture
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path | int]]:
    """A planted /etc/shadow-like file and a process whose environment holds a secret."""
    etc = tmp_path_factory.mktemp("etc")
    shadow = etc / "shadow"
    shadow.write_text(f"root:{SECRET}-shadow:19000:0:99999:7:::\n")
    proc = subprocess.Popen(
        ["sleep", "60"], env={"TOKEN": f"{SECRET}-environ"}, start_new_session=True
    )
    yield {"shadow": shadow, "etc": etc, "pid": proc.pid}
    proc.kill()
    proc.wait()


@needs_landlock
def test_no_secret_outside_the_run_is_read_into_the_trace(bare_pool, tmp_path, home, secrets):
    shadow, etc, pid = secrets["shadow"], secrets["etc"], secrets["pid"]
    # a course bundle can ship a link next to the lesson: it leads nowhere readable
    (tmp_path / "data").symlink_to(home / ".ssh")
    (tmp_path / "shadow-link").symlink_to(shadow)
    (tmp_path / "notes.txt").write_text("readable notes next to the lesson\n")
    key = home / ".ssh" / "id_rsa"
    code = TRY + textwrap.dedent(
        f"""
        def show(name, f):
            attempt(name, lambda: print(f()))
        show('key', lambda: open({str(key)!r}).read())
        show('key by ~', lambda: open(os.path.expanduser('~/.ssh/id_rsa')).read())
        show('key via link', lambda: open('{tmp_path}/data/id_rsa').read())
        show('home listing', lambda: os.listdir(os.path.expanduser('~/.ssh')))
        show('shadow', lambda: open({str(shadow)!r}).read())
        show('shadow via link', lambda: open('{tmp_path}/shadow-link').read())
        show('shadow via /proc/self/root', lambda: open('/proc/self/root{shadow}').read())
        show('etc listing', lambda: os.listdir({str(etc)!r}))
        show('environ', lambda: open('/proc/{pid}/environ', 'rb').read())
        show('cmdline', lambda: open('/proc/{pid}/cmdline', 'rb').read())
        show('raw openat', lambda: libc.syscall(257, -100, {str(shadow).encode()!r}, 0, 0))
        show('notes', lambda: open('{tmp_path}/notes.txt').read())
        """
    )
    result = run(bare_pool, tmp_path, code)
    assert result.error is None, result.error
    out = printed(result)
    # the positive control: the lesson's own folder is readable, so a leak would show
    assert "readable notes next to the lesson" in out
    assert out.count("PermissionError") + out.count("errno 13") >= 10, out
    document = dumps(result.trace)
    assert SECRET not in document
    assert SECRET not in json.dumps(json.loads(document))


# --------------------------------------------------------- other processes


@needs_a_wall
def test_no_other_process_is_signalled_or_inspected(bare_pool, tmp_path, secrets):
    pid = secrets["pid"]
    code = TRY + textwrap.dedent(
        f"""
        import signal
        attempt('kill', lambda: os.kill({pid}, signal.SIGKILL))
        # signal 0 only asks whether the signal would be allowed: should the walls ever
        # fail, this test must not kill every process of the user
        attempt('kill all', lambda: os.kill(-1, 0))
        attempt('kill group', lambda: os.killpg({pid}, signal.SIGKILL))
        attempt('raw tkill', lambda: libc.syscall(200, {pid}, 9))
        attempt('pidfd', lambda: os.pidfd_open({pid}))
        attempt('ptrace', lambda: libc.ptrace(16, {pid}, 0, 0))
        attempt('process_vm_readv', lambda: libc.syscall(310, {pid}, 0, 0, 0, 0, 0))
        attempt('renice', lambda: os.setpriority(os.PRIO_PROCESS, {pid}, 19))
        attempt('own signal', lambda: os.kill(os.getpid(), 0))
        """
    )
    result = run(bare_pool, tmp_path, code)
    assert result.error is None, result.error
    out = printed(result)
    assert "own signal: ok" in out  # the worker still signals itself (its time limit does)
    assert out.count(": ok") == 1, out
    os.kill(pid, 0)  # still alive
    assert os.getpriority(os.PRIO_PROCESS, pid) != 19


@pytest.fixture
def shared_memory() -> Iterator[int]:
    """A System V shared-memory segment of this process holding the secret."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    segment = libc.shmget(0, 4096, 0o600 | 0o1000)  # IPC_PRIVATE, IPC_CREAT
    assert segment >= 0
    address = libc.shmat(segment, None, 0)
    ctypes.memmove(address, f"{SECRET}-shm".encode(), len(SECRET) + 4)
    yield segment
    libc.shmdt(ctypes.c_void_p(address))
    libc.shmctl(segment, 0, None)  # IPC_RMID


@needs_seccomp
def test_no_shared_memory_attribute_or_watch_of_others_is_read(
    bare_pool, tmp_path, home, shared_memory
):
    key = home / ".ssh" / "id_rsa"
    os.setxattr(key, "user.note", f"{SECRET}-xattr".encode())
    code = TRY + textwrap.dedent(
        f"""
        libc.shmat.restype = ctypes.c_void_p
        def shm():
            address = libc.shmat({shared_memory}, None, 0o10000)  # SHM_RDONLY
            if address in (None, 2**64 - 1):
                return -1
            return ctypes.string_at(address, 40)
        attempt('shmat', shm)
        attempt('getxattr', lambda: os.getxattr({str(key)!r}, 'user.note'))
        attempt('listxattr', lambda: os.listxattr({str(key)!r}))
        attempt('inotify', lambda: libc.inotify_init())
        """
    )
    result = run(bare_pool, tmp_path, code)
    assert result.error is None, result.error
    out = printed(result)
    assert ": ok" not in out, out
    assert SECRET not in dumps(result.trace)


@needs_seccomp
def test_the_escape_doors_are_shut(bare_pool, tmp_path):
    mount_point = tmp_path.parent / f"{tmp_path.name}-mnt"
    mount_point.mkdir()
    code = (
        TRY
        + f"MOUNT_POINT = {str(mount_point).encode()!r}\n"
        + textwrap.dedent(
            """
        import resource
        attempt('unshare user', lambda: libc.unshare(0x10000000))
        attempt('unshare mount', lambda: libc.unshare(0x00020000))
        attempt('mount', lambda: libc.mount(b'none', MOUNT_POINT, b'tmpfs', 0, None))
        attempt('io_uring', lambda: libc.syscall(425, 8, ctypes.create_string_buffer(120)))
        attempt('bpf', lambda: libc.syscall(321, 0, None, 0))
        attempt('perf', lambda: libc.syscall(298, ctypes.create_string_buffer(128), 0, -1, -1, 0))
        attempt('personality', lambda: libc.personality(0x0400000))
        attempt('keyctl', lambda: libc.syscall(250, 0, -3, 0, 0, 0))
        attempt('openat2', lambda: libc.syscall(437, -100, b'/etc/hostname', None, 0))
        attempt('open_by_handle', lambda: libc.syscall(304, -100, None, 0))
        attempt('mem', lambda: open('/proc/self/mem', 'r+b'))
        attempt('raise own limits', lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20)))
        attempt('raise via prlimit', lambda: resource.prlimit(0, resource.RLIMIT_CORE, (1, 1)))
        attempt('file growth', lambda: resource.getrlimit(resource.RLIMIT_FSIZE) == (0, 0) or -1)
        """
        )
    )
    result = run(bare_pool, tmp_path, code)
    assert result.error is None, result.error
    out = printed(result)
    assert out.count(": ok") == 1 and "file growth: ok True" in out, out
    assert "openat2: errno 38" in out  # ENOSYS: callers fall back to openat, which is read
    mounted = os.path.ismount(mount_point)
    if mounted:  # only if the walls failed: leave no mount behind
        subprocess.run(["umount", str(mount_point)], check=False)
    assert not mounted


@needs_seccomp
def test_a_call_of_another_architecture_ends_the_worker(bare_pool, tmp_path):
    marker = tmp_path.parent / f"{tmp_path.name}-x32"
    # open(marker, O_WRONLY|O_CREAT) numbered as the x32 ABI numbers it: the filter's
    # architecture check, not its call table, must catch it
    code = f"import ctypes\nctypes.CDLL(None).syscall(0x40000000 | 2, {str(marker).encode()!r}, 0o101, 0o644)\n"
    result = run(bare_pool, tmp_path, code)
    assert result.error is not None and result.error.kind == "crash"
    assert "SIGSYS" in result.error.message
    assert not marker.exists()


# ------------------------------------------------- each wall on its own


LAYER = """
import ctypes, os, socket, sys
from gradstep.worker import walls
walls.prepare()
layer = sys.argv[1]
if layer == "landlock":
    print(walls._restrict_files(None, 1))
elif layer == "seccomp":
    print(walls._filter_system_calls())
else:
    print(walls._enter_network_namespace())
def attempt(name, f):
    try:
        f()
        print(name, "ok")
    except OSError as e:
        print(name, e.errno)
attempt("write", lambda: open(sys.argv[2], "w"))
attempt("read", lambda: open(sys.argv[3]).read())
attempt("connect", lambda: socket.create_connection(("127.0.0.1", int(sys.argv[4])), timeout=2))
"""


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        pytest.param(
            "landlock", {"write": "13", "read": "13", "connect": "13"}, marks=needs_landlock
        ),
        pytest.param("seccomp", {"write": "1", "read": "ok", "connect": "1"}, marks=needs_seccomp),
        pytest.param("netns", {"write": "ok", "read": "ok", "connect": "101"}, marks=needs_netns),
    ],
)
def test_each_wall_holds_its_part_alone(layer, expected, tmp_path, home, listeners):
    target = tmp_path / "written"
    secret = home / ".ssh" / "id_rsa"
    port = listeners["tcp"].getsockname()[1]
    if (
        layer == "landlock"
        and "ABI" in PROBE["landlock"]
        and int(PROBE["landlock"].split("ABI ")[1][0]) < 4
    ):
        expected["connect"] = "ok"  # Landlock refuses TCP from ABI 4 on
    done = subprocess.run(
        [sys.executable, "-c", LAYER, layer, str(target), str(secret), str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, HOME=str(home)),
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith("up"), done.stdout + done.stderr
    assert dict(line.split(" ", 1) for line in lines[1:]) == expected
    assert target.exists() == (expected["write"] == "ok")


# ------------------------------------------------------------- what may be read


def test_a_lesson_in_a_broad_folder_grants_only_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    lesson = tmp_path / "lesson.py"
    lesson.write_text("")
    nested = tmp_path / "course" / "week1" / "lesson.py"
    nested.parent.mkdir(parents=True)
    nested.write_text("")
    home = os.path.realpath(tmp_path)
    assert walls_module.too_broad(home) and walls_module.too_broad(os.path.dirname(home))
    assert walls_module.too_broad("/") and walls_module.too_broad("/tmp")
    assert not walls_module.too_broad(str(nested.parent))
    at_home = walls_module.readable_paths(str(lesson))
    assert os.path.realpath(lesson) in at_home and home not in at_home
    in_course = walls_module.readable_paths(str(nested))
    assert os.path.realpath(nested.parent) in in_course
    monkeypatch.chdir(tmp_path / "course")
    monkeypatch.syspath_prepend(str(tmp_path / "course"))
    assert os.path.realpath(tmp_path / "course") not in walls_module.readable_paths(None)


# ---------------------------------------------------- PyTorch's numbers still


@pytest.mark.parametrize(
    "name", ["02_sin_of_square.py", "05_logistic_regression_bce.py", "14_mlp_training.py"]
)
def test_bundled_lessons_inside_the_walls_give_pytorchs_gradients(pool, name):
    import torch

    from gradstep.resources import bundled_scenarios

    path = next(p for p in bundled_scenarios() if p.name == name)
    result = pool.run(path)
    assert result.error is None, result.error
    assert result.trace.limits["walls"]["seccomp"].startswith(
        "up" if _available("seccomp") else "unavailable"
    )
    torch.manual_seed(0)
    namespace: dict[str, object] = {"__name__": "__main__"}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the lessons show some warnings on purpose
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    checked = 0
    for var, state in result.trace.variables.items():
        head, *rest = var.split(".")  # parameters are named like model.0.weight
        value = namespace.get(head)
        for part in rest:
            value = getattr(value, part, None)
        if isinstance(value, torch.Tensor) and value.is_leaf and value.grad is not None:
            assert torch.allclose(torch.tensor(state.grad), value.grad, atol=1e-5), var
            checked += 1
    assert checked, result.trace.variables.keys()


# ------------------------------------------- what is built before a request


def test_the_filter_and_the_rules_are_built_before_the_request_without_raising_them() -> None:
    walls_module.prepare()
    try:
        if _available("seccomp"):
            assert walls_module._prepared["filter"] is not None
        if _available("landlock"):
            assert walls_module._prepared["ruleset"].fileno() >= 0
    finally:
        ruleset = walls_module._prepared.pop("ruleset", None)
        if ruleset is not None:
            ruleset.close()
        walls_module._prepared.pop("filter", None)
    # nothing was raised: this process still starts programs and writes files
    assert subprocess.run(["true"]).returncode == 0
    assert walls_module.for_request(True, "x.py", False) == walls_module.trusted()


def test_a_wall_that_fails_says_why_and_leaves_the_others() -> None:
    import errno

    def broken() -> str:
        raise ValueError("a binding's surprise")

    assert walls_module._layer(broken) == "unavailable: ValueError: a binding's surprise"
    assert "turned off" in walls_module._namespace_error(errno.EPERM)
    assert walls_module._namespace_error(errno.ENOMEM).startswith("unavailable: ")
    assert "no Landlock" in walls_module._landlock_error(OSError(errno.ENOSYS, "x"))
    assert "turned off" in walls_module._landlock_error(OSError(errno.EOPNOTSUPP, "x"))
    assert walls_module.python_layer_on() == (
        os.environ.get(walls_module.UNSAFE_TEST_SWITCH) != "1"
    )


def test_missing_bindings_and_another_os_are_said_plainly(monkeypatch) -> None:
    monkeypatch.setattr(walls_module, "_seccomp", None)
    monkeypatch.setattr(walls_module, "_landlock", None)
    monkeypatch.setattr(walls_module, "_prepare_error", {})
    monkeypatch.setitem(sys.modules, "pyseccomp", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "landlockpy", None)
    walls_module._load_bindings()
    assert walls_module._prepare_error["seccomp"].startswith("unavailable: libseccomp not found")
    assert "landlockpy binding is missing" in walls_module._prepare_error["landlock"]
    assert walls_module._probe_seccomp().startswith("unavailable")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert walls_module.probe() == dict.fromkeys(
        walls_module.NAMES, "unavailable: only the Python check applies on darwin"
    )
    assert walls_summary(walls_module.probe()) == (
        "none (unavailable: only the Python check applies on darwin)"
    )


# ------------------------------------------------- what issue 11 widened, by effect

#: numpy's and matplotlib's file, process and foreign-code doors and a DataLoader with
#: worker processes, run for real (the Python layer off): what each would leave behind.
LIBRARY_DOORS = """
import numpy as np, matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader, TensorDataset
out = {out!r}
attempt('np.save', lambda: np.save(out + '/a.npy', np.zeros(3)))
attempt('np.savez', lambda: np.savez(out + '/b.npz', x=np.zeros(3)))
attempt('np.savetxt', lambda: np.savetxt(out + '/c.txt', np.zeros(3)))
attempt('tofile', lambda: np.zeros(3).tofile(out + '/d.bin'))
attempt('dump', lambda: np.zeros(3).dump(out + '/e.pkl'))
attempt('memmap', lambda: np.memmap(out + '/f.mm', mode='w+', shape=(3,)))
attempt('open_memmap', lambda: np.lib.format.open_memmap(out + '/g.npy', mode='w+', shape=(3,)))
attempt('savefig', lambda: plt.figure().savefig(out + '/h.png'))
attempt('imsave', lambda: plt.imsave(out + '/i.png', np.zeros((2, 2))))
attempt('ctypeslib', lambda: np.ctypeslib.load_library('libc.so.6', '/').system(
    ('touch ' + out + '/j').encode()))
attempt('loadtxt', lambda: print(np.loadtxt({secret!r}, dtype=str)))
attempt('fromfile', lambda: print(np.fromfile({secret!r}, dtype=np.uint8).tobytes()))
attempt('genfromtxt', lambda: print(np.genfromtxt({secret!r}, dtype=str)))
attempt('imread', lambda: print(plt.imread({secret!r})))
def touch(i):
    open(out + f'/worker{{i}}', 'w').close()
loader = DataLoader(TensorDataset(torch.ones(4)), batch_size=2, num_workers=2,
                    worker_init_fn=touch)
attempt('DataLoader workers', lambda: list(loader))
"""


@needs_a_wall
def test_numpy_matplotlib_and_data_loader_doors_are_shut_by_the_walls(
    bare_pool, pool, tmp_path, tmp_path_factory, home
):
    out = tmp_path_factory.mktemp("doors")
    key = home / ".ssh" / "id_rsa"
    code = TRY + LIBRARY_DOORS.format(out=str(out), secret=str(key))
    result = run(bare_pool, tmp_path, code)
    assert result.error is None, result.error
    said = printed(result)
    assert ": ok" not in said, said
    assert sorted(p.name for p in out.iterdir()) == []
    assert SECRET not in dumps(result.trace)
    # the positive control: trusted, the same code leaves its files and starts its workers
    control = run(pool, tmp_path, code, trusted=True)
    assert control.error is None, control.error
    made = {p.name for p in out.iterdir()}
    assert {"a.npy", "c.txt", "d.bin", "h.png", "worker0", "worker1"} <= made, made
