# %% [markdown]
# # Regression the way seed 000 does it: salary (LPA) from placement scores
#
# Seed 000 trains `model.fit(df.iloc[:, 0:-1].values, df['lpa'].values, epochs=75, verbose=1,
# batch_size=1)` on a placement table: CGPA and similar scores, and the package offered in
# lakhs per annum (LPA). That table is not public, so we generate a placement-style one from a
# known rule plus noise — which also tells us how good a fit can be — and train with exactly
# the seed's call: 75 epochs, one row per step.

# %%
# %matplotlib inline
import os

import numpy as np

from backpropagation import NeuralNetwork

rng = np.random.default_rng(7)
n = 200
cgpa = rng.uniform(5.0, 10.0, n).round(2)
iq = rng.normal(110, 12, n).round()
noise = rng.normal(0, 0.35, n)
lpa = (0.9 * cgpa + 0.03 * (iq - 100) - 2.0 + noise).round(2)      # the "true" rule, plus noise
X, y = np.column_stack([cgpa, iq]), lpa
X_scaled = (X - X.mean(axis=0)) / X.std(axis=0)     # inputs on unit scale; y stays in LPA
train, test = slice(0, 160), slice(160, None)
print(f"{n} students; the noise alone has a variance of {noise.var():.3f} LPA², "
      "the best MSE any model can reach")

# %% [markdown]
# ## Training, one row per step
#
# A 2-16-8-1 network with ReLU hidden layers and a linear output, trained by plain SGD on one
# row at a time (`batch_size=1`): 160 updates an epoch. The library standardises the target
# for training (a network whose output starts near zero learns targets near 7 slowly) and
# reports predictions in LPA. `verbose=2` prints one line per epoch, as the seed's run does.

# %%
epochs = int(os.environ.get("BACKPROP_EXAMPLE_EPOCHS", 75))
model = NeuralNetwork([2, 16, 8, 1], task="regression", hidden_activation="relu",
                      optimizer="sgd", learning_rate=0.001, random_state=0)
print(model.summary())
initial = model.parameters.copy()
history = model.fit(X_scaled[train], y[train], epochs=epochs, batch_size=1, verbose=2)

# %% [markdown]
# ## How good is it?
#
# On the 40 students training never saw. The MSE is in LPA², the MAE in LPA; R² is the share
# of the targets' variance the model explains.

# %%
result = model.evaluate(X_scaled[test], y[test])
print(f"test MSE {result['mse']:.4f} LPA², MAE {result['mae']:.3f} LPA, R² {result['r2']:.3f}")
for (g, q), truth, guess in zip(X[test][:5], y[test][:5], model.predict(X_scaled[test][:5])):
    print(f"CGPA {g:5.2f}, IQ {q:5.0f}: actual {truth:5.2f} LPA, predicted {guess:5.2f} LPA")

# %% [markdown]
# The loss per epoch (mean squared error on the standardised target, as training sees it):

# %%
try:
    loss_curve = model.plot_history()
except ImportError:
    loss_curve = "(install matplotlib for plots)"
loss_curve

# %% [markdown]
# Predicted against actual package for the test students, with the initial random weights
# (left) and after training (right): a perfect model puts every dot on the diagonal; the
# noise keeps even the true rule about 0.35 LPA off it.

# %%
try:
    from backpropagation.explain.plotting import predictions_with

    before = predictions_with(model, initial, X_scaled[test])
    scatter = model.plot_predictions(X_scaled[test], y[test], before=before)
except ImportError:
    scatter = "(install matplotlib for plots)"
scatter
