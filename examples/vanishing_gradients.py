# %% [markdown]
# # Why deep sigmoid networks stall: the vanishing gradient, measured
#
# Backpropagation multiplies, layer after layer, by `Wᵀ` and by the activation's slope `f'(z)`.
# The sigmoid's slope is at most 1/4 (`σ'(z) = σ(z)(1 - σ(z))`), so in a deep sigmoid network
# the error signal `δ` shrinks by a factor at every layer on its way down, and the first layers
# barely learn. This notebook makes that visible with the library's own `trace`: for three
# 8-layer networks it records the size of `δ` in every layer, before and during training.
#
# 1. sigmoid hidden layers, weights drawn from N(0, 0.1²) (a naive start);
# 2. sigmoid hidden layers with Glorot initialisation (scaled to keep signals' variance);
# 3. ReLU hidden layers with He initialisation (slope 1 wherever a unit is active).

# %%
# %matplotlib inline
import os

import numpy as np
from sklearn.datasets import make_moons

from backpropagation import NeuralNetwork
from backpropagation.nn.initializers import Initializer

X, y = make_moons(400, noise=0.2, random_state=0)
X = (X - X.mean(axis=0)) / X.std(axis=0)
sizes = [2] + [16] * 7 + [1]                         # 8 weight layers: 7 hidden, 1 output


class SmallNormal(Initializer):
    """Weights from N(0, 0.1²): a start that looks harmless and is not."""

    def __call__(self, fan_in, fan_out, rng, dtype):
        return (0.1 * rng.standard_normal((fan_in, fan_out))).astype(dtype)


setups = {"sigmoid, small N(0, 0.1²) start": ("sigmoid", SmallNormal()),
          "sigmoid, Glorot start": ("sigmoid", "glorot_uniform"),
          "ReLU, He start": ("relu", "he_normal")}

# %% [markdown]
# ## The size of δ in each layer, before training
#
# `model.trace(X, y)` runs one forward and backward pass on the whole data set and keeps each
# layer's `δ = ∂L/∂z`. We print the mean absolute δ per layer, from the output (layer 8) down
# to the first.

# %%
def delta_sizes(model):
    """Mean |δ| of each layer (first to last) in one traced step on all the data."""
    return [float(np.abs(step.delta).mean()) for step in model.trace(X, y).layers]


models = {}
for name, (activation, initializer) in setups.items():
    models[name] = NeuralNetwork(sizes, task="binary", hidden_activation=activation, initializer=initializer,
                                 optimizer="sgd", learning_rate=0.5, random_state=0)
    sizes_now = delta_sizes(models[name])
    print(f"{name:34s} " + "  ".join(f"{s:8.1e}" for s in reversed(sizes_now)))
print(f"{'':34s} " + "  ".join(f"{'layer ' + str(k):>8s}" for k in range(8, 0, -1)))

# %% [markdown]
# With the small start, δ loses about an order of magnitude per layer: the first layer's
# δ is tens of millions of times smaller than the last layer's, so only the top of the network
# can learn. Glorot's start loses less, a factor of three to seven per layer, about what the
# sigmoid's slope (at most 1/4) takes; ReLU with He initialisation keeps δ's size nearly
# constant from the seventh layer down.
#
# ## During training
#
# Plain SGD, full batches, the same learning rate for all three. Every few epochs we trace
# again and record δ of the first and the last layer.

# %%
epochs = int(os.environ.get("BACKPROP_EXAMPLE_EPOCHS", 300))
record = {name: {"epoch": [], "first": [], "last": [], "loss": []} for name in models}
for name, model in models.items():
    for epoch in range(0, epochs, max(epochs // 30, 1)):
        sizes_now = delta_sizes(model)
        record[name]["epoch"].append(epoch)
        record[name]["first"].append(sizes_now[0])
        record[name]["last"].append(sizes_now[-1])
        history = model.fit(X, y, epochs=max(epochs // 30, 1), batch_size=None, verbose=0)
        record[name]["loss"].append(history.history["loss"][-1])
    print(f"{name:34s} accuracy after {epochs} epochs: {model.score(X, y):.3f}")

# %% [markdown]
# Left: mean |δ| of the first layer (solid) and the last (dashed) over training, on a log
# scale. Right: the loss. The naive sigmoid network's first layer gets almost no signal and its
# loss stays near log 2 ≈ 0.69, the loss of guessing (accuracy about one half); the Glorot
# sigmoid network learns, slowly; the ReLU network learns fast.

# %%
try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4), layout="constrained")
    FigureCanvasAgg(figure)
    deltas, losses = figure.subplots(1, 2)
    for (name, seen), colour in zip(record.items(), ["tab:red", "tab:orange", "tab:green"]):
        deltas.plot(seen["epoch"], seen["first"], color=colour, label=f"{name}: layer 1")
        deltas.plot(seen["epoch"], seen["last"], color=colour, linestyle="--", label=f"{name}: layer 8")
        losses.plot(seen["epoch"], seen["loss"], color=colour, label=name)
    deltas.set(yscale="log", xlabel="epoch", ylabel="mean |δ|", title="δ in the first and last layer")
    losses.set(xlabel="epoch", ylabel="binary cross-entropy", title="training loss")
    deltas.legend(fontsize=7)
    losses.legend(fontsize=8)
except ImportError:
    figure = "(install matplotlib for the plots)"
figure
