"""The trace of one step shows exactly the numbers training uses."""

import numpy as np
import pytest

from backpropagation import NeuralNetwork


@pytest.mark.parametrize("task,n_out,optimizer,l2", [
    ("regression", 2, "sgd", 0.0),
    ("multiclass", 3, "adam", 0.01),
    ("binary", 1, "momentum", 0.0),
])
def test_traced_gradients_and_update_equal_a_real_training_step(task, n_out, optimizer, l2):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 3))
    y = rng.normal(size=(4, n_out)) if task == "regression" else np.arange(4) % max(n_out, 2)
    model = NeuralNetwork([3, 5, 4, n_out], task=task, optimizer=optimizer, l2=l2, random_state=0)
    model.fit(X, y, epochs=2, batch_size=4, verbose=0)          # some optimizer state to carry
    before = model.parameters.copy()
    trace = model.trace(X, y)
    np.testing.assert_array_equal(model.parameters, before)    # apply=False leaves the model alone

    model.backprop.loss_and_gradients(X, model.task_.encode(y, np.float64))
    for step, layer in zip(trace.layers, model.layers):
        np.testing.assert_array_equal(step.dW, layer.dW)
        np.testing.assert_array_equal(step.db, layer.db)
    model.fit(X, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    for step, layer in zip(trace.layers, model.layers):
        np.testing.assert_array_equal(step.W_new, layer.W)
        np.testing.assert_array_equal(step.b_new, layer.b)
    assert trace.loss == pytest.approx(model.history_.history["loss"][0], rel=1e-12)


def test_trace_can_apply_the_update():
    model = NeuralNetwork([2, 2, 1], random_state=0)
    trace = model.trace([[1.0, 2.0]], [1.0], apply=True)
    np.testing.assert_array_equal(model.layers[0].W, trace.layers[0].W_new)


def test_text_follows_the_seeds_notation():
    model = NeuralNetwork([2, 2, 1], hidden_activation="relu", optimizer="sgd", learning_rate=0.1)
    model.set_weights([(np.array([[0.1, 0.2], [0.3, -0.4]]), np.array([0.0, 0.1])),
                       (np.array([[0.5], [-0.6]]), np.array([0.2]))])
    text = str(model.trace([1.0, 2.0], [1.0]))
    for expected in ["z¹ = a⁰ W¹ + b¹ = [[0.7, -0.5]]", "a¹ = relu(z¹) = [[0.7, 0]]", "L = 0.2025",
                     "δ² = ∂L/∂a² ⊙ f'(z²) = [[-0.9]]", "∂L/∂a¹ = δ² (W²)ᵀ = [[-0.45, 0.54]]",
                     "f'(z¹) = relu'(z¹) = [[1, 0]]", "b² after = [0.29]", "SGD: W ← W - η ∂L/∂W, η = 0.1"]:
        assert expected in text
    assert "velocity" not in text                      # plain SGD keeps no state


@pytest.mark.parametrize("optimizer,formula", [
    ("momentum", "v ← μ v + g;  W ← W - η v   (g = ∂L/∂W, μ = 0.9)"),
    ("nesterov", "v ← μ v + g;  W ← W - η (g + μ v)"),
    ("rmsprop", "s ← ρ s + (1 - ρ) g²;  W ← W - η g / (√s + ε)"),
    ("adam", "W ← W - η m̂ / (√v̂ + ε) with m̂ = m / (1 - β₁ᵗ), v̂ = v / (1 - β₂ᵗ)"),
    ("adamw", "W ← (1 - η λ) W, then m ← β₁ m"),
])
def test_the_update_is_written_as_the_formula_the_optimizer_applies_with_its_state(optimizer, formula):
    model = NeuralNetwork([2, 3, 1], optimizer=optimizer, random_state=0)
    trace = model.trace([[1.0, -2.0]], [0.5], apply=True)
    text = str(trace)
    assert formula in text and "W ← W - η ∂L/∂W," not in text
    state = model.optimizer.get_state()
    for name, array in state.items():                  # the state printed is the optimizer's own
        w, b = model.parameter_slices()[0]
        np.testing.assert_array_equal(trace.layers[0].state[name][0], array[w].reshape(2, 3))
        np.testing.assert_array_equal(trace.layers[0].state[name][1], array[b])
        assert f"{name} of W¹ after = " in text


def test_no_bias_term_is_written_without_biases_and_small_numbers_use_exponents():
    model = NeuralNetwork([2, 2, 1], use_bias=False, optimizer="sgd", random_state=0)
    model.set_weights([(np.array([[1e-6, 2.0], [3.0, 4.0]]), None), (np.array([[1.0], [1.0]]), None)])
    text = str(model.trace([[1.0, 0.0]], [0.0]))
    assert "z¹ = a⁰ W¹ = " in text and "+ b" not in text.split("2. Loss")[0].split("a⁰ = x")[1]
    assert "1e-06" in text


def test_markdown_format_and_fused_output():
    model = NeuralNetwork([3, 4, 3], task="multiclass", random_state=0)
    text = model.trace([[1, 2, 3]], [2]).to_text("markdown")
    assert text.startswith("# One training step") and "## 3. Backward pass" in text
    assert "softmax fused with categorical_crossentropy" in text


def test_unfitted_classifier_needs_class_indices():
    with pytest.raises(ValueError, match="class indices 0..2"):
        NeuralNetwork([3, 3], task="multiclass").trace([[1, 2, 3]], ["a"])


def test_a_trace_not_applied_leaves_a_network_with_dropout_training_as_its_untraced_twin():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    traced, twin = (NeuralNetwork([3, 8, 1], dropout=0.3, random_state=0) for _ in range(2))
    for model in (traced, twin):
        model.fit(X, y, epochs=1, verbose=0)
    traced.trace(X[:2], y[:2])
    for model in (traced, twin):
        model.fit(X, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(traced.parameters, twin.parameters)
