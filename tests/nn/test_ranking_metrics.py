"""ROC AUC and average precision, written here, equal scikit-learn's (ties, imbalance, many classes)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backpropagation.nn.metrics import average_precision, ranking_scores, roc_auc

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@settings(max_examples=150, deadline=None)
@given(labels=st.lists(st.booleans(), min_size=2, max_size=60), seed=st.integers(0, 2**16), levels=st.integers(2, 9))
def test_two_class_scores_equal_scikit_learn_s_ties_included(labels, seed, levels):
    positive = np.array(labels)
    score = np.random.default_rng(seed).integers(0, levels, len(positive)) / levels     # many ties
    if positive.all() or not positive.any():
        assert np.isnan(roc_auc(positive, score))
        return
    assert roc_auc(positive, score) == pytest.approx(sklearn_metrics.roc_auc_score(positive, score), abs=1e-12)
    assert average_precision(positive, score) == pytest.approx(
        sklearn_metrics.average_precision_score(positive, score), abs=1e-12)


def test_many_classes_average_each_class_against_the_rest():
    rng = np.random.default_rng(0)
    classes = np.array(["a", "b", "c", "d"])
    labels = classes[rng.integers(0, 4, 300)]
    proba = rng.dirichlet(np.ones(4), 300)
    proba[np.arange(300), np.searchsorted(classes, labels)] += 0.3
    proba /= proba.sum(axis=1, keepdims=True)
    scores = ranking_scores(labels, proba, classes)
    assert scores["roc_auc"] == pytest.approx(
        sklearn_metrics.roc_auc_score(labels, proba, multi_class="ovr", labels=classes), abs=1e-12)
    one_hot = (labels[:, None] == classes[None, :])
    assert scores["average_precision"] == pytest.approx(
        sklearn_metrics.average_precision_score(one_hot, proba, average="macro"), abs=1e-12)
