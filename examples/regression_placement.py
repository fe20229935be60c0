# %% [markdown]
# # Regression the way seed 000 does it: salary (LPA) from placement features
# Seed 000 trains `model.fit(df.iloc[:, 0:-1].values, df['lpa'].values, epochs=75, verbose=1,
# batch_size=1)` on a placement table (CGPA and similar scores → package in lakhs per annum).
# That table is not public, so this script generates a placement-style one with a known rule and
# noise, then trains with exactly the seed's call. Set BACKPROP_EXAMPLE_EPOCHS for a quick run.

# %%
import os

import numpy as np

from backpropagation import NeuralNetwork

rng = np.random.default_rng(7)
n = 200
cgpa = rng.uniform(5.0, 10.0, n).round(2)
iq = rng.normal(110, 12, n).round()
lpa = (0.9 * cgpa + 0.03 * (iq - 100) - 2.0 + rng.normal(0, 0.35, n)).round(2)   # the "true" rule
X = np.column_stack([cgpa, iq])
y = lpa
# standardise the inputs (the network learns on unit scale); keep y in LPA
X_scaled = (X - X.mean(axis=0)) / X.std(axis=0)
train, test = slice(0, 160), slice(160, None)

# %%
epochs = int(os.environ.get("BACKPROP_EXAMPLE_EPOCHS", 75))
model = NeuralNetwork([2, 16, 8, 1], task="regression", hidden_activation="relu",
                      optimizer="sgd", learning_rate=0.001, random_state=0)
print(model.summary())
initial = model.parameters.copy()
history = model.fit(X_scaled[train], y[train], epochs=epochs, batch_size=1, verbose=2)

# %%
result = model.evaluate(X_scaled[test], y[test])
print(f"\ntest MSE {result['mse']:.4f} LPA², MAE {result['mae']:.3f} LPA, R² {result['r2']:.3f}")
for (g, q), truth, guess in zip(X[test][:5], y[test][:5], model.predict(X_scaled[test][:5])):
    print(f"CGPA {g:5.2f}, IQ {q:5.0f}: actual {truth:5.2f} LPA, predicted {guess:5.2f} LPA")

# %%
try:
    from backpropagation.plotting import predictions_with

    model.plot_history("placement_loss.png")
    before = predictions_with(model, initial, X_scaled[test])
    model.plot_predictions(X_scaled[test], y[test], before=before, path="placement_predictions.png")
    print("plots: placement_loss.png, placement_predictions.png")
except ImportError:
    print("(install matplotlib for plots)")
