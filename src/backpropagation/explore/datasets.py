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


#: Largest table the page may send, and most rows and classes it may hold.
MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS, MAX_UPLOAD_CLASSES = 60_000, 2_000, 6


def uploaded(text) -> dict:
    """A small CSV table sent by the page, read by the library's own reader: two numeric columns
    (the point) and a label (the class; the third column). The points are standardised (each
    column to mean 0 and spread 1, as the page's plane expects). ``{"points", "labels",
    "classes", "names"}``; ValueError saying what is wrong with the file otherwise."""
    import os
    import tempfile

    from ..tables.readers import read_csv

    if not isinstance(text, str) or not text.strip():
        raise ValueError("csv: expected the text of a CSV file with a header row")
    if len(text.encode()) > MAX_UPLOAD_BYTES:
        raise ValueError(f"csv: the file is larger than {MAX_UPLOAD_BYTES // 1000} kB; the explorer trains on small "
                         f"tables (at most {MAX_UPLOAD_ROWS} rows)")
    handle, path = tempfile.mkstemp(suffix=".csv")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        table = read_csv(path)
    finally:
        os.remove(path)
    if len(table.header) != 3:
        raise ValueError(f"csv: expected three columns (two numbers, then the label), got {len(table.header)}: "
                         f"{', '.join(table.header)}")
    if not 2 <= len(table) <= MAX_UPLOAD_ROWS:
        raise ValueError(f"csv: expected 2 to {MAX_UPLOAD_ROWS} rows, got {len(table)}")
    columns = []
    for name in table.header[:2]:
        column = table.column(name)
        bad = np.flatnonzero(~np.isfinite(column.numbers))
        if bad.size:
            raise ValueError(f"csv: column {name!r} must hold a number in every row; data row "
                             f"{int(table.row_numbers[bad[0]])} holds {column.raw[int(bad[0])].as_py()!r}")
        columns.append(column.numbers)
    points = np.column_stack(columns)
    spread = points.std(axis=0)
    points = (points - points.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    label = table.raw(table.header[2]).to_pylist()
    if any(value is None or str(value).strip() == "" for value in label):
        raise ValueError(f"csv: the label column {table.header[2]!r} has empty cells")
    classes = sorted({str(value).strip() for value in label})
    if not 2 <= len(classes) <= MAX_UPLOAD_CLASSES:
        raise ValueError(f"csv: the label column {table.header[2]!r} holds {len(classes)} classes; expected 2 to "
                         f"{MAX_UPLOAD_CLASSES}")
    labels = np.array([classes.index(str(value).strip()) for value in label])
    return {"points": points.tolist(), "labels": labels.tolist(), "classes": classes, "names": table.header}
