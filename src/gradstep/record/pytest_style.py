"""A file of test functions is run as pytest would run it: each test, in order, a step.

micrograd's PyTorch checks (``test/test_engine.py``) only define
``test_sanity_check()`` and ``test_more_ops()``: run as a script they do nothing,
and there would be no backward pass to show. The rule, kept small:

- the file ran to its end, without an error, and recorded no backward pass of its
  own (a lesson that happens to define ``test_x`` and does its own backward is left
  as it is);
- its top level defines functions whose names start with ``test`` (pytest's
  default), with no parameters (pytest would pass fixtures: those are not run) and
  no decorators (``@pytest.mark...`` or a fixture);
- the file never names them anywhere else (a file that calls its tests itself,
  ``if __name__ == "__main__": test_x()``, is left as it is).

Each such function is then called after the top-level code, in definition order
(the last definition of a name counts, as in the module), in a section of its own
that a step opens at the line of its ``def`` (``test_sanity_check()  · a test
function, run as pytest would``); its backward passes are recorded as the
scenario's and follow that step (a test that records none shows the call's own
step after it). The first test that raises ends
the run there, as an error at its line. A note in the trace says what was run.
"""

from __future__ import annotations

import ast


def test_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    """The top-level test functions that the file never calls itself, in definition order."""
    defined: dict[str, ast.FunctionDef] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.pop(stmt.name, None)  # the last definition of a name is the module's
        if (
            isinstance(stmt, ast.FunctionDef)
            and stmt.name.startswith("test")
            and not stmt.decorator_list
            and _takes_nothing(stmt.args)
        ):
            defined[stmt.name] = stmt
    if not defined:
        return []
    named = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in defined and isinstance(node.ctx, ast.Load)
    }
    named |= {
        node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
    } & defined.keys()
    return sorted((f for name, f in defined.items() if name not in named), key=lambda f: f.lineno)


def _takes_nothing(args: ast.arguments) -> bool:
    return not (args.posonlyargs or args.args or args.vararg or args.kwonlyargs or args.kwarg)


def calls_of(function: ast.FunctionDef) -> list[tuple[ast.stmt, str]]:
    """The statements that run test ``function``, at its ``def`` line, with their texts:
    a step that opens its section (the passes it records follow it), then the call."""
    name = function.name
    opening = ast.copy_location(ast.Pass(), function)
    call = ast.Expr(ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=[], keywords=[]))
    ast.copy_location(call, function)
    ast.fix_missing_locations(call)
    for stmt in (opening, call):
        stmt.end_lineno = stmt.lineno  # the step is the call, not the function's body
    return [(opening, f"{name}()  · a test function, run as pytest would"), (call, f"{name}()")]


def note(path: str, functions: list[ast.FunctionDef]) -> str:
    """What the trace says about it."""
    names = [f"{f.name}()" for f in functions]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    count = f"{len(names)} test function{'s' if len(names) > 1 else ''}"
    file = path.replace("\\", "/").rpartition("/")[2] or path
    return (
        f"{file} defines {count} and calls none, so gradstep ran {listed} after the file, "
        "in order, as pytest would (a step opens each)"
    )
