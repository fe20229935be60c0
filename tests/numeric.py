"""Shared by the derivative tests: hypothesis inputs and central differences."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

finite = st.floats(-6, 6, allow_nan=False, width=64)
matrices = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 4)), elements=finite)


def numeric_jvp(f, Z, dA, eps=1e-6):
    """∂/∂Z of Σ dA ⊙ f(Z) by central differences."""
    grad = np.empty_like(Z)
    for index in np.ndindex(Z.shape):
        plus, minus = Z.copy(), Z.copy()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (np.sum(dA * f(plus)) - np.sum(dA * f(minus))) / (2 * eps)
    return grad
