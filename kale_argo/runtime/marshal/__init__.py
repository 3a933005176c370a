"""Values passed between steps, stored by variable name (key) in the run's marshal directory.

Layout of a marshal directory::

    <key><suffix>               the value's bytes (``x.npy``, ``df.arrow``, ``model.pkl``, ``f.dill``)
    .kale/values/<key>.json     its metadata: codec, type, size, checksum, run id, producing step,
                                and, when the run has a key, an HMAC-SHA256 tag over all of it
    .<name>.<random>.tmp        a write in progress (or killed): never loaded

The data file is written atomically first and the metadata last, so a value exists exactly when
its metadata does: a step killed mid-write leaves nothing that loads. Every load checks, before
the value is used (and before anything is unpickled): the tag (with a key), the run (a value
another run stored is refused), the size and the checksum of every byte, memory-mapped arrays and
Arrow tables included, and for those the format's header.

Threat model: the checksum alone (CRC-32 without a key) catches torn, truncated and corrupted
files, not tampering. With a per-run key (``KALE_ARGO_MARSHAL_KEY_FILE``: locally a 0600 file in
the run's folder, on Argo a Secret owned by the Workflow and mounted only into its step pods) the
metadata is authenticated and the checksum is cryptographic (SHA-256, or BLAKE3 in local runs
where the ``blake3`` package is installed), so someone who can write the marshal
storage but cannot read the key (another workload on a shared volume, a file planted or left
from an earlier run) cannot make a step load a forged value or run code through pickle. Whoever
can read the key or runs code in the run's own steps is trusted; values are not encrypted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from typing import Any

from ...errors import MarshalError
from .binding import TAG_FIELD, RunBinding
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
    CRC32,
    KEYED,
    atomic_writer,
    check_algorithm,
    file_digest,
    free_space,
    fsync_directory,
    is_temp_name,
    map_verified,
)

__all__ = [
    "ENTRY_POINT_GROUP", "Codec", "MarshalError", "RunBinding", "describe", "list_values", "load",
    "recorded_checksum", "register_codec", "reset_entry_points", "save", "unregister_codec", "verify",
]

META_DIR = os.path.join(".kale", "values")
FORMAT = 2  # 2: a pickle may keep its large buffers after its stream (format 1 readers cannot load it)
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


def save(directory: str, key: str, value: Any, *, step: str | None = None,
         binding: RunBinding | None = None) -> dict[str, Any]:
    """Store ``value`` under ``key``, bound to ``binding``'s run (and tagged with its key); returns
    its metadata. Raises MarshalError naming step and key (and, for an OSError such as a full
    disk, the file and the free space), after removing whatever it partly wrote."""
    _check_key(key, step)
    binding = binding or RunBinding()
    mpath = meta_path(directory, key)
    try:
        os.makedirs(os.path.join(directory, META_DIR), exist_ok=True)
        old = _read_meta(directory, key, step, missing_ok=True, corrupt_ok=True)
        with contextlib.suppress(FileNotFoundError):  # the old value stops existing first
            os.unlink(mpath)
    except OSError as exc:
        raise _os_error(exc, step, key, mpath) from None
    codec = codec_for_value(value)
    path = os.path.join(directory, key + codec.suffix)
    algorithm = binding.algorithm
    try:
        codec, extra, out = _write(codec, directory, key, value, algorithm)
    except OSError as exc:
        raise _os_error(exc, step, key, getattr(exc, "filename", None) or path) from None
    except Exception as exc:
        raise MarshalError(f"{_where(step, key, path)}: cannot serialise a {type_name(value)} "
                           f"({_reason(exc)})") from exc
    path = os.path.join(directory, key + codec.suffix)
    meta: dict[str, Any] = {
        "format": FORMAT, "key": key, "codec": codec.name, "type": type_name(value),
        "file": os.path.basename(path), "bytes": out.size, algorithm: out.digest, "step": step,
        "run": binding.run_id, "created": time.time(), **extra,
    }
    tag = binding.tag(meta)
    if tag is not None:
        meta[TAG_FIELD] = tag
    # The data file is fsynced; the metadata, small, is renamed into place and both directories
    # fsynced once. After a power loss any inconsistent state (metadata lost or empty, data not
    # renamed) fails loudly on load: the metadata names the file, its size and its checksum.
    try:
        with atomic_writer(mpath, sync=False, sync_dir=False) as meta_out:
            meta_out.write(json.dumps(meta, sort_keys=True, indent=1).encode())
    except OSError as exc:  # no data file without its metadata
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise _os_error(exc, step, key, mpath) from None
    fsync_directory(os.path.dirname(mpath))
    fsync_directory(directory)
    if old and old.get("file") and old["file"] != meta["file"]:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, os.path.basename(old["file"])))
    return meta


def _os_error(exc: OSError, step: str | None, key: str, path: str) -> MarshalError:
    free = free_space(str(path))
    reason = exc.strerror or _reason(exc)
    return MarshalError(f"{_where(step, key, str(path))}: cannot write it ({reason}"
                        + (f"; {free} there" if free else "") + ")")


def _write(codec: Codec, directory: str, key: str, value: Any,
           algorithm: str) -> tuple[Codec, dict, Any]:
    from .pickled import NeedsDill

    try:
        path = os.path.join(directory, key + codec.suffix)
        with atomic_writer(path, sync_dir=False, algorithm=algorithm) as out:
            extra = codec.dump(value, out)
        return codec, extra, out
    except NeedsDill as exc:
        dill = codec_named("dill")
        assert dill is not None
        path = os.path.join(directory, key + dill.suffix)
        try:
            with atomic_writer(path, sync_dir=False, algorithm=algorithm) as out:
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


def check_binding(meta: dict[str, Any], binding: RunBinding, step: str | None, path: str) -> None:
    """Refuse (MarshalError) a value whose tag is missing or wrong, or that another run stored."""
    key = str(meta.get("key"))
    stored_run = meta.get("run")
    other_run = binding.run_id is not None and stored_run != binding.run_id
    if other_run:
        raise MarshalError(
            f"{_where(step, key, path)}: stored by run {stored_run or '(unknown)'}"
            f"{' (step ' + repr(meta.get('step')) + ')' if meta.get('step') else ''}, not by this "
            f"run {binding.run_id} (hint: a value from an earlier or concurrent run is never "
            "used; run the step that produces it in this run)")
    if binding.key is not None:
        import hmac

        tag = meta.get(TAG_FIELD)
        expected = binding.tag(meta)
        if not isinstance(tag, str) or expected is None or not hmac.compare_digest(tag, expected):
            raise MarshalError(
                f"{_where(step, key, path)}: {'no' if tag is None else 'a wrong'} authentication "
                "tag: refused unread (it was not stored by this run's steps, or was changed since)")


def recorded_checksum(meta: dict[str, Any]) -> tuple[str, int | str]:
    """(algorithm, checksum) a value's metadata records (ValueError if none, or if this
    interpreter cannot compute it)."""
    for algorithm in KEYED:
        if isinstance(meta.get(algorithm), str):
            check_algorithm(algorithm)
            return algorithm, meta[algorithm]
    crc = meta.get(CRC32)
    if isinstance(crc, int) and not isinstance(crc, bool):
        return CRC32, crc
    raise ValueError("metadata records no checksum")


def _verifiable(meta: dict[str, Any], step: str | None, key: str, path: str
                ) -> tuple[str, int | str]:
    try:
        return recorded_checksum(meta)
    except ValueError as exc:
        raise MarshalError(f"{_where(step, key, path)}: cannot verify it: {exc}") from None


def load(directory: str, key: str, *, step: str | None = None,
         binding: RunBinding | None = None) -> Any:
    """The value stored under ``key``. Raises MarshalError (missing, corrupt, truncated, from
    another run than ``binding``'s, or not tagged with its key)."""
    _check_key(key, step)
    meta = _read_meta(directory, key, step, missing_ok=False)
    assert meta is not None
    path = os.path.join(directory, os.path.basename(str(meta.get("file", ""))))
    if binding is not None:
        check_binding(meta, binding, step, path)
    codec = codec_named(str(meta["codec"]))
    if codec is None:
        raise MarshalError(f"{_where(step, key, path)}: stored by marshal codec "
                           f"{meta['codec']!r}, which is not installed (hint: install the package "
                           f"providing it in entry-point group {ENTRY_POINT_GROUP!r})")
    path = _data_path(directory, key, meta, step)
    algorithm, checksum = _verifiable(meta, step, key, path)
    try:
        if codec.lazy:
            if file_digest(path, int(meta["bytes"]), algorithm) != checksum:
                raise ValueError("checksum mismatch")
            codec.verify_header(path, meta)
            return codec.load_path(path, meta)
        data = map_verified(path, int(meta["bytes"]), checksum, algorithm)
        return codec.loads(data, meta)
    except MarshalError:
        raise
    except Exception as exc:
        raise MarshalError(f"{_where(step, key, path)}: corrupt or unloadable {meta['codec']} "
                           f"value ({_reason(exc)})") from exc


def verify(directory: str, key: str, *, step: str | None = None,
           binding: RunBinding | None = None) -> dict[str, Any]:
    """Check every byte of ``key`` against its checksum (and its run and tag, given ``binding``)."""
    meta = _read_meta(directory, key, step, missing_ok=False)
    assert meta is not None
    path = _data_path(directory, key, meta, step)
    if binding is not None:
        check_binding(meta, binding, step, path)
    algorithm, checksum = _verifiable(meta, step, key, path)
    try:
        ok = file_digest(path, int(meta["bytes"]), algorithm) == checksum
    except (OSError, ValueError, EOFError):
        ok = False
    if not ok:
        raise MarshalError(f"{_where(step, key, path)}: checksum mismatch")
    return meta
