"""Real tables, as practitioners have them: the CLI's defaults beside scikit-learn.

    python bench/tables.py [--seeds 3] [--quick] [--output bench/tables.json]

For each table (text columns, missing values; shipped inside packages, nothing downloaded) and
seed: a 75/25 split (stratified for classes), then on the same rows

* ``backprop train train.csv --target T --seed S`` with every other option at its default, scored
  by ``backprop evaluate`` on the test rows;
* a practitioner's scikit-learn pipeline: median/most-frequent imputation, standard scaling,
  one-hot encoding (unknown categories ignored), ``MLPClassifier``/``MLPRegressor`` (500 epochs);
* ``HistGradientBoostingClassifier``/``Regressor`` on the same encoded columns.

Scores are test accuracy (classes) or R² (numbers), mean ± standard deviation over the seeds,
with each method's seconds. The bundled penguins table always runs; the others need
``vega_datasets`` (``pip install vega_datasets``) and are skipped without it.
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
import pandas as pd


def tables(quick: bool) -> list[dict]:
    """(name, frame, target, task, columns to drop) of each table available here."""
    from backpropagation.cli import demo_data_path

    penguins = pd.read_csv(demo_data_path())
    chosen = [dict(name="penguins species", frame=penguins, target="species", classes=True, drop=[]),
              dict(name="penguins body mass", frame=penguins, target="body_mass_g", classes=False, drop=[])]
    if quick:
        return chosen[:1]
    try:
        from vega_datasets import local_data
    except ImportError:
        print("(vega_datasets is not installed: only the penguins table)", file=sys.stderr)
        return chosen
    cars = local_data.cars()
    weather = local_data.seattle_weather()
    return chosen + [
        dict(name="cars: miles per gallon", frame=cars, target="Miles_per_Gallon", classes=False,
             drop=["Name", "Year"]),
        dict(name="cars: origin", frame=cars, target="Origin", classes=True, drop=["Name", "Year"]),
        dict(name="seattle weather", frame=weather, target="weather", classes=True, drop=["date"]),
    ]


def split(table: dict, seed: int):
    from sklearn.model_selection import train_test_split

    frame = table["frame"].drop(columns=table["drop"]).dropna(subset=[table["target"]])
    labels = frame[table["target"]] if table["classes"] else None
    return train_test_split(frame, test_size=0.25, random_state=seed, stratify=labels)


def ours(table: dict, train: pd.DataFrame, test: pd.DataFrame, seed: int) -> float:
    backprop = os.path.join(os.path.dirname(sys.executable), "backprop")
    with tempfile.TemporaryDirectory() as folder:
        train.to_csv(os.path.join(folder, "train.csv"), index=False)
        test.to_csv(os.path.join(folder, "test.csv"), index=False)
        model = os.path.join(folder, "m.npz")
        subprocess.run([backprop, "train", os.path.join(folder, "train.csv"), "--target", table["target"],
                        "--seed", str(seed), "--quiet", "--output", model], check=True, capture_output=True)
        done = subprocess.run([backprop, "evaluate", model, os.path.join(folder, "test.csv"), "--json"],
                              check=True, capture_output=True, text=True)
    report = json.loads(done.stdout)
    return report["accuracy"] if table["classes"] else report["r2"]


def encoder(frame: pd.DataFrame, target: str):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = frame.drop(columns=[target])
    numeric = features.select_dtypes("number").columns.tolist()
    text = [c for c in features.columns if c not in numeric]
    return ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("text", make_pipeline(SimpleImputer(strategy="most_frequent"),
                               OneHotEncoder(handle_unknown="ignore", sparse_output=False)), text)])


def scikit_learn(table: dict, train, test, seed: int, model: str) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline

    target = table["target"]
    if model == "mlp":
        estimator = (MLPClassifier if table["classes"] else MLPRegressor)(max_iter=500, random_state=seed)
    else:
        estimator = (HistGradientBoostingClassifier if table["classes"] else HistGradientBoostingRegressor)(
            random_state=seed)
    pipeline = make_pipeline(encoder(train, target), estimator)
    pipeline.fit(train.drop(columns=[target]), train[target])
    return float(pipeline.score(test.drop(columns=[target]), test[target]))


def main() -> None:
    import warnings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one table, one seed: a smoke run")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "tables.json"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")          # (scikit-learn's ConvergenceWarning at 500 epochs)
    seeds = range(1 if args.quick else args.seeds)
    methods = {"backprop train (defaults)": ours,
               "sklearn MLP pipeline": lambda t, a, b, s: scikit_learn(t, a, b, s, "mlp"),
               "HistGradientBoosting": lambda t, a, b, s: scikit_learn(t, a, b, s, "hgb")}
    results = []
    for table in tables(args.quick):
        row = {"table": table["name"], "rows": int(len(table["frame"])),
               "metric": "accuracy" if table["classes"] else "r2"}
        for method, run in methods.items():
            scores, started = [], time.perf_counter()
            for seed in seeds:
                train, test = split(table, seed)
                scores.append(run(table, train, test, seed))
            row[method] = {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "scores": scores,
                           "seconds": round((time.perf_counter() - started) / len(seeds), 2)}
        results.append(row)
        print(f"{row['table']:26s} ({row['metric']}): " + "  ".join(
            f"{m} {row[m]['mean']:.3f} ± {row[m]['std']:.3f} ({row[m]['seconds']} s)" for m in methods))
    with open(args.output, "w") as out:
        json.dump({"seeds": len(seeds), "results": results}, out, indent=1)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
