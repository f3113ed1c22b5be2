"""A Jupyter notebook written for a test from ``(kind, text)`` cells (``tests/`` is on the
path through its conftest)."""

from __future__ import annotations

import json
from pathlib import Path


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    """``path`` holding an nbformat-4 notebook of ``cells`` (``"code"`` or ``"markdown"``)."""
    document = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": text, "id": f"c{i}"}
            | ({"outputs": [], "execution_count": None} if kind == "code" else {})
            for i, (kind, text) in enumerate(cells)
        ],
    }
    path.write_text(json.dumps(document))
    return path
