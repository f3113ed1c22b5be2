"""Reading a scenario file without trusting it: the one place that opens one.

A path handed to gradstep may name anything: a named pipe (whose ``open`` blocks
until someone writes), a device such as ``/dev/zero`` (endless), a folder, or a
file far larger than any lesson. Only a regular file of at most
:data:`MAX_SCENARIO_BYTES` is read; anything else is a :class:`ScenarioRefused`
that names the file and says why, raised before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gradstep.scenario.errors import ScenarioRefused

#: the largest scenario file read (a lesson is a few kB; a notebook with images, a few MB)
MAX_SCENARIO_BYTES = 10 * 1024 * 1024

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a pipe swapped in after the check cannot block the open
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def read_scenario_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the regular file ``path`` (symlinks followed), at most
    :data:`MAX_SCENARIO_BYTES`; raise ScenarioRefused for anything else."""
    name = os.fspath(path)
    try:
        # checked before opening: opening some devices already does something
        _check(name, os.stat(name))
        fd = os.open(name, _OPEN_FLAGS)
    except FileNotFoundError:
        raise _refused(name, f"no such file: {name}") from None
    except IsADirectoryError:
        raise _refused(name, f"{name} is a folder, not a scenario file") from None
    except OSError as e:
        raise _refused(name, f"cannot read {name}: {e.strerror or e}") from None
    try:
        _check(name, os.fstat(fd))  # what was opened, in case the path changed meanwhile
        chunks: list[bytes] = []
        left = MAX_SCENARIO_BYTES + 1  # bounded even if the file grows while read
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        raise _refused(name, f"cannot read {name}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_SCENARIO_BYTES:
        raise _refused(name, _too_large(name))
    return data


def _check(name: str, st: os.stat_result) -> None:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise _refused(name, f"{name} is a folder, not a scenario file")
    if not stat.S_ISREG(mode):
        raise _refused(
            name,
            f"{name} is not a regular file ({_kind(mode)}); a scenario is a .py or .ipynb file",
        )
    if st.st_size > MAX_SCENARIO_BYTES:
        raise _refused(name, _too_large(name, st.st_size))


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def _too_large(name: str, size: int | None = None) -> str:
    what = f"{size / (1 << 20):.1f} MB" if size is not None else "too large"
    limit = MAX_SCENARIO_BYTES >> 20
    return f"{Path(name).name} is {what}; a scenario file may be at most {limit} MB"


def _refused(name: str, message: str) -> ScenarioRefused:
    return ScenarioRefused(message, 0, 0, filename=name)
