"""A diamond: one source, two branches that run in parallel, one join. Values are numpy arrays and
pandas DataFrames (marshalled as .npy and Arrow files).

    kale-argo run examples/diamond.py --jobs 2 -p rows=10000
"""

from kale_argo import pipeline, step


@step(name="source")
def source(rows, seed):
    """A numeric frame and a numpy matrix."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(rows, 4))
    frame = pd.DataFrame(matrix, columns=["a", "b", "c", "d"])
    frame["group"] = np.arange(rows) % 3
    return frame, matrix


@step(name="column_stats")
def column_stats(frame):
    """Branch 1 (pandas): per-group means."""
    return frame.groupby("group")[["a", "b", "c", "d"]].mean()


@step(name="normalise")
def normalise(matrix):
    """Branch 2 (numpy): column-standardised matrix."""
    return (matrix - matrix.mean(axis=0)) / matrix.std(axis=0)


@step(name="join")
def join(group_means, normalised):
    """Join both branches."""
    import numpy as np

    summary = {"groups": len(group_means), "shape": list(normalised.shape),
               "max_abs_mean": float(np.abs(normalised.mean(axis=0)).max())}
    print(summary)
    return summary


@pipeline(name="diamond")
def diamond(rows=1000, seed=0):
    frame, matrix = source(rows, seed)
    group_means = column_stats(frame)
    normalised = normalise(matrix)
    join(group_means, normalised)


if __name__ == "__main__":
    diamond()
