"""Run under ``mpiexec`` by tests/test_distributed.py: train on this rank's shard, rank 0 saves.

Usage: python distributed_worker.py CASE OUTPUT.npz [SHARD_BOUNDARIES...]
"""

import sys

import numpy as np
from mpi4py import MPI

from distributed_cases import CASES

comm = MPI.COMM_WORLD
name, output, *cuts = sys.argv[1:]
case = CASES[name]
X, y, weights, X_val, y_val = case.data()
cuts = [int(c) for c in cuts] or list(np.linspace(0, len(X), comm.size + 1).astype(int))
rows = slice(cuts[comm.rank], cuts[comm.rank + 1])
val_cuts = np.linspace(0, len(X_val), comm.size + 1).astype(int) if X_val is not None else None
kwargs = case.fit_kwargs()
if weights is not None:
    kwargs["sample_weight"] = weights[rows]
if X_val is not None:
    vrows = slice(val_cuts[comm.rank], val_cuts[comm.rank + 1])
    kwargs["validation_data"] = (X_val[vrows], y_val[vrows])
model = case.model()
try:
    history = model.fit(X[rows], y[rows], comm=comm, **kwargs)
except ValueError as error:
    print(f"rank {comm.rank}: ValueError: {error}", flush=True)
    sys.exit(3)
if comm.rank == 0:
    np.savez(output, parameters=model.parameters, loss=history.history["loss"],
             epochs=np.array(history.epoch), stop_reason=np.array(history.stop_reason))
