# %% [markdown]
# # Backpropagation, derived
#
# This page derives every rule the library's backward pass uses, from the chain rule for one
# neuron up to a batch of rows through a network, and checks each result with a number: the
# library's own step (`model.trace`), a central difference, or both. The checks are `assert`s
# that run whenever the documentation site is built, so a wrong derivation stops the build.
#
# **Notation** (the same in `backprop trace`, the explorer and every notebook):
#
# - a superscript numbers a **layer**, not a power: $W^2$ is the weight matrix of layer 2,
#   $a^0 = x$ is the input, $a^L = \hat y$ the output of the last layer $L$;
# - a subscript numbers a **unit**, from 1: $z^1_2$ is the weighted sum of unit 2 of layer 1,
#   $W^2_{ij}$ the weight from unit $i$ of layer 1 to unit $j$ of layer 2;
# - a sample is a **row**: $a^{l}$ is a row vector of the $n_l$ activations of layer $l$, a batch
#   of $N$ rows is stacked into an $N \times n_l$ matrix $A^l$, and a layer computes
#   $z^l = a^{l-1} W^l + b^l$, then $a^l = f(z^l)$ with its activation $f$;
# - $\delta^l = \partial L / \partial z^l$, the gradient of the loss with respect to a layer's
#   weighted sums, is what travels backwards.

# %%
# %matplotlib inline
import numpy as np

from backpropagation import NeuralNetwork
from backpropagation.explain.drawings import plot_graph


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def central_difference(f, value, eps=1e-6):
    """(f(value + ε) - f(value - ε)) / 2ε: the slope of f at value, without any calculus."""
    return (f(value + eps) - f(value - eps)) / (2 * eps)


# %% [markdown]
# ## 1. One neuron, one sample: the chain rule
#
# One input $x$, one weight $w$, a bias $b$, a sigmoid and the squared error against a target $y$:
#
# $$z = w x + b, \qquad a = \sigma(z) = \frac{1}{1 + e^{-z}}, \qquad L = (a - y)^2 .$$
#
# $L$ depends on $w$ only through $z$, and on $z$ only through $a$. The chain rule multiplies the
# local slopes along that path:
#
# $$\frac{\partial L}{\partial w} = \frac{\partial L}{\partial a}\,\frac{\partial a}{\partial z}\,
#   \frac{\partial z}{\partial w}.$$
#
# Each factor is a one-line derivative:
#
# - $\dfrac{\partial L}{\partial a} = 2(a - y)$;
# - $\dfrac{\partial a}{\partial z} = \sigma'(z)$. Differentiating $(1 + e^{-z})^{-1}$ gives
#   $\dfrac{e^{-z}}{(1 + e^{-z})^2} = \dfrac{1}{1 + e^{-z}} \cdot \dfrac{e^{-z}}{1 + e^{-z}}
#   = \sigma(z)\,(1 - \sigma(z)) = a(1 - a)$: the slope is known from the output alone;
# - $\dfrac{\partial z}{\partial w} = x$ and $\dfrac{\partial z}{\partial b} = 1$.
#
# So $\dfrac{\partial L}{\partial w} = 2(a - y)\,a(1 - a)\,x$ and
# $\dfrac{\partial L}{\partial b} = 2(a - y)\,a(1 - a)$. The product of the first two factors is
# $\delta = \partial L / \partial z$, which both gradients share: computing it once and reusing it
# is all that backpropagation is.

# %%
x, w, b, y = 1.5, 0.8, -0.5, 1.0
z = w * x + b
a = sigmoid(z)
L = (a - y) ** 2
dL_da = 2 * (a - y)
da_dz = a * (1 - a)
delta = dL_da * da_dz
dL_dw, dL_db = delta * x, delta * 1.0
print(f"forward:  z = {z:.4f}, a = σ(z) = {a:.4f}, L = {L:.4f}")
print(f"backward: ∂L/∂a = {dL_da:.4f}, ∂a/∂z = {da_dz:.4f}, δ = {delta:.4f}, ∂L/∂w = {dL_dw:.4f}, ∂L/∂b = {dL_db:.4f}")

# %% [markdown]
# The computation graph of this neuron, each node with its value (above) and the gradient of
# the loss with respect to it (below), the way micrograd's `draw_dot` shows them. Reading right to
# left, each node's gradient is the one after it times the local slope of the edge between them:

# %%
nodes = {"x": ("x", x, dL_dw / x * w), "w": ("w", w, dL_dw), "b": ("b", b, dL_db),
         "wx": ("w·x", w * x, delta), "z": ("z = wx + b", z, delta), "a": ("a = σ(z)", a, dL_da),
         "L": ("L = (a − y)²", L, 1.0)}
plot_graph(nodes, [("x", "wx"), ("w", "wx"), ("wx", "z"), ("b", "z"), ("z", "a"), ("a", "L")],
           title="one neuron: values above, ∂L/∂(node) below")

# %% [markdown]
# **Check.** A central difference needs no calculus: nudge $w$ by $\pm\varepsilon$ and measure the
# loss. And the library, given the same neuron (one input, one sigmoid output, the squared error,
# no hidden layer), must compute the same gradient in its backward pass:

# %%
loss_of_w = lambda w_: (sigmoid(w_ * x + b) - y) ** 2           # noqa: E731
loss_of_b = lambda b_: (sigmoid(w * x + b_) - y) ** 2           # noqa: E731
neuron = NeuralNetwork([1, 1], output_activation="sigmoid", loss="mse", optimizer="sgd",
                       learning_rate=0.1, standardize_target=False)
neuron.set_weights([(np.array([[w]]), np.array([b]))])
step = neuron.trace([[x]], [y]).layers[0]
print(f"∂L/∂w: by the chain rule {dL_dw:.10f}, by central difference {central_difference(loss_of_w, w):.10f}, "
      f"by the library {step.dW[0, 0]:.10f}")
print(f"∂L/∂b: by the chain rule {dL_db:.10f}, by central difference {central_difference(loss_of_b, b):.10f}, "
      f"by the library {step.db[0]:.10f}")
assert abs(dL_dw - central_difference(loss_of_w, w)) < 1e-8 and abs(dL_db - central_difference(loss_of_b, b)) < 1e-8
assert np.isclose(step.dW[0, 0], dL_dw, rtol=1e-12) and np.isclose(step.db[0], dL_db, rtol=1e-12)
assert np.isclose(step.delta[0, 0], delta, rtol=1e-12)

# %% [markdown]
# ## 2. Two layers, unit by unit: a 2-2-1 network
#
# Two inputs, a hidden layer of two ReLU units, one linear output, the squared error. Written one
# unit at a time, the forward pass is
#
# $$z^1_j = \sum_{i=1}^{2} a^0_i W^1_{ij} + b^1_j, \qquad a^1_j = \mathrm{relu}(z^1_j), \qquad
#   \hat y = z^2_1 = \sum_{j=1}^{2} a^1_j W^2_{j1} + b^2_1, \qquad L = (\hat y - y)^2 .$$

# %%
net = NeuralNetwork([2, 2, 1], hidden_activation="relu", loss="mse", optimizer="sgd", learning_rate=0.1,
                    standardize_target=False)
W1, b1 = np.array([[0.4, -0.3], [0.2, 0.6]]), np.array([0.1, -0.1])
W2, b2 = np.array([[0.7], [-0.5]]), np.array([0.05])
net.set_weights([(W1, b1), (W2, b2)])
x2, y2 = np.array([1.0, 0.5]), 1.0
net.plot_network(title="the 2-2-1 network (blue: positive weights, red: negative)")

# %% [markdown]
# **The output unit.** $\hat y$ is linear in $z^2_1$, so
# $\delta^2_1 = \partial L / \partial z^2_1 = 2(\hat y - y)$. Each weight into it multiplies one
# hidden activation, so $\partial L / \partial W^2_{j1} = a^1_j\,\delta^2_1$ and
# $\partial L / \partial b^2_1 = \delta^2_1$.
#
# **A hidden unit.** $a^1_j$ reaches the loss through every unit of layer 2 it feeds. When a value
# is used in several places, its gradient is the **sum** over the paths (the multivariate chain
# rule: a small change of $a^1_j$ changes each $z^2_k$, and the loss adds up those changes):
#
# $$\frac{\partial L}{\partial a^1_j} = \sum_k \frac{\partial L}{\partial z^2_k}
#   \frac{\partial z^2_k}{\partial a^1_j} = \sum_k \delta^2_k W^2_{jk}, \qquad
#   \delta^1_j = \frac{\partial L}{\partial a^1_j}\,\mathrm{relu}'(z^1_j), \qquad
#   \frac{\partial L}{\partial W^1_{ij}} = a^0_i\,\delta^1_j .$$
#
# Here layer 2 has one unit, so the sum has one term. $\mathrm{relu}'(z) = 1$ where $z > 0$ and 0
# elsewhere: a unit whose sum is negative passes no gradient back.

# %%
z1 = np.array([sum(x2[i] * W1[i, j] for i in range(2)) + b1[j] for j in range(2)])
a1 = np.maximum(z1, 0)
y_hat = sum(a1[j] * W2[j, 0] for j in range(2)) + b2[0]
delta2 = 2 * (y_hat - y2)
dW2 = np.array([[a1[j] * delta2] for j in range(2)])
dL_da1 = np.array([delta2 * W2[j, 0] for j in range(2)])
delta1 = dL_da1 * (z1 > 0)
dW1 = np.array([[x2[i] * delta1[j] for j in range(2)] for i in range(2)])
print("z¹ =", z1, " a¹ =", a1, " ŷ =", round(y_hat, 6))
print("δ² =", round(delta2, 6), " ∂L/∂a¹ =", dL_da1, " δ¹ =", delta1)
print("∂L/∂W² =", dW2.ravel(), " ∂L/∂W¹ =", dW1.tolist())

# %% [markdown]
# **Check** against the library's step, layer by layer, and against central differences on
# every weight (`gradient_check` nudges each parameter of the network in turn):

# %%
traced = net.trace([x2], [y2])
assert np.allclose(traced.layers[0].z[0], z1, rtol=1e-12) and np.isclose(traced.y_hat[0, 0], y_hat, rtol=1e-12)
assert np.isclose(traced.layers[1].delta[0, 0], delta2, rtol=1e-12)
assert np.allclose(traced.layers[1].dW, dW2, rtol=1e-12) and np.allclose(traced.layers[0].delta[0], delta1, rtol=1e-12)
assert np.allclose(traced.layers[0].dW, dW1, rtol=1e-12)
error = net.gradient_check([x2], [y2])
print(f"largest relative error of the backward pass against central differences: {error:.1e}")
assert error < 1e-6

# %% [markdown]
# ## 3. The vector form, by dimension analysis
#
# Loops over units are slow and hide the structure. For one sample written as a row,
# $a^{l-1}$ is $1 \times n_{l-1}$, $W^l$ is $n_{l-1} \times n_l$ and $\delta^l$ is
# $1 \times n_l$. The gradient $\partial L / \partial W^l$ has the shape of $W^l$,
# $n_{l-1} \times n_l$, and its entry $(i, j)$ is $a^{l-1}_i \delta^l_j$. The only product of the
# two row vectors with that shape is the outer product
#
# $$\frac{\partial L}{\partial W^l} = (a^{l-1})^\top \delta^l
#   \qquad (n_{l-1} \times 1)(1 \times n_l) = n_{l-1} \times n_l ,$$
#
# and its entries are exactly $a^{l-1}_i \delta^l_j$. Likewise $\partial L / \partial a^{l-1}$ is a
# $1 \times n_{l-1}$ row whose entry $i$ is $\sum_j \delta^l_j W^l_{ij}$: the row $\delta^l$
# times the transpose of $W^l$,
#
# $$\frac{\partial L}{\partial a^{l-1}} = \delta^l (W^l)^\top, \qquad
#   \delta^{l-1} = \left(\delta^l (W^l)^\top\right) \odot f'(z^{l-1}),$$
#
# where $\odot$ multiplies element by element (each unit's own slope). These are the lines of
# `Dense.backward` in `nn/layers.py`.

# %%
row0, row1 = x2[None, :], a1[None, :]                # one sample as a row, as the library holds it
assert np.allclose(row1.T @ np.array([[delta2]]), dW2) and np.allclose(row0.T @ delta1[None, :], dW1)
assert np.allclose(np.array([[delta2]]) @ W2.T, dL_da1[None, :])
print("the outer products (a^{l-1})ᵀ δ^l and δ^l (W^l)ᵀ equal the unit-by-unit sums")

# %% [markdown]
# ## 4. A batch: why the rows are summed, and where $1/N$ comes from
#
# Training takes a batch of $N$ rows at once and minimises their **mean** loss,
# $L = \frac{1}{N}\sum_{n=1}^{N} \ell_n$. Every row uses the same $W^l$, so by the rule of
# section 2 (a value used in several places) the gradient is the sum over the rows:
#
# $$\frac{\partial L}{\partial W^l} = \sum_{n=1}^{N} (a^{l-1}_n)^\top \delta^l_n
#   = (A^{l-1})^\top \Delta^l ,$$
#
# because multiplying the $n_{l-1} \times N$ matrix $(A^{l-1})^\top$ by the $N \times n_l$ matrix
# $\Delta^l$ (the rows $\delta^l_n$ stacked) sums over $N$ by itself. The bias is added to every
# row, so $\partial L / \partial b^l$ is the column sums of $\Delta^l$.
#
# The $1/N$ of the mean enters once, at the output: $\Delta^L = \partial L / \partial Z^L$ holds
# $\frac{1}{N} \partial \ell_n / \partial z^L_n$ in row $n$, and every layer below inherits it
# through the products. So the library's losses put $1/N$ in their derivative and the layers just
# sum.

# %%
rng = np.random.default_rng(0)
X_batch, y_batch = rng.normal(size=(5, 2)), rng.normal(size=5)
per_row = [net.trace(X_batch[[n]], y_batch[[n]]).layers[0].dW for n in range(5)]    # each row alone
whole = net.trace(X_batch, y_batch).layers[0].dW
print("mean of the five one-row gradients of W¹:\n", np.mean(per_row, axis=0))
print("the batch gradient of W¹:\n", whole)
assert np.allclose(np.mean(per_row, axis=0), whole, rtol=1e-12)

# %% [markdown]
# ## 5. The output deltas: why they collapse to $\hat y - y$
#
# **Mean squared error** over $N$ rows and $k$ outputs, $L = \frac{1}{Nk}\sum_{n,m}(\hat y_{nm} -
# y_{nm})^2$, with a linear output $\hat y = z^L$:
#
# $$\delta^L = \frac{2}{Nk}(\hat y - y).$$
#
# **Sigmoid with binary cross-entropy**, $\ell = -[y \log \hat y + (1 - y)\log(1 - \hat y)]$ and
# $\hat y = \sigma(z)$:
#
# $$\frac{\partial \ell}{\partial \hat y} = \frac{\hat y - y}{\hat y(1 - \hat y)}, \qquad
#   \frac{\partial \hat y}{\partial z} = \hat y(1 - \hat y), \qquad
#   \frac{\partial \ell}{\partial z} = \hat y - y .$$
#
# The sigmoid's slope cancels the loss's denominator, so the delta stays useful even when
# $\hat y$ is near 0 or 1 (where the slope alone would vanish). Over a batch,
# $\delta^L = (\hat y - y)/N$.
#
# **Softmax with categorical cross-entropy**, $\hat y_m = e^{z_m} / \sum_q e^{z_q}$ and
# $\ell = -\sum_m y_m \log \hat y_m$ with a one-hot $y$. Each $\hat y_m$ depends on every $z_j$:
# $\partial \hat y_m / \partial z_j = \hat y_m(\mathbb{1}[m = j] - \hat y_j)$. Summing over the
# paths,
#
# $$\frac{\partial \ell}{\partial z_j} = -\sum_m \frac{y_m}{\hat y_m}\,\hat y_m
#   (\mathbb{1}[m = j] - \hat y_j) = -y_j + \hat y_j \sum_m y_m = \hat y_j - y_j ,$$
#
# since the one-hot $y$ sums to 1. Again $\delta^L = (\hat y - y)/N$ over a batch. The library
# computes these two pairs *fused*, from $z$ directly (`nn/losses.py`).

# %%
X3 = rng.normal(size=(4, 2))
cases = {"mse": (NeuralNetwork([2, 3, 2], loss="mse", standardize_target=False, random_state=0), rng.normal(size=(4, 2))),
         "binary": (NeuralNetwork([2, 3, 1], task="binary", random_state=0), np.array([0, 1, 1, 0])),
         "softmax": (NeuralNetwork([2, 3, 3], task="multiclass", random_state=0), np.array([0, 1, 2, 1]))}
for name, (model, targets) in cases.items():
    model.fit(X3, targets, epochs=1, verbose=0)                    # (learns the classes)
    traced = model.trace(X3, targets)
    Y = model.task_.encode(targets, np.float64)
    N, k = Y.shape
    derived = 2 * (traced.y_hat - Y) / (N * k) if name == "mse" else (traced.y_hat - Y) / N
    print(f"{name:8s} largest |δᴸ − derived| = {np.abs(traced.layers[-1].delta - derived).max():.1e}")
    assert np.allclose(traced.layers[-1].delta, derived, rtol=1e-12, atol=1e-15)

# %% [markdown]
# And by central differences on one logit, with the losses written out here from their formulas:

# %%
z_out, target = np.array([0.3, -1.2, 0.8]), np.array([0.0, 1.0, 0.0])
softmax_ce = lambda zs: -np.sum(target * np.log(np.exp(zs) / np.exp(zs).sum()))      # noqa: E731
for j in range(3):
    bumped = lambda v, j=j: softmax_ce(np.where(np.arange(3) == j, v, z_out))          # noqa: E731
    predicted = np.exp(z_out[j]) / np.exp(z_out).sum() - target[j]
    assert abs(central_difference(bumped, z_out[j]) - predicted) < 1e-8
bce = lambda zz: -(1.0 * np.log(sigmoid(zz)) + 0.0 * np.log(1 - sigmoid(zz)))          # noqa: E731
assert abs(central_difference(bce, 0.4) - (sigmoid(0.4) - 1.0)) < 1e-8
print("∂ℓ/∂z = ŷ − y holds for softmax with cross-entropy and for sigmoid with binary cross-entropy")

# %% [markdown]
# ## 6. What each optimizer adds
#
# The backward pass gives $g = \partial L / \partial W$ for every weight and bias array; the
# optimizer turns it into a step, with learning rate $\eta$:
#
# | optimizer | update |
# |---|---|
# | SGD | $W \leftarrow W - \eta g$ |
# | momentum | $v \leftarrow \mu v + g$, $\; W \leftarrow W - \eta v$: $v$ remembers past gradients, so steps build up along a steady direction |
# | Nesterov | $v \leftarrow \mu v + g$, $\; W \leftarrow W - \eta (g + \mu v)$: the step looks ahead along $v$ |
# | RMSProp | $s \leftarrow \rho s + (1 - \rho) g^2$, $\; W \leftarrow W - \eta g / (\sqrt{s} + \varepsilon)$: each weight's step divided by its recent gradient size |
# | Adam | $m \leftarrow \beta_1 m + (1 - \beta_1) g$, $\; v \leftarrow \beta_2 v + (1 - \beta_2) g^2$, $\; \hat m = m / (1 - \beta_1^t)$, $\; \hat v = v / (1 - \beta_2^t)$, $\; W \leftarrow W - \eta \hat m / (\sqrt{\hat v} + \varepsilon)$ |
#
# Adam's $m$ and $v$ start at zero, so early on they are too small by the factors $1 - \beta^t$;
# dividing by them (the bias correction) makes the first step's $\hat m = g$ and
# $\hat v = g^2$, a step of about $\eta$ per weight. Below, each rule is applied by hand to
# the state the library's optimizer holds after three steps, and must give the library's fourth:

# %%
X4, y4 = rng.normal(size=(6, 2)), rng.normal(size=6)
for name in ("sgd", "momentum", "nesterov", "rmsprop", "adam"):
    model = NeuralNetwork([2, 3, 1], optimizer=name, learning_rate=0.05, standardize_target=False, random_state=1)
    model.fit(X4, y4, epochs=3, batch_size=6, verbose=0)
    before = {key: value.copy() for key, value in model.optimizer.get_state().items()}
    p, opt, eta, t = model.parameters.copy(), model.optimizer, 0.05, model.optimizer.iterations + 1
    traced = model.trace(X4, y4, apply=True)
    g = model.gradients                                  # the gradient of this fourth step
    if name == "sgd":
        expected = p - eta * g
    elif name in ("momentum", "nesterov"):
        v = opt.momentum * before["velocity"] + g
        expected = p - eta * (g + opt.momentum * v if name == "nesterov" else v)
    elif name == "rmsprop":
        s = opt.rho * before["mean_square"] + (1 - opt.rho) * g**2
        expected = p - eta * g / (np.sqrt(s) + opt.epsilon)
    else:
        m = opt.beta_1 * before["m"] + (1 - opt.beta_1) * g
        v = opt.beta_2 * before["v"] + (1 - opt.beta_2) * g**2
        m_hat, v_hat = m / (1 - opt.beta_1**t), v / (1 - opt.beta_2**t)
        expected = p - eta * m_hat / (np.sqrt(v_hat) + opt.epsilon)
    print(f"{name:9s} largest difference from the library's step: {np.abs(model.parameters - expected).max():.1e}")
    assert np.allclose(model.parameters, expected, rtol=1e-12, atol=1e-15)

# %% [markdown]
# ## 7. All of it together: training by hand
#
# The rules above are all a network needs. Here they train the 2-2-1 network for 200 steps of
# plain gradient descent on five rows, written from the formulas alone, beside the library
# training the same network from the same weights. They must end at the same weights:

# %%
W = [W1.copy(), W2.copy()]
B = [b1.copy(), b2.copy()]
for _ in range(200):
    A0 = X_batch                                                   # forward
    Z1 = A0 @ W[0] + B[0]
    A1 = np.maximum(Z1, 0)
    Y_hat = A1 @ W[1] + B[1]
    D2 = 2 * (Y_hat - y_batch[:, None]) / len(A0)                  # output delta: MSE, linear
    D1 = (D2 @ W[1].T) * (Z1 > 0)                                  # δ¹ = (δ² (W²)ᵀ) ⊙ relu'(z¹)
    grads = [(A0.T @ D1, D1.sum(axis=0)), (A1.T @ D2, D2.sum(axis=0))]
    for layer, (dW, db) in enumerate(grads):                       # W ← W − η g
        W[layer] -= 0.1 * dW
        B[layer] -= 0.1 * db
library = NeuralNetwork([2, 2, 1], loss="mse", optimizer="sgd", learning_rate=0.1, standardize_target=False)
library.set_weights([(W1, b1), (W2, b2)])
library.fit(X_batch, y_batch, epochs=200, batch_size=5, shuffle=False, verbose=0)
difference = max(max(np.abs(W[layer] - W_lib).max(), np.abs(B[layer] - b_lib).max())
                 for layer, (W_lib, b_lib) in enumerate(library.get_weights()))
print(f"after 200 steps, the largest difference between the hand-written and the library's weights: {difference:.1e}")
assert difference < 1e-12
library.plot_network(title="the 2-2-1 network after 200 steps")

# %% [markdown]
# Next: [the exercise](exercise_backward.ipynb), where you write this backward pass yourself and a
# check cell tells you which quantity is wrong.
