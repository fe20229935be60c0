"""A table with a date column, kept as a user has it: what reading ISO dates as days buys.

    python bench/dates.py [--seeds 3] [--output bench/dates.json]

Seattle's weather (``vega_datasets``; its labels were kept differently in later years, so the
date tells them apart), on ``tables.py``'s splits: ``backprop train`` with its defaults on the
file without its date column and with it (the date written as ``2012-01-01``, read as days since
1970-01-01), beside gradient boosting without the date and with it given as days (its
practitioner converts it: a date as a category of its own would be one level a day).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

import tables


def variants(weather: pd.DataFrame) -> dict:
    """``how -> (the table ours reads, the table gradient boosting reads)``."""
    days = (pd.to_datetime(weather["date"]) - pd.Timestamp(0)).dt.days
    return {"date left out": (weather.drop(columns=["date"]),) * 2,
            "date kept": (weather.assign(date=weather["date"].dt.strftime("%Y-%m-%d")), weather.assign(date=days))}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--output", default="dates.json")
    args = parser.parse_args(argv)
    from vega_datasets import local_data

    results = {}
    for how, (ours_frame, gbdt_frame) in variants(local_data.seattle_weather()).items():
        runs = {"backprop train (defaults)": [], "HistGradientBoosting": []}
        for seed in range(args.seeds):
            for method, frame in (("backprop train (defaults)", ours_frame), ("HistGradientBoosting", gbdt_frame)):
                table = dict(name="seattle weather", frame=frame, target="weather", classes=True, drop=[])
                train, test = tables.split(table, seed)
                runs[method].append(tables.ours(table, train, test, seed) if method.startswith("backprop")
                                    else tables.scikit_learn(table, train, test, seed, "hgb"))
        results[how] = {method: {key: float(np.mean([run[key] for run in done]))
                                 for key in ("accuracy", "balanced_accuracy")} for method, done in runs.items()}
        for method, scores in results[how].items():
            print(f"{how:15s} {method:27s} accuracy {scores['accuracy']:.3f}  "
                  f"balanced {scores['balanced_accuracy']:.3f}")
    with open(args.output, "w") as handle:
        json.dump({"seeds": args.seeds, "results": results}, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
