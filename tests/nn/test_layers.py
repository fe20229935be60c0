"""layers.py: Dense's forward and backward by the chain rule, what it caches, building from layers."""

import numpy as np
import pytest

from backpropagation import Dense, activations
from backpropagation.nn.layers import unpack_layers


def bound(layer, rng):
    """A Dense layer with its own random weight, bias and gradient arrays."""
    W, b = rng.normal(size=(layer.fan_in, layer.fan_out)), rng.normal(size=layer.fan_out)
    layer.bind(W, b, np.zeros_like(W), np.zeros_like(b))
    return layer


def test_forward_and_backward_follow_the_chain_rule():
    rng = np.random.default_rng(0)
    layer = bound(Dense(3, 4, activation="tanh"), rng)
    A_prev, dA = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    A = layer.forward(A_prev)
    Z = A_prev @ layer.W + layer.b
    np.testing.assert_allclose(A, np.tanh(Z))
    dA_prev = layer.backward(dA)
    delta = dA * (1 - np.tanh(Z) ** 2)                       # δ = ∂L/∂A ⊙ f'(Z)
    np.testing.assert_allclose(layer.delta, delta)
    np.testing.assert_array_equal(layer.dA, dA)
    np.testing.assert_allclose(layer.dW, A_prev.T @ delta)   # ∂L/∂W = A_prevᵀ δ
    np.testing.assert_allclose(layer.db, delta.sum(axis=0))  # ∂L/∂b = Σ_rows δ
    np.testing.assert_allclose(dA_prev, delta @ layer.W.T)   # ∂L/∂A_prev = δ Wᵀ


def test_the_first_layer_skips_the_input_gradient_and_a_fused_delta_caches_no_dA():
    rng = np.random.default_rng(1)
    layer = bound(Dense(2, 3), rng)
    layer.compute_input_gradient = False
    layer.forward(rng.normal(size=(4, 2)))
    assert layer.backward_delta(rng.normal(size=(4, 3))) is None and layer.dA is None


def test_a_network_built_from_layers_takes_their_widths_and_activations():
    sizes, hidden, output, use_bias, _, _ = unpack_layers(
        [Dense(4, 8, activation="relu"), Dense(8, 2, activation="sigmoid")], None)
    assert sizes == [4, 8, 2] and use_bias
    assert isinstance(hidden[0], activations.ReLU) and isinstance(output, activations.Sigmoid)
    assert unpack_layers([Dense(4, 2)], None)[2] is None     # linear output: the task decides
    with pytest.raises(ValueError, match="same use_bias"):
        unpack_layers([Dense(4, 8, use_bias=False), Dense(8, 2)], None)


# ---------------------------------------------------------------------- dropout
def test_dropout_scales_the_kept_units_and_passes_gradients_through_the_same_mask():
    from backpropagation import Dropout

    rng = np.random.default_rng(0)
    dropout, A = Dropout(0.25), rng.normal(size=(2000, 8))
    out = dropout.forward(A, rng)
    kept = dropout.mask != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(out[kept], A[kept] / 0.75)
    assert np.all(out[~kept] == 0)
    dA = rng.normal(size=A.shape)
    np.testing.assert_array_equal(dropout.backward(dA), dA * dropout.mask)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.5", True, float("nan")])
def test_dropout_refuses_rates_outside_zero_to_one(rate):
    from backpropagation import Dropout

    with pytest.raises(ValueError, match=r"dropout: expected a rate in \[0, 1\)"):
        Dropout(rate)


def test_dropout_blocks_in_a_layer_list_become_per_layer_rates():
    from backpropagation import Dropout

    sizes, _, _, _, rates, _ = unpack_layers([Dense(4, 8, "relu"), Dropout(0.5), Dense(8, 6), Dense(6, 1)], None)
    assert sizes == [4, 8, 6, 1] and rates == [0.5, 0.0]
    for wrong in ([Dropout(0.5), Dense(4, 1)], [Dense(4, 8), Dropout(0.1), Dropout(0.2), Dense(8, 1)],
                  [Dense(4, 8), Dense(8, 1), Dropout(0.2)]):
        with pytest.raises(ValueError, match="a Dropout must follow a hidden Dense layer"):
            unpack_layers(wrong, None)
