# %% [markdown]
# # Classification: iris species from petal length and width
#
# Three species, two measurements, so everything the network learns can be drawn on the page.
# The data ship with scikit-learn. We hold out 30% of the flowers as a **test set** that
# training never sees, standardise the two measurements with the training rows' mean and
# standard deviation, and train a 2-16-3 network: a tanh hidden layer and a softmax output,
# whose three outputs are the probabilities of the three species.

# %%
# %matplotlib inline
import os

from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from backpropagation import NeuralNetwork

iris = load_iris()
X = iris.data[:, 2:4]                                   # petal length, petal width (cm)
y = iris.target_names[iris.target]                      # 'setosa', 'versicolor', 'virginica'
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
mean, std = X_train.mean(axis=0), X_train.std(axis=0)


def scaled(features):
    return (features - mean) / std


print(f"{len(X_train)} training flowers, {len(X_test)} test flowers")

# %% [markdown]
# ## Training
#
# Adam, batches of 8, and early stopping: 20% of the training rows are held out as a
# *validation* set, and training stops when their loss has not improved for 10 epochs, keeping
# the best epoch's weights. (Validation rows steer training; the test rows never do.)

# %%
epochs = int(os.environ.get("BACKPROP_EXAMPLE_EPOCHS", 150))
model = NeuralNetwork([2, 16, 3], task="classification", hidden_activation="tanh",
                      optimizer="adam", learning_rate=0.01, random_state=0)
initial = model.parameters.copy()
history = model.fit(scaled(X_train), y_train, epochs=epochs, batch_size=8, verbose=0,
                    validation_split=0.2, early_stopping=True)
print(f"epochs: {len(history.epoch)} ({history.stop_reason})")
print(f"training accuracy (rows it learned from): {model.score(scaled(X_train), y_train):.3f}")
print(f"test accuracy (rows it never saw):        {model.score(scaled(X_test), y_test):.3f}")

# %% [markdown]
# The loss per epoch: the training loss is measured on the rows each batch learned from, the
# validation loss on the held-out 20%. Where the validation loss stops falling, early stopping
# takes over.

# %%
try:
    loss_curve = model.plot_history()
except ImportError:
    loss_curve = "(install matplotlib for plots)"
loss_curve

# %% [markdown]
# ## Probabilities
#
# The softmax output gives each species a probability; `predict` picks the largest. A flower
# between two species gets two middling probabilities:

# %%
for flower, label in zip(X_test[:5], y_test[:5]):
    probabilities = model.predict_proba(scaled(flower[None, :]))[0]
    shown = ", ".join(f"{name} {p:.3f}" for name, p in zip(model.classes_, probabilities))
    print(f"petals {flower[0]:.1f} × {flower[1]:.1f} cm ({label}): {shown}")

# %% [markdown]
# ## What the network learned
#
# Every point of the plane is coloured by the species the network predicts there; the dots are
# all 150 flowers. The boundaries are curved: the tanh hidden layer bends them.

# %%
try:
    boundary = model.plot_decision_boundary(scaled(X), y)
    boundary.axes[0].set(xlabel="petal length (standardised)", ylabel="petal width (standardised)",
                         title="Predicted species over the plane, flowers as dots")
except ImportError:
    boundary = "(install matplotlib for plots)"
boundary

# %% [markdown]
# ## Before and after training
#
# The confusion matrices of the test flowers with the initial, random weights (left) and the
# trained ones (right): rows are the true species, columns the predicted ones.

# %%
try:
    from backpropagation.explain.plotting import predictions_with

    before = predictions_with(model, initial, scaled(X_test))
    matrices = model.plot_predictions(scaled(X_test), y_test, before=before)
except ImportError:
    matrices = "(install matplotlib for plots)"
print(f"test accuracy: {model.score(scaled(X_test), y_test):.3f}")
matrices
