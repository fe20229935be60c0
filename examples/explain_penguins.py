"""Why a network predicts what it predicts, on a real table: the Palmer penguins.

Trains a classifier with dropout at a rate the learning-rate range test suggests, then asks
which columns it relies on (permutation and gradient importance, per column of the table) and
how one penguin's class probabilities move with each of its measurements (input gradients).

    python examples/explain_penguins.py
"""

import numpy as np
import pandas as pd

from backpropagation import NeuralNetwork
from backpropagation.cli import demo_data_path
from backpropagation.sklearn import BackpropClassifier

frame = pd.read_csv(demo_data_path())                      # 344 penguins, text columns, gaps
X, y = frame.drop(columns="species"), frame["species"]

# The table as it is (island and sex are text, some cells are empty): the estimator encodes it.
model = BackpropClassifier((32, 16), dropout=0.1, epochs=300, early_stopping=True, random_state=0).fit(X, y)
print(model.feature_importance(X, y, random_state=0))       # permutation: accuracy lost per column
print(model.feature_importance(X, method="gradient"))       # mean |x * dy/dx|, island's indicators summed

# The measurements alone, standardised, in a NeuralNetwork.
numbers = frame[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]].dropna()
labels = frame.loc[numbers.index, "species"].to_numpy()
inputs = ((numbers - numbers.mean()) / numbers.std()).to_numpy()
network = NeuralNetwork([4, 16, 3], task="classification", dropout=0.1, random_state=0)
found = network.lr_find(inputs, labels)                      # the range test; network is unchanged
print(f"suggested learning rate {found.suggestion:.3g} ({found.rule})")
network.learning_rate = found.suggestion
network.fit(inputs, labels, epochs=40, verbose=0)
print(f"training accuracy {network.score(inputs, labels):.3f}")
doubtful = int(np.argmin(network.predict_proba(inputs).max(axis=1)))   # the least certain penguin
gradients = network.input_gradients(inputs[doubtful:doubtful + 1])       # (1, 3 classes, 4 inputs)
print(f"penguin {numbers.index[doubtful]} ({labels[doubtful]}): probabilities "
      f"{np.round(network.predict_proba(inputs[doubtful:doubtful + 1])[0], 3)}")
for label, row in zip(network.classes_, gradients[0]):
    print(f"d P({label}) / d (bill length, bill depth, flipper, mass in standard deviations): {np.round(row, 3)}")
