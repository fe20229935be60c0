# %% [markdown]
# # Seed 002: a 3-2-2-1 ReLU regression network, manual code against the library
# The seed writes forward pass, MSE, backward pass and update by hand. Here its code runs beside
# the library from the same initial weights and data; the losses agree to ~1e-15.

# %%
import numpy as np

from backpropagation import NeuralNetwork

np.random.seed(0)
W1, b1 = np.random.randn(3, 2), np.zeros((1, 2))
W2, b2 = np.random.randn(2, 2), np.zeros((1, 2))
W3, b3 = np.random.randn(2, 1), np.zeros((1, 1))
X = np.random.rand(10, 3)   # 10 samples, 3 features
y = np.random.rand(10, 1)   # 10 target values

model = NeuralNetwork([3, 2, 2, 1], task="regression", hidden_activation="relu", loss="mse",
                      optimizer="sgd", learning_rate=0.01,
                      standardize_target=False)   # the manual code trains on raw targets
model.set_weights([(W1.copy(), b1[0].copy()), (W2.copy(), b2[0].copy()), (W3.copy(), b3[0].copy())])


def relu(x):
    return np.maximum(0, x)


# %% the seed's training loop
lr, manual = 0.01, []
for _ in range(1000):
    z1 = X @ W1 + b1
    a1 = relu(z1)
    z2 = a1 @ W2 + b2
    a2 = relu(z2)
    y_pred = a2 @ W3 + b3
    manual.append(np.mean((y - y_pred) ** 2))
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

# %% the library
ours = model.fit(X, y, epochs=1000, batch_size=None, shuffle=False, verbose=0).history["loss"]
for epoch in range(0, 1000, 100):
    print(f"Epoch {epoch:4d}  manual loss {manual[epoch]:.12f}  library loss {ours[epoch]:.12f}")
gap = np.max(np.abs(np.array(ours) - manual) / np.array(manual))
print(f"largest relative difference over 1,000 epochs: {gap:.1e}")
