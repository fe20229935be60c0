"""The backprop command, end to end on CSV files the tests write and on the bundled data."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from backpropagation import NeuralNetwork
from backpropagation.cli import build_parser, demo_data_path, main


@pytest.fixture
def regression_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    size = rng.uniform(50, 150, n)
    rooms = rng.integers(1, 6, n)
    area = rng.choice(["north", "south", "east"], n)
    price = 3 * size + 20 * rooms + np.where(area == "south", 100, 0) + rng.normal(0, 5, n)
    lines = ["size,rooms,area,price"] + [f"{s:.1f},{r},{a},{p:.2f}" for s, r, a, p in zip(size, rooms, area, price)]
    lines[5] = lines[5].replace(lines[5].split(",")[0], "NA", 1)     # a missing feature value
    lines[9] = ",".join(lines[9].split(",")[:3]) + ","               # a missing target
    path = tmp_path / "houses.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*argv):
    return main([str(a) for a in argv])


def test_train_writes_a_model_a_report_and_plots(regression_csv, tmp_path, capsys):
    model_path, plots = tmp_path / "m.npz", tmp_path / "plots"
    assert run("train", regression_csv, "--target", "price", "--epochs", "200", "--layers", "16",
               "--learning-rate", "0.01", "--seed", "0", "--output", model_path, "--plots", plots, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "regression" and report["rows_dropped_missing_target"] == 1
    assert report["rows_train"] + report["rows_validation"] == 119
    assert report["validation"]["r2"] > 0.9 and report["epochs_run"] <= 200
    # By default the held-out rows drive early stopping, and the best epoch's weights are kept.
    assert report["early_stopping"]["monitor"] == "val_loss" and report["early_stopping"]["restored_best_weights"]
    assert report["early_stopping"]["min_delta"] == 0.001                 # (a fall of 0.001 or less is no progress)
    assert sorted(p.name for p in plots.iterdir()) == ["loss_curve.png", "predictions.png"]
    model = NeuralNetwork.load(model_path)
    assert model.metadata["feature_names"] == ["size", "size (missing)", "rooms", "area=east", "area=north",
                                               "area=south"]


def test_early_stopping_counts_only_falls_larger_than_min_delta(regression_csv, tmp_path, capsys):
    epochs = {}
    for delta in ("0", "100"):
        assert run("train", regression_csv, "--target", "price", "--epochs", "60", "--early-stopping", "3",
                   "--min-delta", delta, "--seed", "0", "--output", tmp_path / "m.npz", "--json") == 0
        report = json.loads(capsys.readouterr().out)
        epochs[delta] = report["epochs_run"]
        assert report["early_stopping"]["min_delta"] == float(delta)
    assert epochs["100"] == 4 and epochs["0"] > 4     # (no standardised loss falls by 100: epoch 1 stays best)


def test_train_reports_filled_values_and_dropped_rows(regression_csv, tmp_path, capsys):
    assert run("train", regression_csv, "--target", "price", "--epochs", "1", "--validation-split", "0",
               "--output", tmp_path / "m.npz", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["preprocessing"] == ["filled 1 missing value(s) in 'size'"]
    assert report["rows_dropped_missing_target"] == 1 and report["rows_train"] == 119


def test_predict_applies_the_stored_preprocessing_to_raw_rows(regression_csv, tmp_path, capsys):
    model_path = tmp_path / "m.npz"
    run("train", regression_csv, "--target", "price", "--epochs", "150", "--learning-rate", "0.01",
        "--seed", "0", "--output", model_path, "--json")
    capsys.readouterr()
    new = tmp_path / "new.csv"
    new.write_text("size,rooms,area\n100,3,south\n100,3,west\n")              # no target; unseen 'west'
    out = tmp_path / "pred.csv"
    assert run("predict", model_path, new, "--output", out) == 0
    rows = [line.split(",") for line in out.read_text().splitlines()]
    assert rows[0] == ["size", "rooms", "area", "predicted_price"]
    south, unseen = float(rows[1][3]), float(rows[2][3])
    assert south == pytest.approx(300 + 60 + 100, rel=0.1)                  # in price units, not scaled
    assert "unseen in training" in capsys.readouterr().err and np.isfinite(unseen)


def test_classification_predict_proba_evaluate_and_summary(tmp_path, capsys):
    model_path = tmp_path / "penguins.npz"
    assert run("train", demo_data_path(), "--target", "species", "--epochs", "60", "--seed", "1",
               "--learning-rate", "0.01", "--output", model_path, "--json") == 0
    assert json.loads(capsys.readouterr().out)["validation"]["accuracy"] > 0.95

    assert run("predict", model_path, demo_data_path(), "--proba") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("predicted_species,proba_Adelie,proba_Chinstrap,proba_Gentoo")
    assert lines[1].split(",")[8] == "Adelie"
    assert float(lines[1].split(",")[9]) > 0.9

    assert run("evaluate", model_path, demo_data_path(), "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] > 0.95 and np.array(result["confusion_matrix"]).sum() == 344
    assert run("evaluate", model_path, demo_data_path()) == 0
    assert "confusion matrix" in capsys.readouterr().out

    assert run("summary", model_path) == 0
    text = capsys.readouterr().out
    assert "Total params" in text and "island: text, one-hot over 3 categories" in text


def test_demo_trains_on_bundled_data_and_writes_plots(tmp_path, capsys):
    assert run("demo", "--output-dir", tmp_path / "demo", "--epochs", "30") == 0
    out = capsys.readouterr().out
    assert "Trained a multiclass network" in out and "validation: accuracy" in out
    assert (tmp_path / "demo" / "penguins_model.npz").exists()
    assert (tmp_path / "demo" / "plots" / "loss_curve.png").exists()


def test_trace_prints_one_step(capsys):
    assert run("trace", "--layers", "3,2,2,1", "--seed", "1") == 0
    out = capsys.readouterr().out
    assert "1. Forward pass" in out and "δ³" in out and "W¹ ← W¹ − η g = " in out
    assert run("trace", "--layers", "2,3,3", "--task", "multiclass", "--format", "markdown") == 0
    assert capsys.readouterr().out.startswith("# One training step")


def test_trace_a_saved_model_on_a_csv_row(tmp_path, capsys):
    model_path = tmp_path / "p.npz"
    run("train", demo_data_path(), "--target", "species", "--epochs", "2", "--output", model_path, "--json")
    capsys.readouterr()
    assert run("trace", "--model", model_path, "--data", demo_data_path(), "--row", "5") == 0
    assert "softmax fused with categorical_crossentropy" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["train", "missing.csv", "--target", "y"], "missing.csv: no such file"),
    (["train", "{csv}", "--target", "nope"], "no column named 'nope'; columns: species, island"),
    (["train", "{csv}", "--target", "Species"], "no column named 'Species' (did you mean 'species'?); columns:"),
    (["train", "{csv}", "--target", "species", "--drop", "bill length mm"],
     "no column named 'bill length mm' (did you mean 'bill_length_mm'?)"),
    (["train", "{csv}", "--target", "specis"], "no column named 'specis' (did you mean 'species'?)"),
    (["train", "{csv}"], "required: --target"),
    (["train", "{csv}", "--target", "species", "--layers", "a,b"], "--layers"),
    (["train", "{csv}", "--target", "species", "--optimizer", "magic"], "--optimizer: invalid choice: 'magic'"),
    (["train", "{csv}", "--target", "species", "--validation-split", "1.5"],
     "--validation-split: expected a fraction >= 0.0 and < 1.0, got '1.5'"),
    (["train", "{csv}", "--target", "species", "--epochs", "abc"], "--epochs: expected an integer >= 1, got 'abc'"),
    (["train", "{csv}", "--target", "species", "--seed", "-1"], "--seed: expected an integer seed >= 0"),
    (["train", "{csv}", "--target", "species", "--early-stopping", "-3"], "--early-stopping: expected an integer >= 0"),
    (["train", "{csv}", "--target", "species", "--min-delta", "-0.1"], "--min-delta: expected a number >= 0.0"),
    (["train", "{csv}", "--target", "species", "--target", "island"], "--target: given more than once"),
    (["train", "{csv}", "--target", "species", "--learning-rate", "0"], "--learning-rate: expected a number > 0"),
    (["train", "{csv}", "--target", "species", "--activation", "gelu9"], "--activation: invalid choice"),
    (["train", "{csv}", "--target", "species", "--lr-schedule", "wavy"], "--lr-schedule: invalid choice"),
    (["predict", "{csv}", "{csv}"], "not a readable model file"),
    (["trace", "--layers", "3"], "at least an input and an output"),
    (["trace", "--model", "x.npz"], "--model needs --data"),
])
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    argv = [a.replace("{csv}", demo_data_path()) for a in argv]
    try:
        code = run(*argv)
    except SystemExit as stop:          # argparse's usage errors
        code = stop.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


# the console script lies beside the interpreter that installed the package
BACKPROP = os.path.join(os.path.dirname(sys.executable), "backprop")


@pytest.mark.parametrize("command", [[sys.executable, "-m", "backpropagation"], [BACKPROP]])
def test_entry_points(command, tmp_path):
    ok = subprocess.run(command + ["--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "train" in ok.stdout and "demo" in ok.stdout
    bad = subprocess.run(command + ["train", str(tmp_path / "none.csv"), "--target", "y"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("backprop: error:") and "Traceback" not in bad.stderr


ROWS = "".join(f"{i % 7},{(i * 3) % 5},{'yes' if i % 2 else 'no'}\n" for i in range(30))


@pytest.mark.parametrize("output", ["missing/m.npz", "{data}", "/dev/null"])
def test_every_output_is_checked_before_training(output, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n" + ROWS)
    before = data.read_bytes()
    output = output.replace("{data}", str(data))
    monkeypatch.setattr(NeuralNetwork, "fit", lambda *args, **kwargs: pytest.fail("trained"))
    assert run("train", data, "--target", "y", "--epochs", "100000", "--output", output) == 2
    err = capsys.readouterr().err
    assert "Epoch" not in err        # refused before any work
    assert output in err and ".tmp" not in err and len(err.strip().splitlines()) == 1
    assert data.read_bytes() == before


def test_plot_directory_and_predict_outputs_are_checked_first(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n" + ROWS)
    assert run("train", data, "--target", "y", "--epochs", "100000", "--output", tmp_path / "m.npz",
               "--plots", tmp_path / "no" / "such" / "dir") == 2
    assert "--plots: cannot create" in capsys.readouterr().err and not (tmp_path / "m.npz").exists()
    assert run("train", data, "--target", "y", "--epochs", "1", "--json", "--output", tmp_path / "m.npz") == 0
    model_bytes = (tmp_path / "m.npz").read_bytes()
    capsys.readouterr()
    assert run("predict", tmp_path / "m.npz", data, "--output", tmp_path / "m.npz") == 2
    assert "also an input" in capsys.readouterr().err
    assert (tmp_path / "m.npz").read_bytes() == model_bytes


def test_predict_replaces_its_own_columns_instead_of_repeating_them(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n" + ROWS)
    run("train", data, "--target", "y", "--epochs", "1", "--json", "--output", tmp_path / "m.npz")
    run("predict", tmp_path / "m.npz", data, "--proba", "--output", tmp_path / "p1.csv")
    run("predict", tmp_path / "m.npz", tmp_path / "p1.csv", "--proba", "--output", tmp_path / "p2.csv")
    header = (tmp_path / "p2.csv").read_text().splitlines()[0].split(",")
    assert header == ["a", "b", "y", "predicted_y", "proba_no", "proba_yes"]
    assert (tmp_path / "p1.csv").read_text() == (tmp_path / "p2.csv").read_text()


def test_predict_into_a_closed_pipe_ends_quietly(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n" + ROWS * 300)
    assert main(["train", str(data), "--target", "y", "--epochs", "1", "--json", "-q",
                 "--output", str(tmp_path / "m.npz")]) == 0
    done = subprocess.run(f"'{BACKPROP}' predict '{tmp_path / 'm.npz'}' '{data}' | head -1",
                          shell=True, capture_output=True, text=True)
    assert done.stdout == "a,b,y,predicted_y\n" and "Error" not in done.stderr and "error" not in done.stderr


def test_evaluate_on_a_label_unseen_in_training_is_one_line(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n" + ROWS)
    run("train", data, "--target", "y", "--epochs", "1", "--json", "--output", tmp_path / "m.npz")
    capsys.readouterr()
    other = tmp_path / "other.csv"
    other.write_text("a,b,y\n1,2,yes\n3,4,maybe\n")
    assert run("evaluate", tmp_path / "m.npz", other) == 2
    err = capsys.readouterr().err.strip()
    assert "target 'y' holds 'maybe' (data row 2), a class the model never saw" in err
    assert len(err.splitlines()) == 1


def test_progress_off_a_terminal_is_plain_and_quiet_silences_it(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n" + ROWS)
    options = ["train", data, "--target", "y", "--epochs", "300", "--early-stopping", "0",
               "--output", tmp_path / "m.npz"]
    assert run(*options) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and 2 <= len(err.splitlines()) <= 22
    assert run(*options, "--quiet") == 0
    assert capsys.readouterr().err == ""


def test_help_shows_defaults_choices_and_explains_every_argument():
    train_help = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for expected in ("(default: 100)", "(default 32, doubled", "(default: 0.2)", "(default: adam)",
                     "default 0.003 for adam", "(default 0.0001)", "(default: random)", "{auto,regression,binary",
                     "relu,sigmoid", "cosine", "a table file (CSV, compressed CSV, Parquet"):
        assert expected in train_help, expected
    for name in ("predict", "evaluate", "summary"):
        sub = build_parser()._subparsers._group_actions[0].choices[name]
        assert all(action.help for action in sub._actions), name


def test_the_default_trace_has_a_gradient_in_every_layer(capsys):
    assert run("trace", "--layers", "3,2,2,1", "--seed", "0") == 0
    text = capsys.readouterr().out
    assert "passed no gradient: f'(z) = 0 there" not in text.split("∂L/∂W¹")[0]   # no dead layer above
    model = NeuralNetwork([3, 2, 2, 1], optimizer="sgd", learning_rate=0.1, random_state=0)
    rng = np.random.default_rng(0)
    for _ in range(100):                       # the same draws the command makes
        x, y = rng.normal(size=(1, 3)).round(2), rng.normal(size=(1, 1)).round(2)
        trace = model.trace(x, y)
        if all(np.any(step.dW != 0) for step in trace.layers):
            break
    assert all(np.any(step.dW != 0) for step in trace.layers)
    assert trace.to_text() == text


def test_a_trace_says_when_units_are_dead():
    model = NeuralNetwork([2, 2, 1], random_state=0)
    model.set_weights([(np.array([[1.0, -1.0], [1.0, -1.0]]), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))])
    trace = model.trace(np.array([[1.0, 1.0]]), np.array([0.0]))
    assert trace.dead_units == {1: [2]}
    assert "some unit of layer 1 (2) passed no gradient" in trace.to_text()


def test_predict_scores_a_file_in_chunks_and_leaves_nothing_on_a_bad_chunk(tmp_path, capsys, monkeypatch):
    import functools

    import backpropagation.cli.use as cli
    from backpropagation.tables.readers import stream_table

    model = tmp_path / "m.npz"
    assert run("train", demo_data_path(), "--target", "species", "--epochs", "3", "--seed", "0",
               "--output", model, "--json") == 0
    capsys.readouterr()
    whole = tmp_path / "whole.csv"
    assert run("predict", model, demo_data_path(), "--proba", "--output", whole) == 0
    notes = capsys.readouterr().err
    monkeypatch.setattr(cli, "stream_table", functools.partial(stream_table, rows=40))
    chunked = tmp_path / "chunked.csv"
    assert run("predict", model, demo_data_path(), "--proba", "--output", chunked) == 0
    assert chunked.read_text() == whole.read_text() and chunked.read_text().count("\n") == 345
    assert capsys.readouterr().err == notes and "filled 11 missing value(s) in 'sex'" in notes  # summed
    bad = tmp_path / "bad.csv"
    lines = open(demo_data_path()).read().splitlines()
    lines[300] = lines[300].replace("Biscoe", "Biscoe,extra", 1) if "Biscoe" in lines[300] else lines[300] + ",extra"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.csv"
    assert run("predict", model, bad, "--output", out) == 2
    assert "line 301 has" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("target", ["species", "body_mass_g"])
def test_reported_metrics_are_the_metrics_functions_on_the_rows(tmp_path, capsys, target):
    from backpropagation import metrics
    from backpropagation.tables.readers import read_file
    from backpropagation.tables.preprocessing import TabularPreprocessor

    path = tmp_path / "m.npz"
    assert run("train", demo_data_path(), "--target", target, "--epochs", "3", "--seed", "0",
               "--validation-split", "0", "--output", path, "--json") == 0
    report = json.loads(capsys.readouterr().out)["train"]
    model = NeuralNetwork.load(path)
    pre = TabularPreprocessor.from_dict(model.metadata["preprocessing"])
    X, y, _ = pre.transform(read_file(demo_data_path(), text_columns=[target]), with_target=True)
    if target == "species":
        proba = model.predict_proba(X)
        one_hot = (y[:, None] == model.classes_[None, :]).astype(float)
        predicted = model.predict(X)
        counts = np.unique(y, return_counts=True)[1]
        recalls = [np.mean(predicted[y == label] == label) for label in model.classes_]
        from sklearn.metrics import average_precision_score, roc_auc_score

        expected = {"accuracy": metrics.accuracy(y, predicted), "log_loss": metrics.log_loss(one_hot, proba),
                    "balanced_accuracy": np.mean(recalls), "majority_baseline": counts.max() / len(y),
                    "roc_auc": roc_auc_score(y, proba, multi_class="ovr", labels=model.classes_),
                    "average_precision": average_precision_score(one_hot, proba, average="macro")}
    else:
        predicted = pre.unscale_target(model.predict(X))
        mse = metrics.mean_squared_error(y, predicted)
        expected = {"mse": mse, "rmse": np.sqrt(mse), "mae": metrics.mean_absolute_error(y, predicted),
                    "r2": metrics.r2_score(y, predicted)}
    assert report == pytest.approx(expected, rel=1e-12)


def test_a_split_that_holds_out_nothing_says_why_with_the_option_s_name(tmp_path, capsys):
    data = tmp_path / "one_per_class.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{2 * i},c{i}\n" for i in range(10)))
    assert run("train", data, "--target", "y", "--task", "multiclass", "--output", tmp_path / "m.npz") == 2
    err = capsys.readouterr().err
    assert err.startswith("backprop: error: --validation-split: the split is stratified by class and each of "
                          "the 10 classes has a single row")
    assert "--validation-split 0 to train on every row" in err and "validation_split:" not in err


def _first_of_kind(pre, kind):
    return next(column for column in pre["columns"] if column["kind"] == kind)


@pytest.mark.parametrize("change", [
    lambda pre: _first_of_kind(pre, "text").update(categories=[1, 2, 3]),
    lambda pre: _first_of_kind(pre, "numeric").update(mean="high"),
    lambda pre: pre.update(target_kind="weird"),
    lambda pre: pre.update(drop=[7]),
    lambda pre: pre["columns"].append("not a column"),
])
def test_a_model_whose_preprocessing_metadata_is_malformed_is_refused_at_load(tmp_path, capsys, change):
    model_path = tmp_path / "m.npz"
    assert run("train", demo_data_path(), "--target", "species", "--epochs", "1", "--output", model_path,
               "--json") == 0
    model = NeuralNetwork.load(model_path)
    change(model.metadata["preprocessing"])
    model.save(model_path)
    capsys.readouterr()
    for command in (["predict", model_path, demo_data_path()], ["evaluate", model_path, demo_data_path()],
                    ["summary", model_path]):
        assert run(*command) == 2
        err = capsys.readouterr().err
        assert "invalid preprocessing in its metadata" in err and "Traceback" not in err


@pytest.mark.parametrize("options,message", [
    (["--data", "x.csv"], "--data: only used with --model"),
    (["--row", "3"], "--row: only used with --model"),
    (["--model", "m.npz", "--data", "x.csv", "--layers", "2,3,1"], "--layers: a saved model (--model) has its own"),
    (["--model", "m.npz", "--data", "x.csv", "--seed", "4", "--task", "binary"], "--task, --seed: a saved model"),
])
def test_trace_refuses_options_that_contradict_each_other(capsys, options, message):
    assert run("trace", *options) == 2
    assert message in capsys.readouterr().err


def test_a_run_without_seed_records_the_seed_it_drew_and_that_seed_reproduces_it(tmp_path, capsys):
    data = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    data.write_text("a,b,y\n" + "".join(f"{a:.3f},{b:.3f},{a + 2 * b:.3f}\n" for a, b in rng.normal(size=(60, 2))))
    reports = []
    for name in ("one", "two"):
        assert run("train", data, "--target", "y", "--epochs", "3", "--json", "--output", tmp_path / f"{name}.npz") == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0]["seed"] != reports[1]["seed"]
    seed = str(reports[0]["seed"])
    assert run("train", data, "--target", "y", "--epochs", "3", "--json", "--seed", seed,
               "--output", tmp_path / "again.npz") == 0
    again = json.loads(capsys.readouterr().out)
    assert again["train"] == reports[0]["train"] and again["seed"] == reports[0]["seed"]
    np.testing.assert_array_equal(NeuralNetwork.load(tmp_path / "again.npz").parameters,
                                  NeuralNetwork.load(tmp_path / "one.npz").parameters)
    assert NeuralNetwork.load(tmp_path / "one.npz").metadata["seed"] == reports[0]["seed"]
    assert run("summary", tmp_path / "one.npz") == 0
    assert f"trained with --seed {seed}" in capsys.readouterr().out
    assert run("train", data, "--target", "y", "--epochs", "3", "--seed", seed, "--validation-split", "0",
               "--output", tmp_path / "text.npz") == 0
    out = capsys.readouterr().out
    assert f"seed {seed} (--seed reproduces this run)" in out
    assert "the loss was still improving at the last epoch" in out and "--epochs 6" in out


def test_evaluate_writes_its_notes_on_stderr_as_predict_does(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30)) + ",1\n")
    assert run("train", data, "--target", "y", "--epochs", "2", "--quiet", "--output", tmp_path / "m.npz") == 0
    capsys.readouterr()
    assert run("evaluate", tmp_path / "m.npz", data) == 0
    captured = capsys.readouterr()
    assert "note:" not in captured.out and "backprop: note: filled 1 missing value(s) in 'a'" in captured.err


def imbalanced_table(path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] + 0.3 * rng.normal(size=400) > 1.6).astype(int)          # about 5% positive
    path.write_text("a,b,crash\n" + "".join(f"{a:.4f},{b:.4f},{'yes' if t else 'no'}\n" for (a, b), t in zip(X, y)))
    return y


def test_the_report_says_what_accuracy_hides_on_an_imbalanced_table(tmp_path, capsys):
    from sklearn.metrics import balanced_accuracy_score, precision_recall_fscore_support

    from backpropagation.tables.readers import read_file
    from backpropagation.tables.preprocessing import TabularPreprocessor

    data = tmp_path / "crash.csv"
    imbalanced_table(data)
    assert run("train", data, "--target", "crash", "--epochs", "20", "--seed", "0", "--validation-split", "0",
               "--json", "--output", tmp_path / "m.npz") == 0
    report = json.loads(capsys.readouterr().out)
    model = NeuralNetwork.load(tmp_path / "m.npz")
    pre = TabularPreprocessor.from_dict(model.metadata["preprocessing"])
    X, y, _ = pre.transform(read_file(data), with_target=True)
    predicted = model.predict(X)
    assert report["train"]["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, predicted), rel=1e-12)
    assert report["train"]["majority_baseline"] == pytest.approx(np.mean(y == "no"), rel=1e-12)
    precision, recall, f1, support = precision_recall_fscore_support(y, predicted, labels=["no", "yes"],
                                                                     zero_division=0)
    classes = report["classes"]
    assert classes["classes"] == ["no", "yes"] and classes["support"] == support.tolist()
    np.testing.assert_allclose(classes["recall"], recall, rtol=1e-12)
    np.testing.assert_allclose(classes["f1"], f1, rtol=1e-12)
    assert run("train", data, "--target", "crash", "--epochs", "2", "--seed", "0", "--output", tmp_path / "t.npz") == 0
    out = capsys.readouterr().out
    assert "balanced_accuracy" in out and "majority_baseline" in out and "per class" in out


def test_class_weight_balanced_finds_the_rare_class(tmp_path, capsys):
    data = tmp_path / "crash.csv"
    imbalanced_table(data)
    recalls = {}
    for weighting in ([], ["--class-weight", "balanced"]):
        assert run("train", data, "--target", "crash", "--epochs", "30", "--seed", "0", "--validation-split", "0",
                   "--json", *weighting, "--output", tmp_path / "m.npz") == 0
        report = json.loads(capsys.readouterr().out)
        recalls[bool(weighting)] = report["classes"]["recall"][1]
    assert recalls[True] > 0.8 and recalls[True] > recalls[False]
    assert run("train", data, "--target", "a", "--class-weight", "balanced", "--output", tmp_path / "r.npz") == 2
    assert "class_weight: only for classification" in capsys.readouterr().err


def test_evaluate_shows_the_top_confusions_of_a_many_class_target(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2))
    label = (np.floor((X[:, 0] + 3) * 2)).clip(0, 11).astype(int)            # 12 classes
    data = tmp_path / "many.csv"
    data.write_text("a,b,kind\n" + "".join(f"{a:.4f},{b:.4f},k{t}\n" for (a, b), t in zip(X, label)))
    assert run("train", data, "--target", "kind", "--epochs", "2", "--quiet", "--output", tmp_path / "m.npz") == 0
    capsys.readouterr()
    assert run("evaluate", tmp_path / "m.npz", data) == 0
    out = capsys.readouterr().out
    assert "most confused" in out and "confusion matrix" not in out and "balanced_accuracy" in out
    assert max(len(line) for line in out.splitlines()) < 100


