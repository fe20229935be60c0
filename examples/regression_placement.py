# %% [markdown]
# # Regression, one row per step: salary (LPA) from placement scores
#
# The library's call shape is `model.fit(X, y, epochs=75, batch_size=1, verbose=1)`, as in the
# placement example this project started from: CGPA and similar scores, and the package offered
# in lakhs per annum (LPA). That table is not public, so we generate a placement-style one from
# a known rule plus noise, which also tells us how good a fit can be, and train with exactly
# that call: 75 epochs, one row per step.

# %%
# %matplotlib inline
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
rule = 0.9 * cgpa + 0.03 * (iq - 100) - 2.0                        # what a perfect model would predict
print(f"{n} students; the noise has a standard deviation of 0.35 LPA, a variance of 0.35² = 0.1225 LPA²")

# %% [markdown]
# ## Training, one row per step
#
# A 2-16-8-1 network with ReLU hidden layers and a linear output, trained by plain SGD on one
# row at a time (`batch_size=1`): 160 updates an epoch. The library standardises the target
# for training (a network whose output starts near zero learns targets near 7 slowly) and
# reports predictions in LPA. `verbose=2` prints one line per epoch, as the seed's run does.

# %%
epochs = 75
model = NeuralNetwork([2, 16, 8, 1], task="regression", hidden_activation="relu",
                      optimizer="sgd", learning_rate=0.001, random_state=0)
print(model.summary())
initial = model.parameters.copy()
history = model.fit(X_scaled[train], y[train], epochs=epochs, batch_size=1, verbose=2)
model.plot_network(title="the trained network: CGPA and IQ → 16 → 8 ReLU units → package (LPA)")

# %% [markdown]
# ## How good is it?
#
# On the 40 students training never saw. The MSE is in LPA², the MAE in LPA; R² is the share
# of the targets' variance the model explains. The yardstick is the true rule itself: on new
# students no model can beat it on average (its error is the noise, 0.1225 LPA² in expectation),
# but on a sample of 40 the noise happens to be smaller or larger than that, and a model can land
# a little below the rule by chance.

# %%
result = model.evaluate(X_scaled[test], y[test])
rule_mse = float(np.mean((rule[test] - y[test]) ** 2))
print(f"test MSE {result['mse']:.4f} LPA², MAE {result['mae']:.3f} LPA, R² {result['r2']:.3f}")
print(f"the true rule's MSE on the same 40 students: {rule_mse:.4f} LPA²")
assert abs(result["mse"] - rule_mse) < 0.1 * rule_mse          # as good as the true rule, within 10%
for (g, q), truth, guess in zip(X[test][:5], y[test][:5], model.predict(X_scaled[test][:5])):
    print(f"CGPA {g:5.2f}, IQ {q:5.0f}: actual {truth:5.2f} LPA, predicted {guess:5.2f} LPA")

# %% [markdown]
# The loss per epoch (mean squared error on the standardised target, as training sees it):

# %%
model.plot_history()

# %% [markdown]
# Predicted against actual package for the test students, with the initial random weights
# (left) and after training (right): a perfect model puts every dot on the diagonal; the
# noise keeps even the true rule about 0.35 LPA off it.

# %%
from backpropagation.explain.plotting import predictions_with

before = predictions_with(model, initial, X_scaled[test])
model.plot_predictions(X_scaled[test], y[test], before=before)
