"""Plots are real PNG images of the documented size with drawn content."""

import numpy as np
import pytest

from backpropagation import NeuralNetwork
from backpropagation.explain.plotting import plot_confusion_matrix, predictions_with

image = pytest.importorskip("matplotlib.image")


def assert_real_image(path, width, height):
    pixels = image.imread(path)
    assert pixels.shape[:2] == (height, width)
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]).round(2), axis=0)
    assert len(colours) > 20              # axes, lines, text: not a blank canvas
    return pixels


@pytest.fixture(scope="module")
def classifier():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = np.where(X[:, 0] + X[:, 1] > 0, "up", "down")
    model = NeuralNetwork([2, 8, 2], task="classification", optimizer="adam", learning_rate=0.05,
                          random_state=0)
    initial = model.parameters.copy()
    model.fit(X, y, epochs=15, verbose=0, validation_split=0.25, lr_schedule="cosine")
    return model, initial, X, y


def test_loss_curve(classifier, tmp_path):
    model, _, _, _ = classifier
    figure = model.plot_history(tmp_path / "loss.png")
    assert_real_image(tmp_path / "loss.png", 800, 500)
    axis, lr_axis = figure.axes
    assert [line.get_label() for line in axis.lines] == ["training loss", "validation loss"]
    np.testing.assert_allclose(lr_axis.lines[0].get_ydata(), model.history_.history["lr"])


def test_a_constant_learning_rate_gets_no_second_axis():
    model = NeuralNetwork([2, 3, 1], random_state=0)
    model.fit(np.eye(2), [0.0, 1.0], epochs=3, verbose=0)
    figure = model.plot_history()
    assert len(figure.axes) == 1 and figure.axes[0].get_ylabel() == "loss"


def test_predictions_before_and_after_training(classifier, tmp_path):
    model, initial, X, y = classifier
    trained = model.parameters.copy()
    before = predictions_with(model, initial, X)
    np.testing.assert_array_equal(model.parameters, trained)   # predictions_with restored them
    assert (before != model.predict(X)).any()
    figure = model.plot_predictions(X, y, before=before, path=tmp_path / "pred.png")
    assert_real_image(tmp_path / "pred.png", 1100, 500)
    assert [ax.get_title().split(":")[0] for ax in figure.axes] == ["before training", "after training"]


def test_regression_prediction_scatter(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    model = NeuralNetwork([3, 4, 1], random_state=0)
    model.fit(X, X.sum(axis=1), epochs=5, verbose=0)
    model.plot_predictions(X, X.sum(axis=1), path=tmp_path / "reg.png")
    assert_real_image(tmp_path / "reg.png", 550, 500)


def test_decision_boundary(classifier, tmp_path):
    model, _, X, y = classifier
    model.plot_decision_boundary(X, y, tmp_path / "boundary.png")
    assert_real_image(tmp_path / "boundary.png", 650, 550)
    with pytest.raises(ValueError, match="exactly 2 features"):
        model.plot_decision_boundary(np.zeros((3, 3)), ["up"] * 3)


def test_confusion_matrix_counts(tmp_path):
    figure = plot_confusion_matrix(["a", "a", "b"], ["a", "b", "b"], np.array(["a", "b"]), tmp_path / "c.png")
    texts = sorted(t.get_text() for t in figure.axes[0].texts)
    assert texts == ["0", "1", "1", "1"] and figure.axes[0].get_title() == "accuracy 0.667"
    assert_real_image(tmp_path / "c.png", 550, 500)


def test_plot_history_before_fit_is_refused():
    with pytest.raises(ValueError, match="not been fitted"):
        NeuralNetwork([2, 1]).plot_history()
