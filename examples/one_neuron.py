# %% [markdown]
# # Seed 001: one sigmoid neuron, derived by hand, then by the library
#
# The seed trains a single sigmoid unit on four samples of three inputs:
#
# ```python
# weights = 2 * np.random.random((3, 1)) - 1            # np.random.seed(0)
# for i in range(10000):
#     layer1 = sigmoid(np.dot(X, weights))
#     error = y - layer1
#     delta = error * sigmoid_derivative(layer1)        # sigmoid_derivative(x) = x * (1 - x)
#     weights += np.dot(X.T, delta)
# ```
#
# and predicts 0.99993703 for the input `[1, 0, 0]`. This notebook works out the **first** step
# of that loop by hand, shows that it is one step of gradient descent on the mean squared error,
# lets the library's `trace` write the same step out, and then trains to the seed's number.

# %%
# %matplotlib inline
import numpy as np

from backpropagation import NeuralNetwork

X = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=float)
y = np.array([[0, 1, 1, 0]], dtype=float).T      # the output is the first input
np.random.seed(0)
w = 2 * np.random.random((3, 1)) - 1             # the seed's starting weights
print("w =", w.ravel().round(4))

# %% [markdown]
# ## 1. The forward pass
#
# There is no bias: the **third input is always 1**, so its weight `w₃` plays the bias's part
# (`z = x₁ w₁ + x₂ w₂ + 1 · w₃`). For each of the four rows,
# `z = x w` and `a = σ(z) = 1 / (1 + e^{-z})`:

# %%
z = X @ w
a = 1 / (1 + np.exp(-z))
for row, (zi, ai) in enumerate(zip(z.ravel(), a.ravel())):
    print(f"row {row}: z = {zi:+.4f}, a = σ(z) = {ai:.4f}, target {y[row, 0]:.0f}")

# %% [markdown]
# ## 2. The derivative of the sigmoid, and why the seed writes `x (1 - x)`
#
# Differentiating `σ(z) = (1 + e^{-z})^{-1}` gives `σ'(z) = e^{-z} / (1 + e^{-z})² = σ(z) (1 - σ(z))`.
# So the derivative can be computed from the **output** `a = σ(z)` alone: `σ'(z) = a (1 - a)`.
# That is why the seed's `sigmoid_derivative(x)` returns `x * (1 - x)`: it is called with the
# output `layer1`, not with `z`. A central difference on `σ` agrees:

# %%
eps = 1e-6
by_difference = (1 / (1 + np.exp(-(z + eps))) - 1 / (1 + np.exp(-(z - eps)))) / (2 * eps)
print("a (1 - a)         :", (a * (1 - a)).ravel().round(6))
print("(σ(z+ε)-σ(z-ε))/2ε:", by_difference.ravel().round(6))

# %% [markdown]
# ## 3. The seed's update is gradient descent with η = 2
#
# Take the loss the library uses, the mean squared error over the N = 4 rows,
# `L = (1/N) Σ (a - y)²`. By the chain rule, for each weight
#
# `∂L/∂w = Σ_rows ∂L/∂a · ∂a/∂z · ∂z/∂w = Xᵀ [ (2/N)(a - y) ⊙ a(1 - a) ]`.
#
# The seed computes `delta = (y - a) ⊙ a(1 - a)` and **adds** `Xᵀ delta`. Since
# `(y - a) = -(a - y)`, its step is `w + Xᵀ delta = w - (N/2) ∂L/∂w`: gradient descent, which
# **subtracts** η ∂L/∂w, with the learning rate η = N/2 = 2. The sign flip lives in `error = y - a`.

# %%
delta_seed = (y - a) * a * (1 - a)
seed_step = w + X.T @ delta_seed
dL_dw = X.T @ ((2 / len(X)) * (a - y) * a * (1 - a))
descent_step = w - 2.0 * dL_dw
print("seed:     w + Xᵀ delta  =", seed_step.ravel().round(6))
print("descent:  w - 2 ∂L/∂w   =", descent_step.ravel().round(6))
print("largest difference:", float(np.max(np.abs(seed_step - descent_step))))

# %% [markdown]
# ## 4. The same first step, written out by the library
#
# One sigmoid layer `[3, 1]` without bias, MSE, plain SGD with learning rate 2 and the full
# batch of four rows is the seed's network. `model.trace(X, y)` runs the very forward pass,
# backward pass and update that `fit` runs, on the seed's starting weights, and prints each
# number. Compare `a¹`, `δ¹` (the library's δ is `∂L/∂z`, the seed's `delta` times `-2/N`) and
# `W¹ after` with the numbers above.

# %%
model = NeuralNetwork([3, 1], task="regression", output_activation="sigmoid", loss="mse",
                      use_bias=False, optimizer="sgd", learning_rate=2.0,
                      standardize_target=False)   # the seed trains on the raw 0/1 targets
model.set_weights([(w.copy(), None)])
first = model.trace(X, y)
print(first)
print("library's W after the first step equals the seed's:",
      bool(np.allclose(first.layers[0].W_new, seed_step, rtol=1e-12, atol=0)))
print("library δ¹ = -(2/N) × seed delta:",
      bool(np.allclose(first.layers[0].delta, -(2 / len(X)) * delta_seed, rtol=1e-12, atol=0)))

# %% [markdown]
# ## 5. Ten thousand steps
#
# The same step, repeated: the library's `fit` with the full batch and no shuffling is the
# seed's loop (the trace above left the weights as they were). The prediction for `[1, 0, 0]`
# is the seed's `0.99993703`.

# %%
history = model.fit(X, y, epochs=10000, batch_size=None, shuffle=False, verbose=0)   # about a second
print(f"loss after {len(history.epoch)} epochs: {history.history['loss'][-1]:.3e}")
print("Predicted output:", model.predict(np.array([[1, 0, 0]])))   # the seed: [[0.99993703]]

# %% [markdown]
# The loss falls fast, then slowly: as `a` nears 0 or 1, `a (1 - a)` — the sigmoid's slope —
# goes to zero, and so do the steps. (The loss axis is logarithmic.)

# %%
try:
    figure = model.plot_history()
except ImportError:
    figure = "(install matplotlib for the loss curve)"
figure
