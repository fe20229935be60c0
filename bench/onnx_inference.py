"""Batch inference on 100,000 rows: onnxruntime on the exported graph, the library's predict,
scikit-learn's predict on an MLP of the same shape.

    python bench/onnx_inference.py [--rows 100000] [--repeats 5] [--output bench/onnx_inference.json]

One 20-64-32-3 classifier (float64), trained briefly; scikit-learn's ``MLPClassifier`` gets the
very same weights, so the three predict the same labels. Each is timed on the same rows, the
best of ``--repeats``, in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def best_of(repeats: int, work) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    import warnings

    import onnxruntime as ort
    from sklearn.neural_network import MLPClassifier

    from backpropagation import NeuralNetwork

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "onnx_inference.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, 20))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    model = NeuralNetwork([20, 64, 32, 3], task="classification", random_state=0)
    model.fit(X[:2000], y[:2000], epochs=5, verbose=0)
    mlp = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(X[:300], y[:300])
    mlp.coefs_ = [layer.W.copy() for layer in model.layers]          # the same network in scikit-learn
    mlp.intercepts_ = [layer.b.copy() for layer in model.layers]
    session = ort.InferenceSession(model.to_onnx().SerializeToString())
    labels = {"onnxruntime": session.run(None, {"X": X})[0], "library predict": model.predict(X),
              "scikit-learn predict": mlp.predict(X)}
    same = all(np.array_equal(v, labels["library predict"]) for v in labels.values())
    seconds = {"onnxruntime": best_of(args.repeats, lambda: session.run(None, {"X": X})),
               "library predict": best_of(args.repeats, lambda: model.predict(X)),
               "scikit-learn predict": best_of(args.repeats, lambda: mlp.predict(X))}
    report = {"rows": args.rows, "network": [20, 64, 32, 3], "labels_equal": same,
              "seconds": seconds, "rows_per_second": {k: args.rows / v for k, v in seconds.items()},
              "over_library": {k: v / seconds["library predict"] for k, v in seconds.items()}}
    with open(args.output, "w") as out:
        json.dump(report, out, indent=1)
    for name, value in seconds.items():
        print(f"{name:22s} {value * 1000:8.1f} ms  ({args.rows / value / 1e6:.2f} M rows/s, "
              f"{report['over_library'][name]:.2f}x the library's time)")
    print(f"labels equal: {same}; written to {args.output}")


if __name__ == "__main__":
    main()
