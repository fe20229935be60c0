"""Faults during training: Ctrl-C and divergence, in fit and in the CLI, with nothing lost."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from backpropagation import Callback, DivergenceError, EarlyStopping, NeuralNetwork
from backpropagation.cli import demo_data_path, main


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    return X, X @ np.array([1.0, -2.0, 0.5])


class CtrlC(Callback):
    """Sends SIGINT to this process after the given (epoch, batch), as a user's Ctrl-C would."""

    def __init__(self, *moments, presses=1):
        self.moments, self.presses = set(moments), presses
        self.snapshot = None

    def on_epoch_begin(self, epoch, logs):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        if (self.epoch, batch) in self.moments:
            self.snapshot = self.model.parameters.copy()
            for _ in range(self.presses):
                os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_stops_after_the_current_batch_and_keeps_the_complete_epochs():
    X, y = data()
    model = NeuralNetwork([3, 8, 1], optimizer="adam", random_state=0)
    press = CtrlC((2, 1))
    history = model.fit(X, y, epochs=50, batch_size=16, verbose=0, callbacks=[press])
    assert history.interrupted and "during epoch 3, after batch 2" in history.stop_reason
    assert history.epoch == [0, 1] and len(history.history["loss"]) == 2
    assert model.optimizer.iterations == 2 * 4 + 2                      # 4 batches per epoch
    np.testing.assert_array_equal(model.parameters, press.snapshot)      # nothing moved afterwards
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler given back
    model.fit(X, y, epochs=1, verbose=0)                                # and the model trains on
    assert not model.history_.interrupted


def test_ctrl_c_under_early_stopping_restores_the_best_weights():
    X, y = data()
    model = NeuralNetwork([3, 8, 1], optimizer="adam", learning_rate=0.05, random_state=0)
    stopper = EarlyStopping(patience=100)
    history = model.fit(X, y, epochs=100, batch_size=8, verbose=0, validation_data=(X[:16], y[:16]),
                        early_stopping=stopper, callbacks=[CtrlC((6, 3))])
    assert history.interrupted and len(history.epoch) == 6
    best = int(np.argmin(history.history["val_loss"]))
    assert stopper.best_epoch == best
    np.testing.assert_array_equal(model.parameters, stopper.best_parameters)


def test_a_second_ctrl_c_aborts_at_once():
    X, y = data()
    model = NeuralNetwork([3, 8, 1], random_state=0)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=5, batch_size=16, verbose=0, callbacks=[CtrlC((0, 0), presses=2)])
    assert np.isfinite(model.parameters).all()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


BACKPROP = os.path.join(os.path.dirname(sys.executable), "backprop")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_cli_writes_the_model_and_says_it_was_interrupted(tmp_path):
    model_path = tmp_path / "model.npz"
    process = subprocess.Popen(
        [BACKPROP, "train", demo_data_path(), "--target", "species", "--epochs", "1000000",
         "--output", str(model_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stderr.read(1)                 # the progress bar's first character: training has begun
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted (Ctrl-C)" in out and f"model written to {model_path}" in out
    assert "Traceback" not in err
    reloaded = NeuralNetwork.load(model_path)
    assert reloaded.task_.fitted and np.isfinite(reloaded.parameters).all()


def test_weights_that_overflow_in_the_last_update_are_caught_and_rolled_back():
    X, y = data()
    X, y = X * 1e10, y * 1e10                         # gradients ~1e20: one step of 1e300 overflows
    model = NeuralNetwork([3, 8, 1], optimizer="sgd", learning_rate=1e300, standardize_target=False,
                          random_state=0)
    start = model.parameters.copy()
    with pytest.raises(DivergenceError, match="non-finite weights"):
        model.fit(X, y, epochs=1, batch_size=None, verbose=0)      # one step: its loss was still finite
    np.testing.assert_array_equal(model.parameters, start)        # rolled back to the epoch's start


def test_the_cli_reports_divergence_in_one_line_and_writes_nothing(tmp_path, capsys):
    code = main(["train", demo_data_path(), "--target", "body_mass_g", "--optimizer", "sgd",
                 "--learning-rate", "1e6", "--epochs", "3", "--json", "--output", str(tmp_path / "m.npz")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert err.startswith("backprop: error: training diverged") and "No model was written" in err
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_killed_run_leaves_the_last_checkpoint_loadable(tmp_path):
    checkpoint = tmp_path / "checkpoint.npz"
    script = f"""
import numpy as np
from backpropagation import Callback, ModelCheckpoint, NeuralNetwork

class Announce(Callback):
    def on_epoch_end(self, epoch, logs):
        print(epoch, flush=True)

X = np.random.default_rng(0).normal(size=(2000, 20))
model = NeuralNetwork([20, 64, 1], optimizer="adam", random_state=0)
model.fit(X, X.sum(axis=1), epochs=100000, verbose=0,
          callbacks=[ModelCheckpoint({str(checkpoint)!r}, save_best_only=False), Announce()])
"""
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if int(line) == 2:                       # three epochs saved; the fourth is under way
            break
    process.kill()                               # SIGKILL: no handler, no cleanup
    process.wait(timeout=60)
    model = NeuralNetwork.load(checkpoint)
    assert model.task_.fitted and model.optimizer.iterations >= 3 * 63


def press_ctrl_c_inside(monkeypatch, module, name):
    """Make ``module.name`` send this process a SIGINT before it runs, as a Ctrl-C at that moment."""
    original = getattr(module, name)

    def pressed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, pressed)


@pytest.mark.parametrize("moment", ["checks", "engine start"])
def test_ctrl_c_before_the_first_epoch_returns_an_untrained_model_and_named_keys(monkeypatch, moment):
    from backpropagation import engines
    from backpropagation.training import prepare as training

    press_ctrl_c_inside(monkeypatch, *((training, "checked_training_data") if moment == "checks"
                                       else (engines, "choose")))
    X, y = data()
    model = NeuralNetwork([3, 8, 1], random_state=0)
    start = model.parameters.copy()
    history = model.fit(X, y, epochs=1000, verbose=0, validation_split=0.25)
    assert history.interrupted and "before the first epoch" in history.stop_reason
    assert history.history == {"loss": [], "r2": [], "val_loss": [], "val_r2": [], "lr": []}
    np.testing.assert_array_equal(model.parameters, start)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_during_validation_stops_after_that_epoch(monkeypatch):
    X, y = data()
    model = NeuralNetwork([3, 8, 1], random_state=0, engine="numpy")   # (the reference's validation pass)
    original = model.backprop.objective
    calls = []

    def objective(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(model.backprop, "objective", objective)
    history = model.fit(X, y, epochs=1000, verbose=0, validation_split=0.25)
    assert history.interrupted and history.epoch == [0, 1, 2] and "after epoch 3" in history.stop_reason


# "fit" is printed from inside fit, once its Ctrl-C guard is in place (the first hook fit calls):
# a signal sent after reading it lands in fit whatever the machine's speed; before the engine
# starts, so the delays reach into the numba engine's import and kernel loading.
CTRL_C_SCRIPT = """
import sys
import numpy as np
from backpropagation import Callback, NeuralNetwork

class Ready(Callback):
    def on_train_begin(self, logs):
        print("fit", flush=True)

X = np.random.default_rng(0).normal(size=(300, 3))
y = X.sum(axis=1)
model = NeuralNetwork([3, 8, 1], engine=sys.argv[1], random_state=0)
history = model.fit(X, y, epochs=100000, batch_size=8, verbose=0, validation_split=0.2, callbacks=[Ready()])
print("returned", history.interrupted, sorted(history.history), flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("engine,delay", [("numba", 0.0), ("numba", 0.3), ("numba", 1.0), ("numpy", 0.05)])
def test_ctrl_c_at_any_moment_of_fit_returns_the_model(tmp_path, engine, delay):
    # The numba engine's import and kernel loading take the first second or so of its fit.
    if engine == "numba":
        pytest.importorskip("numba")
    import time

    process = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, engine], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "fit"
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err[-2000:]
    assert "returned True ['loss', 'lr', 'r2', 'val_loss', 'val_r2']" in out and "Traceback" not in err


def test_the_cli_interrupted_before_any_epoch_says_so_and_exits_130(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    from backpropagation import engines

    press_ctrl_c_inside(monkeypatch, engines, "choose")
    model_path, plots = tmp_path / "m.npz", tmp_path / "plots"
    code = main(["train", demo_data_path(), "--target", "species", "--epochs", "50", "--quiet",
                 "--output", str(model_path), "--plots", str(plots)])
    out, err = capsys.readouterr()
    assert code == 130, err
    assert "training was interrupted (Ctrl-C)" in out and "no loss curve" in out
    assert NeuralNetwork.load(model_path).task_.fitted
    assert (plots / "predictions.png").exists() and not (plots / "loss_curve.png").exists()


def test_a_ctrl_c_while_the_cli_saves_still_writes_the_whole_model(tmp_path, monkeypatch, capsys):
    from backpropagation import network

    press_ctrl_c_inside(monkeypatch, network.NeuralNetwork, "save")
    model_path = tmp_path / "m.npz"
    code = main(["train", demo_data_path(), "--target", "species", "--epochs", "2", "--quiet",
                 "--output", str(model_path)])
    out, err = capsys.readouterr()
    assert code == 130, err
    assert "interrupted (Ctrl-C) after training: the model was written" in out
    assert NeuralNetwork.load(model_path).task_.fitted
