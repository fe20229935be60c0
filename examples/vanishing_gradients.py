# %% [markdown]
# # Why deep sigmoid networks stall: the signal, forwards and backwards, measured
#
# A deep network passes two signals. Forwards, each layer multiplies by its weights and squashes
# by its activation: $a^l = f(a^{l-1} W^l + b^l)$. Backwards, each layer multiplies the error
# signal by the transposed weights and by the activation's slope:
#
# $$\delta^{l-1} = \left(\delta^l (W^l)^\top\right) \odot f'(z^{l-1}).$$
#
# The sigmoid's slope is at most $\sigma'(0) = 1/4$. If the weights do not make up for that
# factor, both signals shrink at every layer: forwards, the activations of every sample become
# the same (the network's output no longer depends on its input), and backwards $\delta$ fades,
# so the first layers get no gradient. This notebook measures both, with the library's own
# `trace`, in four 8-layer networks on the two-moons data:
#
# 1. sigmoid, weights drawn from $\mathcal N(0, 0.1^2)$ (a start that looks harmless);
# 2. sigmoid with Glorot initialisation;
# 3. tanh with Glorot initialisation (the activation Glorot's scale was derived for);
# 4. ReLU with He initialisation.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
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


setups = {"sigmoid, N(0, 0.1²) start": ("sigmoid", SmallNormal()),
          "sigmoid, Glorot start": ("sigmoid", "glorot_uniform"),
          "tanh, Glorot start": ("tanh", "glorot_uniform"),
          "ReLU, He start": ("relu", "he_normal")}
models = {name: NeuralNetwork(sizes, task="binary", hidden_activation=activation, initializer=initializer,
                              optimizer="sgd", learning_rate=0.5, random_state=0)
          for name, (activation, initializer) in setups.items()}
models["ReLU, He start"].plot_network(title="each of the four networks: 2 inputs, 7 hidden layers of 16, 1 output")

# %% [markdown]
# ## Before training: both signals, layer by layer
#
# One traced step on all 400 rows. **Forwards**, the spread of a layer's activations across the
# samples (their standard deviation, averaged over the layer's units): if it falls towards 0, every
# sample looks alike to the layers above. **Backwards**, the mean $|\delta|$ of each layer.

# %%
def signals(model):
    """Per layer (first to last): the spread of the activations across samples, and mean |δ|."""
    steps = model.trace(X, y).layers
    return [float(step.a.std(axis=0).mean()) for step in steps], [float(np.abs(step.delta).mean()) for step in steps]


before = {name: signals(model) for name, model in models.items()}
print(f"{'':28s}" + "".join(f"{'layer ' + str(k):>9s}" for k in range(1, 9)))
for name, (spread, delta) in before.items():
    print(f"{name:28s}" + "".join(f"{s:9.1e}" for s in spread) + "   spread of a")
    print(f"{'':28s}" + "".join(f"{d:9.1e}" for d in delta) + "   mean |δ|")

# %% [markdown]
# The histograms show the same numbers in full: each layer's activations (left; sigmoid units sit
# near 0.5, tanh and ReLU units near 0) and $\log_{10}|\delta|$ (right), layer 1 dark, layer 8 light.

# %%
fig, axes = plt.subplots(len(models), 2, figsize=(11, 2.4 * len(models)), layout="constrained")
for (name, model), (left, right) in zip(models.items(), axes):
    steps = model.trace(X, y).layers
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(steps)))
    for number, (step, colour) in enumerate(zip(steps, colours), 1):
        left.hist(step.a.ravel(), bins=60, histtype="step", color=colour, label=f"layer {number}")
        right.hist(np.log10(np.abs(step.delta.ravel()) + 1e-300), bins=60, histtype="step", color=colour)
    left.set(title=f"{name}: activations a", xlabel="a", ylabel="count")
    right.set(title=f"{name}: log₁₀ |δ|", xlabel="log₁₀ |δ|")
axes[0, 0].legend(fontsize=6, ncol=2)
plt.show()

# %% [markdown]
# ## Training
#
# Plain SGD on full batches, learning rate 0.5, 300 epochs, the same for all four.

# %%
epochs = 300
history, probabilities = {}, {}
for name, model in models.items():
    history[name] = model.fit(X, y, epochs=epochs, batch_size=None, verbose=0).history["loss"]
    probabilities[name] = model.predict_proba(X)[:, 1]
    spread = probabilities[name].max() - probabilities[name].min()
    print(f"{name:28s} loss {history[name][0]:.5f} → {history[name][-1]:.5f}, accuracy {model.score(X, y):.3f}, "
          f"probabilities span {spread:.1e}")

fig, ax = plt.subplots(figsize=(8, 3.5))
for (name, losses), style in zip(history.items(), ["-", "--", "-", "-"]):
    ax.plot(losses, style, label=name)
ax.axhline(np.log(2), color="0.5", lw=0.8, linestyle=":")
ax.text(epochs, np.log(2), " log 2: guessing", va="bottom", ha="right", fontsize=8)
ax.set(xlabel="epoch", ylabel="binary cross-entropy", title="training loss (both sigmoid curves lie on log 2)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## What happened, in numbers
#
# - **Both sigmoid networks learn nothing.** Their loss stays at $\log 2 \approx 0.693147$, the
#   loss of answering $p = 0.5$ for every sample, and their predicted probabilities span less than
#   $10^{-5}$: the output no longer depends on the input. Whatever accuracy they report is
#   the sign of noise around 0.5, not learning.
# - The reason is visible **forwards as well as backwards**: the activations' spread falls at
#   every layer, by a factor of about ten with the small start and of three to six with Glorot's
#   (the sigmoid's slope of at most 1/4, which Glorot's scale, derived for a slope of 1, does not
#   make up for), so layer 8 sees almost the same numbers for every sample; and $\delta$ shrinks
#   on its way down, by a factor of eight or more per layer with the small start, and layer 1's
#   $\delta$ is less than $10^{-4}$ of layer 8's in both.
# - **tanh with Glorot and ReLU with He learn**: their activations keep their spread through all
#   seven hidden layers and $\delta$ reaches layer 1 at a useful size; their loss falls well below
#   $\log 2$ and they classify most of the moons correctly.
#
# The cell below checks each of these statements against the numbers above, so the text cannot
# drift from what the code does.

# %%
sigmoids, learners = list(models)[:2], list(models)[2:]
for name in sigmoids:
    spread, delta = before[name]
    assert abs(history[name][-1] - np.log(2)) < 1e-5, name                     # stays at log 2
    assert np.ptp(probabilities[name]) < 1e-5, name                            # one answer for every sample
    assert all(upper / lower > 3 for upper, lower in zip(spread[:-2], spread[1:-1])), name     # fades forwards
    assert delta[0] < 1e-4 * delta[-1], name                                   # and backwards
assert all(upper / lower > 8 for upper, lower in zip(before[sigmoids[0]][0][:-2], before[sigmoids[0]][0][1:-1]))
assert all(upper / lower > 8 for upper, lower in zip(before[sigmoids[0]][1][1:], before[sigmoids[0]][1][:-1]))
assert all(3 < upper / lower < 7 for upper, lower in zip(before[sigmoids[1]][0][:-2], before[sigmoids[1]][0][1:-1]))
for name in learners:
    spread, delta = before[name]
    assert min(spread[:-1]) > 0.1 and delta[0] > 0.03 * delta[-1], name        # both signals reach through
    assert history[name][-1] < 0.5 * np.log(2) and models[name].score(X, y) > 0.9, name
print("every statement above holds for these runs")
