"""DataFrames of every common shape round-trip exactly through the Arrow path; what Arrow cannot
hold exactly is pickled per column and named in the metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kale_argo.runtime import marshal

KEYED = marshal.RunBinding("run-1", b"k" * 64)
N = 7


def _shapes() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    words = np.array(["alpha", "beta", "", "délta", "e" * 40, "f", "g"], dtype=object)
    shapes = {
        "numeric": pd.DataFrame({"f8": rng.random(N), "i8": np.arange(N), "u1": np.arange(N, dtype="u1"),
                                 "f4": np.arange(N, dtype="f4"), "b": np.arange(N) % 2 == 0,
                                 "nan": [1.0, np.nan] + [2.0] * (N - 2)}),
        "pandas-string": pd.DataFrame({"s": pd.array(list(words), dtype="str"),
                                       "s_na": pd.array(["a", None] + ["b"] * (N - 2), dtype="str")}),
        "string-dtypes": pd.DataFrame({
            "python": pd.array(["a", None] + ["c"] * (N - 2), dtype=pd.StringDtype("python")),
            "pyarrow": pd.array(["a", None] + ["c"] * (N - 2), dtype=pd.StringDtype("pyarrow"))}),
        "object-string": pd.DataFrame({"o": pd.Series(words, dtype=object),
                                       "o_none": pd.Series(["x", None] + ["y"] * (N - 2), dtype=object)}),
        "categorical": pd.DataFrame({
            "c": pd.Categorical(["lo", "hi", None, "lo", "mid", "hi", "lo"],
                                categories=["lo", "mid", "hi", "unused"], ordered=True),
            "ci": pd.Categorical([3, 1, 2, 3, 1, 2, 3])}),
        "nullable": pd.DataFrame({"I64": pd.array([1, None, 3, 4, 5, 6, 7], dtype="Int64"),
                                  "U8": pd.array([1, 2, None, 4, 5, 6, 7], dtype="UInt8"),
                                  "F32": pd.array([1.5, None, 3, 4, 5, 6, 7], dtype="Float32"),
                                  "B": pd.array([True, None, False, True, True, False, True],
                                                dtype="boolean")}),
        "datetimes": pd.DataFrame({
            "tz": pd.date_range("2024-03-30", periods=N, freq="7h", tz="Europe/Paris"),
            "tz_utc_s": pd.date_range("2024-01-01", periods=N, tz="UTC").as_unit("s"),
            "naive": pd.to_datetime(["2024-01-01", None] + ["2025-06-01"] * (N - 2)),
            "delta": pd.to_timedelta(np.arange(N), unit="s")}),
        "named-index": pd.DataFrame({"v": np.arange(N)}, index=pd.Index(list("abcdefg"), name="key")),
        "datetime-index": pd.DataFrame({"v": np.arange(N)},
                                       index=pd.date_range("2024", periods=N, tz="UTC", name="t")),
        "multi-index": pd.DataFrame(
            {"v": np.arange(N * 2.0)},
            index=pd.MultiIndex.from_product([list("ab"), range(N)], names=["grp", "n"])),
        "multi-columns": pd.DataFrame(np.arange(N * 4).reshape(N, 4),
                                      columns=pd.MultiIndex.from_product([["x", "y"], [1, 2]])),
        "labels": pd.DataFrame([[1, 2.0, "a"]] * N, columns=[3, "3", (1, "t")]),
        "duplicate-labels": pd.DataFrame(np.arange(N * 2).reshape(N, 2), columns=["a", "a"]),
        "empty": pd.DataFrame({"a": np.zeros(0), "s": pd.array([], dtype="str")}),
        "no-columns": pd.DataFrame(index=pd.RangeIndex(3, name="r")),
        "arrow-dtype": pd.DataFrame({"a": pd.array([1, None] + [2] * (N - 2), dtype="int64[pyarrow]")}),
    }
    shapes["mixed"] = pd.concat([shapes["numeric"], shapes["pandas-string"], shapes["object-string"],
                                 shapes["categorical"], shapes["nullable"], shapes["datetimes"]],
                                axis=1)
    return shapes


SHAPES = _shapes()


def assert_exact(loaded: pd.DataFrame, frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True, check_categorical=True,
                                  check_index_type=True, check_column_type=True, check_flags=True)
    assert list(loaded.dtypes) == list(frame.dtypes)
    assert loaded.index.names == frame.index.names and loaded.columns.names == frame.columns.names
    for column in range(frame.shape[1]):  # None stays None, NaN stays NaN, NA stays NA
        assert [type(v) for v in loaded.iloc[:, column]] == [type(v) for v in frame.iloc[:, column]]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_common_shape_round_trips_exactly_as_arrow(tmp_path, name):
    frame = SHAPES[name]
    meta = marshal.save(str(tmp_path), "df", frame, binding=KEYED)
    assert meta["codec"] == "arrow" and "fallback" not in meta
    assert_exact(marshal.load(str(tmp_path), "df", binding=KEYED), frame)


def test_columns_arrow_cannot_hold_fall_back_one_by_one_and_are_named(tmp_path):
    frame = pd.DataFrame({"x": np.arange(3.0), "mixed": pd.Series(["a", 1, None], dtype=object),
                          "period": pd.period_range("2024-01", periods=3, freq="M"),
                          "s": pd.array(["u", "v", "w"], dtype="str"),
                          "nan_str": pd.Series(["a", np.nan, "b"], dtype=object),
                          "cplx": np.arange(3) * 1j})
    frame.attrs["source"] = "lab"
    meta = marshal.save(str(tmp_path), "df", frame)
    assert meta["codec"] == "arrow"
    assert meta["fallback"] == ["'mixed' (object)", "'period' (period[M])", "'nan_str' (object)",
                                "'cplx' (complex128)"]
    loaded = marshal.load(str(tmp_path), "df")
    assert_exact(loaded, frame)
    assert loaded.attrs == {"source": "lab"} and np.isnan(loaded["nan_str"][1])


@pytest.mark.parametrize("series", [
    pd.Series(pd.array(["a", None, "c"], dtype="str"), name="s", index=pd.Index([3, 1, 2], name="k")),
    pd.Series(pd.Categorical(["a", "b", "a"]), name=("t", 1)),
    pd.Series([1, None, 3], dtype="Int64"),
])
def test_series_of_extension_dtypes_round_trip(tmp_path, series):
    assert marshal.save(str(tmp_path), "s", series)["codec"] == "arrow"
    loaded = marshal.load(str(tmp_path), "s")
    pd.testing.assert_series_equal(loaded, series, check_exact=True, check_index_type=True)
    assert loaded.name == series.name


def test_numeric_and_category_code_columns_load_in_place(tmp_path):
    frame = SHAPES["mixed"]
    marshal.save(str(tmp_path), "df", frame)
    loaded = marshal.load(str(tmp_path), "df")

    def root(array: np.ndarray) -> object:
        base = array
        while getattr(base, "base", None) is not None:
            base = base.base
        return base.obj if isinstance(base, memoryview) else base

    assert type(root(loaded["f8"].to_numpy())).__name__ == "mmap"
    assert type(root(loaded["c"].array.codes)).__name__ == "mmap"
    assert type(root(loaded["I64"].array._data)).__name__ == "mmap"  # nullable: values and mask
    assert type(root(loaded["I64"].array._mask)).__name__ == "mmap"
    assert type(root(loaded["tz"].array._ndarray)).__name__ == "mmap"
    loaded.loc[0, "f8"] = -1.0  # copy-on-write: the file is unchanged
    assert_exact(marshal.load(str(tmp_path), "df"), frame)


def test_a_changed_byte_in_the_skeleton_is_refused(tmp_path):
    meta = marshal.save(str(tmp_path), "df", SHAPES["mixed"], binding=KEYED)
    path = tmp_path / meta["file"]
    data = bytearray(path.read_bytes())
    data[meta["arrow_bytes"] + 5] ^= 0xFF  # inside the pickled part, after the Arrow file
    path.write_bytes(bytes(data))
    with pytest.raises(marshal.MarshalError, match="corrupt"):
        marshal.load(str(tmp_path), "df", binding=KEYED)


FALLBACK_SCRIPT = '''
import pandas as pd
from kale_argo import pipeline, step

@step(name="make")
def make():
    return pd.DataFrame({"x": [1.0, 2.0], "mixed": pd.Series(["a", 1], dtype=object),
                         "s": pd.array(["u", "v"], dtype="str")})

@step(name="use")
def use(frame):
    assert list(frame["mixed"]) == ["a", 1] and str(frame["s"].dtype) == "str"

@pipeline(name="fallback")
def fallback():
    frame = make()
    use(frame)
'''


def test_a_local_run_names_the_pickled_columns_in_its_summary(make_script, tmp_path):
    import io

    from kale_argo.local import run_local
    from kale_argo.sdk.loader import load_pipeline

    out = io.StringIO()
    spec = load_pipeline(str(make_script(FALLBACK_SCRIPT, "fallback.py"))).trace()
    run = run_local(spec, marshal_dir=str(tmp_path / "run"), stream=out)
    assert run.succeeded
    lines = [line for line in out.getvalue().splitlines() if "pickled, not Arrow" in line]
    assert lines == ["step 'make', variable 'frame': columns pickled, not Arrow (Arrow cannot hold "
                     "them exactly): 'mixed' (object)"]


@pytest.mark.parametrize("distinct", [50, 300])
def test_a_column_of_repeated_string_objects_round_trips_with_its_sharing(tmp_path, distinct):
    rng = np.random.default_rng(1)
    words = np.array([f"w{i}" for i in range(distinct)] + [None], dtype=object)
    frame = pd.DataFrame({"o": pd.Series(words[rng.integers(0, distinct + 1, 100_000)], dtype=object),
                          "x": np.arange(100_000.0)})
    frame.iloc[3, 0] = "w1" + ""  # an equal string that is another object: kept apart, as pickle does
    meta = marshal.save(str(tmp_path), "df", frame, binding=KEYED)
    assert meta["codec"] == "arrow" and "fallback" not in meta
    loaded = marshal.load(str(tmp_path), "df", binding=KEYED)
    assert_exact(loaded, frame)
    column, original = loaded["o"].to_numpy(), frame["o"].to_numpy()
    for i, j in [(0, 1), (0, 2), (1, 2), (3, 5), (7, 99_999)]:  # shared objects stay shared, and only those
        assert (column[i] is column[j]) == (original[i] is original[j])
    pointers = {id(v) for v in original}
    assert len({id(v) for v in column}) == len(pointers)
    # a code a row of the smallest type (1 or 2 bytes), not a pickle memo reference a row (2 or 5)
    skeleton = meta["bytes"] - meta["arrow_bytes"]
    assert skeleton < 100_000 * (1 if distinct < 120 else 2) + distinct * 40 + 4096
