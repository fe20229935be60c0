"""The library core imports only NumPy (and tqdm): every other library waits at the edges."""

import subprocess
import sys

EDGES = ("pyarrow", "numba", "llvmlite", "scipy", "pandas", "polars", "matplotlib", "sklearn", "mpi4py",
         "dask", "torch", "keras", "selenium")


def test_importing_and_training_touch_no_optional_library():
    code = ("import sys, numpy as np; import backpropagation as bp; "
            "m = bp.NeuralNetwork([2, 3, 1]); m.fit(np.eye(2), [0.0, 1.0], epochs=2, verbose=0); "
            "m.predict(np.eye(2)); m.trace(np.eye(2)[:1], [1.0]); "
            f"print(sorted({{n.split('.')[0] for n in sys.modules}} & set({EDGES!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
