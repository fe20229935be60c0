# %% [markdown]
# # Exercise: write the backward pass
#
# The network is small and fixed: 2 inputs, a hidden layer of 3 **tanh** units, 1 linear
# output, the mean squared error $L = \frac{1}{N}\sum_n (\hat y_n - y_n)^2$ over a batch of
# $N = 4$ rows. The forward pass is done for you; the function `backward` below receives
# everything it left behind, and must return the seven quantities of the backward pass.
#
# Fill in each `None`, top to bottom, then run the check cell. It compares each quantity with the
# library's own backward pass, in the order they are computed, and names the first one that is
# missing or wrong. Everything you need is in [Backpropagation, derived](backprop_derived.ipynb):
#
# - the output delta of the squared error with a linear output (section 5);
# - $\partial L / \partial W^l = (A^{l-1})^\top \Delta^l$, the bias as column sums (sections 3 and 4);
# - $\partial L / \partial A^{l-1} = \Delta^l (W^l)^\top$ and $\Delta^{l-1} = \partial L / \partial A^{l-1} \odot f'(Z^{l-1})$;
# - for tanh, $f'(z) = 1 - \tanh^2(z) = 1 - a^2$.
#
# (The answers are in `examples/exercise_answers.py`, for after you have tried.)

# %%
# %matplotlib inline
import numpy as np  # noqa: F401 (yours to use)

from backpropagation.explain.exercises import check_backward, exercise_network

model, X, y = exercise_network()
model.plot_network(title="the exercise's network: 2 inputs, 3 tanh units, 1 linear output")

# %% [markdown]
# ## Your backward pass
#
# The arrays hold the whole batch, a row per sample, so each product sums over the rows by
# itself. Check each shape against the comment beside it: $\partial L / \partial W^l$ always has
# the shape of $W^l$, and a bias gradient one number per unit.


# %%
def backward(X, Y, W1, b1, Z1, A1, W2, b2, Y_hat):
    """The backward pass of the 2-3-1 tanh network for the mean squared error.

    X: (N, 2) inputs; Y: (N, 1) targets; Z1, A1: (N, 3) layer 1's sums and activations;
    Y_hat: (N, 1) the outputs. Returns the gradients by name."""
    N = len(X)  # noqa: F841 (the batch's rows: yours to use)
    delta2 = None   # ∂L/∂Z², shape (N, 1)
    dW2 = None      # ∂L/∂W², shape (3, 1)
    db2 = None      # ∂L/∂b², shape (1,)
    dA1 = None      # ∂L/∂A¹, shape (N, 3)
    delta1 = None   # ∂L/∂Z¹, shape (N, 3)
    dW1 = None      # ∂L/∂W¹, shape (2, 3)
    db1 = None      # ∂L/∂b¹, shape (3,)
    return {"delta2": delta2, "dW2": dW2, "db2": db2, "dA1": dA1, "delta1": delta1, "dW1": dW1, "db1": db1}


# %% [markdown]
# ## Check

# %%
verdict = check_backward(backward)
print(verdict)
