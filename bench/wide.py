"""Wide tables: ``backprop train`` must stay linear in the number of columns.

    python bench/wide.py [--columns 2500,5000,10000] [--rows 20] [--output bench/wide.json]

For each width it writes a CSV of ``--rows`` rows of numbers plus a two-class target, runs
``backprop train --epochs 1`` on it in a fresh process and records the wall time, and the time
per column. A quadratic step (the header's duplicate check once was: 10 s for 20,000 names)
shows as a time per column that grows with the width; a linear pipeline keeps it flat.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def write_table(path: str, columns: int, rows: int) -> None:
    rng = np.random.default_rng(0)
    with open(path, "w") as out:
        out.write(",".join(f"c{i}" for i in range(columns)) + ",y\n")
        for row in range(rows):
            out.write(",".join(f"{v:.3f}" for v in rng.normal(size=columns)) + f",{row % 2}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", default="2500,5000,10000")
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "wide.json"))
    args = parser.parse_args()
    backprop = os.path.join(os.path.dirname(sys.executable), "backprop")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for columns in map(int, args.columns.split(",")):
            data = os.path.join(folder, f"wide{columns}.csv")
            write_table(data, columns, args.rows)
            started = time.perf_counter()
            subprocess.run([backprop, "train", data, "--target", "y", "--epochs", "1", "--quiet",
                            "--output", os.path.join(folder, "m.npz")], check=True, capture_output=True)
            seconds = time.perf_counter() - started
            results.append({"columns": columns, "rows": args.rows, "seconds": round(seconds, 3),
                            "ms_per_column": round(1000 * seconds / columns, 4)})
            print(results[-1], flush=True)
    growth = results[-1]["ms_per_column"] / results[0]["ms_per_column"]
    summary = {"results": results, "per_column_growth": round(growth, 3)}
    print(f"time per column, widest over narrowest: {growth:.2f} (1.0 = linear)")
    with open(args.output, "w") as out:
        json.dump(summary, out, indent=2)


if __name__ == "__main__":
    main()
