"""pandas DataFrames and Series as Arrow IPC files (Feather v2, uncompressed), when pyarrow is installed.

Columns are written from pandas' own memory (no copy for numeric columns). Loading memory-maps
the file copy-on-write and wraps each numeric column without nulls in place (writable; a page is
copied only when the step writes to it), so, as for arrays, a load costs what the step reads;
bool columns and columns with nulls are converted (copied). The frame is not consolidated into
one 2-D block (pandas does that on demand). Only frames that round-trip exactly are claimed:
unique string column labels, numeric/bool/datetime columns, a simple index, no ``attrs``.
Everything else (and every frame when pyarrow is missing) goes to pickle protocol 5.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from .codec import Codec

_SERIES_COLUMN = "__kale_series__"
_KINDS = "biufmM"


def _simple_dtype(dtype: Any, np: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in _KINDS and dtype.itemsize > 0


def _arrow_safe(value: Any, pd: Any) -> bool:
    import numpy as np

    if getattr(value, "attrs", None):
        return False
    index = value.index
    if type(index) is not pd.RangeIndex and not (
        type(index) is pd.Index and _simple_dtype(index.dtype, np)
        and (index.name is None or isinstance(index.name, str))):
        return False
    if isinstance(value, pd.Series):
        return (value.name is None or isinstance(value.name, str)) and _simple_dtype(value.dtype, np)
    columns = value.columns
    if type(columns) is not pd.Index or columns.name is not None or not columns.is_unique:
        return False
    if any(not isinstance(c, str) or c == index.name for c in columns):
        return False
    return all(_simple_dtype(d, np) for d in value.dtypes)


def _to_arrow(frame: Any, pa: Any) -> Any:
    """The frame as an Arrow table, zero-copy for numeric columns.

    ``Table.from_pandas`` scans every float column for NaN to turn it into null (a full pass over
    the data); here floats keep NaN as a value, which converts back to the same NaN.
    """
    schema = pa.Schema.from_pandas(frame)
    stored_index = [c for c in schema.pandas_metadata["index_columns"] if isinstance(c, str)]
    arrays = []
    for field in schema:
        values = (frame.index if field.name in stored_index else frame[field.name]).to_numpy()
        arrays.append(pa.array(values, type=field.type, from_pandas=values.dtype.kind != "f"))
    return pa.Table.from_arrays(arrays, schema=schema)


class FrameCodec(Codec):
    name = "arrow"
    suffix = ".arrow"
    lazy = True
    _has_arrow: bool | None = None

    def claims(self, value: Any) -> bool:
        pd = sys.modules.get("pandas")
        if pd is None or not isinstance(value, (pd.DataFrame, pd.Series)):
            return False
        if FrameCodec._has_arrow is None:
            FrameCodec._has_arrow = importlib.util.find_spec("pyarrow") is not None
        return FrameCodec._has_arrow and _arrow_safe(value, pd)

    def dump(self, value: Any, out: Any) -> dict[str, Any]:
        import pandas as pd
        import pyarrow as pa

        series = isinstance(value, pd.Series)
        frame = value.to_frame(_SERIES_COLUMN) if series else value
        table = _to_arrow(frame, pa)
        with pa.OSFile(out.path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        extra: dict[str, Any] = {"shape": list(value.shape)}
        if series:
            extra.update(series=True, name=value.name)
        return extra

    def verify_header(self, path: str, meta: dict[str, Any]) -> None:
        import pyarrow as pa

        with pa.memory_map(path, "r") as source:
            reader = pa.ipc.open_file(source)  # checks both magics and the footer
            rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
            schema = reader.schema
        shape = meta.get("shape") or []
        if shape and rows != shape[0]:
            raise ValueError(f"file has {rows} rows, metadata says {shape[0]}")
        if schema.pandas_metadata is None:
            raise ValueError("not a pandas Arrow file")

    def load_path(self, path: str, meta: dict[str, Any]) -> Any:
        import mmap

        import pandas as pd
        import pyarrow as pa

        with open(path, "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
        table = pa.ipc.open_file(pa.py_buffer(mapped)).read_all()
        base = pa.py_buffer(mapped).address
        pandas_meta = table.schema.pandas_metadata
        columns = {name: _column(table.column(name), mapped, base) for name in table.column_names}
        index = _index(pandas_meta["index_columns"], columns, pd)
        frame = pd.DataFrame(columns, index=index, copy=False)
        if meta.get("series"):
            series = frame[_SERIES_COLUMN]
            series.name = meta.get("name")
            return series
        return frame


def _column(column: Any, mapped: Any, base: int) -> Any:
    """A writable numpy array for an Arrow column: in place in the mapping when possible."""
    import numpy as np
    import pyarrow as pa

    chunks = column.chunks
    kind = column.type
    if len(chunks) == 1 and chunks[0].null_count == 0 and (
            pa.types.is_integer(kind) or pa.types.is_floating(kind)
            or pa.types.is_timestamp(kind) or pa.types.is_duration(kind)):
        chunk = chunks[0]
        data = chunk.buffers()[1]
        dtype = np.dtype(chunk.type.to_pandas_dtype())
        width = kind.bit_width // 8
        values = np.frombuffer(mapped, dtype=f"<i{width}" if dtype.kind in "mM" else dtype,
                               count=len(chunk), offset=data.address - base + chunk.offset * width)
        return values.view(dtype) if dtype.kind in "mM" else values
    values = column.to_numpy()
    return values if values.flags.writeable else values.copy()


def _index(index_columns: list[Any], columns: dict[str, Any], pd: Any) -> Any:
    if not index_columns:
        return None
    spec = index_columns[0]
    if isinstance(spec, dict):  # a RangeIndex, stored as metadata
        return pd.RangeIndex(spec["start"], spec["stop"], spec["step"], name=spec.get("name"))
    values = columns.pop(spec)
    return pd.Index(values, name=None if spec.startswith("__index_level_") else spec, copy=False)
