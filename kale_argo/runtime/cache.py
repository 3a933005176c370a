"""The step cache: a step whose code, inputs and parameters are unchanged reuses earlier outputs.

One module decides for both backends: the local executor and every Argo pod run the step command
with ``--cache-dir DIR`` (locally ``.kale-runs/.cache/<pipeline>``, on Argo a volume that outlives
the run), and :func:`lookup` / :func:`publish` run inside the step process.

The key is a SHA-256 over

- the step's code: the source of its function and of every top-level definition of the script it
  uses, transitively (by name), plus the content of every helper module the script imports
  (:func:`kale_argo.runtime.modules.local_modules`): editing another step leaves it unchanged;
- its call (function, outputs, constants, parameter types) and its parameters' texts;
- its inputs by the checksums their metadata records (verified in full before they count);
- the values' format (:data:`kale_argo.runtime.marshal.FORMAT`): an entry in a layout an earlier
  version cannot read is never offered to it.

An entry is a folder ``<key>/`` holding the value files and ``entry.json`` (their metadata
without run binding, the step's duration, its exported outputs). It is written into a temporary
folder and renamed into place, so readers never see half an entry; a hit re-checks every byte and
copies (or hard-links) the files into the run's marshal folder, where they are bound to the new
run (and tagged with its key) like any value the run stores. A damaged entry is removed and
counts as a miss. Entries are evicted least recently used first when the cache grows beyond
``KALE_ARGO_CACHE_SIZE`` bytes (default 5 GiB).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from typing import TYPE_CHECKING, Any

from . import marshal
from .marshal import files
from .marshal.binding import TAG_FIELD, RunBinding
from .modules import local_modules

if TYPE_CHECKING:
    import ast

SIZE_ENV = "KALE_ARGO_CACHE_SIZE"
DEFAULT_SIZE = 5 * 1024**3
ENTRY_FILE = "entry.json"
LOCK_FILE = ".lock"
_UNBOUND = ("run", TAG_FIELD, "created", "step")


def cacheable(call: dict[str, Any]) -> bool:
    """Whether a step call may use the cache: it returns values (a step without outputs runs for
    its effects, so it always runs), is not switched off (``@step(cache=False)``), is no fan-out
    instance nor reads a gathered list (their inputs are keyed by index), writes no artifacts."""
    if (not call.get("outputs") or call.get("cache") is False or call.get("map_over")
            or call.get("artifacts")):
        return False
    inputs = [*(call.get("args") or []), *(call.get("kwargs") or {}).values()]
    return all(isinstance(i, dict) and i.get("kind") in ("value", "param", "const") for i in inputs)


def code_digest(script: str, qualname: str) -> str:
    """SHA-256 of the step function's code: its source and that of the script's top-level
    definitions it uses (transitively), plus every local helper module the script imports."""
    with open(script, "rb") as fh:
        source = fh.read()
    import ast

    tree = ast.parse(source)
    text = source.decode("utf-8", "surrogateescape")
    defined: dict[str, list[ast.stmt]] = {}
    for node in tree.body:
        for name in _defines(node):
            defined.setdefault(name, []).append(node)
    h = hashlib.sha256()
    seen: set[int] = set()
    pending = [qualname.split(".")[0]]
    done: set[str] = set()
    while pending:
        name = pending.pop()
        if name in done:
            continue
        done.add(name)
        for node in defined.get(name, []):
            if id(node) in seen:
                continue
            seen.add(id(node))
            h.update((ast.get_source_segment(text, node, padded=False) or ast.dump(node)).encode())
            h.update(b"\0")
            for used in ast.walk(node):
                if isinstance(used, ast.Name) and used.id in defined:
                    pending.append(used.id)
    for path, digest in local_modules(script).items():
        h.update(f"{path}={digest}\0".encode())
    return h.hexdigest()


def _defines(node: ast.stmt) -> list[str]:
    import ast

    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return []


def step_key(script: str, call: dict[str, Any], params: dict[str, str], marshal_dir: str,
             binding: RunBinding) -> str:
    """The cache key of a step call (MarshalError if an input fails verification)."""
    inputs = [*(call.get("args") or []), *(call.get("kwargs") or {}).values()]
    checksums = {}
    for spec in inputs:
        if spec.get("kind") == "value":
            meta = marshal.verify(marshal_dir, spec["key"], step=str(call["step"]), binding=binding)
            checksums[spec["key"]] = list(marshal.recorded_checksum(meta))
    used = {k: v for k, v in call.items() if k not in ("step", "cache")}
    body = {"code": code_digest(script, str(call["function"])), "call": used,
            "params": {p: params.get(p) for p in sorted(call.get("params") or {})},
            "inputs": checksums, "format": marshal.FORMAT}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def lookup(cache_dir: str, key: str, marshal_dir: str, outputs: list[str], step: str,
           binding: RunBinding) -> dict[str, Any] | None:
    """On a hit, place the entry's values in ``marshal_dir`` bound to this run and return the
    entry (``outputs`` metadata, ``duration``, ``exports``); None on a miss. A damaged entry is
    removed and is a miss."""
    folder = os.path.join(cache_dir, key)
    try:
        with open(os.path.join(folder, ENTRY_FILE)) as fh:
            entry = json.load(fh)
    except (OSError, ValueError):
        return None
    try:
        metas = entry["values"]
        if sorted(metas) != sorted(outputs):
            raise ValueError("other outputs")
        for key_ in outputs:
            _adopt(folder, metas[key_], marshal_dir, key_, step, binding)
    except (OSError, ValueError, KeyError, TypeError, marshal.MarshalError):
        _remove(folder)
        return None
    with contextlib.suppress(OSError):
        os.utime(os.path.join(folder, ENTRY_FILE))  # recently used
    return entry


def _adopt(folder: str, meta: dict[str, Any], marshal_dir: str, key: str, step: str,
           binding: RunBinding) -> None:
    """Copy one cached value into the marshal folder, checked byte for byte, then bind its
    metadata to this run (the tag is computed with this run's key)."""
    name = os.path.basename(str(meta["file"]))
    src = os.path.join(folder, name)
    algorithm, checksum = marshal.recorded_checksum(meta)
    if files.file_digest(src, int(meta["bytes"]), algorithm) != checksum \
            or os.stat(src).st_size != int(meta["bytes"]):
        raise ValueError(f"cached {key} is damaged")
    dest = os.path.join(marshal_dir, name)
    tmp = files.temp_path(dest)
    try:
        os.link(src, tmp)
    except OSError:
        import shutil

        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    bound = {**meta, "key": key, "step": step, "run": binding.run_id, "created": time.time()}
    bound.pop(TAG_FIELD, None)
    tag = binding.tag(bound)
    if tag is not None:
        bound[TAG_FIELD] = tag
    files.write_json_atomic(marshal.meta_path(marshal_dir, key), bound, sync=False)


def publish(cache_dir: str, key: str, marshal_dir: str, outputs: dict[str, dict[str, Any]],
            duration: float, limit: int | None = None) -> None:
    """Store a succeeded step's values under ``key`` (atomically; a concurrent publisher of the
    same key wins, both entries being equal), then evict beyond the size bound. Never raises for
    an unwritable cache: the run's result stands."""
    try:
        os.makedirs(cache_dir, exist_ok=True)
        final = os.path.join(cache_dir, key)
        if os.path.exists(final):
            return
        import shutil

        tmp = os.path.join(cache_dir, f".tmp-{key[:16]}-{os.urandom(4).hex()}")
        os.mkdir(tmp)
        values = {}
        for stored in outputs:
            meta = marshal.describe(marshal_dir, stored)
            if meta is None:
                raise OSError(f"{stored} not stored")
            src = os.path.join(marshal_dir, os.path.basename(str(meta["file"])))
            shutil.copyfile(src, os.path.join(tmp, os.path.basename(src)))
            values[stored] = {k: v for k, v in meta.items() if k not in _UNBOUND}
        exports = {k: v["export"] for k, v in outputs.items() if "export" in v}
        files.write_json_atomic(os.path.join(tmp, ENTRY_FILE),
                                {"values": values, "duration": duration, "exports": exports,
                                 "outputs": outputs})
        try:
            os.rename(tmp, final)
        except OSError:  # published meanwhile by a concurrent run
            _remove(tmp)
        evict(cache_dir, limit)
    except OSError:
        return


def cache_limit() -> int:
    """The size bound in bytes (``KALE_ARGO_CACHE_SIZE``, default 5 GiB)."""
    try:
        return int(os.environ.get(SIZE_ENV, DEFAULT_SIZE))
    except ValueError:
        return DEFAULT_SIZE


def evict(cache_dir: str, limit: int | None = None) -> list[str]:
    """Remove the least recently used entries until the cache holds at most ``limit`` bytes;
    returns the removed keys. Serialised by a lock on ``.lock``."""
    import fcntl

    limit = cache_limit() if limit is None else limit
    removed = []
    fd = os.open(os.path.join(cache_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        entries = []
        for name in os.listdir(cache_dir):
            folder = os.path.join(cache_dir, name)
            try:
                used = os.stat(os.path.join(folder, ENTRY_FILE)).st_mtime
                size = sum(os.stat(os.path.join(folder, f)).st_size for f in os.listdir(folder))
            except OSError:
                continue
            entries.append((used, name, size))
        total = sum(e[2] for e in entries)
        for _used, name, size in sorted(entries):
            if total <= limit:
                break
            _remove(os.path.join(cache_dir, name))
            removed.append(name)
            total -= size
    finally:
        os.close(fd)
    return removed


def _remove(folder: str) -> None:
    """Remove an entry: renamed away first, so no reader sees it half deleted."""
    gone = f"{folder}.gone-{os.urandom(4).hex()}"
    try:
        os.rename(folder, gone)
    except OSError:
        return
    import shutil

    shutil.rmtree(gone, ignore_errors=True)
