"""Colour for terminals only: on when the stream is a TTY, off with ``NO_COLOR`` (no-color.org) or
``TERM=dumb``. Plain ANSI SGR codes; nothing is imported."""

from __future__ import annotations

import os
from typing import TextIO

PHASE_COLOURS = {"Succeeded": "32", "Failed": "31", "Error": "31", "Running": "33", "Pending": "2",
                 "Skipped": "2", "Omitted": "2"}


def use_colour(out: TextIO) -> bool:
    """Whether ``out`` gets colour: a TTY, ``NO_COLOR`` unset (or empty) and a capable terminal."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, phase: str, colour: bool) -> str:
    """``text`` in ``phase``'s colour when ``colour``."""
    code = PHASE_COLOURS.get(phase)
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text
