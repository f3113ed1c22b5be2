"""graphviz's ``Digraph`` and ``Graph`` for restricted scenarios: built, never rendered.

Karpathy's micrograd lecture draws its expression graph with ``graphviz``:
``draw_dot`` builds a ``Digraph`` node by node (pure Python: the graph's DOT
text grows in a list), and Jupyter shows the cell's last value by running the
``dot`` program. A restricted scenario may build such graphs (the module proxy
hands out ``Digraph``, ``Graph``, ``escape`` and ``nohtml``, see
:data:`gradstep.scenario.libraries.GRAPHVIZ_NAMES`), but what runs a program
or writes a file (``render``, ``view``, ``pipe``, ``save``, ``unflatten``)
says so at its line instead: the classes handed out are subclasses whose
doors raise. gradstep shows no Digraph value (its repr is an ``<... at 0x>``
object, which a step's output leaves out): the autograd graph is gradstep's
own drawing.

Not the boundary: ``super(type(g), g).render()`` reaches graphviz's method,
which then meets the audit guard (no processes, no file writes) and the
worker's walls. When graphviz is not installed, nothing is registered, and
the scenario's import fails at its line with ``pip install graphviz``.
"""

from __future__ import annotations

from typing import Any

from gradstep.scenario import hardened
from gradstep.scenario.errors import TRUST_HINT

#: the methods of graphviz's graphs that run the Graphviz programs or write files
DOORS: dict[str, str] = {
    "render": "runs the Graphviz program and writes a file",
    "view": "runs the Graphviz program, writes a file and opens a viewer",
    "pipe": "runs the Graphviz program",
    "save": "writes a file",
    "unflatten": "runs Graphviz's unflatten program",
}


def _door(cls_name: str, method: str) -> Any:
    why = DOORS[method]

    def refused(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError(
            f"{cls_name}.{method}() {why}, which a restricted scenario may not; building "
            f"the graph works (print(g.source) shows its DOT text); {TRUST_HINT}"
        )

    refused.__name__ = refused.__qualname__ = method
    return refused


def _hardened(base: type) -> type:
    namespace: dict[str, Any] = {m: _door(base.__name__, m) for m in DOORS}
    namespace["__module__"] = base.__module__
    namespace["__qualname__"] = base.__qualname__
    namespace["__doc__"] = base.__doc__
    return type(base.__name__, (base,), namespace)


def install() -> bool:
    """Register the hardened graph classes for the module proxy when graphviz is
    installed (idempotent); whether it is."""
    try:
        import graphviz
    except ImportError:
        return False
    for name in ("Digraph", "Graph"):
        key = ("graphviz", name)
        if key not in hardened.REPLACEMENTS:
            hardened.REPLACEMENTS[key] = _hardened(getattr(graphviz, name))
    return True
