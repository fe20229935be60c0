"""The numba engine's first layer on mostly-zero input: skipping the zeros against BLAS on the block.

    python bench/sparse_input.py [--rows 4000] [--quick] [--output bench/sparse_input.json]

For first layers of several shapes and inputs of several densities (random entries, the rest
zero; and one-hot columns behind the table recipe's input stage: two numeric columns with
periodic embeddings, the input scale on every input), trains one epoch after a warm-up epoch
with the first layer's products dense (BLAS on the whole block) and sparse (loops over the
nonzero entries), the best of two timings each, and writes the share of the first layer's input
that is nonzero (periodic features count as nonzero), the seconds per epoch and their ratio.
``numba_engine.sparse_limit`` is fitted to these figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from backpropagation import NeuralNetwork
from backpropagation.engines import numba_codes, numba_engine

SHAPES = [(500, 32), (3000, 32), (200, 64), (784, 256)]
DENSITIES = [0.005, 0.02, 0.05, 0.1, 0.2]


def inputs(rows: int, width: int, density: float, staged: bool, rng) -> np.ndarray:
    """Random rows of ``width`` columns: entries nonzero with chance ``density``; staged: two
    numeric columns, then one-hot columns of categories chosen so that the share is ``density``."""
    if not staged:
        return (rng.random((rows, width)) < density) * rng.normal(size=(rows, width))
    columns = max(1, round(density * (width - 2)))       # (categorical columns, each one level hot)
    levels = (width - 2) // columns
    hot = np.zeros((rows, width - 2))
    for c in range(columns):
        hot[np.arange(rows), c * levels + rng.integers(0, levels, rows)] = 1.0
    return np.hstack([rng.normal(size=(rows, 2)), hot])


def epoch_seconds(X, y, hidden: int, sparse: bool, staged: bool) -> tuple[float, float]:
    """The best of two epochs' seconds, and the share of the first layer's input that is nonzero."""
    numba_engine.SPARSE_DENSITY = 10.0 if sparse else -10.0
    best = np.inf
    for _ in range(2):
        model = NeuralNetwork([X.shape[1], hidden, 16, 1], engine="numba", random_state=0,
                              **({"periodic": [0, 1], "input_scale": True} if staged else {}))
        model.fit(X, y, epochs=1, batch_size=32, verbose=0)
        began = time.perf_counter()
        model.fit(X, y, epochs=1, batch_size=32, verbose=0)
        best = min(best, time.perf_counter() - began)
    return best, numba_codes.first_input_density(X, numba_codes.stage_of(model), rows=len(X))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--quick", action="store_true", help="one shape, two densities: a smoke run")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "sparse_input.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    shapes, densities = (SHAPES[:1], DENSITIES[:2]) if args.quick else (SHAPES, DENSITIES)
    results = []
    for staged in (False, True):
        for width, hidden in shapes:
            for density in densities:
                X = inputs(args.rows, width, density, staged, rng)
                y = X[:, 0] + X[:, 2:].sum(axis=1) * 0.1
                (dense, share), (sparse, _) = (epoch_seconds(X, y, hidden, s, staged) for s in (False, True))
                row = {"staged": staged, "width": width, "hidden": hidden, "density": float(share),
                       "dense_seconds": dense, "sparse_seconds": sparse, "ratio": sparse / dense}
                results.append(row)
                print(f"{'staged ' if staged else ''}width {width} hidden {hidden} density {row['density']:.3f}: "
                      f"dense {dense * 1e3:.1f} ms, sparse {sparse * 1e3:.1f} ms, ratio {row['ratio']:.2f}",
                      flush=True)
    with open(args.output, "w") as out:
        json.dump({"rows": args.rows, "results": results}, out, indent=1)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
