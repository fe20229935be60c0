"""Streaming a table bigger than a memory budget: peak memory, throughput and accuracy.

    python bench/stream.py [--rows 1000000] [--output bench/stream.json]

Writes a Parquet table of ``--rows`` rows (10 numeric columns, one text column, a binary target)
*sorted by the target*, then runs in fresh processes, one epoch each with the same settings:
``backprop train`` in memory on a shuffled copy, and ``backprop train --stream`` on the sorted
file, as Parquet and as CSV. Records each one's seconds, rows per second and peak resident memory (the child's
``ru_maxrss``), and the validation accuracy. The tables are written by a child process too: a
child forked from a large parent would count the parent's pages in its peak.
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


def write_tables(folder: str, rows: int) -> tuple[str, str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 10))
    kind = rng.choice(np.array(["north", "south", "east", "west"]), rows)
    y = ((X[:, 0] + 0.5 * X[:, 1] - 0.3 * X[:, 2] + (kind == "north")) > 0.2).astype(np.int64)
    columns = {f"x{i}": X[:, i] for i in range(10)} | {"kind": kind, "y": y}
    shuffled, ordered = os.path.join(folder, "shuffled.parquet"), os.path.join(folder, "sorted.parquet")
    pq.write_table(pa.table(columns), shuffled)             # (pyarrow's default row groups, as users write)
    order = np.argsort(y, kind="stable")
    sorted_table = pa.table({k: v[order] for k, v in columns.items()})
    pq.write_table(sorted_table, ordered)
    import pyarrow.csv as pcsv

    pcsv.write_csv(sorted_table, os.path.join(folder, "sorted.csv"))
    return shuffled, ordered


def run(command: list[str]) -> dict:
    """Run ``command`` in a fresh process: its seconds, its own peak memory (``wait4``'s usage of
    that child alone), its --json report."""
    began = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"{command[:3]} failed with exit code {child.returncode}")
    seconds = time.perf_counter() - began
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024), "report": json.loads(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "stream.json"))
    parser.add_argument("--write-into", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_into:
        write_tables(args.write_into, args.rows)
        return
    backprop = os.path.join(os.path.dirname(sys.executable), "backprop")
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--write-into", folder], check=True)
        shuffled, ordered = os.path.join(folder, "shuffled.parquet"), os.path.join(folder, "sorted.parquet")
        common = ["--target", "y", "--epochs", "1", "--seed", "0", "--json", "--output", os.path.join(folder, "m.npz")]
        streamed = run([backprop, "train", ordered, "--stream", *common])
        streamed_csv = run([backprop, "train", os.path.join(folder, "sorted.csv"), "--stream", *common])
        whole = run([backprop, "train", shuffled, *common])
    results = {}
    for name, result in (("in memory (shuffled file)", whole), ("--stream (sorted file)", streamed),
                         ("--stream (sorted CSV)", streamed_csv)):
        results[name] = {"seconds": result["seconds"], "rows_per_second": round(args.rows / result["seconds"]),
                         "peak_rss_mb": result["peak_rss_mb"],
                         "validation_accuracy": result["report"]["validation"]["accuracy"]}
        print(f"{name:28s} {result['seconds']:7.2f} s  {results[name]['rows_per_second']:>10,} rows/s  "
              f"peak {result['peak_rss_mb']:>5} MB  validation accuracy {results[name]['validation_accuracy']:.4f}")
    with open(args.output, "w") as out:
        json.dump({"rows": args.rows, "results": results}, out, indent=1)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
