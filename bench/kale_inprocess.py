"""The seed example as Kale ran a pipeline's functions in one process: the reference for local runs.

``python bench/kale_inprocess.py [SCRIPT] MARSHAL_DIR`` imports the binary-classification script
and calls its four step functions one after another in this process, passing values between them
as Kale's marshalling did (``kale/marshal/backend.py`` and ``backends.py`` of kubeflow-kale/kale,
reproduced below): each output saved to ``<dir>/<name>.<ext>`` by the backend whose type regex
matches the object's type (or its first base class) - numpy objects with ``np.save``, scikit-learn
objects with ``joblib.dump``, pandas frames with ``to_pickle``, anything else with ``dill.dump`` -
and each input loaded from the one file whose basename is its name, by the backend of its
extension. Parameters are passed as values, as Kale's ``Marshaller`` does; no fsync (Kale has
none). Nothing of kale-argo runs but its ``@step`` decorators, which the script imports.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "binary_classification.py"
PARAMS = {"n_samples": 1000, "n_features": 20, "test_size": 0.25, "C": 1.0, "seed": 42}
# (function, inputs, outputs) in the pipeline's order; inputs named like PARAMS are parameters.
STEPS = (
    ("load_data", ("n_samples", "n_features", "seed"), ("x", "y")),
    ("split_data", ("x", "y", "test_size", "seed"), ("x_train", "x_test", "y_train", "y_test")),
    ("train_model", ("x_train", "y_train", "C"), ("model",)),
    ("evaluate_model", ("model", "x_test", "y_test"), ()),
)


def _dill_save(obj: Any, path: str) -> None:
    import dill

    with open(path, "wb") as f:
        dill.dump(obj, f)


def _dill_load(path: str) -> Any:
    import dill

    return dill.load(open(path, "rb"))  # as Kale's _default_load (the file is left to the GC)


def _np_save(obj: Any, path: str) -> None:
    import numpy as np

    np.save(path, obj)


def _np_load(path: str) -> Any:
    import numpy as np

    return np.load(path)


def _joblib_save(obj: Any, path: str) -> None:
    import joblib

    joblib.dump(obj, path)


def _joblib_load(path: str) -> Any:
    import joblib

    return joblib.load(path)


def _pd_save(obj: Any, path: str) -> None:
    obj.to_pickle(path)


def _pd_load(path: str) -> Any:
    import pandas as pd

    return pd.read_pickle(path)


Backend = tuple[str, str, Callable[[Any, str], None], Callable[[str], Any]]
# Kale's registered backends that these values can reach: (obj_type_regex, file_type, save, load).
BACKENDS: tuple[Backend, ...] = (
    (r"function", "pyfn", _dill_save, _dill_load),
    (r"sklearn\..*", "joblib", _joblib_save, _joblib_load),
    (r"numpy\..*", "npy", _np_save, _np_load),
    (r"pandas\..*(DataFrame|Series)", "pdpkl", _pd_save, _pd_load),
)
DEFAULT: Backend = ("", "dillpkl", _dill_save, _dill_load)


def _type_name(cls: type) -> str:
    return re.sub(r"'>$", "", re.sub(r"^<class '", "", str(cls)))


def save(data_dir: str, obj: Any, name: str) -> str:
    """Kale's ``Dispatcher.save``: the backend matching the type or its first base, else dill."""
    kind, base = _type_name(type(obj)), _type_name(obj.__class__.__bases__[0])
    found = [b for b in BACKENDS if re.match(b[0], kind) or re.match(b[0], base)]
    backend = found[0] if found else DEFAULT
    path = os.path.join(data_dir, f"{name}.{backend[1]}")
    backend[2](obj, path)
    return path


def load(data_dir: str, name: str) -> Any:
    """Kale's ``Dispatcher.load``: the unique entry named ``name``, by the backend of its extension."""
    entries = [e for e in os.listdir(data_dir) if os.path.splitext(e)[0] == name]
    if len(entries) != 1:
        raise ValueError(f"expected one file named {name!r} in {data_dir}, found {entries}")
    ext = os.path.splitext(entries[0])[1].lstrip(".")
    backend = next((b for b in BACKENDS if b[1] == ext), DEFAULT)
    return backend[3](os.path.join(data_dir, entries[0]))


def run(script: str, data_dir: str) -> None:
    """Call each step function with its inputs loaded, then save its outputs (Kale's Marshaller)."""
    os.makedirs(data_dir, exist_ok=True)
    spec = importlib.util.spec_from_file_location("binary_classification", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for function, inputs, outputs in STEPS:
        func = getattr(module, function)
        func = getattr(func, "func", func)  # the plain function under the @step decorator
        args = [PARAMS[i] if i in PARAMS else load(data_dir, i) for i in inputs]
        result = func(*args)
        if len(outputs) == 1:
            save(data_dir, result, outputs[0])
        elif outputs:
            for name, value in zip(outputs, result, strict=True):
                save(data_dir, value, name)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(f"usage: {sys.argv[0]} [SCRIPT] MARSHAL_DIR")
    run(sys.argv[1] if len(sys.argv) == 3 else str(EXAMPLE), sys.argv[-1])
