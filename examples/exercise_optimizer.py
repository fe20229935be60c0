# %% [markdown]
# # Exercise: write an optimizer's update
#
# The backward pass gives a gradient $g$ for every weight; the optimizer decides the step. Write
# two of them as functions of one weight array and run the check cells: each runs your function
# for three steps beside the library's optimizer and names the first array that differs.
#
# **Momentum** keeps a velocity $v$ (zero at first):
#
# $$v \leftarrow \mu v + g, \qquad W \leftarrow W - \eta v .$$
#
# **Adam** keeps two moments $m$ and $v$ (zero at first) and counts its steps $t$ from 1:
#
# $$m \leftarrow \beta_1 m + (1 - \beta_1) g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2) g^2,$$
#
# $$\hat m = \frac{m}{1 - \beta_1^t}, \qquad \hat v = \frac{v}{1 - \beta_2^t}, \qquad
#   W \leftarrow W - \eta\,\frac{\hat m}{\sqrt{\hat v} + \varepsilon}.$$
#
# (The answers are in `examples/exercise_answers.py`, for after you have tried.)
#
# First, what the three rules do, with the library's optimizers on the simplest loss there is,
# $L(w) = w^2 / 2$ (so $g = w$), from $w = 5$ with $\eta = 0.1$: plain SGD shrinks $w$ by a
# tenth each step; momentum builds up speed and overshoots; Adam moves about $\eta$ per step
# whatever the gradient's size, until its moments settle.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from backpropagation.explain.exercises import check_optimizer
from backpropagation.nn import optimizers

fig, ax = plt.subplots(figsize=(7, 3.2))
for name in ("sgd", "momentum", "adam"):
    optimizer, w, path = optimizers.get(name), np.array([5.0]), [5.0]
    for _ in range(60):
        optimizer.step(w, w.copy(), 0.1)           # g = ∂(w²/2)/∂w = w
        path.append(float(w[0]))
    ax.plot(path, label=name)
ax.axhline(0, color="0.6", lw=0.8)
ax.set(xlabel="step", ylabel="w", title="60 steps on L = w²/2 from w = 5, η = 0.1")
ax.legend()
plt.show()


# %% [markdown]
# ## Momentum


# %%
def momentum_step(W, g, v, lr, momentum):
    """One momentum step: return the new velocity and the new weights, (v, W)."""
    v = None        # v ← μ v + g
    W = None        # W ← W − η v
    return v, W


print(check_optimizer(momentum_step, "momentum"))

# %% [markdown]
# ## Adam
#
# Mind the bias correction: at $t = 1$, $\hat m = g$ and $\hat v = g^2$, so the first step moves
# every weight by about $\eta$, whatever the size of its gradient. The check names the step $t$
# at which your arrays first part from the library's.


# %%
def adam_step(W, g, m, v, t, lr, beta_1, beta_2, epsilon):
    """One Adam step (t counts from 1): return the new moments and weights, (m, v, W)."""
    m = None        # m ← β₁ m + (1 − β₁) g
    v = None        # v ← β₂ v + (1 − β₂) g²
    W = None        # W ← W − η m̂ / (√v̂ + ε), with m̂ = m / (1 − β₁ᵗ) and v̂ = v / (1 − β₂ᵗ)
    return m, v, W


print(check_optimizer(adam_step, "adam"))
