"""Plain text building blocks: durations, aligned tables, JSON/YAML documents."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO


def format_duration(seconds: float | None) -> str:
    """``12.3s``, ``4m05s``, ``1h02m03s``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def table(rows: Iterable[Iterable[Any]], header: Iterable[str]) -> str:
    """A plain left-aligned text table."""
    data = [[str(c) for c in header], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in data) for i in range(len(data[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in data)


def render_data(data: Any, fmt: str, out: TextIO) -> None:
    """``data`` as ``-o json`` or ``-o yaml``."""
    if fmt == "json":
        out.write(json.dumps(data, indent=2) + "\n")
    else:
        import yaml

        out.write(yaml.safe_dump(data, sort_keys=False))
