"""The L2 penalty and dropout on a schedule: the values each epoch trains with, both engines,
what the network keeps afterwards, and refusals."""

import math

import numpy as np
import pytest

from backpropagation import Callback, NeuralNetwork, PenaltyScheduler
from backpropagation.nn.schedules import FlatCosine
from backpropagation.cli import main as backprop

RNG = np.random.default_rng(3)
X = RNG.normal(size=(64, 4))
y = (X[:, 0] - X[:, 2] > 0).astype(int)


class Seen(Callback):
    """The L2 factor and dropout rate each epoch trains with (read after the schedulers ran)."""

    def __init__(self):
        self.l2, self.rates = [], []

    def on_epoch_begin(self, epoch, logs):
        self.l2.append(self.model.l2)
        self.rates.append([d.rate for d in self.model.dropouts if d is not None])


def test_flat_cosine_holds_then_falls_to_the_minimum():
    schedule = FlatCosine()
    values = [schedule(epoch, 0.2, 13) for epoch in range(13)]
    assert values[:7] == [0.2] * 7                         # the first half: flat
    assert values[-1] == pytest.approx(0.0, abs=1e-15)     # the last epoch: the minimum
    assert values[9] == pytest.approx(0.1)                 # half way down the cosine
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert FlatCosine(flat=0.0, minimum=0.05)(10, 1.0, 11) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="flat"):
        FlatCosine(flat=1.5)


def test_each_epoch_trains_with_the_scheduled_penalties_and_the_network_keeps_its_own():
    model = NeuralNetwork([4, 8, 8, 2], task="classification", l2=0.01, dropout=0.3, random_state=0)
    seen = Seen()
    model.fit(X, y, epochs=9, verbose=0, callbacks=[PenaltyScheduler(l2="flat_cosine", dropout="cosine"), seen])
    schedule = FlatCosine()
    assert seen.l2 == pytest.approx([schedule(e, 0.01, 9) for e in range(9)])
    assert [rates[0] for rates in seen.rates] == pytest.approx(
        [0.15 * (1 + math.cos(math.pi * e / 8)) for e in range(9)])
    assert model.l2 == 0.01 and [d.rate for d in model.dropouts if d is not None] == [0.3, 0.3]


def test_a_scheduled_penalty_changes_training_alike_on_both_engines():
    pytest.importorskip("numba")
    results = {}
    for engine in ("numpy", "numba"):
        for scheduled in (False, True):
            model = NeuralNetwork([4, 8, 2], task="classification", l2=0.05, random_state=1, engine=engine)
            callbacks = [PenaltyScheduler(l2="cosine")] if scheduled else []
            model.fit(X, y, epochs=6, batch_size=8, verbose=0, callbacks=callbacks)
            assert model.engine_ == engine
            results[engine, scheduled] = model.parameters.copy()
    np.testing.assert_allclose(results["numba", True], results["numpy", True], rtol=1e-9, atol=1e-12)
    assert not np.allclose(results["numpy", True], results["numpy", False])


def test_a_schedule_of_a_penalty_the_network_does_not_have_is_refused():
    with pytest.raises(ValueError, match="give a schedule"):
        PenaltyScheduler()
    with pytest.raises(ValueError, match="no L2 penalty"):
        NeuralNetwork([4, 3, 2], task="classification").fit(X, y, epochs=1, verbose=0,
                                                            callbacks=[PenaltyScheduler(l2="cosine")])
    with pytest.raises(ValueError, match="no dropout"):
        NeuralNetwork([4, 3, 2], task="classification", l2=0.1).fit(X, y, epochs=1, verbose=0,
                                                                     callbacks=[PenaltyScheduler(dropout="cosine")])
    with pytest.raises(ValueError, match="schedule"):
        PenaltyScheduler(l2="sideways")


class Upward(FlatCosine):
    def __call__(self, epoch, initial, epochs):
        return 2.0                                        # a rate no dropout can have


def test_a_schedule_that_gives_an_impossible_rate_stops_fit_and_restores_the_rate():
    model = NeuralNetwork([4, 8, 2], task="classification", dropout=0.2)
    with pytest.raises(ValueError, match=r"dropout schedule: gave 2.0 for epoch 0; expected a number in \[0, 1\)"):
        model.fit(X, y, epochs=2, verbose=0, callbacks=[PenaltyScheduler(dropout=Upward())])
    assert model.dropouts[0].rate == 0.2


def test_the_command_schedules_and_reports_them(tmp_path, capsys):
    import json

    import pandas as pd

    frame = pd.DataFrame(X, columns=list("abcd")).assign(label=np.where(y, "yes", "no"))
    frame.to_csv(tmp_path / "t.csv", index=False)
    arguments = ["train", str(tmp_path / "t.csv"), "--target", "label", "--epochs", "4", "--json", "--seed", "0",
                 "--output", str(tmp_path / "m.npz")]
    assert backprop(arguments + ["--l2-schedule", "flat_cosine", "--dropout", "0.2",
                                 "--dropout-schedule", "cosine"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "L2 penalty 0.0001 on the flat_cosine schedule over the epochs" in report["recipe"]
    assert "dropout 0.2 on the cosine schedule over the epochs" in report["recipe"]
    assert NeuralNetwork.load(tmp_path / "m.npz").l2 == 1e-4          # the file keeps the penalty as set
    (tmp_path / "t.csv").write_text("not a table the command would get to read\n")      # refused before reading
    assert backprop(arguments + ["--dropout-schedule", "cosine"]) == 2
    assert "--dropout-schedule cosine: there is no dropout to schedule; give --dropout RATE" in capsys.readouterr().err
    assert backprop(arguments + ["--l2-schedule", "cosine", "--l2", "0"]) == 2
    assert "there is no L2 penalty to schedule (--l2 0)" in capsys.readouterr().err
