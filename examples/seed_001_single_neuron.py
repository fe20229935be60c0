# %% [markdown]
# # Seed 001: one sigmoid neuron, four samples
# The seed trains `weights += X.T @ ((y - a) * a * (1 - a))` for 10,000 iterations from
# `np.random.seed(0); 2 * np.random.random((3, 1)) - 1` and predicts 0.99993703 for [1, 0, 0].
# The same network through the library: one layer [3, 1], sigmoid output, no bias, MSE, full
# batch. Our MSE gradient is 2 (a - y) / N with N = 4, so learning_rate = 2 gives the seed's step.

# %%
import numpy as np

from backpropagation import NeuralNetwork

X = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
y = np.array([[0, 1, 1, 0]]).T

np.random.seed(0)
seed_weights = 2 * np.random.random((3, 1)) - 1

model = NeuralNetwork([3, 1], task="regression", output_activation="sigmoid", loss="mse",
                      use_bias=False, optimizer="sgd", learning_rate=2.0,
                      standardize_target=False)   # the seed trains on the raw 0/1 targets
model.set_weights([(seed_weights, None)])
history = model.fit(X, y, epochs=10000, batch_size=None, shuffle=False, verbose=0)

# %%
print("Predicted output:", model.predict(np.array([[1, 0, 0]])))   # the seed: [[0.99993703]]
print(f"loss after {len(history.epoch)} epochs: {history.history['loss'][-1]:.3e}")
print(model.trace(X, y))                                           # the last step, spelled out
