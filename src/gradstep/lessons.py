"""The bundled lessons, reachable by name or number: ``gradstep trace 05``.

A command's FILE is a path first; only when no such file exists is it looked up
among the lessons shipped with gradstep (by number ``05`` or ``5``, by name
``05_logistic_regression_bce`` with or without its suffix, or by the name
without its number ``logistic_regression_bce``). A file in the current folder
therefore always wins over a lesson of the same name.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from gradstep.resources import bundled_scenarios

_NUMBERED = re.compile(r"^(\d+)_(.+)$")
SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class Lesson:
    path: Path

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def number(self) -> int | None:
        m = _NUMBERED.match(self.name)
        return int(m.group(1)) if m else None

    @property
    def topic(self) -> str:
        """The name without its number: ``logistic_regression_bce``."""
        m = _NUMBERED.match(self.name)
        return m.group(2) if m else self.name

    def title(self) -> str:
        """The scenario's own title (its docstring's or first note's first line)."""
        from gradstep.scenario.errors import ScenarioRefused
        from gradstep.scenario.loader import load_scenario

        try:
            return load_scenario(self.path).title
        except (ScenarioRefused, OSError):
            return ""


class NoSuchScenario(Exception):
    """Neither a file nor a bundled lesson; the message says so and what is close."""


def lessons() -> list[Lesson]:
    return [Lesson(p) for p in bundled_scenarios()]


def find_lesson(key: str) -> Lesson | None:
    key = key.strip().lower()
    for suffix in SUFFIXES:
        if key.endswith(suffix):
            key = key[: -len(suffix)]
            break
    if not key:
        return None
    found = lessons()
    if key.isdigit():
        return next((le for le in found if le.number == int(key)), None)
    return next(
        (le for le in found if key in (le.name.lower(), le.topic.lower())),
        None,
    )


def resolve_scenario(arg: str) -> str:
    """The path to open for a command's FILE argument: the file itself if it exists,
    else the bundled lesson it names; raise NoSuchScenario otherwise."""
    if Path(arg).expanduser().exists():
        return arg
    lesson = find_lesson(arg)
    if lesson is not None:
        return str(lesson.path)
    raise NoSuchScenario(_not_found_message(arg))


def _not_found_message(arg: str) -> str:
    names = [le.name for le in lessons()]
    close = difflib.get_close_matches(Path(arg).stem, names, n=2, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return (
        f"no such file or bundled lesson: {arg}{hint}; "
        "`gradstep lessons` lists the lessons, by number and name"
    )


def lesson_table() -> str:
    """What ``gradstep lessons`` prints: number, name and title of each lesson."""
    rows = [
        (f"{le.number:02d}" if le.number is not None else "", le.path.name, le.title())
        for le in lessons()
    ]
    if not rows:
        return "no bundled lessons found (the installation is incomplete)\n"
    width = max(len(r[1]) for r in rows)
    lines = [f"{num:>3}  {name:<{width}}  {title}".rstrip() for num, name, title in rows]
    lines += [
        "",
        "Open one by number or name: gradstep 05, gradstep trace 05, "
        "gradstep export 05 --step 20 -o out.png",
    ]
    return "\n".join(lines) + "\n"
