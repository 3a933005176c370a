"""Marshalling: round trips at the disk's speed, lazy loads, memory, small objects.

Every figure compares ours with its reference in the same run, interleaved, median of ``--repeat``:

1. Round trip = save (fsync included, in this process) + load in a *fresh* process, of a 1 GiB
   float64 array and a 1 GiB all-numeric DataFrame (16 float64 columns). References: the limit,
   a raw write+fsync and read (``readinto`` a new buffer) of the same bytes in the same directory;
   Kale's choices, ``np.save``/``np.load`` and ``DataFrame.to_pickle``/``read_pickle`` (fsynced too);
   parquet (pyarrow, default codec) as the alternative columnar format considered. Loading an array
   of ours means mapping it and touching every page (a read of one byte per 4 KiB page), so the
   bytes are really brought in; the same for each column of our DataFrames, which load
   memory-mapped too. Library imports happen before the load is timed (their cost is
   bench_startup's subject).
2. Lazy load: a fresh process loads the 1 GiB array (131,072 rows of 8 KiB) and reads one row,
   against a raw full read of the file.
3. Memory: peak RSS (VmHWM, file-backed pages included) of a fresh process that builds the
   1 GiB array, saves it, loads it and reads it all, the original kept alive throughout (the
   limit is then the value plus one copy: 2 GiB); np.save/np.load's for comparison.
4. Many small objects: a dict of 1,000,000 short string keys and int values, and a list of 100,000
   instances of a dataclass defined in a user script; save+load (fsync included) against plain
   ``pickle`` protocol 5 to a file (+ fsync) and back; dill (Kale's default) shown for context.

Data lives in bench/.data/marshal and is deleted at the end.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import Row, checksum_name, emit, main_args, run_binding, samples_row, spread_of  # noqa: E402

from kale_argo.runtime import marshal  # noqa: E402
from kale_argo.runtime.script import import_script  # noqa: E402

KEYED = run_binding()  # as a local run's steps store values (Argo pods: SHA-256)

DATA = HERE / ".data" / f"marshal-{os.getpid()}"  # per process: smoke runs may overlap
GiB = 1 << 30
PAGE = 4096

LOADER = r'''
import json, os, resource, sys, time
kind, path = sys.argv[1], sys.argv[2]
import numpy as np
if kind in ("ours_frame", "read_pickle", "parquet"):
    import pandas as pd, pyarrow, pyarrow.parquet
from kale_argo.runtime import marshal

def touch(a):
    flat = np.asarray(a).reshape(-1).view(np.uint8)
    return int(flat[::4096].sum())

start = time.perf_counter()
if kind == "raw":
    buf = bytearray(os.path.getsize(path))
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        done = 0
        while done < len(buf):
            done += fh.readinto(view[done:])
elif kind == "ours_array":
    touch(marshal.load(os.path.dirname(path), os.path.basename(path)))
elif kind == "ours_row":
    x = marshal.load(os.path.dirname(path), os.path.basename(path))
    row = np.array(x[len(x) // 2])
elif kind == "ours_frame":  # mapped lazily: bring every page in, as a full read would
    df = marshal.load(os.path.dirname(path), os.path.basename(path))
    for column in df.columns:
        touch(df[column].to_numpy())
elif kind == "npload":
    x = np.load(path)
elif kind == "read_pickle":
    df = pd.read_pickle(path)
elif kind == "parquet":
    df = pyarrow.parquet.read_table(path).to_pandas()
elif kind == "memory_ours" or kind == "memory_npsave":
    n = int(sys.argv[3])
    x = np.arange(n, dtype=np.float64)
    if kind == "memory_ours":
        marshal.save(os.path.dirname(path), os.path.basename(path), x)
        touch(marshal.load(os.path.dirname(path), os.path.basename(path)))
    else:
        with open(path, "wb") as fh:
            np.save(fh, x)
            fh.flush()
            os.fsync(fh.fileno())
        y = np.load(path)
seconds = time.perf_counter() - start
# VmHWM: this process's own peak (ru_maxrss would include the parent's, inherited through exec)
with open("/proc/self/status") as fh:
    peak = [int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:")]
if not peak:
    peak = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024]
print(json.dumps({"seconds": seconds, "maxrss": peak[0]}))
'''


def fresh(kind: str, path: Path, *extra: str) -> dict[str, float]:
    """Run the loader in a new interpreter; its own timing of the load, and its peak RSS."""
    out = subprocess.run([sys.executable, "-c", LOADER, kind, str(path), *extra], capture_output=True,
                         text=True, check=True, cwd=str(HERE.parent))
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def clean() -> None:
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def raw_save(buffer: memoryview, path: Path) -> None:
    with open(path, "wb", buffering=0) as fh:
        done = 0
        while done < len(buffer):
            done += fh.write(buffer[done:done + (64 << 20)])
        os.fsync(fh.fileno())


def round_trips(variants: dict[str, tuple[Callable[[], Any], str, Path]], repeat: int
                ) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Save + fresh-process load times per variant, the variants interleaved in each round;
    and per variant the medians of the two phases, as text for the rows' notes."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, (save, kind, path) in variants.items():
            clean()
            saved = timed(save)
            times[name].append((saved, fresh(kind, path)["seconds"]))
    clean()
    total = {name: [s + lo for s, lo in t] for name, t in times.items()}
    phases = {name: f"save {statistics.median(s for s, _ in t):.3g} s + load "
                    f"{statistics.median(lo for _, lo in t):.3g} s" for name, t in times.items()}
    return total, phases


def phase_note(phases: dict[str, str], ours: str, reference: str) -> str:
    return f"ours: {phases[ours]}; reference: {phases[reference]}"


def bench_array(n: int, repeat: int) -> list[Row]:
    import numpy as np

    x = np.random.default_rng(0).random(n)
    d = str(DATA)
    t, p = round_trips({
        "raw": (lambda: raw_save(memoryview(x).cast("B"), DATA / "raw.bin"), "raw", DATA / "raw.bin"),
        "ours": (lambda: marshal.save(d, "x", x), "ours_array", DATA / "x"),
        "keyed": (lambda: marshal.save(d, "x", x, binding=KEYED), "ours_array", DATA / "x"),
        "np": (lambda: np_save(x, DATA / "x.npy"), "npload", DATA / "x.npy"),
    }, repeat)
    size = f"{x.nbytes / GiB:.3g} GiB"
    return [
        samples_row(f"array {size} round trip vs raw write+fsync+read", t, "ours", "raw", 1.0,
                    note=phase_note(p, "ours", "raw") + "; CRC-32 over every byte on load"),
        samples_row(f"array {size} round trip with a run key vs raw write+fsync+read", t, "keyed",
                    "raw", 1.0, note=phase_note(p, "keyed", "raw")
                    + f"; {checksum_name(KEYED)} over every byte on load, as steps run"),
        samples_row(f"array {size} round trip vs np.save/np.load", t, "ours", "np", 1.0,
                    note=phase_note(p, "ours", "np")),
    ]


def np_save(x: Any, path: Path) -> None:
    import numpy as np

    with open(path, "wb") as fh:
        np.save(fh, x)
        fh.flush()
        os.fsync(fh.fileno())


def bench_frame(n: int, repeat: int) -> list[Row]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = 16
    df = pd.DataFrame(np.random.default_rng(1).random((n // columns, columns)),
                      columns=[f"c{i}" for i in range(columns)])
    block = np.ascontiguousarray(df.to_numpy().T)  # the same number of bytes, for the raw figure
    d = str(DATA)

    def to_pickle() -> None:
        df.to_pickle(DATA / "df.pkl")
        fsync_path(DATA / "df.pkl")

    def parquet() -> None:
        pq.write_table(pa.Table.from_pandas(df), DATA / "df.parquet")
        fsync_path(DATA / "df.parquet")

    t, p = round_trips({
        "raw": (lambda: raw_save(memoryview(block).cast("B"), DATA / "raw.bin"), "raw",
                DATA / "raw.bin"),
        "ours": (lambda: marshal.save(d, "df", df, binding=KEYED), "ours_frame", DATA / "df"),
        "pickle": (to_pickle, "read_pickle", DATA / "df.pkl"),
        "parquet": (parquet, "parquet", DATA / "df.parquet"),
    }, repeat)
    size = f"{block.nbytes / GiB:.3g} GiB"
    keyed = f"; with a run key ({checksum_name(KEYED)} and HMAC), as steps run"
    parquet_row = samples_row(f"DataFrame {size} round trip vs parquet (alternative considered)",
                              t, "ours", "parquet", 1.0,
                              note="informational; " + phase_note(p, "ours", "parquet"))
    return [
        samples_row(f"DataFrame {size} round trip vs raw write+fsync+read", t, "ours", "raw", 1.3,
                    note=phase_note(p, "ours", "raw") + keyed),
        samples_row(f"DataFrame {size} round trip vs to_pickle/read_pickle", t, "ours", "pickle", 0.5,
                    note=phase_note(p, "ours", "pickle") + keyed + "; 0.5x was set when loads were "
                    "lazy: every byte is now verified on load, and pickle writes numeric frames at "
                    "the disk's speed (only writing fewer bytes could halve its time)"),
        parquet_row,
    ]


def bench_lazy(n: int, repeat: int) -> list[Row]:
    import numpy as np

    clean()
    x = np.random.default_rng(2).random(n).reshape(-1, 1024)
    marshal.save(str(DATA), "x", x)
    raw_save(memoryview(x).cast("B"), DATA / "raw.bin")
    ours, ref = [], []
    for _ in range(repeat):
        ours.append(fresh("ours_row", DATA / "x")["seconds"])
        ref.append(fresh("raw", DATA / "raw.bin")["seconds"])
    clean()
    # Every byte is verified before a value is used, so a load reads the file once, whatever the
    # step then reads: the figure is a full read (was <= 0.01x with sampled checksums).
    return [samples_row(f"lazy load: {x.nbytes / GiB:.3g} GiB array, one row read, vs full raw read",
                        {"ours": ours, "raw": ref}, "ours", "raw", 1.0,
                        note="every byte verified on load")]


def bench_memory(n: int, repeat: int, full: bool) -> list[Row]:
    ours, ref = [], []
    for _ in range(max(1, min(repeat, 3))):
        clean()
        ours.append(fresh("memory_ours", DATA / "x", str(n))["maxrss"])
        clean()
        ref.append(fresh("memory_npsave", DATA / "x.npy", str(n))["maxrss"])
    clean()
    peak, reference = max(ours), max(ref)
    limit = 2.2 * n * 8  # 2.2x the value: the value, one mapped copy, the interpreter
    return [Row(f"peak RSS, {n * 8 / GiB:.3g} GiB array round trip (np.save/np.load as reference)",
                peak / GiB, reference / GiB, "GiB", f"<= {limit / GiB:.3g} GiB",
                peak <= limit or not full, "" if full else "quick: not a figure",
                spread_of([x / GiB for x in ours], [x / GiB for x in ref], "GiB"))]


USER_SCRIPT = '''
import dataclasses


@dataclasses.dataclass
class Measurement:
    sensor: str
    value: float
    count: int
'''


def bench_small(n_dict: int, n_objects: int, repeat: int) -> list[Row]:
    import dill

    script = DATA.parent / f"bench_user_script_{os.getpid()}.py"
    script.write_text(USER_SCRIPT)
    user = import_script(str(script))
    values = {
        f"dict of {n_dict:,} str->int": {f"k{i}": i for i in range(n_dict)},
        f"list of {n_objects:,} script dataclasses": [
            user.Measurement(f"s{i % 100}", i * 0.5, i) for i in range(n_objects)],
    }
    rows = []
    for label, value in values.items():
        d = str(DATA)
        path = DATA / "v.pickle"

        def ours(value: Any = value, d: str = d) -> None:
            marshal.save(d, "v", value)
            marshal.load(d, "v")

        def plain(value: Any = value, path: Path = path, module: Any = pickle) -> None:
            with open(path, "wb") as fh:
                module.dump(value, fh, protocol=5)
                fh.flush()
                os.fsync(fh.fileno())
            with open(path, "rb") as fh:
                module.load(fh)

        times: dict[str, list[float]] = {"ours": [], "pickle": [], "dill": []}
        for _ in range(repeat):
            clean()
            times["ours"].append(timed(ours))
            times["pickle"].append(timed(plain))
            times["dill"].append(timed(lambda plain=plain: plain(module=dill)))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append(samples_row(f"{label}: round trip vs pickle 5", times, "ours", "pickle", 1.2))
        rows.append(samples_row(f"{label}: round trip vs dill (Kale's default)", times, "ours", "dill",
                                1.0, note="context: dill / pickle = "
                                f"{med['dill'] / med['pickle']:.1f}x"))
    script.unlink()
    clean()
    return rows


def main() -> None:
    args = main_args(__doc__.splitlines()[0])
    repeat = args.repeat
    full = not args.quick
    n = (GiB // 8) if full else (1 << 17)  # 1 GiB or 1 MiB of float64
    clean()
    try:
        rows = bench_array(n, repeat) + bench_frame(n, repeat) + bench_lazy(n, repeat)
        rows += bench_memory(n, repeat, full)
        rows += bench_small(1_000_000 if full else 10_000, 100_000 if full else 1_000, repeat)
    finally:
        shutil.rmtree(DATA, ignore_errors=True)
    emit(rows, args)


if __name__ == "__main__":
    main()
