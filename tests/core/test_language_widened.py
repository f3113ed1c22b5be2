"""What restricted mode accepts since the micrograd lecture (issue 11): graphviz graphs
built but never rendered, ``enum``, ``datetime``/``time.strptime``; each checked in a
real restricted run (the worker, its walls and the Python layer) or at the door it adds.

The underscore-attribute rule is ``test_own_attributes.py`` and
``test_attack_underscore.py``; enum's attacks are in ``test_attack_widened.py``.
"""

from __future__ import annotations

import contextlib
import io
import sys
import textwrap
from collections.abc import Iterator

import pytest

from gradstep.scenario.check import find_refusals
from gradstep.scenario.sandbox import member
from gradstep.worker import WorkerPool
from sealed import printed
from sealed import run_restricted as run

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the worker's walls are Linux's"
)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(prestart=False) as p:
        yield p


# ---------------------------------------------------------------------------- graphviz

graphviz = pytest.importorskip("graphviz")

DRAW = """
from graphviz import Digraph, Graph

def draw(edges):
    dot = Digraph(format='svg', graph_attr={'rankdir': 'LR'})
    for a, b in edges:
        dot.node(name=a, label="{ %s | data %.4f }" % (a, 1.5), shape='record')
        dot.edge(a, b)
    with dot.subgraph(name='cluster_0') as sub:
        sub.node('s')
    return dot

dot = draw([('x', 'y'), ('y', 'z')])
print(dot.source)
copy = dot.copy()
print(type(copy).__name__, type(Graph()).__name__)
dot
"""


def test_a_digraph_is_built_as_in_plain_python(pool, tmp_path):
    result = run(pool, tmp_path, DRAW)
    assert result.error is None, result.error
    plain = io.StringIO()
    with contextlib.redirect_stdout(plain):
        exec(textwrap.dedent(DRAW), {"__name__": "__main__"})
    assert printed(result) == plain.getvalue()
    assert "digraph {" in printed(result) and "rankdir=LR" in printed(result)
    # the last expression is a Digraph: nothing is rendered, nothing shown for it
    assert result.trace.steps[-1].output == ""


@pytest.mark.parametrize(
    ("call", "why"),
    [
        ("dot.render('graph')", "runs the Graphviz program and writes a file"),
        ("dot.view()", "opens a viewer"),
        ("dot.pipe()", "runs the Graphviz program"),
        ("dot.unflatten()", "unflatten program"),
        ("Graph().render()", "runs the Graphviz program"),
        ("dot.subgraph(name='c').__enter__", "double-underscore"),
    ],
)
def test_rendering_is_refused_at_its_line(pool, tmp_path, call, why):
    code = f"from graphviz import Digraph, Graph\ndot = Digraph()\ndot.node('a')\n{call}\n"
    result = run(pool, tmp_path, code)
    error = result.error
    assert error is not None and error.line == 4, error
    assert why in error.message
    assert "--trust" in error.message
    assert not list(tmp_path.glob("graph*"))


def test_graphviz_module_doors_are_refused_up_front():
    for name in ("render", "pipe", "view", "Source", "unflatten", "backend"):
        problems = find_refusals(f"import graphviz\ngraphviz.{name}\n", "lesson.py", member)
        assert problems, name
        assert f"graphviz.{name} is not available in a restricted scenario" in problems[0].message


def test_without_graphviz_the_import_says_how_to_install_it(monkeypatch):
    """As in plain Python, the import fails at its line; the message says what to do."""
    from gradstep.scenario import sandbox

    class Absent:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "graphviz":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.delitem(sys.modules, "graphviz")
    monkeypatch.setattr(sys, "meta_path", [Absent, *sys.meta_path])
    with pytest.raises(
        ModuleNotFoundError, match=r"^graphviz is not installed: pip install graphviz$"
    ):
        sandbox._restricted_import("graphviz", fromlist=("Digraph",))


# ----------------------------------------------------------------------- the stdlib


def test_strptime_runs_restricted(pool, tmp_path):
    """datetime's and time's C code import ``_strptime`` lazily through the scenario's
    ``__import__``: let through, while the scenario's own import of it stays refused."""
    code = """
    import datetime, time
    d = datetime.datetime.strptime("2024-03-05 10:11", "%Y-%m-%d %H:%M")
    t = time.strptime("2024 5", "%Y %j")
    print(d.isoformat(), t.tm_year, t.tm_yday, datetime.date(2024, 3, 5).strftime("%d/%m"))
    """
    result = run(pool, tmp_path, code)
    assert result.error is None, result.error
    assert printed(result) == "2024-03-05T10:11:00 2024 5 05/03\n"
    problems = find_refusals("import _strptime\n", "lesson.py", member)
    assert problems and "importing '_strptime' is not allowed" in problems[0].message
