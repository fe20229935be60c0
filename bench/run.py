"""Training speed against scikit-learn and PyTorch on the CPU, measured side by side in one run.

    python bench/run.py            # full run: a few minutes on 2 cores
    python bench/run.py --quick    # smoke run: under a minute (the test suite runs it)

Each workload trains the same architecture with the same optimizer (Adam), batch size, epochs
and data in five implementations: ours with each engine (``numpy``, the textbook reference,
``numba``, compiled, and ``auto``, which measures the job's steps and picks), scikit-learn's MLP
(solver adam, tol=0, no early stop) and PyTorch (torch.nn + torch.optim.Adam,
torch.set_num_threads = core count). It reports the median seconds per epoch and the seconds of
the whole fit of each (``auto``'s includes its trials; numba's kernels are loaded before any
timing), ``auto``'s choice and its ratio to the better engine, the ratios ours/sklearn and
ours/torch, and the final test accuracy or R² of each, so that speed is never bought with worse
learning. For ``wide`` and ``onehot`` it also reports the fraction of NumPy's own matmul
throughput reached on the epoch's matrix products; for ``wide`` the peak resident memory of a
process that trains only our network. ``--busy`` keeps one other process busy (a core's worth
of matrix products) for the whole run; ``--rounds N`` runs every implementation N times in
turn and reports medians, so that a slow spell of a noisy VM weighs on all of them alike. The
machine (processor, cores, the BLAS library, its kernel and threads as threadpoolctl reports
them) is written with the results.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
from backpropagation import Callback, NeuralNetwork  # noqa: E402

CORES = os.cpu_count() or 1
LEARNING_RATE = 1e-3


# ---------------------------------------------------------------------- workloads
def tiny(quick):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (1200, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + rng.normal(0, 0.05, 1200)
    train = 400 if quick else 1000          # (quick: fewer rows, a larger step for all five alike)
    return dict(name="tiny", task="regression", X=X[:train], y=y[:train], X_test=X[1000:], y_test=y[1000:],
                hidden=(16, 8), batch=1, dtype=np.float64, epochs=4 if quick else 10,
                learning_rate=0.004 if quick else LEARNING_RATE)


def digits(quick):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)
    return dict(name="digits", task="classification", X=X_train, y=y_train, X_test=X_test, y_test=y_test,
                hidden=(128, 64), batch=32, dtype=np.float64, epochs=3 if quick else 20, seeds=3)


def wide_data(n_rows, seed=0):
    """MNIST-sized synthetic classes: 10 random prototypes in 784 dimensions plus noise."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(0, 1, (10, 784)).astype(np.float32)
    labels = rng.integers(0, 10, n_rows)
    X = np.empty((n_rows, 784), dtype=np.float32)
    for start in range(0, n_rows, 4096):          # in chunks: no float64 copy of the whole set
        rows = slice(start, start + 4096)
        X[rows] = prototypes[labels[rows]] + rng.normal(0, 3.0, (len(labels[rows]), 784))
    return X, labels


def wide(quick):
    n = 6000 if quick else 60000
    X, y = wide_data(n + 2000)
    return dict(name="wide", task="classification", X=X[:n], y=y[:n], X_test=X[n:], y_test=y[n:],
                hidden=(512, 256), batch=256, dtype=np.float32, epochs=1 if quick else 3)


def onehot(quick):
    """A table one-hot encoded wide: 7,500 rows, a text column of about 3,000 categories and 10
    numbers, two classes (what ``backprop train`` makes of such a table)."""
    rng = np.random.default_rng(0)
    n, k = (1500, 600) if quick else (7500 + 1500, 3000)
    codes = rng.integers(0, k, n)
    X = np.zeros((n, k + 10))
    X[np.arange(n), codes] = 1.0
    X[:, k:] = rng.normal(size=(n, 10))
    y = ((codes % 7 > 3) ^ (X[:, k] > 0.8)).astype(int)
    train = n * 5 // 6
    return dict(name="onehot", task="classification", X=X[:train], y=y[:train], X_test=X[train:],
                y_test=y[train:], hidden=(32, 16), batch=32, dtype=np.float64, epochs=2 if quick else 10)


# ---------------------------------------------------------------------- implementations
class EpochTimer(Callback):
    def on_train_begin(self, logs):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs):
        self.seconds.append(time.perf_counter() - self.start)


def learning_rate(w) -> float:
    """Adam's step size for workload ``w``, the same in every implementation."""
    return w.get("learning_rate", LEARNING_RATE)


def run_ours(w, engine="numpy", seed=0):
    n_out = 1 if w["task"] == "regression" else len(np.unique(w["y"]))
    # scikit-learn's initialisation (Glorot uniform), so that scores compare like for like
    model = NeuralNetwork([w["X"].shape[1], *w["hidden"], n_out], task=w["task"], optimizer="adam",
                          learning_rate=learning_rate(w), initializer="glorot_uniform", dtype=w["dtype"],
                          random_state=seed, engine=engine)
    timer = EpochTimer()
    X = w["X"].astype(w["dtype"], copy=False)
    started = time.perf_counter()
    model.fit(X, w["y"], epochs=w["epochs"], batch_size=w["batch"], verbose=0, callbacks=[timer])
    fit = time.perf_counter() - started
    return {"epoch_seconds": timer.seconds, "fit_seconds": fit, "engine": model.engine_,
            "trial_ms_per_step": {k: v * 1e3 for k, v in model.engine_timing_.items()},
            "score": float(model.score(w["X_test"].astype(w["dtype"], copy=False), w["y_test"]))}


def run_sklearn(w, seed=0):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    regression = w["task"] == "regression"
    Estimator = MLPRegressor if regression else MLPClassifier
    # One epoch per partial_fit call, so that each epoch is timed: partial_fit keeps the Adam
    # state (fit with warm_start makes a new optimizer each call), and a RandomState object keeps
    # drawing (an int seed would restart the same shuffle every call).
    model = Estimator(hidden_layer_sizes=w["hidden"], solver="adam", learning_rate_init=learning_rate(w),
                      batch_size=w["batch"], alpha=0.0, max_iter=1, tol=0.0, n_iter_no_change=10**9,
                      shuffle=True, random_state=np.random.RandomState(seed))
    X = w["X"].astype(w["dtype"], copy=False)
    extra = {} if regression else {"classes": np.unique(w["y"])}
    seconds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(w["epochs"]):
            start = time.perf_counter()
            model.partial_fit(X, w["y"], **extra)
            seconds.append(time.perf_counter() - start)
    return {"epoch_seconds": seconds, "fit_seconds": sum(seconds),
            "score": float(model.score(w["X_test"].astype(w["dtype"], copy=False), w["y_test"]))}


def run_torch(w, seed=0):
    import torch

    torch.set_num_threads(CORES)
    torch.manual_seed(seed)
    dtype = torch.float64 if w["dtype"] == np.float64 else torch.float32
    sizes = [w["X"].shape[1], *w["hidden"]]
    regression = w["task"] == "regression"
    n_out = 1 if regression else len(np.unique(w["y"]))
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], n_out)).to(dtype)
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate(w))
    X = torch.tensor(w["X"], dtype=dtype)
    y = torch.tensor(w["y"], dtype=dtype).reshape(-1, 1) if regression else torch.tensor(w["y"])
    loss_fn = torch.nn.functional.mse_loss if regression else torch.nn.functional.cross_entropy
    seconds = []
    for _ in range(w["epochs"]):
        start = time.perf_counter()
        order = torch.randperm(len(X))
        for i in range(0, len(X), w["batch"]):
            rows = order[i:i + w["batch"]]
            optimizer.zero_grad()
            loss = loss_fn(net(X[rows]), y[rows])
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    with torch.no_grad():
        out = net(torch.tensor(w["X_test"], dtype=dtype)).numpy()
    if regression:
        from backpropagation.nn.metrics import r2_score

        score = r2_score(w["y_test"], out[:, 0])
    else:
        score = float(np.mean(out.argmax(axis=1) == w["y_test"]))
    return {"epoch_seconds": seconds, "fit_seconds": sum(seconds), "score": score}


#: Our engines (NeuralNetwork(engine=...)), "auto" choosing between them, and the references, in
#: the order they run.
ENGINES = ("numpy", "numba", "auto")
IMPLEMENTATIONS = (("numpy", run_ours), ("numba", lambda w, seed=0: run_ours(w, "numba", seed)),
                   ("auto", lambda w, seed=0: run_ours(w, "auto", seed)),
                   ("sklearn", run_sklearn), ("torch", run_torch))


# ---------------------------------------------------------------------- the machine's limit
def matmul_limit(w, measurements=3):
    """NumPy's matmul throughput on the epoch's own products (forward, weight gradients, input
    gradients but the first layer's), hot operands: the best of ``measurements`` timings, since
    a limit is what the machine can reach (single timings dip in this VM's slow phases)."""
    dtype, batch = w["dtype"], w["batch"]
    sizes = [w["X"].shape[1], *w["hidden"], 1 if w["task"] == "regression" or len(np.unique(w["y"])) == 2 else
             len(np.unique(w["y"]))]
    rng = np.random.default_rng(0)
    products = []                                  # (m, k, n): an (m, k) @ (k, n) product
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        products.append((batch, fan_in, fan_out))  # forward
        products.append((fan_in, batch, fan_out))  # weight gradient A_prevᵀ δ
        if layer > 0:
            products.append((batch, fan_out, fan_in))  # input gradient δ Wᵀ (not for layer 1)
    operands = [(rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype),
                 np.empty((m, n), dtype)) for m, k, n in products]
    flops_per_batch = sum(2 * m * k * n for m, k, n in products)
    repeats = max(20, int(np.ceil(len(w["X"]) / batch)) // 4)
    for a, b, out in operands:                     # warm up
        np.matmul(a, b, out=out)
    best = 0.0
    for _ in range(measurements):
        start = time.perf_counter()
        for _ in range(repeats):
            for a, b, out in operands:
                np.matmul(a, b, out=out)
        best = max(best, flops_per_batch * repeats / (time.perf_counter() - start))
    return {"flops_per_batch": flops_per_batch, "numpy_matmul_gflops": best / 1e9}


def matmul_fraction(w, limit, our_epoch_seconds):
    """Fraction of the matmul ``limit`` (:func:`matmul_limit`) that our epoch reached."""
    epoch_flops = limit["flops_per_batch"] * int(np.ceil(len(w["X"]) / w["batch"]))
    ours = epoch_flops / our_epoch_seconds / 1e9
    return {"epoch_gflop": epoch_flops / 1e9, "numpy_matmul_gflops": limit["numpy_matmul_gflops"],
            "ours_gflops": ours, "fraction": ours / limit["numpy_matmul_gflops"]}


def peak_rss_bytes() -> int:
    """This process's peak resident memory. VmHWM belongs to the process's own address space;
    ru_maxrss would carry over the parent's peak across fork and exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_memory(quick):
    """Peak RSS of a fresh process that builds the wide data and trains our network on it."""
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import run; w = run.wide({quick}); w['epochs'] = 1; data = w['X'].nbytes + w['y'].nbytes; "
            "base = run.peak_rss_bytes(); run.run_ours(w); print(data, base, run.peak_rss_bytes())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    data, before, peak = map(int, out.split())
    return {"dataset_mb": data / 2**20, "rss_before_training_mb": before / 2**20, "peak_rss_mb": peak / 2**20,
            "peak_minus_dataset_mb": (peak - data) / 2**20}


# ---------------------------------------------------------------------- driver
def machine() -> dict:
    """What the figures were measured on: processor, cores, library versions, and the BLAS
    library with its kernel and thread count (threadpoolctl)."""
    import sklearn
    import torch
    from threadpoolctl import threadpool_info

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"processor": model, "cores": CORES, "python": platform.python_version(), "numpy": np.__version__,
            "sklearn": sklearn.__version__, "torch": torch.__version__,
            "blas": [{key: info.get(key) for key in ("internal_api", "version", "architecture", "num_threads")}
                     for info in threadpool_info() if info.get("user_api") == "blas"],
            "openblas_variables_unset": not any(os.environ.get(v) for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))}


def busy_process():
    """A process that keeps one core busy with matrix products until it is stopped."""
    code = ("import os; os.environ['OPENBLAS_NUM_THREADS'] = '1'; import numpy as np; "
            "a = np.random.rand(600, 600)\nwhile True: a = a @ a / 600.0")
    return subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})


def warm_numba():
    """Load the compiled kernels once, so that no timed fit pays for it (numba and auto alike)."""
    if importlib.util.find_spec("numba") is not None:
        for dtype in (np.float32, np.float64):
            NeuralNetwork([2, 2, 1], engine="numba", dtype=dtype).fit(np.eye(2), [0.0, 1.0], epochs=1, verbose=0)


def measure(name, w, quick, rounds: int = 1) -> dict:
    """One workload in every implementation (see the module docstring); with ``rounds`` > 1 every
    implementation (and the matmul limit) once per round, in turn, so that a slow spell of the
    machine falls on all of them: epochs and fits are then the medians over the rounds."""
    row = {"rows": len(w["X"]), "network": [w["X"].shape[1], *w["hidden"]], "batch": w["batch"],
           "dtype": np.dtype(w["dtype"]).name, "epochs": w["epochs"], "rounds": rounds}
    limits = []
    for round_ in range(rounds):
        for impl, run in IMPLEMENTATIONS:
            if impl == "numba" and importlib.util.find_spec("numba") is None:
                continue
            result = run(w)
            if impl in row:                  # (a later round: its epochs and its fit join the first's)
                row[impl]["epoch_seconds"] += result["epoch_seconds"]
                row[impl]["fits"].append(result["fit_seconds"])
                row[impl]["engines"].append(result.get("engine"))
            else:
                row[impl] = {**result, "fits": [result["fit_seconds"]], "engines": [result.get("engine")]}
            row[impl].update(median_epoch_seconds=float(np.median(row[impl]["epoch_seconds"])),
                             fit_seconds=float(np.median(row[impl]["fits"])))
            if w.get("seeds") and round_ == 0:      # learning judged over several seeds, not one
                scores = [result["score"]] + [float(run(w, seed=seed)["score"]) for seed in range(1, w["seeds"])]
                row[impl].update(scores=scores, mean_score=float(np.mean(scores)))
            chosen = f" (chose {result['engine']})" if impl == "auto" else ""
            print(f"{name:7s} {impl:8s} {np.median(result['epoch_seconds']):9.4f} s/epoch  "
                  f"fit {result['fit_seconds']:7.3f} s  score {result['score']:.4f}{chosen}", flush=True)
        if name in ("wide", "onehot"):
            limits.append(matmul_limit(w))
    for engine in [e for e in ENGINES if e in row]:
        for reference in ("sklearn", "torch"):
            row[f"{engine}_over_{reference}"] = (row[engine]["median_epoch_seconds"]
                                                 / row[reference]["median_epoch_seconds"])
    engines = [e for e in ("numpy", "numba") if e in row]
    row["auto_over_best_engine"] = row["auto"]["fit_seconds"] / min(row[e]["fit_seconds"] for e in engines)
    row["metric"] = "r2" if w["task"] == "regression" else "accuracy"
    if name in ("wide", "onehot"):
        limit = max(limits, key=lambda found: found["numpy_matmul_gflops"])     # (a limit: the best reached)
        row["matmul"] = {engine: matmul_fraction(w, limit, row[engine]["median_epoch_seconds"])
                         for engine in (*ENGINES, "torch") if engine in row}
    if name == "wide":
        row["memory"] = peak_memory(quick)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small and short: a smoke test")
    parser.add_argument("--workloads", default="tiny,digits,wide,onehot")
    parser.add_argument("--busy", action="store_true", help="keep one other process busy for the whole run")
    parser.add_argument("--output", default=None, help="JSON results (default bench/results[-quick|-busy].json)")
    parser.add_argument("--plot", default=None, help="bar chart PNG (default next to the JSON)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every implementation this many times in turn (medians): a noisy machine")
    args = parser.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    stem = "results" + ("-quick" if args.quick else "") + ("-busy" if args.busy else "")
    output = args.output or os.path.join(here, stem + ".json")
    plot = args.plot or output.replace(".json", ".png")
    factories = {"tiny": tiny, "digits": digits, "wide": wide, "onehot": onehot}
    results = {"machine": machine(), "quick": args.quick, "busy": args.busy, "workloads": {}}
    print(json.dumps(results["machine"]), flush=True)
    warm_numba()
    other = busy_process() if args.busy else None
    try:
        for name in args.workloads.split(","):
            results["workloads"][name] = measure(name, factories[name](args.quick), args.quick, args.rounds)
    finally:
        if other is not None:
            other.kill()
    with open(output, "w") as handle:
        json.dump(results, handle, indent=2)
    print_table(results)
    draw(results, plot)
    print(f"\nresults: {output}\nchart:   {plot}")
    return results


def print_table(results):
    print(f"\n{'workload':9s}{'engine':8s}{'s/epoch':>10s}{'fit s':>9s}{'sklearn':>10s}{'torch':>10s}{'ours/skl':>10s}"
          f"{'ours/torch':>11s}   score: ours / sklearn / torch")
    for name, row in results["workloads"].items():
        for engine in [e for e in ENGINES if e in row]:
            print(f"{name:9s}{engine:8s}{row[engine]['median_epoch_seconds']:10.4f}{row[engine]['fit_seconds']:9.3f}"
                  f"{row['sklearn']['median_epoch_seconds']:10.4f}{row['torch']['median_epoch_seconds']:10.4f}"
                  f"{row[engine + '_over_sklearn']:10.3f}{row[engine + '_over_torch']:11.3f}"
                  f"   {row['metric']} {row[engine]['score']:.4f} / {row['sklearn']['score']:.4f}"
                  f" / {row['torch']['score']:.4f}")
        print(f"{'':9s}auto chose {row['auto']['engine']}: its fit took {row['auto_over_best_engine']:.2f}x the "
              "better engine's")
        if "mean_score" in row["sklearn"]:
            means = " / ".join(f"{impl} {row[impl]['mean_score']:.4f}" for impl, _ in IMPLEMENTATIONS if impl in row)
            print(f"{'':9s}mean {row['metric']} over {len(row['sklearn']['scores'])} seeds: {means}")
        for engine, m in row.get("matmul", {}).items():
            print(f"{'':9s}{engine:8s}matmul: {m['ours_gflops']:.1f} of {m['numpy_matmul_gflops']:.1f} GFLOP/s "
                  f"= {100 * m['fraction']:.0f}% of NumPy's limit on these shapes")
        if "memory" in row:
            mem = row["memory"]
            print(f"{'':17s}peak RSS (numpy engine) {mem['peak_rss_mb']:.0f} MB "
                  f"= data {mem['dataset_mb']:.0f} MB + {mem['peak_minus_dataset_mb']:.0f} MB")


def draw(results, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        return
    names = list(results["workloads"])
    implementations = [impl for impl, _ in IMPLEMENTATIONS if impl in results["workloads"][names[0]]]
    figure = Figure(figsize=(9, 4.5), layout="constrained")
    ax = figure.add_subplot()
    width = 0.8 / len(implementations)
    for k, impl in enumerate(implementations):
        values = [results["workloads"][n][impl]["median_epoch_seconds"] for n in names]
        ax.bar(np.arange(len(names)) + (k - (len(implementations) - 1) / 2) * width, values, width=width, label=impl)
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_yscale("log")
    ax.set_ylabel("median seconds per epoch (log scale)")
    busy = ", one other process busy" if results.get("busy") else ""
    ax.set_title(f"Training speed on {results['machine']['cores']} CPU cores{busy} (lower is better)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    figure.savefig(path)


if __name__ == "__main__":
    main()
