"""Where the numba engine's `wide` epoch goes: its products, its optimizer step, its threads.

    python bench/wide_parts.py [--quick] [--output bench/wide_parts.json]

On ``run.py``'s wide workload (784-512-256-10, batches of 256, float32, Adam), measures:

- ``limit``: the epoch's products as bare two-threaded NumPy matmuls (``run.matmul_limit``);
- ``products``: each thread's half batch's products on one BLAS thread, as the engine runs them,
  one thread alone and two at once (NumPy calls on two Python threads; NumPy releases the GIL);
- ``step``: the compiled optimizer step on one thread's half of the parameters, with its data
  to itself: the other part's gradient added, then Adam (``numba_chunk.step_block``), and Adam's
  update alone (``numba_kernels.update_range``), per step and per epoch;
- ``epoch``: the engine's epoch with the batch's rows shared by two threads, and on one thread
  with BLAS's own threads (``numba.set_num_threads(1)``), each the median of its epochs.

What the epoch costs beyond the products and the step measured alone is data crossing between
the cores (bench/README.md, *Where numba's wide epoch goes*).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

import run as speed
from backpropagation.engines import numba_chunk, numba_kernels
from backpropagation.engines.numba_codes import ADAM

SIZES = [784, 512, 256, 10]


def half_batch_products(rows: int, rng) -> list:
    """The operands of one thread's products for ``rows`` rows: forward, weight and input gradients."""
    products = []
    for layer, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        def operand(*shape):
            return rng.standard_normal(shape).astype(np.float32)
        products.append((operand(rows, fan_in), operand(fan_in, fan_out), np.empty((rows, fan_out), np.float32)))
        products.append((operand(rows, fan_in).T, operand(rows, fan_out), np.empty((fan_in, fan_out), np.float32)))
        if layer > 0:
            products.append((operand(rows, fan_out), operand(fan_in, fan_out).T, np.empty((rows, fan_in), np.float32)))
    return products


def time_products(products, repeats: int, seconds: list, slot: int) -> None:
    """Seconds per batch of ``products`` over ``repeats`` batches, into ``seconds[slot]``."""
    began = time.perf_counter()
    for _ in range(repeats):
        for a, b, out in products:
            np.dot(a, b, out=out)
    seconds[slot] = (time.perf_counter() - began) / repeats


def products(batch: int, batches: int, repeats: int) -> dict:
    """Milliseconds per batch and seconds per epoch of a thread's half batch's products, alone and in pairs."""
    rng = np.random.default_rng(0)
    mine, theirs = half_batch_products(batch // 2, rng), half_batch_products(batch // 2, rng)
    alone, pair = [0.0], [0.0, 0.0]
    with threadpool_limits(1, user_api="blas"):
        time_products(mine, 5, alone, 0)
        time_products(mine, repeats, alone, 0)
        threads = [threading.Thread(target=time_products, args=(work, repeats, pair, k))
                   for k, work in enumerate((mine, theirs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return {"alone_ms_per_batch": alone[0] * 1e3, "pair_ms_per_batch": max(pair) * 1e3,
            "alone_epoch_seconds": alone[0] * batches, "pair_epoch_seconds": max(pair) * batches}


@numba.njit(cache=True)
def _steps(repeats, params, grads, partials, first, second, constants, whole):
    for _ in range(repeats):
        if whole:
            numba_chunk.step_block(ADAM, params, grads, partials, 0, first, second, constants, params.size, 0.0)
        else:
            numba_kernels.update_range(ADAM, params, grads, first, second, constants, 0, params.size)


def step(n_parameters: int, batches: int, repeats: int) -> dict:
    """The compiled step on one thread's half of ``n_parameters``, its data to itself."""
    rng = np.random.default_rng(0)
    half = (n_parameters + 1) // 2
    params, grads, first, second = (rng.random(half, dtype=np.float32) for _ in range(4))
    partials = rng.random((1, half), dtype=np.float32)
    constants = numba_kernels.StepConstants(*(np.float32(c) for c in
                                              (1e-3, 0, 0, 0.9, 0.1, 0.9, 0.1, 0.999, 1e-3, 1e-7, 0.5, 1e-2, 1)))
    result = {}
    for name, whole in (("step_block", True), ("adam_update", False)):
        _steps(2, params, grads, partials, first, second, constants, whole)
        began = time.perf_counter()
        _steps(repeats, params, grads, partials, first, second, constants, whole)
        per_step = (time.perf_counter() - began) / repeats
        result[name] = {"ms_per_step": per_step * 1e3, "epoch_seconds": per_step * batches,
                        "ns_per_parameter": per_step / half * 1e9}
    return result


def epochs(w) -> dict:
    """The numba engine's median epoch with two threads sharing each batch and with one."""
    result = {}
    for name, threads in (("two_threads", 2), ("one_thread_blas_threaded", 1)):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        seconds = speed.run_ours(w, "numba")["epoch_seconds"]
        result[name] = float(np.median(seconds))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,048 rows, short timings: a smoke run")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "wide_parts.json"))
    args = parser.parse_args(argv)
    w = speed.wide(args.quick)
    if args.quick:
        w.update(X=w["X"][:2048], y=w["y"][:2048])
    batches = int(np.ceil(len(w["X"]) / w["batch"]))
    speed.warm_numba()
    limit = speed.matmul_limit(w)
    limit_seconds = limit["flops_per_batch"] * batches / limit["numpy_matmul_gflops"] / 1e9
    n_parameters = sum((i + 1) * o for i, o in zip(SIZES[:-1], SIZES[1:]))
    results = {"machine": speed.machine(), "rows": len(w["X"]), "batches_per_epoch": batches,
               "limit_epoch_seconds": limit_seconds, "numpy_matmul_gflops": limit["numpy_matmul_gflops"],
               "products": products(w["batch"], batches, 5 if args.quick else 200),
               "step": step(n_parameters, batches, 5 if args.quick else 200), "epoch": epochs(w)}
    results["epoch_fraction_of_limit"] = {k: limit_seconds / v for k, v in results["epoch"].items()}
    with open(args.output, "w") as handle:
        json.dump(results, handle, indent=1)
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
