"""A column of thousands of categories: one-hot, folded by --max-categories, or embedded.

    python bench/embeddings.py [--rows 40000] [--categories 8000] [--output bench/embeddings.json]

Writes a CSV of ``--rows`` rows: three numeric columns and an identifier-like ``store`` column of
``--categories`` categories, each with its own effect on the target (so the column matters).
Trains ``backprop train`` three ways with the same settings (layers 32,16, 10 epochs, seed 0) and
records each one's seconds, input width, parameter count and validation R².
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time

import numpy as np

from backpropagation import NeuralNetwork
from backpropagation.cli import main as backprop


def write_table(path: str, rows: int, categories: int) -> None:
    rng = np.random.default_rng(0)
    effect = rng.normal(size=categories)
    store = rng.integers(0, categories, rows)
    X = rng.normal(size=(rows, 3))
    target = X @ [1.0, -0.5, 0.25] + 2 * effect[store] + 0.3 * rng.normal(size=rows)
    with open(path, "w") as out:
        out.write("a,b,c,store,target\n")
        out.writelines(f"{a:.5f},{b:.5f},{c:.5f},S{s},{t:.5f}\n" for (a, b, c), s, t in zip(X, store, target))


def train(path: str, model: str, options: list[str]) -> dict:
    out = io.StringIO()
    began = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = backprop(["train", path, "--target", "target", "--epochs", "10", "--seed", "0", "--layers", "32,16",
                         "--early-stopping", "0", "--json", "--output", model, *options])
    if code:
        raise RuntimeError(f"backprop train {options} failed with exit code {code}")
    report = json.loads(out.getvalue())
    return {"seconds": round(time.perf_counter() - began, 2), "inputs": NeuralNetwork.load(model).layers[0].fan_in,
            "parameters": NeuralNetwork.load(model).n_parameters, "validation_r2": round(report["validation"]["r2"], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--categories", type=int, default=8_000)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "embeddings.json"))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        path, model = os.path.join(folder, "stores.csv"), os.path.join(folder, "m.npz")
        write_table(path, args.rows, args.categories)
        for name, options in (("one-hot (default)", []), ("--max-categories 100", ["--max-categories", "100"]),
                              ("--embed store:8", ["--embed", "store:8"])):
            results[name] = train(path, model, options)
            print(f"{name:22s} {results[name]['seconds']:7.2f} s  {results[name]['inputs']:>6} inputs to the first "
                  f"layer  {results[name]['parameters']:>8,} parameters  "
                  f"validation R² {results[name]['validation_r2']:.4f}")
    with open(args.output, "w") as out:
        json.dump({"rows": args.rows, "categories": args.categories, "results": results}, out, indent=1)


if __name__ == "__main__":
    main()
