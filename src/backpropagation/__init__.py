"""backpropagation: feed-forward neural networks trained by hand-written backpropagation on NumPy.

>>> from backpropagation import NeuralNetwork
>>> model = NeuralNetwork([3, 16, 8, 1], task="regression")    # doctest: +SKIP
>>> history = model.fit(X, y, epochs=75, batch_size=1, verbose=1)  # doctest: +SKIP
"""

from .nn import activations, initializers, losses, metrics, optimizers, schedules
from .training import callbacks
from .nn.activations import Activation
from .training.callbacks import (
                        Callback,
                        EarlyStopping,
                        History,
                        LearningRateScheduler,
                        ModelCheckpoint,
                        ProgressBar,
                        ReduceLROnPlateau,
)
from .training.penalty_schedule import PenaltyScheduler
from .errors import DivergenceError, NotFittedError
from .nn.input_layers import InputScale, PeriodicEmbedding
from .nn.layers import Dense, Dropout, Embedding, Layer
from .nn.losses import Loss
from .network import NeuralNetwork
from .ensemble import average_networks
from .nn.optimizers import SGD, Adam, AdamW, Optimizer, RMSProp
from .nn.schedules import Schedule
from .tables.streamed_table import StreamedTable, read_table
from .tables.table_model import TableModel

__version__ = "0.1.0"

__all__ = [
    "NeuralNetwork", "average_networks", "Dense", "Dropout", "Embedding", "PeriodicEmbedding", "InputScale", "Layer",
    "TableModel",
    "Activation", "Loss", "Optimizer",
    "Schedule",
    "SGD", "Adam", "AdamW", "RMSProp",
    "Callback", "History", "EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler",
    "PenaltyScheduler",
    "ModelCheckpoint", "ProgressBar", "DivergenceError", "NotFittedError", "read_table", "StreamedTable",
    "activations", "losses", "optimizers", "initializers", "schedules", "callbacks", "metrics",
]
