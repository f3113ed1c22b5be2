"""``python -m gradstep.worker.netns_probe``: can a process here enter new namespaces?

Prints 0, or the errno ``unshare`` failed with. The doctor's probe of the walls
(:func:`gradstep.worker.walls.probe`) runs it in a throwaway child, since a
namespace cannot be left once entered. A module rather than ``python -c``
because a desktop bundle runs only gradstep's modules (:mod:`gradstep.frozen`).
"""

from __future__ import annotations

import ctypes

from gradstep.worker.walls import _namespace_flags


def main() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    print(0 if libc.unshare(_namespace_flags()) == 0 else ctypes.get_errno())


if __name__ == "__main__":
    main()
