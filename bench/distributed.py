"""Scaling of data-parallel training over MPI on the ``wide`` workload (see bench/run.py).

    python bench/distributed.py [--quick] [--ranks 1,2]

For each configuration it launches ``mpiexec -n N`` on this file in worker mode, where every
rank trains the 784-512-256-10 float32 network (Adam, global batch 256) on its shard, and rank 0
reports the median epoch time and the time spent in the per-step ``Allreduce``. Configurations:
one process with all cores for BLAS, one process with one BLAS thread, and N processes with one
BLAS thread each (the same cores, shared out differently). Results go to bench/distributed.json.

What a cluster adds: each step moves the gradient once through an all-reduce. A ring
all-reduce over P ranks sends and receives 2 (P-1)/P x 4 x n_parameters bytes per rank, so at
535,818 parameters (2.1 MB in float32) a step costs about 4.3 MB / bandwidth + latency; on
10 Gbit/s Ethernet that is ~3.4 ms per step against ~5.5 ms of computation per step on one
2-core process here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(quick: bool) -> None:
    from mpi4py import MPI

    sys.path.insert(0, HERE)
    import run

    from backpropagation import Callback, NeuralNetwork

    class ReduceTime(Callback):
        """The seconds spent in the gradient all-reduce, as fit reports them at the end."""

        def on_train_end(self, logs):
            self.seconds = logs["allreduce_seconds"]

    comm = MPI.COMM_WORLD
    w = run.wide(quick)
    cuts = np.linspace(0, len(w["X"]), comm.size + 1).astype(int)
    rows = slice(cuts[comm.rank], cuts[comm.rank + 1])
    model = NeuralNetwork([784, *w["hidden"], 10], task="classification", optimizer="adam",
                          learning_rate=run.LEARNING_RATE, dtype=np.float32, random_state=0)
    timer, reduce_time = run.EpochTimer(), ReduceTime()
    epochs = w["epochs"]
    started = time.perf_counter()
    model.fit(w["X"][rows], w["y"][rows], epochs=epochs, batch_size=w["batch"], verbose=0,
                        callbacks=[timer, reduce_time], comm=comm)
    total = time.perf_counter() - started
    steps = model.optimizer.iterations
    if comm.rank == 0:
        print(json.dumps({
            "ranks": comm.size, "epochs": epochs, "rows": len(w["X"]), "steps": steps,
            "epoch_seconds": float(np.median(timer.seconds)),
            "allreduce_ms_per_step": 1000 * reduce_time.seconds / steps,
            "allreduce_share": reduce_time.seconds / total,
            "gradient_bytes": 4 * model.n_parameters,
            "test_accuracy": model.score(w["X_test"], w["y_test"]),
        }))


def launch(ranks: int, threads: int | None, quick: bool) -> dict:
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if mpiexec is None:
        sys.exit("mpiexec not found: pip install mpi4py mpich")
    env = dict(os.environ)
    if threads is not None:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
    command = [mpiexec, "-n", str(ranks), sys.executable, __file__, "--worker"] + (["--quick"] if quick else [])
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["blas_threads"] = threads or os.cpu_count()
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 rows, one epoch")
    parser.add_argument("--ranks", default="2", help="process counts to compare with one process")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", default=os.path.join(HERE, "distributed.json"))
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.quick)
        return
    configurations = [(1, None), (1, 1)] + [(int(n), 1) for n in args.ranks.split(",") if int(n) > 1]
    results = [launch(ranks, threads, args.quick) for ranks, threads in configurations]
    base = results[0]["epoch_seconds"]
    print(f"{'ranks':>5} {'BLAS threads':>12} {'s/epoch':>8} {'vs 1 rank':>9} {'allreduce ms/step':>17} "
          f"{'share':>6} {'test acc':>8}")
    for r in results:
        print(f"{r['ranks']:>5} {r['blas_threads']:>12} {r['epoch_seconds']:>8.3f} {r['epoch_seconds'] / base:>9.2f} "
              f"{r['allreduce_ms_per_step']:>17.3f} {r['allreduce_share']:>6.1%} {r['test_accuracy']:>8.3f}")
    with open(args.output, "w") as handle:
        json.dump({"machine": f"{os.cpu_count()} cores", "quick": args.quick, "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
