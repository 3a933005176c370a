"""Values passed between steps, stored by variable name (key) in the run's marshal directory.

Layout of a marshal directory::

    <key><suffix>               the value's bytes (``x.npy``, ``df.arrow``, ``model.pkl``, ``f.dill``)
    .kale/values/<key>.json     its metadata: codec, type, size, CRC-32, producing step
    .<name>.<random>.tmp        a write in progress (or killed): never loaded

The data file is written atomically first and the metadata last, so a value exists exactly when
its metadata does: a step killed mid-write leaves nothing that loads. Loads check the size, and
either the CRC-32 over all the bytes (eager codecs: pickle, dill, which read every byte anyway)
or, for memory-mapped values (numpy arrays, Arrow frames), a CRC-32 over sampled blocks (head,
tail and 16 spread blocks, about 3 MiB) and the format's header: that keeps a load O(what the
step reads). :func:`verify` checks every byte of any value.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from typing import Any

from ...errors import MarshalError
from .codec import (
    ENTRY_POINT_GROUP,
    Codec,
    codec_for_value,
    codec_named,
    register_codec,
    reset_entry_points,
    unregister_codec,
)
from .files import (
    atomic_writer,
    file_crc32,
    fsync_directory,
    is_temp_name,
    map_verified,
    sampled_crc32_of_path,
)

__all__ = [
    "ENTRY_POINT_GROUP", "Codec", "MarshalError", "describe", "list_values", "load",
    "register_codec", "reset_entry_points", "save", "unregister_codec", "verify",
]

META_DIR = os.path.join(".kale", "values")
FORMAT = 1
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


def _where(step: str | None, key: str, path: str) -> str:
    return f"{'step ' + repr(step) + ', ' if step else ''}variable {key!r}, file {path}"


def _check_key(key: str, step: str | None = None) -> None:
    # Keys are the pipeline's variable names: Python identifiers (``données`` too) are safe file names.
    if not isinstance(key, str) or not (_KEY.match(key) or key.isidentifier()) or key.endswith(".tmp"):
        raise MarshalError(f"{_where(step, str(key), '-')}: not a valid marshal key "
                           "(use letters, digits, '_', '-', '.')")


def meta_path(directory: str, key: str) -> str:
    """Where the metadata of ``key`` lives."""
    return os.path.join(directory, META_DIR, f"{key}.json")


def type_name(value: Any) -> str:
    """``module.QualName`` of the value's type (``builtins.`` dropped)."""
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def save(directory: str, key: str, value: Any, *, step: str | None = None) -> dict[str, Any]:
    """Store ``value`` under ``key``; returns its metadata. Raises MarshalError naming step and key."""
    _check_key(key, step)
    os.makedirs(os.path.join(directory, META_DIR), exist_ok=True)
    old = _read_meta(directory, key, step, missing_ok=True, corrupt_ok=True)
    mpath = meta_path(directory, key)
    with contextlib.suppress(FileNotFoundError):  # the old value stops existing first
        os.unlink(mpath)
    codec = codec_for_value(value)
    path = os.path.join(directory, key + codec.suffix)
    try:
        codec, extra, out = _write(codec, directory, key, value)
    except Exception as exc:
        raise MarshalError(f"{_where(step, key, path)}: cannot serialise a {type_name(value)} "
                           f"({_reason(exc)})") from exc
    path = os.path.join(directory, key + codec.suffix)
    meta: dict[str, Any] = {
        "format": FORMAT, "key": key, "codec": codec.name, "type": type_name(value),
        "file": os.path.basename(path), "bytes": out.size, "crc32": out.crc, "step": step,
        "created": time.time(), **extra,
    }
    if codec.lazy:
        meta["sample_crc32"] = sampled_crc32_of_path(path, out.size)
    # The data file is fsynced; the metadata, small, is renamed into place and both directories
    # fsynced once. After a power loss any inconsistent state (metadata lost or empty, data not
    # renamed) fails loudly on load: the metadata names the file, its size and its CRC-32.
    with atomic_writer(mpath, sync=False, sync_dir=False) as meta_out:
        meta_out.write(json.dumps(meta, sort_keys=True, indent=1).encode())
    fsync_directory(os.path.dirname(mpath))
    fsync_directory(directory)
    if old and old.get("file") and old["file"] != meta["file"]:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, os.path.basename(old["file"])))
    return meta


def _write(codec: Codec, directory: str, key: str, value: Any) -> tuple[Codec, dict, Any]:
    from .pickled import NeedsDill

    try:
        path = os.path.join(directory, key + codec.suffix)
        with atomic_writer(path, sync_dir=False) as out:
            extra = codec.dump(value, out)
        return codec, extra, out
    except NeedsDill as exc:
        dill = codec_named("dill")
        assert dill is not None
        path = os.path.join(directory, key + dill.suffix)
        try:
            with atomic_writer(path, sync_dir=False) as out:
                extra = dill.dump(value, out)
        except ImportError as missing:
            raise RuntimeError(f"pickle cannot store it ({exc}) and {missing}") from None
        return dill, extra, out


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


def _read_meta(directory: str, key: str, step: str | None, *, missing_ok: bool,
               corrupt_ok: bool = False) -> dict[str, Any] | None:
    path = meta_path(directory, key)
    try:
        with open(path, "rb") as fh:
            meta = json.loads(fh.read())
        if not isinstance(meta, dict) or meta.get("key") != key or "codec" not in meta:
            raise ValueError("not kale-argo value metadata")
        return meta
    except FileNotFoundError:
        if missing_ok:
            return None
        raise MarshalError(f"{_where(step, key, path)}: no such value in {directory} "
                           "(hint: did the step that produces it run and succeed?)") from None
    except (OSError, ValueError) as exc:
        if corrupt_ok:
            return None
        raise MarshalError(f"{_where(step, key, path)}: unreadable metadata ({_reason(exc)})"
                           ) from None


def describe(directory: str, key: str) -> dict[str, Any] | None:
    """The metadata of ``key`` (codec, type, bytes, crc32, step, file...), or None if absent."""
    _check_key(key)
    return _read_meta(directory, key, None, missing_ok=True)


def list_values(directory: str) -> list[dict[str, Any]]:
    """The metadata of every complete value in ``directory``, sorted by key."""
    folder = os.path.join(directory, META_DIR)
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    values = []
    for name in names:
        if name.endswith(".json") and not is_temp_name(name):
            meta = _read_meta(directory, name[:-5], None, missing_ok=True, corrupt_ok=True)
            if meta is not None:
                values.append(meta)
    return values


def _data_path(directory: str, key: str, meta: dict[str, Any], step: str | None) -> str:
    path = os.path.join(directory, os.path.basename(str(meta.get("file", ""))))
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise MarshalError(f"{_where(step, key, path)}: the data file is missing") from None
    if size != meta.get("bytes"):
        what = "truncated" if size < int(meta.get("bytes", 0)) else "larger than written"
        raise MarshalError(f"{_where(step, key, path)}: {what} ({size} bytes on disk, "
                           f"{meta.get('bytes')} written)")
    return path


def load(directory: str, key: str, *, step: str | None = None) -> Any:
    """The value stored under ``key``. Raises MarshalError (missing, corrupt, truncated)."""
    _check_key(key, step)
    meta = _read_meta(directory, key, step, missing_ok=False)
    assert meta is not None
    codec = codec_named(str(meta["codec"]))
    path = os.path.join(directory, str(meta.get("file", "")))
    if codec is None:
        raise MarshalError(f"{_where(step, key, path)}: stored by marshal codec "
                           f"{meta['codec']!r}, which is not installed (hint: install the package "
                           f"providing it in entry-point group {ENTRY_POINT_GROUP!r})")
    path = _data_path(directory, key, meta, step)
    try:
        if codec.lazy:
            if "sample_crc32" in meta and sampled_crc32_of_path(path, meta["bytes"]) != meta[
                    "sample_crc32"]:
                raise ValueError("checksum mismatch (sampled blocks)")
            codec.verify_header(path, meta)
            return codec.load_path(path, meta)
        data = map_verified(path, int(meta["bytes"]), int(meta.get("crc32", -1)))
        return codec.loads(data, meta)
    except MarshalError:
        raise
    except Exception as exc:
        raise MarshalError(f"{_where(step, key, path)}: corrupt or unloadable {meta['codec']} "
                           f"value ({_reason(exc)})") from exc


def verify(directory: str, key: str, *, step: str | None = None) -> dict[str, Any]:
    """Check every byte of ``key`` against its CRC-32 (also for memory-mapped values)."""
    meta = _read_meta(directory, key, step, missing_ok=False)
    assert meta is not None
    path = _data_path(directory, key, meta, step)
    size, crc = file_crc32(path)
    if size != meta["bytes"] or crc != meta.get("crc32"):
        raise MarshalError(f"{_where(step, key, path)}: checksum mismatch")
    return meta
