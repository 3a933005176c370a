"""Binary classification with scikit-learn: Kale's SDK example, on kale-argo.

    python examples/binary_classification.py            # run locally, one process per step
    python examples/binary_classification.py --dry-run  # compile to binary_classification.yaml
    kale-argo run examples/binary_classification.py -p n_samples=500 -p C=0.5

The data is generated (sklearn.datasets.make_classification): nothing is downloaded.
"""

from kale_argo import pipeline, step


@step(name="load_data")
def load_data(n_samples, n_features, seed):
    """Generate a synthetic binary classification data set."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=n_samples, n_features=n_features,
                               n_informative=max(2, n_features // 2), random_state=seed)
    print(f"generated {x.shape[0]} samples with {x.shape[1]} features")
    return x, y


@step(name="split_data")
def split_data(x, y, test_size, seed):
    """Hold out a test set, stratified on the label."""
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)


@step(name="train_model", limits={"cpu": "1", "memory": "1Gi"}, retry_count=1)
def train_model(x_train, y_train, C):
    """Fit a logistic regression."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=1000)
    model.fit(x_train, y_train)
    print(f"trained on {len(y_train)} samples")
    return model


@step(name="evaluate_model")
def evaluate_model(model, x_test, y_test):
    """Print and return the accuracy on the held-out set."""
    from sklearn.metrics import accuracy_score

    accuracy = float(accuracy_score(y_test, model.predict(x_test)))
    print(f"accuracy: {accuracy:.3f}")
    return accuracy


@pipeline(name="binary-classification", experiment="kale-sdk", marshal_volume=True,
          marshal_volume_size="10Gi", marshal_path="/data/marshal")
def binary_classification(n_samples=1000, n_features=20, test_size=0.25, C=1.0, seed=42):
    x, y = load_data(n_samples, n_features, seed)
    x_train, x_test, y_train, y_test = split_data(x, y, test_size, seed)
    model = train_model(x_train, y_train, C)
    evaluate_model(model, x_test, y_test)


if __name__ == "__main__":
    binary_classification()
