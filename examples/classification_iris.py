# %% [markdown]
# # Classification: iris species from petal length and width
# Three classes, two features, so the learned decision boundary can be drawn. The data ship with
# scikit-learn. Set BACKPROP_EXAMPLE_EPOCHS for a quick run.

# %%
import os

from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from backpropagation import NeuralNetwork

iris = load_iris()
X = iris.data[:, 2:4]                                   # petal length, petal width (cm)
y = iris.target_names[iris.target]                      # 'setosa', 'versicolor', 'virginica'
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
mean, std = X_train.mean(axis=0), X_train.std(axis=0)

# %%
epochs = int(os.environ.get("BACKPROP_EXAMPLE_EPOCHS", 150))
model = NeuralNetwork([2, 16, 3], task="classification", hidden_activation="tanh",
                      optimizer="adam", learning_rate=0.01, random_state=0)
initial = model.parameters.copy()
history = model.fit((X_train - mean) / std, y_train, epochs=epochs, batch_size=8, verbose=0,
                    validation_split=0.2, early_stopping=True)
print(f"epochs: {len(history.epoch)} ({history.stop_reason})")
print(f"test accuracy: {model.score((X_test - mean) / std, y_test):.3f}")
print("probabilities of the first test flower:",
      dict(zip(model.classes_.tolist(), model.predict_proba((X_test[:1] - mean) / std)[0].round(3).tolist())))

# %%
try:
    from backpropagation.plotting import predictions_with

    model.plot_decision_boundary((X - mean) / std, y, "iris_boundary.png")
    before = predictions_with(model, initial, (X_test - mean) / std)
    model.plot_predictions((X_test - mean) / std, y_test, before=before, path="iris_confusion.png")
    model.plot_history("iris_loss.png")
    print("plots: iris_boundary.png, iris_confusion.png, iris_loss.png")
except ImportError:
    print("(install matplotlib for plots)")
