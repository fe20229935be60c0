"""Optimizer update rules against their textbook formulas, and hyper-parameter validation."""

import numpy as np
import pytest

from backpropagation import SGD, Adam, AdamW, RMSProp, optimizers


def run(optimizer, steps=4, lr=0.1, seed=0):
    rng = np.random.default_rng(seed)
    params = rng.normal(size=7)
    grads = [rng.normal(size=7) for _ in range(steps)]
    start = params.copy()
    for g in grads:
        optimizer.step(params, g, lr)
    return start, grads, params


def reference_adam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, decay=0.0):
    m = v = np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        p = p * (1 - lr * decay)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def test_sgd_is_a_plain_gradient_step():
    start, grads, params = run(SGD(), lr=0.1)
    np.testing.assert_allclose(params, start - 0.1 * sum(grads), rtol=1e-14)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_and_nesterov_follow_the_velocity_formulas(nesterov):
    start, grads, params = run(SGD(momentum=0.9, nesterov=nesterov), lr=0.1)
    p, v = start.copy(), np.zeros_like(start)
    for g in grads:
        v = 0.9 * v + g
        p = p - 0.1 * ((g + 0.9 * v) if nesterov else v)
    np.testing.assert_allclose(params, p, rtol=1e-13)


def test_rmsprop_divides_by_the_running_root_mean_square():
    start, grads, params = run(RMSProp(rho=0.9, epsilon=1e-8), lr=0.01)
    p, s = start.copy(), np.zeros_like(start)
    for g in grads:
        s = 0.9 * s + 0.1 * g * g
        p = p - 0.01 * g / (np.sqrt(s) + 1e-8)
    np.testing.assert_allclose(params, p, rtol=1e-13)


def test_adam_uses_bias_corrected_moments():
    start, grads, params = run(Adam(), lr=0.01)
    np.testing.assert_allclose(params, reference_adam(start, grads, 0.01), rtol=1e-13)


def test_adam_state_is_the_textbook_moments_m_and_v():
    rng = np.random.default_rng(1)
    optimizer, params = Adam(beta_1=0.8, beta_2=0.99), rng.normal(size=7)
    m = v = np.zeros(7)
    for _ in range(5):
        g = rng.normal(size=7)
        optimizer.step(params, g, 0.01)
        m, v = 0.8 * m + 0.2 * g, 0.99 * v + 0.01 * g * g
    np.testing.assert_allclose(optimizer.m, m, rtol=1e-13)
    np.testing.assert_allclose(optimizer.v, v, rtol=1e-13)
    # model files of format 2 kept m / (1 - β1) and v / (1 - β2)
    upgraded = optimizer.upgraded_state({"m_sum": m / 0.2, "v_sum": v / 0.01}, version=2)
    np.testing.assert_allclose(upgraded["m"], m, rtol=1e-13)
    np.testing.assert_allclose(upgraded["v"], v, rtol=1e-13)


def test_changed_hyper_parameters_apply_from_the_next_step():
    # β is read anew every step, and the moments carry over (as torch.optim.Adam)
    start, grads, _ = run(Adam(), steps=1)
    changed = Adam()
    params = start.copy()
    changed.step(params, grads[0], 0.01)
    changed.beta_1, changed.beta_2 = 0.5, 0.9
    second = np.ones(7)
    changed.step(params, second, 0.01)
    m = 0.5 * (0.1 * grads[0]) + 0.5 * second        # m after step 2 with the new β1
    v = 0.9 * (0.001 * grads[0] ** 2) + 0.1 * second**2
    expected = start - 0.01 * np.sign(grads[0])        # Adam's first step: lr · sign(g), up to ε
    expected = expected - 0.01 * (m / (1 - 0.5**2)) / (np.sqrt(v / (1 - 0.9**2)) + 1e-8)
    np.testing.assert_allclose(params, expected, rtol=1e-7)
    with pytest.raises(ValueError, match="beta_1"):
        changed.beta_1 = 1.0


def test_adamw_decays_weights_before_the_adam_step():
    start, grads, params = run(AdamW(weight_decay=0.1), lr=0.01)
    np.testing.assert_allclose(params, reference_adam(start, grads, 0.01, decay=0.1), rtol=1e-13)


@pytest.mark.parametrize("name,expected", [("sgd", (SGD, 0.0, False)), ("momentum", (SGD, 0.9, False)),
                                           ("nesterov", (SGD, 0.9, True))])
def test_sgd_family_names(name, expected):
    optimizer = optimizers.get(name)
    assert (type(optimizer), optimizer.momentum, optimizer.nesterov) == expected


def test_optimizers_keep_float32():
    params = np.ones(5, dtype=np.float32)
    for optimizer in (SGD(momentum=0.9), RMSProp(), Adam(), AdamW()):
        optimizer.step(params, np.ones(5, dtype=np.float32), 0.1)
        assert params.dtype == np.float32
        assert all(s.dtype == np.float32 for s in optimizer.get_state().values())


@pytest.mark.parametrize("build,message", [
    (lambda: SGD(momentum=-0.1), "momentum"),
    (lambda: SGD(momentum=1.0), "momentum"),
    (lambda: SGD(nesterov=True), "nesterov"),
    (lambda: Adam(beta_1=1.5), "beta_1"),
    (lambda: Adam(beta_2=float("nan")), "beta_2"),
    (lambda: Adam(epsilon=0), "epsilon"),
    (lambda: RMSProp(rho=-1), "rho"),
    (lambda: AdamW(weight_decay=-0.01), "weight_decay"),
])
def test_invalid_hyper_parameters_fail_at_construction_naming_the_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_unknown_optimizer_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="adam, adamw, momentum, nesterov, rmsprop, sgd"):
        optimizers.get("adagrad")


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_update_in_cache_sized_pieces_equals_the_formula_on_the_whole_vector(monkeypatch, name, dtype):
    rng = np.random.default_rng(0)
    start, grads = rng.normal(size=1001).astype(dtype), [rng.normal(size=1001).astype(dtype) for _ in range(3)]
    results = []
    for piece_bytes in (40, 1 << 30):           # pieces of 5 or 10 entries, ending inside the vector; one piece
        monkeypatch.setattr(optimizers, "PIECE_BYTES", piece_bytes)
        optimizer, params = optimizers.get(name), start.copy()
        for g in grads:
            optimizer.step(params, g, 0.01)
        results.append(params)
    np.testing.assert_array_equal(results[0], results[1])
    assert results[0].dtype == dtype and not np.array_equal(results[0], start)
