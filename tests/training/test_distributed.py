"""Data-parallel training over MPI equals single-process training on the whole data set.

Each test launches ``mpiexec`` on a worker script, as a user would (MPI starts once per process).
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from backpropagation import NeuralNetwork
from backpropagation.cli import demo_data_path
from backpropagation.cli import main as backprop

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # tests/, where the MPI worker lives
sys.path.insert(0, HERE)
from distributed_cases import CASES  # noqa: E402

MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
                                reason="mpiexec or mpi4py is not installed (pip install mpi4py mpich)")


def mpirun(n, *command, timeout=300):
    return subprocess.run([MPIEXEC, "-n", str(n), *map(str, command)], capture_output=True, text=True,
                          timeout=timeout, cwd=HERE)


def single_process(name):
    case = CASES[name]
    X, y, weights, X_val, y_val = case.data()
    kwargs = case.fit_kwargs()
    if weights is not None:
        kwargs["sample_weight"] = weights
    if X_val is not None:
        kwargs["validation_data"] = (X_val, y_val)
    model = case.model()
    return model, model.fit(X, y, **kwargs)


@pytest.mark.parametrize("name,n,cuts", [
    ("regression", 2, []),
    ("regression", 3, [0, 50, 81, 103]),             # uneven shards
    ("classification", 3, [0, 70, 71, 150]),         # a rank with one row; weights, validation, callbacks
])
def test_mpi_training_equals_single_process_training(name, n, cuts, tmp_path):
    output = tmp_path / "mpi.npz"
    done = mpirun(n, sys.executable, "distributed_worker.py", name, output, *cuts)
    assert done.returncode == 0, done.stdout + done.stderr
    model, history = single_process(name)
    with np.load(output) as mpi:
        np.testing.assert_allclose(mpi["parameters"], model.parameters, rtol=0, atol=1e-10)
        np.testing.assert_allclose(mpi["loss"], history.history["loss"], rtol=1e-10)
        assert mpi["epochs"].tolist() == history.epoch and str(mpi["stop_reason"]) == history.stop_reason


def test_bad_data_on_one_rank_stops_every_rank_with_the_reason(tmp_path):
    done = mpirun(2, sys.executable, "distributed_worker.py", "bad rank", tmp_path / "x.npz", timeout=120)
    assert done.returncode != 0
    assert ("rank 0: ValueError: rank 1 refused its data: ValueError: X: contains 1 non-finite value(s); "
            "first: NaN at row 51") in done.stdout
    assert "rank 1: ValueError: X: contains 1 non-finite" in done.stdout


def assert_same_preprocessing(mine, theirs):
    """Statistics of all rows: medians and categories exact; sums merged over ranks to rounding."""
    mine, theirs = dict(mine), dict(theirs)
    columns = list(zip(mine.pop("columns"), theirs.pop("columns"), strict=True))
    assert mine.pop("target_mean") == pytest.approx(theirs.pop("target_mean"), rel=1e-13, abs=1e-13)
    assert mine.pop("target_std") == pytest.approx(theirs.pop("target_std"), rel=1e-13)
    assert mine == theirs
    for a, b in columns:
        approximate = {key: a.pop(key) for key in ("mean", "std") if key in a}
        assert approximate == {key: pytest.approx(b.pop(key), rel=1e-13, abs=1e-13) for key in approximate}
        assert a == b


def penguins_as(file_format, directory):
    """The demo table as CSV, or rewritten as Parquet in row groups of 50 rows."""
    if file_format == "csv":
        return demo_data_path()
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    path = directory / "penguins.parquet"
    pq.write_table(pcsv.read_csv(demo_data_path()), path, row_group_size=50)
    return path


@pytest.mark.parametrize("file_format,target", [("csv", "species"), ("parquet", "species"),
                                                ("csv", "body_mass_g")])
def test_the_cli_trains_on_slices_of_a_file_like_one_process(tmp_path, capsys, file_format, target):
    options = ["train", str(penguins_as(file_format, tmp_path)), "--target", target, "--epochs", "5", "--seed", "0",
               "--validation-split", "0", "--batch-size", "16", "--json"]
    done = mpirun(2, os.path.join(os.path.dirname(sys.executable), "backprop"), *options, "--distributed",
                  "--output", tmp_path / "mpi.npz")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('"processes": 2') == 1                     # rank 0 reports, once
    assert backprop(options + ["--output", str(tmp_path / "one.npz")]) == 0
    mpi_report, one_report = json.loads(done.stdout), json.loads(capsys.readouterr().out)
    for key in ("rows_used", "rows_train", "features", "preprocessing", "warnings"):
        assert mpi_report[key] == one_report[key], key                  # counted over all ranks
    assert mpi_report["train"] == pytest.approx(one_report["train"], rel=1e-9)
    mpi, one = NeuralNetwork.load(tmp_path / "mpi.npz"), NeuralNetwork.load(tmp_path / "one.npz")
    assert_same_preprocessing(mpi.metadata["preprocessing"], one.metadata["preprocessing"])
    np.testing.assert_allclose(mpi.parameters, one.parameters, rtol=0, atol=1e-10)


def test_ctrl_c_under_mpiexec_stops_every_rank_at_the_same_batch_and_rank_0_saves(tmp_path):
    import signal

    model_path = tmp_path / "model.npz"
    process = subprocess.Popen(
        [MPIEXEC, "-n", "2", os.path.join(os.path.dirname(sys.executable), "backprop"), "train", demo_data_path(),
         "--target", "species", "--epochs", "1000000", "--early-stopping", "0", "--distributed",
         "--output", str(model_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen, char = "", "?"
    while "Epoch 1/" not in seen and char:  # an epoch's all-reduces done: every rank is in the loop
        char = process.stderr.read(1)
        seen += char
    process.send_signal(signal.SIGINT)     # mpiexec forwards it to every rank
    try:
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:         # a hung run must not outlive the test
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, err[-2000:]
    assert "training was interrupted (Ctrl-C)" in out and "Traceback" not in err
    assert NeuralNetwork.load(model_path).task_.fitted


@pytest.mark.parametrize("ranks", [2, 3])
def test_the_cli_default_validation_split_is_one_split_of_the_whole_file(tmp_path, capsys, ranks):
    # No --validation-split: the default 20% hold-out (and early stopping on it) must be the one
    # a single process draws, not one split per rank's slice.
    options = ["train", demo_data_path(), "--target", "species", "--epochs", "4", "--seed", "3",
               "--batch-size", "16", "--json"]
    done = mpirun(ranks, os.path.join(os.path.dirname(sys.executable), "backprop"), *options,
                  "--distributed", "--output", tmp_path / "mpi.npz")
    assert done.returncode == 0, done.stderr
    assert backprop(options + ["--output", str(tmp_path / "one.npz")]) == 0
    mpi_report, one_report = json.loads(done.stdout), json.loads(capsys.readouterr().out)
    assert mpi_report["rows_validation"] == one_report["rows_validation"] > 0
    assert mpi_report["validation"] == pytest.approx(one_report["validation"], rel=1e-9)
    mpi, one = NeuralNetwork.load(tmp_path / "mpi.npz"), NeuralNetwork.load(tmp_path / "one.npz")
    np.testing.assert_allclose(mpi.parameters, one.parameters, rtol=0, atol=1e-10)


def test_ranks_on_one_machine_share_its_cores_for_blas_and_the_table_reader(tmp_path):
    pytest.importorskip("threadpoolctl")
    pytest.importorskip("pyarrow")
    script = tmp_path / "share.py"
    script.write_text(
        "import json, os, numpy, pyarrow\n"
        "from mpi4py import MPI\n"
        "from threadpoolctl import threadpool_info\n"
        "from backpropagation.collective import share_cores\n"
        "limit = share_cores(MPI.COMM_WORLD)\n"
        "blas = sorted({info['num_threads'] for info in threadpool_info() if info['user_api'] == 'blas'})\n"
        f"with open(r'{tmp_path}' + f'/rank{{MPI.COMM_WORLD.Get_rank()}}.json', 'w') as out:\n"
        "    json.dump([limit, blas, pyarrow.cpu_count(), os.cpu_count()], out)\n")
    done = mpirun(2, sys.executable, script)
    assert done.returncode == 0, done.stderr[-2000:]
    for rank in range(2):
        limit, blas, arrow, cores = json.loads((tmp_path / f"rank{rank}.json").read_text())
        expected = max(1, cores // 2)
        assert limit == arrow == expected and blas == [expected], (rank, limit, blas, arrow)


BACKPROP = os.path.join(os.path.dirname(sys.executable), "backprop")


def write_rows(path, rows, header="a,b,y"):
    path.write_text(header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return path


def test_a_rank_without_validation_rows_trains_and_reports(tmp_path):
    # Ten rows, 10% held out: one validation row, on one rank only (the other holds none).
    rng = np.random.default_rng(0)
    data = write_rows(tmp_path / "ten.csv", rng.normal(size=(10, 3)).round(3).tolist())
    done = mpirun(2, BACKPROP, "train", data, "--target", "y", "--validation-split", "0.1", "--epochs", "5",
                  "--distributed", "--json", "--output", tmp_path / "m.npz", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["rows_validation"] == 1 and np.isfinite(report["validation"]["mse"])


def test_many_classes_with_few_rows_per_rank_train_under_mpi(tmp_path):
    rows = [[i % 7, i % 5, f"c{min(i, 198)}"] for i in range(200)]      # 199 classes in 200 rows
    data = write_rows(tmp_path / "classes.csv", rows)
    done = mpirun(2, BACKPROP, "train", data, "--target", "y", "--epochs", "2", "--distributed", "--json",
                  "--output", tmp_path / "m.npz", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["task"] == "multiclass"


def test_a_pipe_under_distributed_is_refused_at_once(tmp_path):
    rows = "a,b,y\n" + "1,2,3\n" * 20
    done = subprocess.run([MPIEXEC, "-n", "2", BACKPROP, "train", "/dev/stdin", "--target", "y", "--distributed",
                           "--output", str(tmp_path / "m.npz")], input=rows, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("backprop: error:") == 1 and "not a regular file" in done.stderr
    assert "save the data to a file" in done.stderr


def test_an_error_on_one_rank_alone_stops_every_rank_with_one_message(tmp_path):
    script = tmp_path / "one_rank_fails.py"
    script.write_text(
        "import numpy as np\n"
        "from mpi4py import MPI\n"
        "from backpropagation import Callback, NeuralNetwork\n"
        "class FailOnRank1(Callback):\n"
        "    def on_epoch_end(self, epoch, logs):\n"
        "        if MPI.COMM_WORLD.Get_rank() == 1 and epoch == 2:\n"
        "            raise RuntimeError('a callback failed on rank 1')\n"
        "X = np.random.default_rng(0).normal(size=(40, 2))\n"
        "NeuralNetwork([2, 4, 1], random_state=0).fit(X, X.sum(axis=1), epochs=100000, verbose=0,\n"
        "                                             callbacks=[FailOnRank1()], comm=MPI.COMM_WORLD)\n")
    done = mpirun(2, sys.executable, script, timeout=120)        # a hang fails by the timeout
    assert done.returncode != 0
    assert done.stderr.count("a callback failed on rank 1") == 1
    assert "rank 1 of 2; stopping every rank" in done.stderr


@pytest.fixture(scope="module")
def sorted_table_trained_by_one_process(tmp_path_factory):
    """A Parquet table sorted by its target, the ``train`` options for it, and one process's report."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("sorted")
    rng = np.random.default_rng(0)
    n = 6_000
    X = rng.normal(size=(n, 3))
    kind = rng.choice(["red", "green", "blue"], n)
    y = ((X[:, 0] + 0.5 * X[:, 1] + (kind == "red")) > 0.3).astype(int)
    order = np.argsort(y, kind="stable")                               # sorted by the target
    data = folder / "sorted.parquet"
    pq.write_table(pa.table({"a": X[order, 0], "b": X[order, 1], "c": X[order, 2], "kind": kind[order],
                             "y": y[order]}), data, row_group_size=500)
    options = ["train", data, "--target", "y", "--epochs", "6", "--seed", "0", "--json", "--stream",
               "--shuffle-rows", "3000"]
    one = subprocess.run([BACKPROP, *map(str, options), "--output", str(folder / "one.npz")],
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    return options, json.loads(one.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("ranks", [2, 3])
def test_a_streamed_table_trains_over_mpi_reproducibly_and_as_well_as_one_process(
        tmp_path, ranks, sorted_table_trained_by_one_process):
    options, single = sorted_table_trained_by_one_process
    reports, parameters = [], []
    for run in range(2):
        done = mpirun(ranks, BACKPROP, *options, "--distributed", "--output", tmp_path / f"mpi{run}.npz")
        assert done.returncode == 0, done.stdout + done.stderr
        reports.append(json.loads(done.stdout))
        parameters.append(NeuralNetwork.load(tmp_path / f"mpi{run}.npz").parameters)
    np.testing.assert_array_equal(parameters[0], parameters[1])       # deterministic for a rank count
    assert reports[0]["processes"] == ranks and reports[0]["rows_train"] == single["rows_train"]
    assert "split among the" in reports[0]["streamed"]["blocks_dealt"]
    assert abs(reports[0]["validation"]["accuracy"] - single["validation"]["accuracy"]) < 0.01, \
        (reports[0]["validation"], single["validation"])


def test_a_rank_whose_blocks_hold_no_target_still_trains_streamed(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    n = 3000
    rng = np.random.default_rng(1)
    a = rng.normal(size=n)
    y = np.where(a > 0, 1.0, 0.0)
    y[1000:2000] = np.nan                       # the second of three row groups: no target at all
    data = tmp_path / "gaps.parquet"
    pq.write_table(pa.table({"a": a, "y": y}), data, row_group_size=1000)
    done = mpirun(3, BACKPROP, "train", data, "--target", "y", "--stream", "--epochs", "2", "--seed", "0",
                  "--json", "--distributed", "--output", tmp_path / "m.npz")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["rows_dropped_missing_target"] == 1000 and report["rows_train"] + report["rows_validation"] == 2000


def test_an_error_every_rank_meets_is_said_once(tmp_path):
    data = tmp_path / "t.csv"
    data.write_text("a,b,c\n" + "".join(f"{i},{i % 2},{'T' if i == 150 else i}\n" for i in range(200)))
    dated = tmp_path / "d.csv"
    dated.write_text("a,b\n" + "".join(f"{'2012' if i == 150 else f'2012-01-{i % 28 + 1:02d}'},{i % 2}\n"
                                        for i in range(200)))
    for table, target, said, stream in ((data, "missing_column", "no column named 'missing_column'", []),
                                        (data, "missing_column", "no column named 'missing_column'", ["--stream"]),
                                        (data, "b", "column 'c' mixes numbers and text", []),
                                        (dated, "b", "column 'a' mixes dates and plain numbers", [])):
        done = mpirun(3, BACKPROP, "train", table, "--target", target, *stream, "--distributed",
                      "--output", tmp_path / "m.npz", timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count(said) == 1 and "stopping every rank" not in done.stderr, done.stderr


def preprocessing_of_two_ranks_and_one(tmp_path, capsys, data) -> list:
    """``(two ranks' preprocessing, one process's)`` of ``backprop train data --target y``, in memory
    and then streamed (``--validation-split 0``, 2 epochs, seed 0)."""
    pairs = []
    for stream in ([], ["--stream"]):
        options = ["train", str(data), "--target", "y", "--epochs", "2", "--seed", "0", "--json",
                   "--validation-split", "0", *stream]
        done = mpirun(2, BACKPROP, *options, "--distributed", "--output", tmp_path / "mpi.npz")
        assert done.returncode == 0, done.stdout + done.stderr
        assert backprop(options + ["--output", str(tmp_path / "one.npz")]) == 0
        capsys.readouterr()
        pairs.append(tuple(NeuralNetwork.load(tmp_path / name).metadata["preprocessing"]
                           for name in ("mpi.npz", "one.npz")))
    return pairs


def test_ranks_read_dates_as_one_process_does_where_a_rank_holds_none(tmp_path, capsys):
    # (the second rank's slice of the file has no date at all: its column decodes as empty numbers,
    # and whether the column holds dates and times is decided over all ranks)
    rng = np.random.default_rng(3)
    n = 200
    at = np.datetime64("2014-01-01T00:00") + rng.integers(0, 60 * 24 * 400, n).astype("timedelta64[m]")
    cells = [str(t).replace("T", " ") if i < n // 5 else "" for i, t in enumerate(at)]     # (rank 0's bytes)
    data = tmp_path / "dated.csv"
    data.write_text("at,x,y\n" + "".join(f"{c},{v:.3f},{v + i % 3:.3f}\n" for i, (c, v) in
                                         enumerate(zip(cells, rng.normal(size=n)))))
    for mpi, one in preprocessing_of_two_ranks_and_one(tmp_path, capsys, data):
        assert_same_preprocessing(mpi, one)
        dated = mpi["columns"][0]
        assert dated["date"] and dated["times"] and dated["indicator"]


def test_ranks_read_group_codes_as_one_process_does_in_memory_and_streamed(tmp_path, capsys):
    # (sorted by tree, in row groups of 50: each rank, or each rank's blocks, holds only some trees,
    # too few of 1..60 to look like codes alone; the codes are decided and counted over all ranks)
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rng = np.random.default_rng(2)
    trees = np.repeat(np.arange(1, 61), 5)
    x = rng.normal(size=300).round(3)
    data = tmp_path / "panel.parquet"
    pq.write_table(pa.table({"tree": trees, "x": x, "y": trees % 6 + x}), data, row_group_size=50)
    for mpi, one in preprocessing_of_two_ranks_and_one(tmp_path, capsys, data):
        mpi, one = mpi["columns"][0], one["columns"][0]
        assert mpi == one and mpi["codes"] and len(mpi["categories"]) == 60
