"""A hyper-parameter sweep: one training step per configuration made at run time (a fan-out),
then the best model is published only if it is good enough (a condition).

    kale-argo run examples/sweep.py -p trials=4 -p target=0.8
    kale-argo graph examples/sweep.py
"""

from kale_argo import pipeline, step, when


@step(name="make_grid")
def make_grid(trials, seed):
    """The configurations to try: one learning rate and depth per trial."""
    import random

    rng = random.Random(seed)
    return [{"lr": round(rng.uniform(0.01, 1.0), 3), "depth": rng.randint(1, 8)} for _ in range(trials)]


@step(name="train", parallelism=2)
def train(config, noise):
    """Train one configuration; returns its validation score (a stand-in for a real model)."""
    score = 1.0 - abs(config["lr"] - 0.3) - 0.02 * abs(config["depth"] - 4) - noise
    print(f"config {config}: score {score:.3f}")
    return {"config": config, "score": round(score, 4)}


@step(name="select")
def select(results):
    """The best configuration and its score."""
    best = max(results, key=lambda r: r["score"])
    print(f"best of {len(results)}: {best}")
    return best["config"], best["score"]


@step(name="publish")
def publish(config, score):
    """Publish the chosen configuration (here: print it)."""
    print(f"publishing {config} (score {score})")
    return f"model-lr{config['lr']}-depth{config['depth']}"


@pipeline(name="sweep", experiment="kale-argo-examples")
def sweep(trials=6, seed=7, noise=0.05, target=0.75):
    grid = make_grid(trials, seed)
    results = train.map(grid, noise=noise)
    config, score = select(results)
    with when(score >= target):
        publish(config, score)


if __name__ == "__main__":
    sweep()
