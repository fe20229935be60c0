"""How good are the defaults? Scores on eight real data sets against scikit-learn and PyTorch.

    python bench/quality.py              # full study: 8 data sets x 5 splits (~10 minutes on 2 cores)
    python bench/quality.py --quick      # smoke run: 2 data sets, 1 split, few epochs (the tests run it)

Data: scikit-learn's iris, wine, breast cancer and digits (accuracy), diabetes and Friedman #1
(2,000 samples, noise 1) (R²), and the Palmer penguins table bundled with the package: species
(accuracy) and body mass (R²), its text columns one-hot encoded and rows with a missing value
dropped. Each data set gets five 75/25 splits (stratified by class, or by target quintile for
regression); X is standardised on the training part. Rows of the study:

- ``ours default``: ``NeuralNetwork([n, 100, k], task=...).fit(X, y, verbose=0)``, nothing else;
- ``sklearn default``: ``MLPClassifier(max_iter=2000)`` / ``MLPRegressor(max_iter=2000)``;
- ``estimator default``: ``BackpropClassifier()`` / ``BackpropRegressor()``;
- equal footing, 64-32 ReLU, Adam 1e-3, batch 32, 200 epochs, targets standardised for both:
  ``torch`` (``torch.nn.Linear`` initialisation) and ours with each candidate initializer.

The mean and standard deviation over splits go to a JSON file and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
from backpropagation import NeuralNetwork  # noqa: E402
from backpropagation.cli import demo_data_path  # noqa: E402

INITIALIZERS = ("auto", "he_normal", "glorot_uniform", "fan_in_uniform")


# ---------------------------------------------------------------------- data
def penguins(target: str):
    import pandas as pd

    frame = pd.read_csv(demo_data_path(), na_values=["NA"]).dropna()
    y = frame.pop(target).to_numpy()
    X = pd.get_dummies(frame, columns=[c for c in ("species", "island", "sex") if c in frame],
                       dtype=float).to_numpy(dtype=float)
    return X, y


def datasets(quick: bool) -> dict:
    from sklearn import datasets as sk

    every = {
        "iris": lambda: sk.load_iris(return_X_y=True),
        "wine": lambda: sk.load_wine(return_X_y=True),
        "breast_cancer": lambda: sk.load_breast_cancer(return_X_y=True),
        "digits": lambda: sk.load_digits(return_X_y=True),
        "penguins_species": lambda: penguins("species"),
        "diabetes": lambda: sk.load_diabetes(return_X_y=True),
        "friedman1": lambda: sk.make_friedman1(n_samples=2000, noise=1.0, random_state=0),
        "penguins_body_mass": lambda: penguins("body_mass_g"),
    }
    chosen = ("iris", "diabetes") if quick else tuple(every)
    return {name: every[name] for name in chosen}


def is_regression(name: str) -> bool:
    return name in ("diabetes", "friedman1", "penguins_body_mass")


def splits(name: str, X, y, n_splits: int):
    """(train, test) index pairs: 75/25, stratified by class or by target quintile."""
    from sklearn.model_selection import StratifiedShuffleSplit

    strata = np.digitize(y, np.quantile(y, [0.2, 0.4, 0.6, 0.8])) if is_regression(name) else y
    return StratifiedShuffleSplit(n_splits=n_splits, test_size=0.25, random_state=0).split(X, strata)


# ---------------------------------------------------------------------- contenders
def ours_default(regression, X, y, X_test, y_test, seed, quick):
    task = "regression" if regression else "classification"
    n_out = 1 if regression else len(np.unique(y))
    model = NeuralNetwork([X.shape[1], 100, n_out], task=task, random_state=seed)
    model.fit(X, y, epochs=5 if quick else 100, verbose=0)
    return model.score(X_test, y_test)


def sklearn_default(regression, X, y, X_test, y_test, seed, quick):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    model = (MLPRegressor if regression else MLPClassifier)(max_iter=20 if quick else 2000, random_state=seed)
    return model.fit(X, y).score(X_test, y_test)


def estimator_default(regression, X, y, X_test, y_test, seed, quick):
    from backpropagation.sklearn import BackpropClassifier, BackpropRegressor

    model = (BackpropRegressor if regression else BackpropClassifier)(random_state=seed)
    if quick:
        model.set_params(epochs=5)
    return model.fit(X, y).score(X_test, y_test)


def ours_equal(initializer):
    def run(regression, X, y, X_test, y_test, seed, quick):
        task = "regression" if regression else "classification"
        n_out = 1 if regression else len(np.unique(y))
        model = NeuralNetwork([X.shape[1], 64, 32, n_out], task=task, initializer=initializer,
                              optimizer="adam", learning_rate=1e-3, random_state=seed)
        model.fit(X, y, epochs=5 if quick else 200, batch_size=32, verbose=0)
        return model.score(X_test, y_test)
    return run


def torch_equal(regression, X, y, X_test, y_test, seed, quick):
    import torch

    torch.manual_seed(seed)
    classes = None if regression else np.unique(y)
    n_out = 1 if regression else len(classes)
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 64), torch.nn.ReLU(), torch.nn.Linear(64, 32),
                              torch.nn.ReLU(), torch.nn.Linear(32, n_out)).double()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    if regression:
        mean, std = y.mean(), y.std()
        target = torch.tensor((y - mean) / std)[:, None]
        loss_fn = torch.nn.MSELoss()
    else:
        target = torch.tensor(np.searchsorted(classes, y))
        loss_fn = torch.nn.CrossEntropyLoss()
    inputs, generator = torch.tensor(X), torch.Generator().manual_seed(seed)
    for _ in range(5 if quick else 200):
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(inputs), 32):
            rows = order[start:start + 32]
            optimizer.zero_grad()
            loss_fn(net(inputs[rows]), target[rows]).backward()
            optimizer.step()
    with torch.no_grad():
        output = net(torch.tensor(X_test)).numpy()
    if regression:
        from sklearn.metrics import r2_score

        return float(r2_score(y_test, output[:, 0] * std + mean))
    return float(np.mean(classes[output.argmax(axis=1)] == y_test))


def contenders(with_torch: bool) -> dict:
    rows = {"ours default": ours_default, "sklearn default": sklearn_default,
            "estimator default": estimator_default}
    if with_torch:
        rows["torch (equal footing)"] = torch_equal
    rows.update({f"ours, {name} (equal footing)": ours_equal(name) for name in INITIALIZERS})
    return rows


# ---------------------------------------------------------------------- study
def study(quick: bool) -> dict:
    from sklearn.preprocessing import StandardScaler

    try:
        import torch  # noqa: F401
        with_torch = True
    except ImportError:
        with_torch = False
    results = {}
    for name, load in datasets(quick).items():
        X, y = load()
        regression = is_regression(name)
        scores = {row: [] for row in contenders(with_torch)}
        for split, (train, test) in enumerate(splits(name, X, y, 1 if quick else 5)):
            scaler = StandardScaler().fit(X[train])
            X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
            for row, run in contenders(with_torch).items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")       # convergence warnings of short runs
                    scores[row].append(run(regression, X_train, y[train], X_test, y[test], split, quick))
        results[name] = {"metric": "r2" if regression else "accuracy",
                         **{row: {"mean": float(np.mean(v)), "std": float(np.std(v)), "scores": v}
                            for row, v in scores.items()}}
        print(f"{name}: " + ", ".join(f"{row} {np.mean(v):.3f}" for row, v in scores.items()), flush=True)
    return results


def markdown(results: dict) -> str:
    rows = list(next(iter(results.values())))[1:]
    lines = ["| data set (metric) | " + " | ".join(rows) + " |", "|---" * (len(rows) + 1) + "|"]
    for name, result in results.items():
        cells = [f"{result[row]['mean']:.3f} ± {result[row]['std']:.3f}" for row in rows]
        lines.append(f"| {name} ({result['metric']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 data sets, 1 split, few epochs")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "quality.json"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = study(args.quick)
    table = markdown(results)
    with open(args.output, "w") as handle:
        json.dump({"quick": args.quick, "seconds": time.perf_counter() - started, "results": results,
                   "table": table}, handle, indent=2)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
