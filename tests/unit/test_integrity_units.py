"""Checksums with a run key, the run binding, and the executor's output filter."""

from __future__ import annotations

import hashlib
import os
import sys

import blake3
import numpy as np
import pytest

from kale_argo.local.scheduler import printable
from kale_argo.runtime import marshal
from kale_argo.runtime.marshal import files
from kale_argo.runtime.marshal.binding import RunBinding, create_key_file, read_key


@pytest.mark.parametrize("algorithm, new", [("sha256", hashlib.sha256), ("blake3", blake3.blake3)])
def test_keyed_checksum_is_a_hash_over_chunk_digests(monkeypatch, algorithm, new):
    monkeypatch.setattr(files, "CHUNK", 1000)
    data = os.urandom(4500)
    expected = new(b"".join(new(data[i:i + 1000]).digest() for i in range(0, 4500, 1000))).hexdigest()
    assert files.digest_of_view(memoryview(data), algorithm) == expected
    monkeypatch.setattr(files, "HASH_THREADS", 1)
    assert files.digest_of_view(memoryview(data), algorithm) == expected


@pytest.mark.parametrize("algorithm", ["sha256", "blake3"])
@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_a_flipped_byte_in_a_keyed_multi_chunk_array_fails(tmp_path, monkeypatch, where, algorithm):
    monkeypatch.setattr(files, "CHUNK", 1 << 16)
    binding = RunBinding("r", b"secret", None if algorithm == "sha256" else algorithm)
    meta = marshal.save(str(tmp_path), "x", np.ones(1 << 17), step="make", binding=binding)
    assert meta[algorithm] and meta["hmac"] and {"crc32", "sha256", "blake3"} & set(meta) == {algorithm}
    path = tmp_path / meta["file"]
    with open(path, "r+b") as fh:
        fh.seek(int(meta["bytes"] * where))
        fh.write(b"\x07")
    with pytest.raises(marshal.MarshalError, match="checksum mismatch"):
        marshal.load(str(tmp_path), "x", step="use", binding=binding)


def test_a_value_tagged_with_another_key_is_refused(tmp_path):
    marshal.save(str(tmp_path), "x", 1, step="make", binding=RunBinding("r", b"one"))
    assert marshal.load(str(tmp_path), "x", binding=RunBinding("r", b"one")) == 1
    with pytest.raises(marshal.MarshalError, match="wrong authentication tag"):
        marshal.load(str(tmp_path), "x", step="use", binding=RunBinding("r", b"two"))


def test_key_file_is_private_and_read_back(tmp_path):
    path = str(tmp_path / "run" / "key")
    key = create_key_file(path)
    assert read_key(path) == key and len(key) >= 32
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert [p for p in os.listdir(tmp_path / "run")] == ["key"]


def test_binding_from_env(tmp_path):
    path = str(tmp_path / "key")
    create_key_file(path)
    got = RunBinding.from_env({"KALE_ARGO_RUN_ID": "uid", "KALE_ARGO_MARSHAL_KEY_FILE": path})
    assert got.run_id == "uid" and got.key == read_key(path)
    assert RunBinding.from_env({}) == RunBinding()
    with pytest.raises(marshal.MarshalError, match="cannot read it"):
        RunBinding.from_env({"KALE_ARGO_MARSHAL_KEY_FILE": str(tmp_path / "missing")})
    keyed = {"KALE_ARGO_MARSHAL_KEY_FILE": path}
    assert RunBinding.from_env(keyed).algorithm == "sha256"
    assert RunBinding.from_env({**keyed, "KALE_ARGO_CHECKSUM": "blake3"}).algorithm == "blake3"
    assert RunBinding(None, None, "blake3").algorithm == "crc32"  # no key: a checksum, not a MAC input
    for bad in ("crc32", "md5"):  # a forgeable checksum under a key, or an unknown one
        with pytest.raises(marshal.MarshalError, match=f"KALE_ARGO_CHECKSUM='{bad}'"):
            RunBinding.from_env({**keyed, "KALE_ARGO_CHECKSUM": bad})


def test_without_blake3_runs_use_sha256_and_a_blake3_value_fails_in_one_line(tmp_path, monkeypatch):
    binding = RunBinding("r", b"secret", "blake3")
    marshal.save(str(tmp_path), "x", [1, 2], step="make", binding=binding)
    assert files.best_keyed() == "blake3"
    monkeypatch.setitem(sys.modules, "blake3", None)  # as where the package is not installed
    assert files.best_keyed() == "sha256"
    with pytest.raises(marshal.MarshalError, match="blake3"):
        RunBinding.from_env({"KALE_ARGO_CHECKSUM": "blake3"})
    with pytest.raises(marshal.MarshalError,
                       match=r"step 'use', variable 'x'.*cannot verify it.*hint: pip install blake3"):
        marshal.load(str(tmp_path), "x", step="use", binding=binding)
    with pytest.raises(marshal.MarshalError, match="cannot verify it"):
        marshal.verify(str(tmp_path), "x", binding=binding)


@pytest.mark.parametrize("raw, shown", [
    ("\x1b[31mred\x1b[0m", "red"), ("a\x1b]0;title\x07b", "ab"), ("10%\r20%\r", "20%"),
    ("x\x00y\x07z\tq", "xyz\tq"), ("\x9b2Jclear", "clear"), ("ok é", "ok é"),
])
def test_printable_strips_terminal_control(raw, shown):
    assert printable(raw) == shown
