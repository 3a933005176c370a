"""Each example runs locally (small sizes) and produces real outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kale_argo.runtime import marshal
from kale_argo.runtime.script import import_script

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_binary_classification(run_cli, tmp_path):
    run_dir = tmp_path / "m"
    proc = run_cli("run", EXAMPLES / "binary_classification.py", "-p", "n_samples=300",
                   "-p", "n_features=8", "-p", "C=0.5", "--marshal-dir", run_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    x, y = marshal.load(str(run_dir), "x"), marshal.load(str(run_dir), "y")
    assert x.shape == (300, 8) and set(np.unique(y)) == {0, 1}
    x_train, x_test = marshal.load(str(run_dir), "x_train"), marshal.load(str(run_dir), "x_test")
    assert len(x_train) + len(x_test) == 300 and len(x_test) == 75
    model = marshal.load(str(run_dir), "model")
    assert model.C == 0.5
    accuracy = model.score(x_test, marshal.load(str(run_dir), "y_test"))
    assert accuracy > 0.6
    assert f"[evaluate_model] accuracy: {accuracy:.3f}" in proc.stdout


def test_binary_classification_as_a_script(run_python, tmp_path):
    proc = run_python(EXAMPLES / "binary_classification.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[evaluate_model] accuracy: " in proc.stdout
    (run_dir,) = (tmp_path / ".kale-runs").glob("[!.]*")
    assert run_dir.name.startswith("binary-classification-")
    assert marshal.load(str(run_dir), "x").shape == (1000, 20)


def test_parameters(run_cli, tmp_path):
    run_dir = tmp_path / "m"
    proc = run_cli("run", EXAMPLES / "parameters.py", "-p", "word=hey", "-p", "repeat=3",
                   "-p", "scale=0.5", "-p", "shout=true", "--marshal-dir", run_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import_script(str(EXAMPLES / "parameters.py"))  # its Stats class unpickles by reference
    load = lambda key: marshal.load(str(run_dir), key)  # noqa: E731
    assert load("words") == ["HEY"] * 3 and load("count") == 3
    assert load("fmt")("x") == "<x>"  # a lambda from the script, through dill
    stats = load("stats")
    assert type(stats).__name__ == "Stats" and stats.count == 3 and stats.total == 4.5
    assert load("mean") == 1.5
    assert "[report] <HEY> <HEY> <HEY> | count=3 total=4.5 mean=1.5 word=hey" in proc.stdout


def test_diamond(run_cli, tmp_path):
    run_dir = tmp_path / "m"
    proc = run_cli("run", EXAMPLES / "diamond.py", "-p", "rows=120", "--jobs", "2",
                   "--marshal-dir", run_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    frame, matrix = marshal.load(str(run_dir), "frame"), marshal.load(str(run_dir), "matrix")
    assert isinstance(frame, pd.DataFrame) and frame.shape == (120, 5)
    assert isinstance(matrix, np.ndarray) and matrix.shape == (120, 4)
    means = marshal.load(str(run_dir), "group_means")
    pd.testing.assert_frame_equal(means, frame.groupby("group")[["a", "b", "c", "d"]].mean())
    normalised = marshal.load(str(run_dir), "normalised")
    np.testing.assert_allclose(normalised.std(axis=0), 1.0)
    assert "[join] {'groups': 3, 'shape': [120, 4]" in proc.stdout


def test_sweep(run_cli, tmp_path):
    run_dir = tmp_path / "m"
    proc = run_cli("run", EXAMPLES / "sweep.py", "-p", "trials=3", "-p", "target=0.5",
                   "--marshal-dir", run_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [marshal.load(str(run_dir), f"results.{i}") for i in range(3)]
    best = max(results, key=lambda r: r["score"])
    assert (marshal.load(str(run_dir), "config"), marshal.load(str(run_dir), "score")) == (
        best["config"], best["score"])
    assert best["score"] >= 0.5 and f"[publish] publishing {best['config']}" in proc.stdout
