"""The engines' cross product: a random sample of every building block, trained by both engines.

    python bench/engines_equal.py [--cases 600] [--seed 0] [--output bench/engines_equal.json]

The tests (``tests/test_engines.py``) cover each axis on its own; this samples the full cross
product (activation × loss/output pair × optimizer × batch size × dtype × L2 × sample weights),
trains each case for three epochs from the same seed with the numpy and the numba engine, and
records the largest relative difference of the final weights, per dtype, with the worst cases.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time

import numpy as np

from backpropagation import DivergenceError, NeuralNetwork

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "swish", "linear", "softmax"]
HEADS = [("regression", "mse", None), ("regression", "mae", None), ("regression", "huber", None),
         ("regression", "mse", "tanh"), ("binary", "binary_crossentropy", None), ("binary", "mse", None),
         ("multiclass", "categorical_crossentropy", None), ("multiclass", "categorical_crossentropy", "sigmoid")]
OPTIMIZERS = ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"]
BATCH_SIZES = [1, 7, None]
DTYPES = ["float64", "float32"]
L2S = [0.0, 0.01]
WEIGHTED = [False, True]


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    targets = {"regression": X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=50),
               "binary": (X[:, 0] + X[:, 1] > 0).astype(int),
               "multiclass": (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)}
    weights = rng.uniform(0, 2, 50)
    weights[:5] = 0
    return X, targets, weights


def difference(case, X, targets, weights) -> float | None:
    """Largest |numba - numpy| of the final weights over the largest |weight|; None if diverged."""
    activation, (task, loss, output), optimizer, batch_size, dtype, l2, weighted = case
    n_out = 3 if task == "multiclass" else 1
    trained = []
    for engine in ("numpy", "numba"):
        model = NeuralNetwork([3, 6, 4, n_out], task=task, hidden_activation=activation, loss=loss,
                              output_activation=output, optimizer=optimizer, learning_rate=0.01, l2=l2,
                              dtype=dtype, random_state=1, engine=engine)
        try:
            model.fit(X, targets[task], epochs=3, batch_size=batch_size, verbose=0,
                      sample_weight=weights if weighted else None)
        except DivergenceError:
            return None
        trained.append(model.parameters.astype(np.float64))
    return float(np.max(np.abs(trained[1] - trained[0])) / np.max(np.abs(trained[0])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "engines_equal.json"))
    args = parser.parse_args()
    everything = list(itertools.product(ACTIVATIONS, HEADS, OPTIMIZERS, BATCH_SIZES, DTYPES, L2S, WEIGHTED))
    rng = np.random.default_rng(args.seed)
    chosen = [everything[i] for i in rng.choice(len(everything), size=min(args.cases, len(everything)),
                                                replace=False)]
    X, targets, weights = data()
    started = time.perf_counter()
    results = [(case, difference(case, X, targets, weights)) for case in chosen]
    report = {"cross_product": len(everything), "sampled": len(chosen), "seed": args.seed,
              "seconds": round(time.perf_counter() - started, 1), "dtypes": {}}
    for dtype in DTYPES:
        mine = [(case, d) for case, d in results if case[4] == dtype and d is not None]
        worst = sorted(mine, key=lambda item: -item[1])[:5]
        report["dtypes"][dtype] = {
            "cases": len(mine), "diverged": sum(1 for case, d in results if case[4] == dtype and d is None),
            "largest_relative_difference": max(d for _, d in mine) if mine else None,
            "worst": [{"case": dict(zip(["activation", "head", "optimizer", "batch_size", "dtype", "l2",
                                         "weighted"], case)), "difference": d} for case, d in worst]}
    with open(args.output, "w") as out:
        json.dump(report, out, indent=1)
    for dtype, summary in report["dtypes"].items():
        print(f"{dtype}: {summary['cases']} cases, largest relative difference "
              f"{summary['largest_relative_difference']:.2g} ({summary['diverged']} diverged)")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
