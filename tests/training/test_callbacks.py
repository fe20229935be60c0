"""Early stopping, learning-rate schedules, plateau reduction, checkpoints, progress output."""

import io

import numpy as np
import pytest

from backpropagation import (Callback, EarlyStopping, ModelCheckpoint, NeuralNetwork, Optimizer, ProgressBar,
                             ReduceLROnPlateau, schedules)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    return X, X @ np.array([1.0, -2.0, 0.5])


class RecordParameters(Callback):
    def on_train_begin(self, logs):
        self.snapshots = []

    def on_epoch_end(self, epoch, logs):
        self.snapshots.append(self.model.parameters.copy())


def test_early_stopping_restores_best_weights(data):
    X, y = data
    # validating against -y: the better the fit, the worse the validation loss
    recorder = RecordParameters()
    model = NeuralNetwork([3, 8, 1], optimizer="adam", learning_rate=0.01, random_state=0)
    history = model.fit(X, y, epochs=100, verbose=0, validation_data=(X, -y),
                        early_stopping=EarlyStopping(patience=3), callbacks=[recorder])
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) == best + 3 + 1                     # stopped after `patience` bad epochs
    np.testing.assert_array_equal(model.parameters, recorder.snapshots[best])
    assert history.stop_reason.startswith("early stopping: val_loss did not improve")


class Frozen(Optimizer):
    """Takes no step, so the loss stays exactly where it started."""

    def step(self, params, grads, lr):
        pass


def test_early_stopping_true_monitors_loss_without_validation(data):
    X, y = data
    model = NeuralNetwork([3, 8, 1], optimizer=Frozen(), random_state=0)
    history = model.fit(X, y, epochs=100, verbose=0, early_stopping=True)
    assert len(history.epoch) == 11                     # epoch 0 sets the best, then patience 10
    assert history.stop_reason.startswith("early stopping: loss did not improve for 10 epochs")


def test_early_stopping_true_monitors_val_loss_with_validation(data):
    X, y = data
    model = NeuralNetwork([3, 8, 1], optimizer=Frozen(), random_state=0)
    history = model.fit(X, y, epochs=100, verbose=0, early_stopping=True, validation_split=0.25)
    assert history.stop_reason.startswith("early stopping: val_loss did not improve for 10 epochs")


def test_monitoring_val_loss_without_validation_data_is_an_error(data):
    X, y = data
    with pytest.raises(ValueError, match="needs validation data"):
        NeuralNetwork([3, 1]).fit(X, y, epochs=2, verbose=0,
                                  early_stopping=EarlyStopping(monitor="val_loss"))


@pytest.mark.parametrize("name,expected", [
    ("step", [0.1] * 10 + [0.05] * 2),
    ("exponential", [0.1 * 0.95**e for e in range(12)]),
    ("inverse_time", [0.1 / (1 + 0.1 * e) for e in range(12)]),
    ("cosine", [0.05 * (1 + np.cos(np.pi * e / 11)) for e in range(12)]),
])
def test_named_schedules_set_each_epochs_learning_rate(data, name, expected):
    X, y = data
    history = NeuralNetwork([3, 1], learning_rate=0.1).fit(X, y, epochs=12, verbose=0, lr_schedule=name)
    np.testing.assert_allclose(history.history["lr"], expected, atol=1e-15)


def test_a_callable_schedule_receives_epoch_and_current_rate(data):
    X, y = data
    calls = []

    def halve_every_epoch(epoch, lr):
        calls.append((epoch, lr))
        return lr / 2

    history = NeuralNetwork([3, 1], learning_rate=0.08).fit(X, y, epochs=3, verbose=0,
                                                            lr_schedule=halve_every_epoch)
    assert calls == [(0, 0.08), (1, 0.04), (2, 0.02)]
    assert history.history["lr"] == [0.04, 0.02, 0.01]


def test_schedule_instance_with_parameters(data):
    X, y = data
    history = NeuralNetwork([3, 1], learning_rate=1.0).fit(
        X / 10, y / 10, epochs=4, verbose=0, lr_schedule=schedules.StepDecay(step_size=2, gamma=0.1))
    np.testing.assert_allclose(history.history["lr"], [1.0, 1.0, 0.1, 0.1])


def test_plateau_reduces_the_learning_rate_when_the_loss_stalls(data):
    X, y = data
    model = NeuralNetwork([3, 8, 1], optimizer="adam", learning_rate=0.01, random_state=0)
    history = model.fit(X, y, epochs=12, verbose=0, validation_data=(X, -y),
                        lr_schedule=ReduceLROnPlateau(patience=2, factor=0.5))
    lrs = history.history["lr"]
    assert lrs[0] == 0.01 and lrs[-1] < 0.01
    assert all(later <= earlier for earlier, later in zip(lrs, lrs[1:]))
    stalled = NeuralNetwork([3, 1], learning_rate=1e-12).fit(X, y, epochs=4, verbose=0, lr_schedule="plateau")
    assert stalled.history["lr"] == [1e-12] * 4        # default patience 5 not yet reached


def test_unknown_schedule_name_is_rejected(data):
    X, y = data
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        NeuralNetwork([3, 1]).fit(X, y, epochs=1, verbose=0, lr_schedule="linear")


def test_model_checkpoint_keeps_the_best_model_on_disk(data, tmp_path):
    X, y = data
    path = tmp_path / "best.npz"
    recorder = RecordParameters()
    model = NeuralNetwork([3, 8, 1], optimizer="adam", learning_rate=0.01, random_state=0)
    history = model.fit(X, y, epochs=8, verbose=0, validation_data=(X, -y),
                        callbacks=[ModelCheckpoint(path), recorder])
    best = int(np.argmin(history.history["val_loss"]))
    np.testing.assert_array_equal(NeuralNetwork.load(path).parameters, recorder.snapshots[best])


def test_verbose_2_prints_one_line_per_epoch(data, capsys):
    X, y = data
    NeuralNetwork([3, 1]).fit(X, y, epochs=3, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("Epoch 1/3")
    assert "loss:" in lines[0] and "val_loss:" in lines[0] and "r2:" in lines[0]


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_1_shows_a_progress_bar_per_epoch_on_a_terminal(data):
    X, y = data
    screen = Terminal()
    model = NeuralNetwork([3, 1])
    model.fit(X, y, epochs=2, verbose=0, callbacks=[ProgressBar(1, file=screen)])
    assert "Epoch 1/2" in screen.getvalue() and "Epoch 2/2" in screen.getvalue()
    assert "64/64" in screen.getvalue() and "\r" in screen.getvalue()


def test_off_a_terminal_progress_is_plain_lines_and_few_of_them(data, capsys):
    X, y = data
    NeuralNetwork([3, 1]).fit(X, y, epochs=100, verbose=1)     # pytest's stderr is not a terminal
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and len(lines) <= ProgressBar.LINES_PER_RUN + 2
    assert lines[0].startswith("Epoch 1/100 - ") and lines[-1].startswith("Epoch 100/100 - ")


def test_off_a_terminal_the_epoch_where_training_stops_is_printed(data, capsys):
    X, y = data
    stopper = EarlyStopping(monitor="loss", min_delta=1e9, patience=1)      # stops after epoch 2
    NeuralNetwork([3, 1]).fit(X, y, epochs=100, verbose=1, early_stopping=stopper)
    assert capsys.readouterr().err.splitlines()[-1].startswith("Epoch 2/100 - ")


def test_verbose_0_is_silent(data, capsys):
    X, y = data
    NeuralNetwork([3, 1]).fit(X, y, epochs=2, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_a_callback_can_stop_training(data):
    class StopAfterTwo(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                self.model.stop_training = True
                self.model.stop_reason = "enough"

    X, y = data
    history = NeuralNetwork([3, 1]).fit(X, y, epochs=10, verbose=0, callbacks=[StopAfterTwo()])
    assert history.epoch == [0, 1] and history.stop_reason == "enough"


def test_plateau_reduction_honours_patience_cooldown_and_min_lr(data):
    # A frozen network never improves after epoch 0: reductions come every patience epochs,
    # then wait out the cooldown, and never go below min_lr.
    X, y = data
    model = NeuralNetwork([3, 1], optimizer=Frozen(), learning_rate=1.0, random_state=0)
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=2, min_lr=0.3)
    history = model.fit(X, y, epochs=9, verbose=0, callbacks=[plateau])
    # reduced after epoch 3; the cooldown (as in Keras) delays counting, so the next reduction
    # comes after epoch 6, not 5; then min_lr holds
    assert history.history["lr"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3]
    without = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_lr=0.3)
    history = NeuralNetwork([3, 1], optimizer=Frozen(), learning_rate=1.0, random_state=0).fit(
        X, y, epochs=7, verbose=0, callbacks=[without])
    assert history.history["lr"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.3, 0.3]


def test_plateau_mode_max_treats_a_falling_loss_as_no_improvement(data):
    X, y = data
    model = NeuralNetwork([3, 1], optimizer="sgd", learning_rate=0.01, random_state=0)
    plateau = ReduceLROnPlateau(monitor="loss", mode="max", factor=0.5, patience=1)
    history = model.fit(X, y, epochs=4, batch_size=None, verbose=0, callbacks=[plateau])
    assert all(np.diff(history.history["loss"]) < 0)        # the loss falls every epoch...
    assert history.history["lr"] == [0.01, 0.01, 0.005, 0.0025]   # ...which "max" calls no progress


def test_early_stopping_on_accuracy_maximises_it():
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    model = NeuralNetwork([2, 2], task="classification", optimizer=Frozen(), random_state=0)
    stopper = EarlyStopping(monitor="accuracy", patience=3)
    history = model.fit(X, y, epochs=50, verbose=0, early_stopping=stopper)
    assert len(history.epoch) == 4 and stopper.best_epoch == 0
    assert history.stop_reason.startswith("early stopping: accuracy did not improve")


class Snapshots(Callback):
    def on_train_begin(self, logs):
        self.weights = []

    def on_epoch_end(self, epoch, logs):
        self.weights.append(self.model.parameters.copy())


@pytest.mark.parametrize("restore", [True, False])
def test_restore_best_weights_decides_which_epoch_the_model_keeps(data, restore):
    X, y = data
    model = NeuralNetwork([3, 8, 1], optimizer="sgd", learning_rate=0.5, random_state=0)
    snapshots = Snapshots()
    stopper = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=restore)
    model.fit(X, y, epochs=30, verbose=0, validation_data=(X[:8], -y[:8]), early_stopping=stopper,
              callbacks=[snapshots])
    kept = snapshots.weights[stopper.best_epoch] if restore else snapshots.weights[-1]
    np.testing.assert_array_equal(model.parameters, kept)
    assert stopper.best_epoch != len(snapshots.weights) - 1
