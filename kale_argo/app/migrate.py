"""``kale-argo migrate``: the changes a Kale SDK script (or a notebook's code cells) needs to run
with kale-argo, as data: line edits to apply and notes on what kale-argo does differently.

Edits: ``kale.sdk`` imports become ``kale_argo`` (``kale.sdk.api`` -> ``kale_argo.api``), and the
``python -m kale ...`` deploy line in comments and docs becomes ``python -m kale_argo ...``.
Notes (nothing to change, but worth knowing): Katib keywords are ignored, ``kfp_host`` names the
Argo Server, ``--dry-run`` alone runs locally, numbers in ``limits`` must be strings, booleans
must be booleans.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

from ..errors import ConfigError, ScriptError
from ..runtime.marshal.files import atomic_writer

_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bfrom\s+kale\.sdk\.api\s+import\b"), "from kale_argo.api import"),
    (re.compile(r"\bfrom\s+kale\.sdk\s+import\b"), "from kale_argo import"),
    (re.compile(r"\bfrom\s+kale\s+import\s+sdk\b"), "import kale_argo as sdk"),
    (re.compile(r"\bimport\s+kale\.sdk\.api\s+as\b"), "import kale_argo.api as"),
    (re.compile(r"\bimport\s+kale\.sdk\s+as\b"), "import kale_argo as"),
    (re.compile(r"^(\s*)import\s+kale\.sdk\s*$"), r"\1import kale_argo"),
    (re.compile(r"\bkale\.sdk\.api\."), "kale_argo.api."),
    (re.compile(r"\bkale\.sdk\."), "kale_argo."),
    (re.compile(r"(python[0-9.]*\s+-m\s+)kale(?![\w.])"), r"\1kale_argo"),
)
_NOTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bkatib_(run|metadata)\b"),
     "katib_run/katib_metadata are accepted and ignored (no Katib integration)"),
    (re.compile(r"\bkfp_host\b"),
     "kfp_host is where --kfp submits: kale-argo uses it as the Argo Server unless ARGO_SERVER "
     "or --argo-server is set"),
    (re.compile(r"--dry-run|\b-D\b"),
     "--dry-run alone runs locally (as Kale); --kfp --dry-run compiles to SCRIPT.yaml"),
    (re.compile(r"limits\s*=\s*\{[^}]*:\s*\d"),
     "limits values must be strings, as in Kale: write 'nvidia.com/gpu': '1'"),
    (re.compile(r"\b(marshal_volume|autosnapshot|snapshot)\s*=\s*[\"']"),
     "booleans must be True or False, not strings"),
    (re.compile(r"[\"']type[\"']\s*:\s*[\"']clone[\"']"),
     "a 'clone' volume needs 'size' (and 'size_type'): kale-argo has no Rok to read it from"),
)


@dataclass(frozen=True)
class Edit:
    """One changed line: ``where`` is ``line N`` or ``cell C, line N``."""

    where: str
    old: str
    new: str


@dataclass(frozen=True)
class Note:
    """Something kale-argo does differently at ``where``; nothing to change."""

    where: str
    text: str


@dataclass
class Migration:
    """What ``path`` needs: its edits and notes, and the migrated text."""

    path: str
    notebook: bool
    edits: list[Edit] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    original: str = ""
    migrated: str = ""

    @property
    def changed(self) -> bool:
        return self.migrated != self.original


def migrate_line(line: str) -> str:
    """``line`` with Kale's imports and deploy line rewritten for kale-argo."""
    for pattern, replacement in _REWRITES:
        line = pattern.sub(replacement, line)
    return line


def _lines(text: str, prefix: str, migration: Migration) -> str:
    out = []
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        body = line.rstrip("\r\n")
        new = migrate_line(body)
        where = f"{prefix}line {number}"
        if new != body:
            migration.edits.append(Edit(where, body, new))
        for pattern, note in _NOTES:
            if pattern.search(body):
                migration.notes.append(Note(where, note))
        out.append(new + line[len(body):])
    return "".join(out)


def plan_migration(path: str) -> Migration:
    """The edits and notes for the script or notebook at ``path`` (nothing is written)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ScriptError(f"{path}: no such file", hint="give a Kale SDK script or an .ipynb") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(f"{path}: cannot be read: {exc}") from None
    notebook = path.endswith(".ipynb")
    migration = Migration(path=path, notebook=notebook, original=text)
    if not notebook:
        migration.migrated = _lines(text, "", migration)
        return migration
    try:
        data = json.loads(text)
        cells = data["cells"]
    except (ValueError, KeyError, TypeError):
        raise ScriptError(f"{path}: not a Jupyter notebook (no 'cells' in its JSON)",
                          hint="migrate takes a .py script or an .ipynb notebook") from None
    for index, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        joined = "".join(source) if isinstance(source, list) else str(source)
        new = _lines(joined, f"cell {index}, ", migration)
        if new != joined:
            cell["source"] = new.splitlines(keepends=True) if isinstance(source, list) else new
    migration.migrated = (json.dumps(data, indent=1, ensure_ascii=False) + "\n"
                          if migration.edits else text)
    return migration


def write_migration(migration: Migration) -> None:
    """Write the migrated text over the file, atomically (nothing when there is no edit)."""
    if not migration.changed:
        return
    try:
        mode = os.stat(migration.path).st_mode & 0o777
        with atomic_writer(migration.path) as out:
            out.write(migration.migrated.encode("utf-8"))
        os.chmod(migration.path, mode)
    except OSError as exc:
        raise ConfigError(f"cannot write {migration.path}: {exc.strerror or exc}",
                          hint="check the file's permissions") from None
