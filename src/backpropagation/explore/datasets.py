"""The explorer's data: 2-D classification sets, their noise, the input features, the test split.

As in TensorFlow Playground: a data set is points in the plane with a class each; the network
sees chosen *features* of each point (x₁, x₂, their squares and product, their sines); a share
of the points can be held out as a test set that training never sees.
"""

from __future__ import annotations

import math

import numpy as np

#: Rows of every data set.
ROWS = 200
DATASETS = ("moons", "circles", "xor", "spiral", "blobs", "linear")


def make_dataset(name: str, n: int = ROWS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D classification set (``X`` of shape (n, 2), integer labels), the same for a seed."""
    rng = np.random.default_rng(seed)
    half = n // 2
    if name == "moons":
        angle = rng.uniform(0, math.pi, n)
        upper = np.arange(n) < half
        X = np.where(upper[:, None], np.c_[np.cos(angle), np.sin(angle)],
                     np.c_[1 - np.cos(angle), 0.5 - np.sin(angle)])
        X = X + rng.normal(0, 0.1, (n, 2))
        return X, (~upper).astype(int)
    if name == "circles":
        angle, inner = rng.uniform(0, 2 * math.pi, n), np.arange(n) < half
        radius = np.where(inner, 0.5, 1.0) + rng.normal(0, 0.08, n)
        return np.c_[radius * np.cos(angle), radius * np.sin(angle)], inner.astype(int)
    if name == "xor":
        X = rng.uniform(-1, 1, (n, 2))
        return X, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    if name == "spiral":
        t = rng.uniform(0.25, 1, n) * 3 * math.pi
        arm = np.arange(n) % 2
        X = np.c_[t * np.cos(t + math.pi * arm), t * np.sin(t + math.pi * arm)] / (3 * math.pi)
        return X + rng.normal(0, 0.03, (n, 2)), arm
    if name == "blobs":
        centres = np.array([[-1.0, -0.6], [1.0, -0.6], [0.0, 1.0]])
        labels = np.arange(n) % 3
        return centres[labels] + rng.normal(0, 0.35, (n, 2)), labels
    if name == "linear":
        X = rng.uniform(-1, 1, (n, 2))
        return X, (X[:, 0] + 0.5 * X[:, 1] > 0.1).astype(int)
    raise ValueError(f"dataset: expected one of {', '.join(DATASETS)}, got {name!r}")


#: The input features a network can take from a point (x₁, x₂).
FEATURES = {
    "x1": lambda P: P[:, 0], "x2": lambda P: P[:, 1], "x1^2": lambda P: P[:, 0] ** 2,
    "x2^2": lambda P: P[:, 1] ** 2, "x1x2": lambda P: P[:, 0] * P[:, 1],
    "sin(x1)": lambda P: np.sin(P[:, 0]), "sin(x2)": lambda P: np.sin(P[:, 1]),
}
#: Most noise and largest test share the page offers.
MAX_NOISE, MAX_TEST_FRACTION = 0.5, 0.5


def checked_features(features) -> list[str]:
    """The feature names, known and distinct; ValueError naming the choices otherwise."""
    if isinstance(features, str):
        features = [name.strip() for name in features.split(",") if name.strip()]
    if not isinstance(features, (list, tuple)) or not features or \
            not all(isinstance(name, str) and name in FEATURES for name in features) or \
            len(set(features)) != len(features):
        raise ValueError(f"features: expected distinct names among {', '.join(FEATURES)}, got {features!r}")
    return list(features)


def inputs(points: np.ndarray, features: list[str]) -> np.ndarray:
    """The network's input rows: each chosen feature of each point."""
    return np.column_stack([FEATURES[name](points) for name in features])


def noisy(points: np.ndarray, noise, seed: int) -> np.ndarray:
    """``points`` with Gaussian noise of standard deviation ``noise`` added (0 to MAX_NOISE)."""
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= MAX_NOISE:
        raise ValueError(f"noise: expected a number from 0 to {MAX_NOISE}, got {noise!r}")
    return points + np.random.default_rng(seed + 1).normal(0, noise, points.shape) if noise else points


def test_split(n: int, fraction, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, test rows): a share ``fraction`` (0 to MAX_TEST_FRACTION) held out."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or \
            not 0 <= fraction <= MAX_TEST_FRACTION:
        raise ValueError(f"test_fraction: expected a number from 0 to {MAX_TEST_FRACTION}, got {fraction!r}")
    order = np.random.default_rng(seed + 2).permutation(n)
    held = int(round(fraction * n))
    return np.sort(order[held:]), np.sort(order[:held])
