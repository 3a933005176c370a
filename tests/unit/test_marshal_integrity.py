"""Atomic writes and loud failures: interrupted writes, corruption, truncation, bad metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kale_argo.runtime import marshal
from kale_argo.runtime.marshal import Codec, MarshalError


class Interrupted(Exception):
    pass


class Exploding:
    """A value whose codec dies halfway through writing it (a step killed mid-write)."""


class HalfWriter(Codec):
    name = "half"
    suffix = ".half"

    def claims(self, value):
        return isinstance(value, Exploding)

    def dump(self, value, out):
        out.write(b"x" * 1000)
        raise Interrupted("killed")


@pytest.fixture
def half_codec():
    marshal.register_codec(HalfWriter)
    yield
    marshal.unregister_codec("half")


def test_interrupted_write_leaves_nothing_loadable(tmp_path, half_codec):
    d = str(tmp_path)
    marshal.save(d, "x", [1, 2])
    with pytest.raises(MarshalError, match="variable 'x'"):
        marshal.save(d, "x", Exploding(), step="s")
    assert [n for n in os.listdir(d) if n.endswith(".tmp")] == []
    with pytest.raises(MarshalError, match="no such value"):
        marshal.load(d, "x")  # the old value stopped existing when its replacement began


def test_leftover_temp_file_and_data_without_metadata_never_load(tmp_path):
    d = str(tmp_path)
    (tmp_path / ".x.pkl.0123456789ab.tmp").write_bytes(b"partial")
    marshal.save(d, "y", 5)
    os.unlink(marshal.meta_path(d, "y"))  # killed between the data file and its metadata
    (tmp_path / "z.pkl").write_bytes((tmp_path / "y.pkl").read_bytes())
    assert marshal.list_values(d) == []
    for key in ("x", "y", "z"):
        with pytest.raises(MarshalError, match="no such value"):
            marshal.load(d, key, step="use")


def test_half_written_metadata_temp_is_ignored(tmp_path):
    d = str(tmp_path)
    marshal.save(d, "a", 1)
    folder = os.path.dirname(marshal.meta_path(d, "a"))
    with open(os.path.join(folder, ".b.json.abcdef012345.tmp"), "w") as fh:
        fh.write('{"key": "b", "back')
    assert [m["key"] for m in marshal.list_values(d)] == ["a"]


def flip(path, offset):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


VALUES = {
    "pickle": {"numbers": list(range(1000))},
    "arrow": pd.DataFrame({"a": np.arange(1000.0)}),
    "dill": lambda: 1,
    "numpy": np.arange(1000.0),
}


@pytest.mark.parametrize("codec", sorted(VALUES))
def test_corrupted_byte_fails_loudly(tmp_path, codec):
    d = str(tmp_path)
    meta = marshal.save(d, "v", VALUES[codec], step="make")
    path = tmp_path / meta["file"]
    flip(path, meta["bytes"] - 20)
    with pytest.raises(MarshalError) as err:
        marshal.load(d, "v", step="use")
    text = str(err.value)
    assert "step 'use'" in text and "variable 'v'" in text and str(path) in text
    assert "checksum" in text


@pytest.mark.parametrize("codec", sorted(VALUES))
def test_truncated_file_fails_loudly(tmp_path, codec):
    d = str(tmp_path)
    meta = marshal.save(d, "v", VALUES[codec])
    path = tmp_path / meta["file"]
    os.truncate(path, meta["bytes"] // 2)
    with pytest.raises(MarshalError, match=rf"variable 'v', file {path}: truncated"):
        marshal.load(d, "v", step="use")


def test_truncated_then_padded_array_is_detected(tmp_path):
    d = str(tmp_path)
    meta = marshal.save(d, "v", np.ones(1 << 20))  # 8 MiB, loaded memory-mapped
    path = tmp_path / meta["file"]
    size = meta["bytes"]
    os.truncate(path, size // 2)
    os.truncate(path, size)  # same size, zeros at the end
    with pytest.raises(MarshalError, match="checksum mismatch"):
        marshal.load(d, "v")


BIG = {
    "numpy": lambda: np.ones(1 << 20),
    "arrow": lambda: pd.DataFrame({"a": np.ones(1 << 19), "b": np.arange(1 << 19)}),
    "pickle": lambda: [1.0] * (1 << 18),
}


@pytest.mark.parametrize("codec", sorted(BIG))
@pytest.mark.parametrize("where", [0.3, 0.5, 0.77])
def test_corruption_anywhere_fails_the_load(tmp_path, codec, where):
    """A flipped byte in the middle of a memory-mapped value is caught before it is used."""
    d = str(tmp_path)
    meta = marshal.save(d, "v", BIG[codec](), step="make")
    assert meta["codec"] == codec
    flip(tmp_path / meta["file"], int(meta["bytes"] * where))
    with pytest.raises(MarshalError, match=r"step 'use', variable 'v'.*checksum mismatch"):
        marshal.load(d, "v", step="use")
    with pytest.raises(MarshalError, match="checksum mismatch"):
        marshal.verify(d, "v", step="audit")


def test_array_header_disagreeing_with_metadata_fails(tmp_path):
    d = str(tmp_path)
    marshal.save(d, "v", np.arange(6.0))
    mpath = marshal.meta_path(d, "v")
    meta = json.loads(Path(mpath).read_text())
    meta["shape"] = [3]
    with open(mpath, "w") as fh:
        json.dump(meta, fh)
    with pytest.raises(MarshalError, match="header says"):
        marshal.load(d, "v")


@pytest.mark.parametrize("change", [
    {"buffers": [8]}, {"buffers": ["8"]}, {"buffers": [-1, 1 << 20]}, {"pickle_bytes": 10**9},
    {"pickle_bytes": True}, {"buffers": None},
], ids=["short", "text", "negative", "beyond", "bool", "none"])
def test_a_pickle_whose_buffer_layout_disagrees_with_its_file_fails(tmp_path, change):
    d = str(tmp_path)
    marshal.save(d, "v", {"a": np.ones(1 << 17)})
    mpath = marshal.meta_path(d, "v")
    meta = json.loads(Path(mpath).read_text())
    assert meta["buffers"] == [1 << 20]
    meta.update(change)
    with open(mpath, "w") as fh:
        json.dump(meta, fh)
    with pytest.raises(MarshalError, match=r"variable 'v'.*corrupt or unloadable pickle value "
                                           r"\(its (metadata's buffer layout|buffers end)"):
        marshal.load(d, "v", step="use")


def test_unreadable_metadata_fails_loudly(tmp_path):
    d = str(tmp_path)
    marshal.save(d, "v", 1)
    with open(marshal.meta_path(d, "v"), "w") as fh:
        fh.write("{not json")
    with pytest.raises(MarshalError, match="unreadable metadata"):
        marshal.load(d, "v", step="use")


def test_missing_data_file_fails_loudly(tmp_path):
    d = str(tmp_path)
    marshal.save(d, "v", 1)
    os.unlink(tmp_path / "v.pkl")
    with pytest.raises(MarshalError, match="data file is missing"):
        marshal.load(d, "v")


def test_unknown_codec_in_metadata(tmp_path):
    d = str(tmp_path)
    marshal.save(d, "v", 1)
    mpath = marshal.meta_path(d, "v")
    meta = json.loads(Path(mpath).read_text())
    meta["codec"] = "zarr-store"
    with open(mpath, "w") as fh:
        json.dump(meta, fh)
    with pytest.raises(MarshalError, match="'zarr-store', which is not installed"):
        marshal.load(d, "v", step="use")
