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
    model = NeuralNetwork([3, 5, 4, n_out], task=task, optimizer=optimizer, l2=l2, random_state=0,
                          engine="numpy")                      # (the path the trace follows, to the bit)
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
                     "f'(z¹) = relu'(z¹) = [[1, 0]]", "b² ← b² − η g = [0.29]", "SGD, η = 0.1, step t = 1",
                     "    W ← W − η g"]:
        assert expected in text
    assert "velocity" not in text                      # plain SGD keeps no state


@pytest.mark.parametrize("optimizer,described,rule", [
    ("sgd", "SGD", ["W ← W − η g"]),
    ("momentum", "SGD with momentum (μ = 0.9)", ["v ← μ v + g", "W ← W − η v"]),
    ("nesterov", "SGD with Nesterov momentum (μ = 0.9)", ["v ← μ v + g", "W ← W − η (g + μ v)"]),
    ("rmsprop", "RMSProp (ρ = 0.9, ε = 1e-08)", ["s ← ρ s + (1 − ρ) g²", "W ← W − η g / (√s + ε)"]),
    ("adam", "Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-08)",
     ["m ← β₁ m + (1 − β₁) g", "v ← β₂ v + (1 − β₂) g²", "m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)",
      "W ← W − η m̂ / (√v̂ + ε)"]),
    ("adamw", "AdamW (β₁ = 0.9, β₂ = 0.999, ε = 1e-08, λ = 0.01)", ["W ← (1 − η λ) W", "m ← β₁ m + (1 − β₁) g"]),
])
def test_the_optimizer_is_named_as_configured_and_its_rule_written_one_assignment_a_line(optimizer, described, rule):
    model = NeuralNetwork([2, 3, 1], optimizer=optimizer, random_state=0)
    text = str(model.trace([[1.0, -2.0]], [0.5]))
    assert text.splitlines()[1] == f"Optimizer: {described}"
    lines = [line.strip() for line in text.splitlines()]
    start = lines.index("rule, for every weight and bias array W (g = ∂L/∂W):") + 1
    assert lines[start:start + len(rule)] == rule
    assert max(len(line) for line in text.splitlines()) < 130               # no 200-character formula


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"])
def test_every_term_of_the_update_follows_from_the_state_before_and_ends_at_the_real_step(optimizer):
    from backpropagation.explain.update_terms import terms

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(5, 2)), rng.normal(size=5)
    model = NeuralNetwork([2, 3, 1], optimizer=optimizer, learning_rate=0.05, random_state=0)
    model.fit(X, y, epochs=3, batch_size=5, verbose=0)                  # state to carry: t = 4 next
    state_before = {name: array.copy() for name, array in model.optimizer.get_state().items()}
    trace = model.trace(X, y, apply=True)
    assert trace.step_number == 4
    (w, b), step = model.parameter_slices()[0], trace.layers[0]
    for name, array in state_before.items():                 # the state before is the optimizer's own
        np.testing.assert_array_equal(step.state_before[name][0], array[w].reshape(2, 3))
        np.testing.assert_array_equal(step.state_before[name][1], array[b])
    for before, gradient, after, part in ((step.W, step.dW, step.W_new, 0), (step.b, step.db, step.b_new, 1)):
        lines = terms(model.optimizer, 4, trace.learning_rate, "W", before, gradient,
                      {k: v[part] for k, v in step.state_before.items()})
        np.testing.assert_allclose(lines[-1][1], after, rtol=1e-13, atol=1e-15)     # the step the optimizer took
        assert lines[-1][0].startswith("W ← ")
    text = str(trace)
    assert "W¹ before = " in text and "g = ∂L/∂W¹ = " in text
    if optimizer != "sgd":
        assert ("v before" if optimizer in ("momentum", "nesterov", "adam", "adamw") else "s before") in text


def test_one_unit_s_chain_writes_every_product_of_its_sums():
    model = NeuralNetwork([2, 2, 1], hidden_activation="relu", optimizer="momentum", learning_rate=0.1)
    model.set_weights([(np.array([[0.1, 0.2], [0.3, -0.4]]), np.array([0.0, 0.1])),
                       (np.array([[0.5], [-0.6]]), np.array([0.2]))])
    trace = model.trace([[1.0, 2.0], [-1.0, 0.5]], [1.0, 0.0])
    text = trace.to_text(unit=(1, 1))
    assert text.startswith("Unit 1 of layer 1 (relu)")
    assert "row 1: z¹₁ = Σᵢ a⁰ᵢ W¹ᵢ₁ + b¹₁ = 1 × 0.1 + 2 × 0.3 + 0 = 0.7" in text
    assert "row 2: z¹₁ = Σᵢ a⁰ᵢ W¹ᵢ₁ + b¹₁ = (-1) × 0.1 + 0.5 × 0.3 + 0 = 0.05" in text
    # By hand: ŷ = 0.55 and 0.225, ∂L/∂ŷ = 2 (ŷ − y) / N = -0.45 and 0.225, δ¹₁ = that × W²₁₁ = 0.5
    assert "row 1: δ¹₁ = ∂L/∂a¹₁ × f'(z¹₁) = (-0.225) × 1 = -0.225" in text
    assert "∂L/∂W¹₁₁ = Σ_rows a⁰₁ δ¹₁ = 1 × (-0.225) + (-1) × 0.1125 = -0.3375" in text
    assert "v ← μ v + g" in text and "b¹₁ ← b¹₁ − η v" in text
    with pytest.raises(ValueError, match="layer 1 has units 1 to 2, got 3"):
        trace.to_text(unit=(1, 3))
    with pytest.raises(ValueError, match="layer 4 does not exist; the network's layers are 1 to 2"):
        trace.to_text(unit=(4, 1))


def test_backprop_trace_prints_one_unit_s_chain(capsys):
    from backpropagation.cli import main as backprop

    assert backprop(["trace", "--layers", "3,2,1", "--seed", "0", "--unit", "2:1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Unit 1 of layer 2 (linear)") and "∂L/∂a²₁ = ∂L/∂ŷ₁" in out
    with pytest.raises(SystemExit):
        backprop(["trace", "--unit", "0:1"])
    assert "numbered from 1" in capsys.readouterr().err


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
