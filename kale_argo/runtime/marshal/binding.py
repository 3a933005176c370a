"""Which run a value belongs to, and the per-run key that authenticates its metadata.

A step learns its run from the environment: ``KALE_ARGO_RUN_ID`` (the local executor sets a fresh
id per run; Argo pods get ``{{workflow.uid}}``) and ``KALE_ARGO_MARSHAL_KEY_FILE``, the path of a
file holding the run's secret key (locally inside the run's marshal folder, mode 0600; on Argo a
Secret mounted at :data:`POD_KEY_FILE`). With a key, each value's metadata carries an HMAC-SHA256
tag over its canonical JSON (codec, file, size, checksum, run id, step, variable...).
``KALE_ARGO_CHECKSUM`` names the keyed checksum the run's values use (``blake3``: the local
executor sets it when the package is installed, its steps running in the same interpreter); without
it, SHA-256, which every Python has (a pod's image may lack ``blake3``).
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple

from ...errors import MarshalError

RUN_ID_ENV = "KALE_ARGO_RUN_ID"
KEY_FILE_ENV = "KALE_ARGO_MARSHAL_KEY_FILE"
CHECKSUM_ENV = "KALE_ARGO_CHECKSUM"
POD_KEY_FILE = "/var/run/kale-argo/marshal-key/key"
TAG_FIELD = "hmac"
KEY_BYTES = 32


class RunBinding(NamedTuple):
    """The run a step belongs to (``run_id``), its key (``key``) and the keyed checksum its values
    use (``checksum``, default SHA-256); any may be absent. (A named tuple: every step process
    imports this, and dataclasses costs it ~5 ms.)"""

    run_id: str | None = None
    key: bytes | None = None
    checksum: str | None = None

    def __repr__(self) -> str:
        return (f"RunBinding(run_id={self.run_id!r}, key={'<set>' if self.key else None}, "
                f"checksum={self.checksum!r})")

    @property
    def algorithm(self) -> str:
        """The checksum a value saved under this binding records: CRC-32 without a key."""
        from .files import CRC32, SHA256

        return (self.checksum or SHA256) if self.key is not None else CRC32

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> RunBinding:
        """The binding the environment gives this process (MarshalError if the key is unreadable
        or the checksum unknown or not installed)."""
        env = os.environ if environ is None else environ
        run_id = env.get(RUN_ID_ENV) or None
        key_file = env.get(KEY_FILE_ENV)
        checksum = env.get(CHECKSUM_ENV) or None
        if checksum is not None:
            from .files import KEYED, check_algorithm

            try:
                if checksum not in KEYED:
                    raise ValueError(f"not one of {', '.join(KEYED)}")
                check_algorithm(checksum)
            except ValueError as exc:
                raise MarshalError(f"{CHECKSUM_ENV}={checksum!r}: {exc}") from None
        return cls(run_id, read_key(key_file) if key_file else None, checksum)

    def tag(self, meta: dict[str, Any]) -> str | None:
        """The HMAC-SHA256 tag of ``meta`` (without its own tag field), or None without a key."""
        if self.key is None:
            return None
        import hashlib
        import hmac

        body = {k: v for k, v in meta.items() if k != TAG_FIELD}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


def read_key(path: str) -> bytes:
    """The key bytes in ``path``; MarshalError naming the file if it is missing, unreadable or empty."""
    try:
        with open(path, "rb") as fh:
            key = fh.read()
    except OSError as exc:
        raise MarshalError(f"marshal key file {path} ({KEY_FILE_ENV}): cannot read it "
                           f"({exc.strerror or exc})") from None
    if not key.strip():
        raise MarshalError(f"marshal key file {path} ({KEY_FILE_ENV}) is empty")
    return key


def create_key_file(path: str) -> bytes:
    """Write a fresh random key to ``path`` atomically, readable by its owner only (0600)."""
    from .files import atomic_writer

    key = os.urandom(KEY_BYTES).hex().encode()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with atomic_writer(path, mode=0o600) as out:
        out.write(key)
    return key
