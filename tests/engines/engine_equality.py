"""Shared by the engine tests: two trainings (numpy first, numba second) compared."""

import numpy as np


def assert_equal_training(results, dtype="float64"):
    """``results``: ``(losses, parameters, optimizer steps)`` per engine. Equal steps, loss curves
    and final weights to 1e-9 relative in float64, 1e-4 in float32."""
    (loss_a, params_a, steps_a), (loss_b, params_b, steps_b) = results
    tolerance = 1e-9 if dtype == "float64" else 1e-4
    assert steps_a == steps_b
    np.testing.assert_allclose(loss_b, loss_a, rtol=tolerance)
    scale = np.max(np.abs(params_a))
    assert np.max(np.abs(params_b - params_a)) <= tolerance * scale
