# %% [markdown]
# # Handwritten digits with hand-written backpropagation
# scikit-learn's 8x8 digits (1,797 images, 10 classes), a 64-128-64-10 ReLU network trained with
# Adam, a stratified validation split, early stopping and a cosine learning-rate schedule.
# Set BACKPROP_EXAMPLE_EPOCHS to train for fewer epochs (the test suite does).

# %%
import os
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from backpropagation import NeuralNetwork

epochs = int(os.environ.get("BACKPROP_EXAMPLE_EPOCHS", 60))
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, stratify=y,
                                                    random_state=0)

# %%
model = NeuralNetwork([64, 128, 64, 10], task="classification", hidden_activation="relu",
                      optimizer="adam", learning_rate=1e-3, random_state=0)
print(model.summary())
start = time.perf_counter()
history = model.fit(X_train, y_train, epochs=epochs, batch_size=32, verbose=2,
                    validation_split=0.1, early_stopping=True, lr_schedule="cosine")
seconds = time.perf_counter() - start

# %%
test = model.evaluate(X_test, y_test)
print(f"\ntrained {len(history.epoch)} epochs in {seconds:.1f}s ({history.stop_reason})")
print(f"train accuracy      {history.history['accuracy'][-1]:.4f}")
print(f"validation accuracy {history.history['val_accuracy'][-1]:.4f}")
print(f"test accuracy       {test['accuracy']:.4f}   test loss {test['loss']:.4f}")
model.save("digits_model.npz")
print("model saved to digits_model.npz; reload with NeuralNetwork.load('digits_model.npz')")
