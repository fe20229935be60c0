# %% [markdown]
# # A 3-2-2-1 ReLU network by hand, beside the library, gradient by gradient
#
# The original program writes a regression network with two ReLU hidden layers of two units and a linear
# output by hand: forward pass, mean squared error, backward pass by the chain rule, and the
# update `W -= lr * dL_dW`, for 1,000 full-batch epochs on 10 random samples. This notebook runs
# the original program's code and the library from the same weights and data, compares **every gradient of
# the first step**, then the losses of all 1,000 epochs, and explains why the losses the original program
# printed are not the ones its own code prints.

# %%
# %matplotlib inline
import numpy as np

from backpropagation import NeuralNetwork


def relu(x):
    return np.maximum(0, x)


np.random.seed(0)                     # the original program's cells, in the order they appear
W1, b1 = np.random.randn(3, 2), np.zeros((1, 2))
W2, b2 = np.random.randn(2, 2), np.zeros((1, 2))
W3, b3 = np.random.randn(2, 1), np.zeros((1, 1))
X = np.random.rand(10, 3)             # 10 samples, 3 features
y = np.random.rand(10, 1)             # 10 target values
start = [a.copy() for a in (W1, b1, W2, b2, W3, b3)]

# %% [markdown]
# ## 1. The first step by hand (the original program's code)
#
# Forward: $z^1 = X W^1 + b^1$, $a^1 = \mathrm{relu}(z^1)$, $z^2 = a^1 W^2 + b^2$,
# $a^2 = \mathrm{relu}(z^2)$, $\hat y = a^2 W^3 + b^3$. Loss: $L = \frac{1}{N}\sum (y - \hat y)^2$,
# so $\partial L / \partial \hat y = 2(\hat y - y)/N$. Backward, last layer first: each layer's
# weight gradient is its input, transposed, times the gradient at its output,
# $\partial L / \partial W^l = (a^{l-1})^\top \delta^l$; the gradient passes down through
# $(W^l)^\top$ and through the ReLU's slope, 1 where $z > 0$ and 0 elsewhere (the derivation:
# [Backpropagation, derived](backprop_derived.ipynb)).

# %%
z1 = X @ W1 + b1
a1 = relu(z1)
z2 = a1 @ W2 + b2
a2 = relu(z2)
y_pred = a2 @ W3 + b3
dL_dy = 2 * (y_pred - y) / y.size
dL_dW3, dL_db3 = a2.T @ dL_dy, dL_dy.sum(axis=0, keepdims=True)
dL_da2 = dL_dy @ W3.T
dL_dz2 = dL_da2 * (z2 > 0)
dL_dW2, dL_db2 = a1.T @ dL_dz2, dL_dz2.sum(axis=0, keepdims=True)
dL_da1 = dL_dz2 @ W2.T
dL_dz1 = dL_da1 * (z1 > 0)
dL_dW1, dL_db1 = X.T @ dL_dz1, dL_dz1.sum(axis=0, keepdims=True)
print(f"first loss, by hand: {np.mean((y - y_pred) ** 2):.6f}")

# %% [markdown]
# ## 2. The same step through the library
#
# `model.trace(X, y)` runs the forward and backward pass `fit` runs and keeps what each layer
# computed: $a$, $z$, $\partial L / \partial a$ (`dA`), $\delta = \partial L / \partial z$
# (`delta`), $\partial L / \partial W$ (`dW`) and $\partial L / \partial b$ (`db`). The original
# program's names map onto them one to one: `dL_dz2` is $\delta^2$, `dL_da1` is
# $\partial L / \partial a^1$, and so on.

# %%
model = NeuralNetwork([3, 2, 2, 1], task="regression", hidden_activation="relu", loss="mse",
                      optimizer="sgd", learning_rate=0.01,
                      standardize_target=False)   # the original program trains on raw targets
model.set_weights([(W1.copy(), b1[0].copy()), (W2.copy(), b2[0].copy()), (W3.copy(), b3[0].copy())])
step = model.trace(X, y).layers
pairs = [("dL_dy  vs ∂L/∂a³ (δ³: linear output)", dL_dy, step[2].delta),
         ("dL_dW3 vs ∂L/∂W³", dL_dW3, step[2].dW), ("dL_db3 vs ∂L/∂b³", dL_db3[0], step[2].db),
         ("dL_da2 vs ∂L/∂a²", dL_da2, step[1].dA), ("dL_dz2 vs δ²", dL_dz2, step[1].delta),
         ("dL_dW2 vs ∂L/∂W²", dL_dW2, step[1].dW), ("dL_db2 vs ∂L/∂b²", dL_db2[0], step[1].db),
         ("dL_da1 vs ∂L/∂a¹", dL_da1, step[0].dA), ("dL_dz1 vs δ¹", dL_dz1, step[0].delta),
         ("dL_dW1 vs ∂L/∂W¹", dL_dW1, step[0].dW), ("dL_db1 vs ∂L/∂b¹", dL_db1[0], step[0].db)]
for name, manual, library in pairs:
    print(f"{name:38s} largest difference {np.max(np.abs(manual - library)):.1e}")
model.plot_network(title="the 3-2-2-1 network at its starting weights")

# %% [markdown]
# Every gradient agrees to rounding (about 1e-17): the library's backward pass is the original program's
# chain rule, layer for layer.
#
# ## 3. A thousand epochs
#
# The original program's loop against `fit` with the full batch and no shuffling, from the same start:

# %%
lr = 0.01


def original_training(X, y, epochs=1000):
    """The original program's training loop, from its starting weights; the loss of every epoch."""
    W1, b1, W2, b2, W3, b3 = [a.copy() for a in start]
    losses = []
    for _ in range(epochs):
        z1 = X @ W1 + b1
        a1 = relu(z1)
        z2 = a1 @ W2 + b2
        a2 = relu(z2)
        y_pred = a2 @ W3 + b3
        losses.append(np.mean((y - y_pred) ** 2))
        dL_dy = 2 * (y_pred - y) / y.size
        dL_dW3, dL_db3 = a2.T @ dL_dy, dL_dy.sum(axis=0, keepdims=True)
        dL_dz2 = (dL_dy @ W3.T) * (z2 > 0)
        dL_dW2, dL_db2 = a1.T @ dL_dz2, dL_dz2.sum(axis=0, keepdims=True)
        dL_dz1 = (dL_dz2 @ W2.T) * (z1 > 0)
        dL_dW1, dL_db1 = X.T @ dL_dz1, dL_dz1.sum(axis=0, keepdims=True)
        W3 -= lr * dL_dW3
        b3 -= lr * dL_db3
        W2 -= lr * dL_dW2
        b2 -= lr * dL_db2
        W1 -= lr * dL_dW1
        b1 -= lr * dL_db1
    return losses


manual = original_training(X, y)
ours = model.fit(X, y, epochs=1000, batch_size=None, shuffle=False, verbose=0).history["loss"]
for epoch in range(0, 1000, 100):
    print(f"Epoch {epoch:4d}  manual loss {manual[epoch]:.12f}  library loss {ours[epoch]:.12f}")
gap = np.max(np.abs(np.array(ours) - manual) / np.array(manual))
print(f"largest relative difference over 1,000 epochs: {gap:.1e}")

# %% [markdown]
# ## 4. Why the original program printed other losses
#
# The original program's notebook shows `Epoch 0, Loss: 0.0672`, then `0.0543` at epoch 100 and `0.0534`
# at the end. Its own code, run top to bottom as above, prints `0.0736`, then `0.0195` and
# `0.0158`. The code is not at fault: the original program's cells carry the execution counts 9, 12, 15
# and 16, so cells ran between them, or again, before the output was saved, and the random
# numbers its weights, `X` and `y` came from were not those a fresh run draws. The simplest
# explanation, that `X` and `y` were drawn again after earlier draws, does not reproduce them
# either: below, the same weights with `X` and `y` taken after 0 to 5 earlier draws.

# %%
original_printed = [0.0672, 0.0543, 0.0537, 0.0536, 0.0535, 0.0535, 0.0534, 0.0534, 0.0534, 0.0534]


np.random.seed(0)
np.random.randn(3, 2), np.random.randn(2, 2), np.random.randn(2, 1)     # the weights' draws
after_weights = np.random.get_state()
for skipped in range(6):
    np.random.set_state(after_weights)
    for _ in range(skipped):
        np.random.rand(10, 3), np.random.rand(10, 1)
    printed = [round(float(loss), 4) for loss in original_training(np.random.rand(10, 3), np.random.rand(10, 1))[::100]]
    print(f"X, y after {skipped} earlier draws: {printed[:3]} ... {printed[-1]}"
          f"{'   <- the original program' if printed == original_printed else ''}")
print("the original program printed:                ", original_printed[:3], "...", original_printed[-1])

# %% [markdown]
# None matches: what the original program printed cannot be recovered from its code alone. What the code
# *does*, the library does too, to 1e-15.

# %%
try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.plot(manual, label="the original program's code", linewidth=4, alpha=0.4)
    ax.plot(ours, label="the library", linestyle="--")
    ax.set(xlabel="epoch", ylabel="MSE", yscale="log", title="one loss curve, twice")
    ax.legend()
except ImportError:
    figure = "(install matplotlib for the loss curves)"
figure
