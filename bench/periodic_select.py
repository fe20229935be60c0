"""What choosing the periodic embeddings' spread by validation loss would buy, per table.

For each table and seed (``tables.py``'s split), ``backprop train`` runs twice: with its defaults
(slow waves, ``--periodic-sigma 0.1``) and with fast waves beside them (``--periodic-sigma 0.1,3``);
both are scored by ``backprop evaluate`` on the held-out 25%. *select* keeps, per split, the run
whose validation loss (the report's: log-loss for classes, mean squared error for numbers, on
the 20% of the training rows the command holds out) is lower, which is what a default that
trained both and kept one would score. Gradient boosting's scores are read from the tables'
earlier results (``--gradient-boosting``), so the verdict compares like with ``tables.py``'s.

    python bench/periodic_select.py                       # the fifteen tables, seeds 0-2
    python bench/periodic_select.py --random 30 --draw 3  # 30 drawn R tables, seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

import tables as bench_tables

VARIANTS = {"default": [], "fast waves": ["--periodic-sigma", "0.1,3"]}


def run_variant(table: dict, train, test, seed: int, options: list[str]) -> dict:
    """One ``backprop train`` and ``backprop evaluate`` of it on the test rows (``tables.ours``)."""
    run = bench_tables.ours(table, train, test, seed, options)
    scores = ("accuracy", "balanced_accuracy") if table["classes"] else ("r2",)
    return {"validation_loss": run["validation_loss"], "test": {key: run[key] for key in scores},
            "seconds": run["seconds"]}


def selected(run: dict) -> dict:
    """The variant of one split that the lower validation loss picks."""
    return min(run.values(), key=lambda variant: variant["validation_loss"])


def score_table(table: dict, seeds) -> dict:
    runs = []
    for seed in seeds:
        train, test = bench_tables.split(table, seed)
        runs.append({name: run_variant(table, train, test, seed, options) for name, options in VARIANTS.items()})
    return {"table": table["name"], "metric": "accuracy" if table["classes"] else "r2", "runs": runs}


def mean_scores(row: dict, pick) -> dict:
    """Mean test scores over the splits of the variant ``pick(run)`` chooses."""
    chosen = [pick(run)["test"] for run in row["runs"]]
    return {key: float(np.mean([c[key] for c in chosen])) for key in chosen[0]}


def verdict(results: list[dict], boosting: dict) -> str:
    """Per choice, the tables where it ties or beats gradient boosting (within ``tables.TIE`` on the
    score and, for classes, on balanced accuracy), as ``tables.py`` counts them."""
    lines = []
    choices = {name: (lambda run, n=name: run[n]) for name in VARIANTS} | {"select": selected}
    for name, pick in choices.items():
        ties = 0
        for row in results:
            theirs = boosting.get(row["table"])
            if theirs is None:
                continue
            ours = mean_scores(row, pick)
            gap = ours[row["metric"]] - theirs["mean"]
            if row["metric"] == "accuracy":
                gap = min(gap, ours["balanced_accuracy"] - theirs["balanced_accuracy"])
            ties += gap >= -bench_tables.TIE
        known = sum(row["table"] in boosting for row in results)
        lines.append(f"{name}: ties or beats gradient boosting on {ties} of {known}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None, help="splits per table (default 3; 1 with --random)")
    parser.add_argument("--random", type=int, default=0, metavar="N", help="N drawn R tables instead of the fifteen")
    parser.add_argument("--draw", type=int, default=0, help="seed of --random's draw (default 0)")
    parser.add_argument("--quick", action="store_true", help="one table, one seed: a smoke run")
    parser.add_argument("--gradient-boosting", metavar="RESULTS", default=None,
                        help="a tables.py results file whose HistGradientBoosting scores the verdict compares with")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "periodic_select.json"))
    args = parser.parse_args(argv)
    seeds = range(1 if args.quick or (args.random and args.seeds is None) else args.seeds or 3)
    drawn = bench_tables.random_tables(args.random, args.draw) if args.random else bench_tables.tables(args.quick)
    results = []
    for table in drawn[:1] if args.quick else drawn:
        try:
            results.append(score_table(table, seeds))
        except subprocess.CalledProcessError as error:
            print(f"(skipped {table['name']}: {error.stderr.strip()[-300:]})", file=sys.stderr)
            continue
        row = results[-1]
        print(f"{row['table'][:40]:40s} {row['metric']}: " + "  ".join(
            f"{name} {mean_scores(row, pick)[row['metric']]:.3f}"
            for name, pick in [(n, lambda run, n=n: run[n]) for n in VARIANTS] + [("select", selected)]), flush=True)
    boosting = {}
    if args.gradient_boosting:
        with open(args.gradient_boosting) as handle:
            boosting = {row["table"]: row["HistGradientBoosting"] for row in json.load(handle)["results"]}
        print(verdict(results, boosting))
    with open(args.output, "w") as out:
        json.dump({"seeds": len(seeds), "random": args.random, "draw": args.draw, "results": results}, out, indent=1)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
