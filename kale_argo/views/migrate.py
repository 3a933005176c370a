"""``kale-argo migrate``'s output: a unified diff of the edits, then the notes."""

from __future__ import annotations

import difflib
from typing import Any


def render_migration(migration: Any, written: bool) -> str:
    """The diff (for a notebook: each edited line), the notes, and what happened."""
    out: list[str] = []
    if migration.notebook:
        for edit in migration.edits:
            out += [f"{migration.path}: {edit.where}:", f"-{edit.old}", f"+{edit.new}"]
    else:
        out += [line.rstrip("\n") for line in difflib.unified_diff(
            migration.original.splitlines(keepends=True), migration.migrated.splitlines(keepends=True),
            fromfile=migration.path, tofile=migration.path)]
    out += [f"{migration.path}: {note.where}: note: {note.text}" for note in migration.notes]
    count = len(migration.edits)
    if not count:
        out.append(f"{migration.path}: nothing to change")
    elif written:
        out.append(f"{migration.path}: {count} line(s) changed")
    else:
        out.append(f"{migration.path}: {count} line(s) to change (run with --write to apply)")
    return "\n".join(out) + "\n"
