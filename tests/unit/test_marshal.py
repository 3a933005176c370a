"""Marshalling: round trips per codec, metadata, unserialisable values, the dill fallback."""

from __future__ import annotations

import os
import socket
import sys
import threading

import numpy as np
import pandas as pd
import pytest

from kale_argo.runtime import marshal
from kale_argo.runtime.marshal import MarshalError


def files(directory) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n != ".kale")


@pytest.mark.parametrize("array", [
    np.arange(12, dtype=np.float64).reshape(3, 4),
    np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)),
    np.arange(40, dtype=np.int16).reshape(5, 8)[::2, 1::3],  # not contiguous
    np.zeros(0),
    np.array(3.5),
    np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
    np.array([True, False]),
], ids=["c", "fortran", "strided", "empty", "0d", "structured", "bool"])
def test_numpy_round_trip(tmp_path, array):
    meta = marshal.save(str(tmp_path), "x", array, step="make")
    assert meta["codec"] == "numpy" and meta["file"] == "x.npy" and meta["step"] == "make"
    loaded = marshal.load(str(tmp_path), "x")
    assert type(loaded) is np.ndarray
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)
    # also a valid .npy for anyone else
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), array)


def test_numpy_load_is_memory_mapped_and_copy_on_write(tmp_path):
    marshal.save(str(tmp_path), "x", np.arange(1000.0))
    loaded = marshal.load(str(tmp_path), "x")
    base = loaded
    while getattr(base, "base", None) is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)
    loaded[0] = -1.0  # writable, private: the stored value does not change
    assert marshal.load(str(tmp_path), "x")[0] == 0.0
    marshal.verify(str(tmp_path), "x")


def test_object_array_goes_to_pickle(tmp_path):
    meta = marshal.save(str(tmp_path), "x", np.array([{"a": 1}, None], dtype=object))
    assert meta["codec"] == "pickle"
    assert marshal.load(str(tmp_path), "x")[0] == {"a": 1}


FRAMES = {
    "numeric": pd.DataFrame({"a": np.arange(5.0), "b": np.arange(5), "c": [True] * 5}),
    "index": pd.DataFrame({"a": [1.0, 2.0]}, index=pd.Index([10, 20], name="id")),
    "dates": pd.DataFrame({"t": pd.date_range("2024-01-01", periods=3), "v": [1, 2, 3]}),
    "empty": pd.DataFrame({"a": np.zeros(0)}),
    "missing": pd.DataFrame({"a": [1.0, np.nan], "t": pd.to_datetime(["2024-01-01", None])}),
    "named-range": pd.DataFrame({"a": [1, 2]}, index=pd.RangeIndex(2, name="row")),
}


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_dataframe_round_trip_arrow(tmp_path, name):
    frame = FRAMES[name]
    meta = marshal.save(str(tmp_path), "df", frame)
    assert meta["codec"] == "arrow" and meta["type"] == "pandas.DataFrame"
    pd.testing.assert_frame_equal(marshal.load(str(tmp_path), "df"), frame)


@pytest.mark.parametrize("series", [pd.Series([1.0, 2.0], name="s"), pd.Series([1, 2, 3])])
def test_series_round_trip(tmp_path, series):
    assert marshal.save(str(tmp_path), "s", series)["codec"] == "arrow"
    pd.testing.assert_series_equal(marshal.load(str(tmp_path), "s"), series)


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"a": ["x", 1]}),  # mixed objects
    pd.DataFrame({1: [1.0], 2: [2.0]}),  # non-string labels
    pd.DataFrame({"a": [1]}, index=pd.MultiIndex.from_tuples([(1, 2)])),
    pd.DataFrame({"a": pd.array([1, None], dtype="Int64")}),
])
def test_frames_of_other_shapes_round_trip_through_arrow_too(tmp_path, frame):
    # a column Arrow cannot hold exactly (mixed objects) is pickled alone: tests/unit/test_frames.py
    assert marshal.save(str(tmp_path), "df", frame)["codec"] == "arrow"
    pd.testing.assert_frame_equal(marshal.load(str(tmp_path), "df"), frame)


def test_frame_attrs_kept(tmp_path):
    frame = pd.DataFrame({"a": [1.0]})
    frame.attrs["source"] = "lab"
    marshal.save(str(tmp_path), "df", frame)
    assert marshal.load(str(tmp_path), "df").attrs == {"source": "lab"}


def test_frame_without_pyarrow_uses_pickle(tmp_path, monkeypatch):
    from kale_argo.runtime.marshal.frame import FrameCodec

    monkeypatch.setattr(FrameCodec, "_has_arrow", False)
    frame = FRAMES["numeric"]
    assert marshal.save(str(tmp_path), "df", frame)["codec"] == "pickle"
    pd.testing.assert_frame_equal(marshal.load(str(tmp_path), "df"), frame)


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, "x"], "b": (None, True)}, "text", 42, {1, 2}, b"\x00\x01", [1] * 1000,
])
def test_ordinary_objects_use_pickle(tmp_path, value):
    meta = marshal.save(str(tmp_path), "v", value)
    assert meta["codec"] == "pickle" and meta["bytes"] == os.path.getsize(tmp_path / "v.pkl")
    assert marshal.load(str(tmp_path), "v") == value


def _mapped_base(array):
    """The object at the bottom of ``array``'s ``base`` chain (a memoryview's ``obj`` followed)."""
    base = array
    while True:
        nxt = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
        if nxt is None:
            return base
        base = nxt


def test_large_buffers_of_a_pickle_are_stored_after_it_and_loaded_in_place(tmp_path):
    import mmap
    import pickle

    from kale_argo.runtime.marshal.pickled import ALIGN, OUT_OF_BAND_MIN

    big = np.arange(OUT_OF_BAND_MIN // 8 + 3, dtype=np.float64)  # not a multiple of ALIGN
    frozen = np.arange(20_000, dtype=np.int32)
    frozen.flags.writeable = False
    value = {"big": big, "fortran": np.asfortranarray(np.ones((300, 50))), "frozen": frozen,
             "small": np.arange(10), "strided": np.arange(40_000.0)[::2], "text": "kept"}
    meta = marshal.save(str(tmp_path), "v", value)
    assert meta["codec"] == "pickle"
    sizes = [big.nbytes, 300 * 50 * 8, frozen.nbytes]
    assert sorted(meta["buffers"]) == sorted(sizes)  # small and strided arrays stay in the stream
    data = (tmp_path / "v.pkl").read_bytes()
    assert meta["pickle_bytes"] < len(data) - sum(sizes) and len(data) == meta["bytes"]
    with pytest.raises(pickle.UnpicklingError):  # the stream refers to its buffers
        pickle.loads(data[:meta["pickle_bytes"]])

    loaded = marshal.load(str(tmp_path), "v")
    assert loaded.keys() == value.keys() and loaded["text"] == "kept"
    for name, array in value.items():
        if name != "text":
            np.testing.assert_array_equal(loaded[name], array)
            assert loaded[name].dtype == array.dtype
    assert loaded["fortran"].flags.f_contiguous
    assert not loaded["frozen"].flags.writeable  # a read-only array stays read-only
    assert isinstance(_mapped_base(loaded["big"]), mmap.mmap)  # in place, not copied
    assert loaded["big"].ctypes.data % ALIGN == 0
    loaded["big"][0] = -1.0  # writable and private: the stored value does not change
    assert marshal.load(str(tmp_path), "v")["big"][0] == 0.0
    marshal.verify(str(tmp_path), "v")


def test_a_pickle_without_large_buffers_is_the_stream_alone(tmp_path):
    import pickle

    value = {"a": np.arange(100), "b": list(range(50_000))}
    meta = marshal.save(str(tmp_path), "v", value)
    assert "buffers" not in meta and "pickle_bytes" not in meta
    loaded = pickle.loads((tmp_path / "v.pkl").read_bytes())
    assert loaded["b"] == value["b"] and (loaded["a"] == value["a"]).all()


def make_closure(n):
    return lambda x: x + n


def test_lambdas_and_closures_fall_back_to_dill(tmp_path):
    meta = marshal.save(str(tmp_path), "f", make_closure(3))
    assert meta["codec"] == "dill" and files(tmp_path) == ["f.dill"]
    assert marshal.load(str(tmp_path), "f")(1) == 4
    assert marshal.save(str(tmp_path), "g", {"fn": lambda: 7})["codec"] == "dill"
    assert marshal.load(str(tmp_path), "g")["fn"]() == 7


def test_top_level_function_pickles_by_reference(tmp_path):
    assert marshal.save(str(tmp_path), "f", make_closure)["codec"] == "pickle"


def gen():
    yield 1


@pytest.mark.parametrize("make", [
    gen, threading.Lock, threading.RLock, lambda: {"sock": socket.socket()},
    lambda: [open(os.devnull)],  # noqa: SIM115 - closed below
], ids=["generator", "lock", "rlock", "socket", "file"])
def test_unserialisable_values_fail_naming_step_and_variable(tmp_path, make):
    value = make()
    with pytest.raises(MarshalError) as err:
        marshal.save(str(tmp_path), "bad", value, step="train")
    assert "step 'train'" in str(err.value) and "variable 'bad'" in str(err.value)
    assert files(tmp_path) == [] and marshal.describe(str(tmp_path), "bad") is None
    for obj in (value.values() if isinstance(value, dict) else value if isinstance(value, list) else []):
        obj.close()


def test_without_dill_pickle_still_works_and_dill_values_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dill", None)  # import dill -> ImportError
    assert marshal.save(str(tmp_path), "ok", {"a": 1})["codec"] == "pickle"
    with pytest.raises(MarshalError, match=r"variable 'f'.*dill, which is not installed"):
        marshal.save(str(tmp_path), "f", lambda: 1, step="s")
    assert files(tmp_path) == ["ok.pkl"]


def test_loading_dill_value_without_dill_fails_clearly(tmp_path, monkeypatch):
    marshal.save(str(tmp_path), "f", lambda: 1)
    monkeypatch.setitem(sys.modules, "dill", None)
    with pytest.raises(MarshalError, match="dill, which is not installed"):
        marshal.load(str(tmp_path), "f", step="use")


def test_describe_and_list_values(tmp_path):
    d = str(tmp_path)
    assert marshal.list_values(d) == [] and marshal.describe(d, "x") is None
    marshal.save(d, "b", [1], step="s1")
    marshal.save(d, "a", np.ones(3), step="s2")
    listed = marshal.list_values(d)
    assert [m["key"] for m in listed] == ["a", "b"]
    meta = marshal.describe(d, "a")
    assert meta is not None
    assert {"codec", "type", "bytes", "crc32", "step", "file"} <= set(meta)
    assert meta["type"] == "numpy.ndarray" and meta["step"] == "s2"


def test_resave_with_another_codec_replaces_value_and_file(tmp_path):
    d = str(tmp_path)
    marshal.save(d, "x", np.ones(3))
    marshal.save(d, "x", {"now": "a dict"})
    assert marshal.load(d, "x") == {"now": "a dict"} and files(tmp_path) == ["x.pkl"]


@pytest.mark.parametrize("key", ["", "../x", "a/b", ".hidden", "x.tmp"])
def test_bad_keys_are_refused(tmp_path, key):
    with pytest.raises(MarshalError, match="not a valid marshal key"):
        marshal.save(str(tmp_path), key, 1, step="s")


@pytest.mark.parametrize("key", ["données", "μ_model", "模型"])
def test_variables_with_non_ascii_names_are_values(tmp_path, key):
    """A pipeline variable may be any Python identifier; its value marshals like any other."""
    d = str(tmp_path)
    marshal.save(d, key, {"v": 1}, step="s")
    marshal.save(d, key + "_array", np.arange(3), step="s")
    assert marshal.load(d, key, step="t") == {"v": 1}
    assert marshal.load(d, key + "_array").tolist() == [0, 1, 2]


def test_missing_value_names_variable_and_step(tmp_path):
    with pytest.raises(MarshalError, match=r"step 'use', variable 'nope'.*no such value"):
        marshal.load(str(tmp_path), "nope", step="use")


def test_loaded_frame_is_lazy_writable_and_leaves_the_file_intact(tmp_path):
    frame = pd.DataFrame({"a": np.arange(4.0), "b": np.arange(4), "t": pd.date_range("2024", periods=4),
                          "flag": [True, False, True, False]})
    marshal.save(str(tmp_path), "df", frame)
    loaded = marshal.load(str(tmp_path), "df")
    a = loaded["a"].to_numpy()
    base = a
    while getattr(base, "base", None) is not None:
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    assert type(base).__name__ == "mmap"  # mapped in place, not read into memory
    loaded.loc[0, "a"] = 100.0
    loaded["b"] += 1
    loaded.loc[1, "flag"] = True
    assert loaded.loc[0, "a"] == 100.0 and loaded["b"].tolist() == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(marshal.load(str(tmp_path), "df"), frame)
