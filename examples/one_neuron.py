# %% [markdown]
# # One sigmoid neuron: its first step derived by hand, then by the library
#
# A classic twelve-line NumPy program (the one this project started from) trains a single
# sigmoid unit on four samples of three inputs:
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
# lets the library's `trace` write the same step out, and then trains to the original program's number.

# %%
# %matplotlib inline
import numpy as np

from backpropagation import NeuralNetwork

X = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=float)
y = np.array([[0, 1, 1, 0]], dtype=float).T      # the output is the first input
np.random.seed(0)
w = 2 * np.random.random((3, 1)) - 1             # the original program's starting weights
print("w =", w.ravel().round(4))

# %% [markdown]
# ## 1. The forward pass
#
# There is no bias: the **third input is always 1**, so its weight $w_3$ plays the bias's part
# ($z = x_1 w_1 + x_2 w_2 + 1 \cdot w_3$). For each of the four rows,
# $z = x w$ and $a = \sigma(z) = 1 / (1 + e^{-z})$:

# %%
z = X @ w
a = 1 / (1 + np.exp(-z))
for row, (zi, ai) in enumerate(zip(z.ravel(), a.ravel())):
    print(f"row {row}: z = {zi:+.4f}, a = σ(z) = {ai:.4f}, target {y[row, 0]:.0f}")

# %% [markdown]
# ## 2. The derivative of the sigmoid, and why the original program writes `x * (1 - x)`
#
# Differentiating $\sigma(z) = (1 + e^{-z})^{-1}$ gives
# $\sigma'(z) = e^{-z} / (1 + e^{-z})^2 = \sigma(z)\,(1 - \sigma(z))$.
# So the derivative can be computed from the **output** $a = \sigma(z)$ alone: $\sigma'(z) = a(1 - a)$.
# That is why the original program's `sigmoid_derivative(x)` returns `x * (1 - x)`: it is called with the
# output `layer1`, not with $z$. A central difference on $\sigma$ agrees:

# %%
eps = 1e-6
by_difference = (1 / (1 + np.exp(-(z + eps))) - 1 / (1 + np.exp(-(z - eps)))) / (2 * eps)
print("a (1 - a)         :", (a * (1 - a)).ravel().round(6))
print("(σ(z+ε)-σ(z-ε))/2ε:", by_difference.ravel().round(6))

# %% [markdown]
# ## 3. The original program's update is gradient descent with η = 2
#
# Take the loss the library uses, the mean squared error over the N = 4 rows,
# $L = \frac{1}{N} \sum (a - y)^2$. By the chain rule, for each weight
#
# $$\frac{\partial L}{\partial w} = \sum_{\text{rows}} \frac{\partial L}{\partial a}
#   \frac{\partial a}{\partial z} \frac{\partial z}{\partial w}
#   = X^\top \left[ \tfrac{2}{N}(a - y) \odot a(1 - a) \right].$$
#
# The original program computes `delta = (y - a) * a * (1 - a)` and **adds** `X.T @ delta`. Since
# $y - a = -(a - y)$, its step is $w + X^\top \delta_{\text{orig}} = w - \frac{N}{2}
# \frac{\partial L}{\partial w}$: gradient descent, which **subtracts**
# $\eta\, \partial L / \partial w$, with the learning rate $\eta = N/2 = 2$. The sign flip lives in
# `error = y - layer1`.

# %%
delta_original = (y - a) * a * (1 - a)
original_step = w + X.T @ delta_original
dL_dw = X.T @ ((2 / len(X)) * (a - y) * a * (1 - a))
descent_step = w - 2.0 * dL_dw
print("original: w + Xᵀ delta  =", original_step.ravel().round(6))
print("descent:  w - 2 ∂L/∂w   =", descent_step.ravel().round(6))
print("largest difference:", float(np.max(np.abs(original_step - descent_step))))

# %% [markdown]
# ## 4. The same first step, written out by the library
#
# One sigmoid layer `[3, 1]` without bias, MSE, plain SGD with learning rate 2 and the full
# batch of four rows is the original program's network. `model.trace(X, y)` runs the very forward pass,
# backward pass and update that `fit` runs, on the original program's starting weights, and prints each
# number. Compare $a^1$, $\delta^1$ (the library's $\delta$ is $\partial L / \partial z$, the original
# program's `delta` times $-2/N$) and the new $W^1$ with the numbers above.

# %%
model = NeuralNetwork([3, 1], task="regression", output_activation="sigmoid", loss="mse",
                      use_bias=False, optimizer="sgd", learning_rate=2.0,
                      standardize_target=False)   # the original program trains on the raw 0/1 targets
model.set_weights([(w.copy(), None)])
first = model.trace(X, y)
print(first)
model.plot_network(title="the network: three inputs (the third always 1), one sigmoid unit")
print("library's W after the first step equals the original program's:",
      bool(np.allclose(first.layers[0].W_new, original_step, rtol=1e-12, atol=0)))
print("library δ¹ = -(2/N) × original delta:",
      bool(np.allclose(first.layers[0].delta, -(2 / len(X)) * delta_original, rtol=1e-12, atol=0)))

# %% [markdown]
# ## 5. Ten thousand steps
#
# The same step, repeated: the library's `fit` with the full batch and no shuffling is the
# original program's loop (the trace above left the weights as they were). The prediction for `[1, 0, 0]`
# is the original program's `0.99993703`.

# %%
history = model.fit(X, y, epochs=10000, batch_size=None, shuffle=False, verbose=0)   # about a second
print(f"loss after {len(history.epoch)} epochs: {history.history['loss'][-1]:.3e}")
print("Predicted output:", model.predict(np.array([[1, 0, 0]])))   # the original program: [[0.99993703]]

# %% [markdown]
# The loss falls fast, then slowly: as $a$ nears 0 or 1, $a(1 - a)$ (the sigmoid's slope)
# goes to zero, and so do the steps. (The loss axis is logarithmic.)

# %%
model.plot_history()
