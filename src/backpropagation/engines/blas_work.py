"""When BLAS's own threads wake: a rule about the size of a network's products, shared by the
measurements of ``auto`` (:mod:`.measure`) and the compiled engine's validation pass
(:mod:`.numba_engine`). Plain Python: importing it needs neither numba nor threadpoolctl."""

from __future__ import annotations

#: Multiply-adds (m·n·k) of a matrix product below which OpenBLAS runs it on one thread (its
#: GEMM threshold): a job whose every product is smaller wakes no threads, so leaves none spinning.
BLAS_THREADED_WORK = 2**18


def wakes_blas_threads(model, batch_size: int, skip_first: bool = False) -> bool:
    """Whether a training step's largest product (rows × fan-in × fan-out) is large enough for
    BLAS to run it on several threads (:data:`BLAS_THREADED_WORK`); ``skip_first``: the first
    layer's products are not BLAS's (the compiled engine loops over a sparse input's nonzeros)."""
    layers = model.layers[1:] if skip_first else model.layers
    return max((batch_size * layer.fan_in * layer.fan_out for layer in layers), default=0) >= BLAS_THREADED_WORK
