"""Text from a scenario made safe to store and to show.

A scenario chooses much of the text a trace holds: what it prints, its
exceptions' messages, its title and source, the keys of its parameter dicts.

- :func:`storable` makes it valid UTF-8: a lone surrogate (``"\\ud800"``,
  which Python strings may hold and JSON encoders refuse) becomes the visible
  escape ``\\ud800``.
- :func:`inert_json` does the same for a JSON document, in JSON's own escapes.
- :func:`visible` makes it harmless on a terminal: escape sequences (``ESC``
  ``]0;title BEL`` renames the window, ``ESC [2J`` clears the screen, ``ESC
  ]52;`` writes the clipboard), the other C0 and C1 controls and the bidi
  overrides that reorder what is shown (Trojan Source) are written as Python
  escapes, ``\\x1b``, ``\\u202e``, so that they can be seen and never act.
  Newlines and tabs are kept unless ``one_line``.
"""

from __future__ import annotations

import re

#: Lone surrogates: never valid in UTF-8.
_SURROGATES = re.compile("[\ud800-\udfff]")

#: What a terminal acts on or reorders: C0 controls but tab and newline, DEL, C1 controls,
#: the bidi marks, embeddings, overrides and isolates, the line and paragraph separators,
#: and lone surrogates (which cannot even be written to a UTF-8 terminal).
_ACTIVE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)
_ACTIVE_OR_LINE = re.compile(_ACTIVE.pattern[:-1] + "\t\n]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x0A:
        return "\\n"
    if code == 0x09:
        return "\\t"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def storable(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates written as escapes (the rest unchanged)."""
    if text.isascii():  # the common case, one C call
        return text
    return _SURROGATES.sub(_escape, text)


def visible(text: str, *, one_line: bool = False) -> str:
    """``text`` with what a terminal would act on written as escapes.

    ``one_line``: newlines and tabs too, for a table cell.
    """
    pattern = _ACTIVE_OR_LINE if one_line else _ACTIVE
    return pattern.sub(_escape, text)


#: what JSON writers leave raw (they escape C0 controls themselves): DEL, C1, bidi, separators
_ACTIVE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def inert_json(document: str) -> str:
    """A JSON document with the characters a terminal acts on written as ``\\uXXXX``:
    the same data (they only occur inside strings), safe to print."""
    return _ACTIVE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
