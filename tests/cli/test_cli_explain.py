"""``backprop explain``, ``backprop lr-find`` and ``train --dropout`` on tables the tests write."""

import json

import numpy as np
import pytest

from backpropagation import NeuralNetwork
from backpropagation.cli import main


def run(*argv):
    return main([str(a) for a in argv])


@pytest.fixture
def signal_csv(tmp_path):
    """Only ``size`` and the text column ``colour`` decide the class; the rest is noise."""
    rng = np.random.default_rng(0)
    n = 600
    size, noise_a, noise_b = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    kind = rng.choice(["p", "q"], n)
    score = 2 * size + np.select([colour == "red", colour == "blue"], [2.5, -2.5], 0.0)
    label = np.where(score + 0.3 * rng.normal(size=n) > 0, "yes", "no")
    lines = ["noise_a,size,colour,kind,noise_b,label"] + [
        f"{a:.4f},{s:.4f},{c},{k},{b:.4f},{t}" for a, s, c, k, b, t in zip(noise_a, size, colour, kind, noise_b, label)]
    path = tmp_path / "signal.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def trained(signal_csv, tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert run("train", signal_csv, "--target", "label", "--epochs", "60", "--seed", "0", "-o", model, "--json") == 0
    capsys.readouterr()
    return model


@pytest.mark.parametrize("method", ["permutation", "gradient"])
def test_explain_ranks_the_columns_that_matter_first_per_raw_column(trained, signal_csv, capsys, method):
    assert run("explain", trained, signal_csv, "--method", method, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    names = [row["feature"] for row in report["ranking"]]
    assert sorted(names) == ["colour", "kind", "noise_a", "noise_b", "size"]     # colour's indicators: one column
    assert set(names[:2]) == {"size", "colour"}
    assert report["method"] == method and report["rows"] == 600


def test_explain_prints_the_ranking_and_draws_it(trained, signal_csv, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "bars.png"
    assert run("explain", trained, signal_csv, "--repeats", "2", "--plot", plot) == 0
    out = capsys.readouterr().out
    assert "permutation importance (accuracy; baseline" in out and f"bar chart written to {plot}" in out
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_explain_needs_the_target_for_permutation_but_not_for_gradients(trained, signal_csv, tmp_path, capsys):
    lines = signal_csv.read_text().splitlines()
    unlabelled = tmp_path / "new.csv"
    unlabelled.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    assert run("explain", trained, unlabelled) == 2
    assert "needs the target column 'label'" in capsys.readouterr().err
    assert run("explain", trained, unlabelled, "--method", "gradient") == 0


def test_explain_samples_rows_of_a_large_table_reproducibly(trained, signal_csv, capsys):
    results = []
    for _ in range(2):
        assert run("explain", trained, signal_csv, "--max-rows", "100", "--json") == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0]["rows"] == 100 and results[0]["rows_in_file"] == 600 and results[0] == results[1]


def test_explain_refuses_a_plot_it_cannot_write_before_any_work(trained, signal_csv, tmp_path, capsys):
    assert run("explain", trained, signal_csv, "--plot", tmp_path / "missing" / "bars.png") == 2
    assert "--plot" in capsys.readouterr().err


def test_lr_find_suggests_a_rate_that_trains(signal_csv, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "lr.png"
    assert run("lr-find", signal_csv, "--target", "label", "--optimizer", "sgd", "--seed", "0", "--json",
               "--plot", plot) == 0
    report = json.loads(capsys.readouterr().out)
    rates = np.array(report["rates"])
    assert np.all(np.diff(rates) > 0) and len(rates) == len(report["smoothed"]) and plot.exists()
    assert rates[0] < report["suggestion"] < rates[-1] / 10                # inside the range, short of the end
    assert run("train", signal_csv, "--target", "label", "--optimizer", "sgd", "--seed", "0", "--epochs", "20",
               "--learning-rate", report["suggestion"], "-o", tmp_path / "m.npz", "--json") == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["validation"]["accuracy"] > 0.8


def test_lr_find_prints_its_rule(signal_csv, capsys):
    assert run("lr-find", signal_csv, "--target", "label", "--steps", "30", "--seed", "1") == 0
    out = capsys.readouterr().out
    assert "learning-rate range test: " in out and "suggested --learning-rate" in out and "divided by 10" in out


def test_train_with_dropout_saves_it_and_says_why_numpy_ran(signal_csv, tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert run("train", signal_csv, "--target", "label", "--epochs", "3", "--dropout", "0.3,0.1", "--seed", "0",
               "--no-periodic", "--no-input-scale", "-o", model, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["engine"] == "numpy"
    assert "dropout" in report["engine_reason"] or "installed" in report["engine_reason"]
    assert [d and d.rate for d in NeuralNetwork.load(model).dropouts] == [0.3, 0.1, None]


@pytest.mark.parametrize("value, message", [("1", "expected a rate >= 0.0 and < 1.0, got '1'"),
                                            ("x", "expected a rate"),
                                            ("0.1,0.1,0.1", "one rate per hidden layer (2), got 3")])
def test_a_bad_dropout_is_refused_with_the_reason(signal_csv, tmp_path, capsys, value, message):
    try:
        code = run("train", signal_csv, "--target", "label", "--dropout", value, "-o", tmp_path / "m.npz")
    except SystemExit as usage:                 # (argparse refuses what it can check itself)
        code = usage.code
    assert code == 2
    assert message in capsys.readouterr().err
