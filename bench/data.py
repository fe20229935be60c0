"""Real tables at real size: ``backprop train`` on a large CSV against pandas plus ``fit``.

    python bench/data.py [--rows 1000000] [--quick] [--output bench/data.json]

Makes a table of eight numeric columns, one text column and a numeric target (CSV and Parquet),
then measures, in one run (the command, the reference and the two-rank run ``--repeats`` times
each, medians compared: one run on a shared VM varies by about ±10%):

- the reference: ``pandas.read_csv``, one-hot and standardising in pandas, then the library's
  ``fit`` for one epoch on the prepared matrix (the command line's network: 32-16 hidden
  units, Adam, batch size 32);
- ``backprop train big.csv --epochs 1`` (it also splits off 20% for validation, scores both
  parts and saves the model), its wall time and peak memory (the child's maximum RSS);
- the same command on the Parquet file: the model must equal the CSV's (both on the numpy
  engine, which `auto` might otherwise choose differently for the two);
- ``mpiexec -n 2 backprop train big.csv --distributed``: the model must equal one process's.

Results go to bench/data.json. For timings, unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE together.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OPTIONS = ["--target", "y", "--epochs", "1", "--seed", "0", "--quiet"]


def make_table(directory: str, rows: int) -> tuple[str, str]:
    """big.csv and big.parquet: eight numeric columns, a text column, a numeric target."""
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows).round(6) for i in range(8)})
    frame["city"] = rng.choice(["Paris", "Rome", "Oslo", "Lima", "Kyiv"], rows)
    frame["y"] = (2 * frame.x0 - frame.x1 + 0.1 * rng.normal(size=rows)).round(6)
    csv, parquet = os.path.join(directory, "big.csv"), os.path.join(directory, "big.parquet")
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet, index=False)
    return csv, parquet


def reference_seconds(csv: str) -> dict:
    """pandas.read_csv + preparation + one epoch of the library's fit."""
    import pandas as pd

    from backpropagation import NeuralNetwork

    started = time.perf_counter()
    frame = pd.read_csv(csv)
    read = time.perf_counter() - started
    X = pd.get_dummies(frame.drop(columns="y"), dtype=float).to_numpy()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = frame["y"].to_numpy()
    model = NeuralNetwork([X.shape[1], 32, 16, 1], task="regression", random_state=0)
    started = time.perf_counter()
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    fit = time.perf_counter() - started
    return {"read_csv_seconds": read, "fit_seconds": fit, "total_seconds": read + fit}


def timed(command: list[str]) -> dict:
    """Run ``command`` in a child that reports its own peak RSS; wall seconds and MB."""
    probe = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return {"seconds": seconds, "peak_rss_mb": int(done.stdout.split()[-1]) / 1024}


def median_run(runs: list[dict], key: str) -> dict:
    """The run whose ``key`` is the median (the lower middle one for an even count)."""
    return dict(sorted(runs, key=lambda run: run[key])[(len(runs) - 1) // 2])


def relative_difference(a: str, b: str) -> float:
    from backpropagation import NeuralNetwork

    first, second = NeuralNetwork.load(a).parameters, NeuralNetwork.load(b).parameters
    return float(np.max(np.abs(first - second)) / np.max(np.abs(first)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="10,000 rows")
    parser.add_argument("--output", default=os.path.join(HERE, "data.json"))
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of the command and of the reference; the medians are compared")
    args = parser.parse_args()
    rows = 10_000 if args.quick else args.rows
    backprop = shutil.which("backprop", path=os.path.dirname(sys.executable)) or "backprop"
    with tempfile.TemporaryDirectory() as directory:
        csv, parquet = make_table(directory, rows)
        os.sync()                        # (the first run should not share the disk with writeback)
        model = {name: os.path.join(directory, f"{name}.npz") for name in ("csv", "parquet", "mpi")}
        runs = [timed([backprop, "train", csv, *OPTIONS, "--output", model["csv"]]) for _ in range(args.repeats)]
        references = [reference_seconds(csv) for _ in range(args.repeats)]
        cli, reference = median_run(runs, "seconds"), median_run(references, "total_seconds")
        cli["all_seconds"] = [run["seconds"] for run in runs]
        reference["all_total_seconds"] = [run["total_seconds"] for run in references]
        for name, path in (("csv", csv), ("parquet", parquet)):   # (one engine: auto's timed choice may differ)
            timed([backprop, "train", path, *OPTIONS, "--engine", "numpy", "--output", model[name]])
        result = {"rows": rows, "csv_mb": os.path.getsize(csv) / 2**20, "reference": reference,
                  "cli": cli, "cli_over_reference": cli["seconds"] / reference["total_seconds"],
                  "parquet_vs_csv_max_relative_difference": relative_difference(model["csv"], model["parquet"])}
        mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
        if mpiexec:
            mpi_runs = [timed([mpiexec, "-n", "2", backprop, "train", csv, *OPTIONS, "--distributed",
                               "--output", model["mpi"]]) for _ in range(args.repeats)]
            mpi = median_run(mpi_runs, "seconds")
            mpi["all_seconds"] = [run["seconds"] for run in mpi_runs]
            result["mpi_2_ranks"] = {**mpi, "over_one_process": mpi["seconds"] / cli["seconds"],
                                     "max_relative_difference": relative_difference(model["csv"], model["mpi"])}
    with open(args.output, "w") as handle:
        json.dump(result, handle, indent=2)
    print(f"runs of backprop train: {', '.join(f'{x:.2f}' for x in cli['all_seconds'])} s; of the reference: "
          f"{', '.join(f'{x:.2f}' for x in reference['all_total_seconds'])} s (medians below)")
    print(f"{rows} rows ({result['csv_mb']:.0f} MB CSV): backprop train {cli['seconds']:.2f} s, "
          f"peak {cli['peak_rss_mb']:.0f} MB; pandas.read_csv + fit {reference['total_seconds']:.2f} s "
          f"(ratio {result['cli_over_reference']:.2f}); Parquet model vs CSV model "
          f"{result['parquet_vs_csv_max_relative_difference']:.1e}")
    if "mpi_2_ranks" in result:
        mpi = result["mpi_2_ranks"]
        print(f"mpiexec -n 2: {mpi['seconds']:.2f} s ({mpi['over_one_process']:.2f}x one process), "
              f"model vs one process {mpi['max_relative_difference']:.1e}")


if __name__ == "__main__":
    main()
