"""pandas DataFrames and Series as an Arrow IPC file plus a small pickled skeleton, when pyarrow
is installed.

File layout: an Arrow IPC file (Feather v2, uncompressed) with one field per column that Arrow
represents exactly (``c<position>``, and ``i`` for a flat index), followed by a pickle (protocol 5)
of the frame's *skeleton*: the column labels (any labels, duplicates, a MultiIndex), the index when
Arrow does not hold it (RangeIndex, MultiIndex, ...), ``attrs``, each column's exact dtype, and the
columns Arrow cannot represent exactly (the *fallback*, per column, named in the value's metadata
and in the run's summary). The metadata records where the Arrow part ends (``arrow_bytes``).

Written as Arrow: numpy numeric, bool, datetime64 and timedelta64 columns (from pandas' own memory,
NaN and NaT kept as values), pandas' string dtypes, object columns holding only ``str`` (and
``None``; when most rows share a few string objects, as after a lookup, the skeleton holds each
distinct object once and an integer code a row, found by identity while Arrow writes the other
columns: as exact as pickle's memo, loaded with one ``take``), nullable integers, floats and
booleans (their values and their mask, as two fields), timezone-aware datetimes, categoricals
(their codes; the categories travel with the dtype), ``pd.ArrowDtype``.
Everything else (periods, intervals, sparse, complex, mixed objects) is pickled in the skeleton.

Loading memory-maps the file copy-on-write and wraps each numeric, datetime and categorical-code
column without nulls in place (writable; a page is copied only when the step writes to it); string
columns of pandas' pyarrow-backed string dtype stay in the mapping too. The whole file's checksum
is verified before any of it is used (:func:`kale_argo.runtime.marshal.load`).
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
import threading
from typing import Any

from .codec import Codec

_NUMPY_KINDS = "biufmM"
LAYOUT = 2  # this file layout (Arrow IPC + pickled skeleton)


class FrameCodec(Codec):
    name = "arrow"
    suffix = ".arrow"
    lazy = True
    _has_arrow: bool | None = None

    def claims(self, value: Any) -> bool:
        pd = sys.modules.get("pandas")
        if pd is None or type(value) not in (pd.DataFrame, pd.Series):
            return False
        if FrameCodec._has_arrow is None:
            FrameCodec._has_arrow = importlib.util.find_spec("pyarrow") is not None
        return FrameCodec._has_arrow

    def dump(self, value: Any, out: Any) -> dict[str, Any]:
        import os

        import pandas as pd
        import pyarrow as pa

        series = isinstance(value, pd.Series)
        frame = value.to_frame() if series else value
        fields, arrays, kinds, dtypes, fallback, fallback_names = [], [], [], [], {}, []
        by_identity: dict[int, Any] = {}
        for i in range(frame.shape[1]):
            column = frame.iloc[:, i]
            encoded = _encode(column.array, column.dtype, pa, pd)
            dtypes.append(column.dtype)
            if encoded is None:
                fallback[i] = column.array
                fallback_names.append(f"{_label(frame.columns[i])} ({column.dtype})")
                kinds.append("pickle")
            elif encoded[0] == "refs":  # coded while Arrow writes the rest: not a fallback
                kinds.append("refs")
                by_identity[i] = encoded[1]
            elif encoded[0] == "masked":
                kinds.append("masked")
                fields += [f"c{i}", f"m{i}"]
                arrays += list(encoded[1])
            else:
                kinds.append(encoded[0])
                fields.append(f"c{i}")
                arrays.append(encoded[1])
        index = frame.index
        index_kind = None
        if type(index) is pd.Index:  # DatetimeIndex etc. (a freq), RangeIndex, MultiIndex: pickled
            encoded = _encode(index.array, index.dtype, pa, pd)
            if encoded is not None and encoded[1] is not None and encoded[0] != "masked":
                index_kind = encoded[0]
                fields.append("i")
                arrays.append(encoded[1])
        skeleton = {
            "layout": LAYOUT, "series": series, "name": value.name if series else None,
            "columns": frame.columns, "index": None if index_kind else index,
            "index_kind": index_kind, "index_dtype": index.dtype, "index_name": index.names,
            "kinds": kinds, "dtypes": dtypes, "fallback": fallback, "attrs": dict(value.attrs),
            "rows": len(frame), "flags": value.flags.allows_duplicate_labels,
        }
        table = pa.Table.from_arrays(arrays, names=fields) if arrays else pa.table({})
        failed: list[BaseException] = []

        def write_arrow() -> None:  # Arrow writes without the GIL: the skeleton pickles meanwhile
            try:  # appended to the new, empty file: truncating it ("wb") would make ext4 write it
                # all back at close (auto_da_alloc), before the hashing that overlaps the fsync
                with pa.OSFile(out.path, "ab") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                    writer.write_table(table)
            except BaseException as exc:  # re-raised in the caller's thread
                failed.append(exc)

        writer_thread = threading.Thread(target=write_arrow, daemon=True)
        writer_thread.start()
        try:
            for i, objects in by_identity.items():
                fallback[i] = _by_identity(objects, pd)
            pickled = pickle.dumps(skeleton, protocol=5)
        finally:
            writer_thread.join()
        if failed:
            raise failed[0]
        arrow_bytes = os.path.getsize(out.path)
        os.lseek(out.fd, 0, os.SEEK_END)
        out.write(pickled)
        extra: dict[str, Any] = {"shape": list(value.shape), "layout": LAYOUT,
                                 "arrow_bytes": arrow_bytes}
        if fallback_names:
            extra["fallback"] = fallback_names
        if series:
            extra["series"] = True
        return extra

    def verify_header(self, path: str, meta: dict[str, Any]) -> None:
        import pyarrow as pa

        if meta.get("layout") != LAYOUT:
            raise ValueError(f"unknown DataFrame layout {meta.get('layout')!r}")
        with pa.memory_map(path, "r") as source:
            arrow = source.read_buffer(int(meta["arrow_bytes"]))
            reader = pa.ipc.open_file(arrow)  # checks both magics and the footer
            rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
            fields = reader.schema.names
        shape = meta.get("shape") or []
        if fields and shape and rows != shape[0]:
            raise ValueError(f"file has {rows} rows, metadata says {shape[0]}")

    def load_path(self, path: str, meta: dict[str, Any]) -> Any:
        import mmap

        import pandas as pd
        import pyarrow as pa

        with open(path, "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
        whole = pa.py_buffer(mapped)
        arrow_bytes = int(meta["arrow_bytes"])
        table = pa.ipc.open_file(whole[:arrow_bytes]).read_all()
        skeleton = pickle.loads(memoryview(mapped)[arrow_bytes:])
        base = whole.address
        rows = skeleton["rows"]
        positions = pd.RangeIndex(rows)
        data: dict[int, Any] = {}
        for i, (kind, dtype) in enumerate(zip(skeleton["kinds"], skeleton["dtypes"], strict=True)):
            if kind in ("pickle", "strings"):  # "strings": the layout's earlier way for "refs"
                values = skeleton["fallback"][i]
            elif kind == "refs":
                codes, distinct = skeleton["fallback"][i]
                values = distinct.take(codes)
            elif kind == "masked":
                values = _decode_masked(table.column(f"c{i}"), table.column(f"m{i}"), dtype,
                                        mapped, base, pd)
            else:
                values = _decode(kind, table.column(f"c{i}"), dtype, mapped, base, pd)
            data[i] = pd.Series(values, index=positions, dtype=dtype, copy=False)
        if skeleton["index_kind"]:
            values = _decode(skeleton["index_kind"], table.column("i"), skeleton["index_dtype"],
                             mapped, base, pd)
            index = pd.Index(values, dtype=skeleton["index_dtype"], copy=False,
                             name=skeleton["index_name"][0])
        else:
            index = skeleton["index"]
        frame = pd.DataFrame(data, index=positions, copy=False) if data else pd.DataFrame(
            index=positions)
        frame.columns = skeleton["columns"]
        frame.index = index
        frame.attrs = skeleton["attrs"]
        if not skeleton["flags"]:
            frame = frame.set_flags(allows_duplicate_labels=False)
        if skeleton["series"]:
            series = frame.iloc[:, 0]
            series.name = skeleton["name"]
            series.attrs = skeleton["attrs"]
            return series
        return frame


def _label(label: Any) -> str:
    text = repr(label)
    return text if len(text) <= 60 else text[:57] + "..."


def _encode(values: Any, dtype: Any, pa: Any, pd: Any) -> tuple[str, Any] | None:
    """(how it is decoded, the Arrow array) of one column's values, or None if Arrow cannot hold
    them exactly."""
    import numpy as np

    if isinstance(dtype, np.dtype):
        array = np.asarray(values)
        if dtype.kind in _NUMPY_KINDS and dtype.itemsize > 0:
            if dtype.kind in "mM":  # NaT kept as its value: the bytes round-trip
                return "numpy", pa.array(array.view(f"<i{dtype.itemsize}"))
            return "numpy", pa.array(array, from_pandas=False)
        if dtype.kind == "O" and _repeats(array) and _only_strings(array[:4096], pd):
            return "refs", array  # each object stored once, as pickle's memo does, and a code a row
        if dtype.kind == "O" and _only_strings(array, pd):
            return "object", pa.array(array, type=pa.large_string(), from_pandas=False)
        return None
    if isinstance(dtype, pd.CategoricalDtype):
        return "category", pa.array(values.codes, from_pandas=False)
    if isinstance(dtype, pd.DatetimeTZDtype):
        raw = np.asarray(values.asi8)
        return "datetimetz", pa.array(raw)
    if isinstance(values, _masked_types(pd)) and isinstance(getattr(values, "_data", None), np.ndarray):
        # nullable ints, floats, booleans: their values and their mask (as bytes), both zero-copy
        data, mask = values._data, values._mask  # type: ignore[attr-defined]
        return "masked", (pa.array(data.view("u1") if data.dtype.kind == "b" else data,
                                   from_pandas=False), pa.array(mask.view("u1")))
    if isinstance(dtype, (pd.StringDtype, pd.ArrowDtype)) or type(dtype).__name__ in (
            "Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype", "UInt8Dtype", "UInt16Dtype",
            "UInt32Dtype", "UInt64Dtype", "Float32Dtype", "Float64Dtype", "BooleanDtype"):
        return "arrow", pa.array(values)
    return None


def _masked_types(pd: Any) -> tuple[type, ...]:
    arrays = pd.arrays
    return (arrays.IntegerArray, arrays.FloatingArray, arrays.BooleanArray)


def _repeats(array: Any, sample: int = 16384) -> bool:
    """Whether most of ``array``'s objects (a sample) are the same objects as others (low
    cardinality, as from a lookup or a groupby)."""
    step = max(1, len(array) // sample)
    picked = array[::step]
    return len(picked) > 64 and len({id(v) for v in picked}) * 2 < len(picked)


def _by_identity(array: Any, pd: Any) -> tuple[Any, Any]:
    """(codes, distinct objects) of an object array, by identity (not equality: as exact as
    pickle's memo, and hashing pointers is ~10x faster than hashing strings); the codes in the
    smallest integer type that holds them."""
    import ctypes

    import numpy as np

    array = np.ascontiguousarray(array)
    pointers = np.ctypeslib.as_array((ctypes.c_size_t * len(array)).from_address(array.ctypes.data))
    codes, uniques = pd.factorize(pointers)
    distinct = np.empty(len(uniques), dtype=object)
    distinct[codes] = array  # every row of a code holds the same object
    small = next(t for t in (np.int8, np.int16, np.int32, np.int64) if len(uniques) <= np.iinfo(t).max)
    return codes.astype(small), distinct


def _only_strings(array: Any, pd: Any) -> bool:
    infer = pd.api.types.infer_dtype
    if infer(array, skipna=False) == "string":
        return True
    if infer(array, skipna=True) != "string":
        return False
    nulls = array[pd.isna(array)]
    return all(v is None for v in nulls)  # NaN would come back as None


def _decode(kind: str, column: Any, dtype: Any, mapped: Any, base: int, pd: Any) -> Any:
    """The pandas array of one stored column, in place in the mapping when possible."""
    import numpy as np

    if kind == "numpy":
        if dtype.kind in "mM":
            return _in_place(column, np.dtype(f"<i{dtype.itemsize}"), mapped, base).view(dtype)
        if dtype.kind == "b":
            return column.to_numpy()
        return _in_place(column, dtype, mapped, base)
    if kind == "object":
        return column.to_numpy(zero_copy_only=False)
    if kind == "category":
        codes = _in_place(column, np.dtype(column.type.to_pandas_dtype()), mapped, base)
        return pd.Categorical.from_codes(codes, dtype=dtype)
    if kind == "datetimetz":
        raw = _in_place(column, np.dtype("<i8"), mapped, base)
        naive = raw.view(f"M8[{dtype.unit}]")
        try:  # in place: the stored values are UTC already
            return pd.arrays.DatetimeArray._simple_new(naive, dtype=dtype)
        except (AttributeError, TypeError, AssertionError):  # another pandas: a converted copy
            return pd.array(naive).tz_localize("UTC").tz_convert(dtype.tz)
    return dtype.__from_arrow__(column)


def _decode_masked(data: Any, mask: Any, dtype: Any, mapped: Any, base: int, pd: Any) -> Any:
    """A nullable array over its values and mask, both in place in the mapping."""
    import numpy as np

    numpy_dtype = np.dtype(dtype.numpy_dtype)
    stored = np.dtype("u1") if numpy_dtype.kind == "b" else numpy_dtype
    values = _in_place(data, stored, mapped, base).view(numpy_dtype)
    nulls = _in_place(mask, np.dtype("u1"), mapped, base).view(bool)
    cls = {"b": pd.arrays.BooleanArray, "f": pd.arrays.FloatingArray}.get(
        numpy_dtype.kind, pd.arrays.IntegerArray)
    return cls(values, nulls, copy=False)


def _in_place(column: Any, dtype: Any, mapped: Any, base: int) -> Any:
    """A writable numpy array of a null-free fixed-width column, in the copy-on-write mapping
    when it is one chunk (else a copy)."""
    import numpy as np

    chunks = column.chunks
    if len(chunks) == 1 and chunks[0].null_count == 0:
        chunk = chunks[0]
        data = chunk.buffers()[1]
        return np.frombuffer(mapped, dtype=dtype, count=len(chunk),
                             offset=data.address - base + chunk.offset * dtype.itemsize)
    values = np.concatenate([c.to_numpy(zero_copy_only=False) for c in chunks]) if chunks else \
        np.empty(0, dtype)
    return values.astype(dtype, copy=False)

