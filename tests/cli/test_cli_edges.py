"""The command's edges: what a user types wrong, files pandas writes, outputs that are not files."""

import json

import numpy as np
import pytest

from backpropagation.cli import build_parser, demo_data_path, main

pd = pytest.importorskip("pandas")


def run(*argv):
    return main([str(a) for a in argv])


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "kind": rng.choice(["x", "y", "z"], 120)})
    frame["y"] = np.where(frame.a > 0, "up", "down")
    frame.to_csv(tmp_path / "t.csv", index=False)
    return tmp_path / "t.csv"


def test_a_csv_written_with_pandas_index_names_its_nameless_column_so_it_can_be_dropped(tmp_path, capsys):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=100), "y": rng.normal(size=100)})
    frame.to_csv(tmp_path / "indexed.csv")                     # pandas' default: the index, unnamed
    assert run("train", tmp_path / "indexed.csv", "--target", "y", "--epochs", "1", "--json",
               "--output", tmp_path / "m.npz") == 0
    report = json.loads(capsys.readouterr().out)
    assert any("'Unnamed: 0' has no name in the header" in w and "--drop 'Unnamed: 0'" in w for w in report["warnings"])
    assert run("train", tmp_path / "indexed.csv", "--target", "y", "--drop", "Unnamed: 0", "--epochs", "1", "--json",
               "--output", tmp_path / "m.npz") == 0
    assert json.loads(capsys.readouterr().out)["features"] == 1


@pytest.mark.parametrize("command", ["predict", "evaluate", "explain"])
def test_help_states_each_default_once_and_its_choices_plainly(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: '.') (default:" not in text and "{.,,}" not in text
    assert "--decimal {'.',','} decimal mark" in text and "(default: as the model was trained)" in text


def test_train_help_names_every_table_format(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    assert "Parquet" in capsys.readouterr().out


@pytest.mark.parametrize("options, message", [
    (["--embed", "y"], "--embed: 'y' is the target"),
    (["--embed", "kind", "--drop", "kind"], "--embed and --drop: 'kind' is left out"),
    (["--text", "kind", "--drop", "kind"], "--text and --drop: 'kind' is left out"),
])
def test_options_that_contradict_each_other_are_refused(table, tmp_path, capsys, options, message):
    assert run("train", table, "--target", "y", "--epochs", "1", "--output", tmp_path / "m.npz", *options) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("options", [["--dropout", ",0.3"], ["--layers", "5,,5"], ["--dropout", "0.2,"]])
def test_lists_with_an_empty_part_are_typos_not_shorter_lists(table, tmp_path, capsys, options):
    with pytest.raises(SystemExit) as stopped:
        run("train", table, "--target", "y", "--epochs", "1", "--output", tmp_path / "m.npz", *options)
    assert stopped.value.code == 2 and "with none empty" in capsys.readouterr().err


def test_outputs_that_are_files_refuse_standard_output(table, tmp_path, capsys):
    assert run("train", table, "--target", "y", "--epochs", "1", "--quiet", "--output", tmp_path / "m.npz") == 0
    capsys.readouterr()
    for argv in (["export", tmp_path / "m.npz", "-"], ["explain", tmp_path / "m.npz", table, "--plot", "-"],
                 ["lr-find", table, "--target", "y", "--plot", "-"]):
        assert run(*argv) == 2
        assert "standard output" in capsys.readouterr().err
    assert not (tmp_path / "-").exists()


def test_summary_shows_dropout(tmp_path, capsys):
    assert run("train", demo_data_path(), "--target", "species", "--dropout", "0.25", "--epochs", "1", "--quiet",
               "--output", tmp_path / "m.npz") == 0
    capsys.readouterr()
    assert run("summary", tmp_path / "m.npz") == 0
    assert "dropout_1 (rate 0.25)" in capsys.readouterr().out


def test_a_header_of_years_reads_with_numeric_header_and_the_model_remembers_it(tmp_path, capsys):
    # (wide tables name their columns by year: Ecdat's nkill.byCountryYr, 1970,...,2020)
    rng = np.random.default_rng(0)
    counts = rng.poisson(5, size=(60, 4))
    path = tmp_path / "years.csv"
    path.write_text("1990,1991,1992,1993\n" + "".join(",".join(map(str, row)) + "\n" for row in counts))
    assert main(["train", str(path), "--target", "1993", "--epochs", "2", "-q", "-o", str(tmp_path / "m.npz")]) == 2
    refused = capsys.readouterr().err
    assert "looks like data" in refused and "pass --numeric-header" in refused
    for stream in ([], ["--stream"]):
        assert main(["train", str(path), "--target", "1993", "--epochs", "2", "-q", "--numeric-header",
                     "-o", str(tmp_path / "m.npz"), *stream]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m.npz"), str(path), "-o", str(tmp_path / "p.csv")]) == 0
    predicted = (tmp_path / "p.csv").read_text().splitlines()
    assert predicted[0].startswith("1990,1991,1992,1993,") and len(predicted) == 61
    assert main(["evaluate", str(tmp_path / "m.npz"), str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 60
