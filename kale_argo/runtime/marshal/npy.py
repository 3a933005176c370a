"""numpy arrays as ``.npy`` files, loaded memory-mapped (copy-on-write): a step pays for what it reads.

Every dtype without Python objects takes this path (numbers, bool, strings, datetime64,
timedelta64, structured); object arrays and subclasses (masked arrays, np.matrix) are pickled.

The array's memory is written straight to the file after the standard ``.npy`` header (no
intermediate bytes object), so a save holds no extra copy of a contiguous array.
"""

from __future__ import annotations

import io
import sys
from typing import Any

from .codec import Codec


class NumpyCodec(Codec):
    name = "numpy"
    suffix = ".npy"
    lazy = True

    def claims(self, value: Any) -> bool:
        np = sys.modules.get("numpy")
        return (np is not None and type(value) is np.ndarray and not value.dtype.hasobject)

    def dump(self, value: Any, out: Any) -> dict[str, Any]:
        import numpy as np

        fmt = np.lib.format
        if not (value.flags.c_contiguous or value.flags.f_contiguous):
            value = np.ascontiguousarray(value)
        header = fmt.header_data_from_array_1_0(value)
        buf = io.BytesIO()
        try:
            fmt.write_array_header_1_0(buf, header)
        except ValueError:  # header over 64 KiB (huge structured dtypes)
            buf = io.BytesIO()
            fmt.write_array_header_2_0(buf, header)
        out.write(buf.getvalue())
        data = value.T if header["fortran_order"] else value
        if data.nbytes:  # as bytes: datetime64/timedelta64 and structured dtypes have no buffer format
            out.write(memoryview(data.reshape(-1).view(np.uint8)))
        return {"dtype": value.dtype.str, "shape": list(value.shape),
                "header_bytes": len(buf.getvalue())}

    def verify_header(self, path: str, meta: dict[str, Any]) -> None:
        import numpy as np

        fmt = np.lib.format
        with open(path, "rb") as fh:
            version = fmt.read_magic(fh)
            reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = reader(fh)
            offset = fh.tell()
        if list(shape) != meta.get("shape") or dtype.str != meta.get("dtype"):
            raise ValueError(f"header says {dtype.str}{list(shape)}, metadata says "
                             f"{meta.get('dtype')}{meta.get('shape')}")
        if offset + dtype.itemsize * _prod(shape) != meta["bytes"]:
            raise ValueError("header and file size disagree")

    def load_path(self, path: str, meta: dict[str, Any]) -> Any:
        import numpy as np

        if not _prod(meta.get("shape", [])) or meta["bytes"] == meta.get("header_bytes"):
            return np.load(path)
        return np.load(path, mmap_mode="c").view(np.ndarray)


def _prod(shape: Any) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n
