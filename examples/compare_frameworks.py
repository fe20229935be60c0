# %% [markdown]
# # Backpropagation four ways: by hand in NumPy, the library, PyTorch, Keras 3
#
# The placement example this project started from lists "compare manual vs. PyTorch/TensorFlow
# automatic differentiation" as future work. Here it is: the same 13-16-8-3 network, from the same initial weights, on the same data
# in the same batch order, trained with plain SGD four times — by a dozen lines of NumPy
# written here, by the library's hand-written backpropagation, by PyTorch's autograd, and by
# Keras 3 (on its PyTorch backend), all in float64. If backpropagation is right, the loss
# curves agree to many digits. Set BACKPROP_EXAMPLE_EPOCHS for a quick run.

# %%
# %matplotlib inline
import os
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
from sklearn.datasets import load_wine  # noqa: E402

from backpropagation import NeuralNetwork  # noqa: E402

epochs = int(os.environ.get("BACKPROP_EXAMPLE_EPOCHS", 30))
batch_size, learning_rate = 16, 0.05
X, labels = load_wine(return_X_y=True)
X = (X - X.mean(axis=0)) / X.std(axis=0)
Y = np.eye(3)[labels]

model = NeuralNetwork([13, 16, 8, 3], task="multiclass", hidden_activation="relu", optimizer="sgd",
                      learning_rate=learning_rate, random_state=0)
initial = model.get_weights()
curves, seconds, final = {}, {}, {}
model.plot_network(title="the 13-16-8-3 network all four train (wine: 13 measurements, 3 cultivars)")

# %% ours
start = time.perf_counter()
curves["ours"] = model.fit(X, labels, epochs=epochs, batch_size=batch_size, shuffle=False,
                           verbose=0).history["loss"]
seconds["ours"] = time.perf_counter() - start

# %% [markdown]
# ## By hand
#
# Forward: two ReLU layers and a linear output $z^3$; the loss is the cross-entropy of
# $\mathrm{softmax}(z^3)$ against the one-hot labels, averaged over the batch. Backward: for
# softmax with cross-entropy the output delta is $\delta^3 = (\mathrm{softmax}(z^3) - y)/N$
# (derived in [Backpropagation, derived](backprop_derived.ipynb), section 5); then, layer by
# layer, $\partial L / \partial W^l = (a^{l-1})^\top \delta^l$,
# $\partial L / \partial b^l = \sum_{\text{rows}} \delta^l$, and
# $\delta^{l-1} = (\delta^l (W^l)^\top) \odot \mathrm{relu}'(z^{l-1})$.

# %% by hand
def by_hand(weights, epochs):
    """Plain SGD on softmax cross-entropy, written out; returns the loss of each epoch."""
    (W1, b1), (W2, b2), (W3, b3) = [(W.copy(), b.copy()) for W, b in weights]
    losses = []
    for _ in range(epochs):
        total = 0.0
        for i in range(0, len(X), batch_size):
            x, t = X[i:i + batch_size], Y[i:i + batch_size]
            z1 = x @ W1 + b1
            a1 = np.maximum(z1, 0)
            z2 = a1 @ W2 + b2
            a2 = np.maximum(z2, 0)
            z3 = a2 @ W3 + b3
            shifted = z3 - z3.max(axis=1, keepdims=True)            # a stable softmax
            log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            total -= (t * log_p).sum()
            d3 = (np.exp(log_p) - t) / len(x)                       # δ³ = (softmax - y) / N
            d2 = (d3 @ W3.T) * (z2 > 0)
            d1 = (d2 @ W2.T) * (z1 > 0)
            W3, b3 = W3 - learning_rate * a2.T @ d3, b3 - learning_rate * d3.sum(axis=0)
            W2, b2 = W2 - learning_rate * a1.T @ d2, b2 - learning_rate * d2.sum(axis=0)
            W1, b1 = W1 - learning_rate * x.T @ d1, b1 - learning_rate * d1.sum(axis=0)
        losses.append(total / len(X))
    return losses, [W1, W2, W3]


start = time.perf_counter()
curves["by hand"], final["by hand"] = by_hand(initial, epochs)
seconds["by hand"] = time.perf_counter() - start

# %% PyTorch
try:
    import torch

    torch.set_default_dtype(torch.float64)
    net = torch.nn.Sequential(torch.nn.Linear(13, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8),
                              torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for linear, (W, b) in zip(net[::2], initial):
            linear.weight.copy_(torch.tensor(W.T))      # torch stores (fan_out, fan_in)
            linear.bias.copy_(torch.tensor(b))
    optimizer = torch.optim.SGD(net.parameters(), lr=learning_rate)
    X_t, y_t = torch.tensor(X), torch.tensor(labels)
    start = time.perf_counter()
    curves["pytorch"] = []
    for _ in range(epochs):
        total = 0.0
        for i in range(0, len(X), batch_size):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(X_t[i:i + batch_size]), y_t[i:i + batch_size])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(X_t[i:i + batch_size])
        curves["pytorch"].append(total / len(X))
    seconds["pytorch"] = time.perf_counter() - start
    final["pytorch"] = [linear.weight.detach().numpy().T for linear in net[::2]]
except ImportError:
    print("(PyTorch is not installed: pip install torch==2.13.0)")

# %% Keras 3
try:
    import keras

    keras.config.set_floatx("float64")
    net = keras.Sequential([keras.Input((13,)), keras.layers.Dense(16, activation="relu"),
                            keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    for layer, (W, b) in zip(net.layers, initial):
        layer.set_weights([W, b])                       # Keras stores (fan_in, fan_out), as we do
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    curves["keras"] = net.fit(X, Y, epochs=epochs, batch_size=batch_size, shuffle=False,
                              verbose=0).history["loss"]
    seconds["keras"] = time.perf_counter() - start
    final["keras"] = [layer.get_weights()[0] for layer in net.layers]
except ImportError:
    print("(Keras is not installed: pip install keras)")

# %% side by side
names = list(curves)
print("epoch  " + "  ".join(f"{name:>20s}" for name in names))
for epoch in range(epochs):
    print(f"{epoch + 1:5d}  " + "  ".join(f"{curves[name][epoch]:20.15f}" for name in names))
for name in names[1:]:
    gap = np.max(np.abs(np.array(curves[name]) - curves["ours"]) / np.array(curves["ours"]))
    weights = max(np.max(np.abs(W - theirs)) for (W, _), theirs in zip(model.get_weights(), final[name]))
    print(f"largest relative difference ours vs {name}: {gap:.1e} in the loss curve, "
          f"{weights:.1e} in the trained weights")
# Keras 3 (torch backend) evaluates parts of this network at float32 precision even with floatx
# "float64": on identical weights its forward pass already differs from ours and PyTorch's by
# ~1e-7, so its curve agrees to ~1e-7 and its weights to ~1e-8; PyTorch agrees to the last digit.
for name in names:
    print(f"{name:8s} {seconds[name] / epochs * 1e3:8.2f} ms per epoch")

# %% [markdown]
# The four curves on one plot: they lie on top of each other.

# %%
try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    for name, style in zip(names, ["-", "--", ":", "-."]):
        ax.plot(np.arange(1, epochs + 1), curves[name], style, linewidth=2, label=name)
    ax.set(xlabel="epoch", ylabel="mean cross-entropy over the epoch's batches",
           title="Same network, same start, same batches: four implementations")
    ax.legend()
    ax.grid(alpha=0.3)
except ImportError:
    figure = "(install matplotlib for the plot)"
figure
