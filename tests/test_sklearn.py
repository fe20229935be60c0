"""The scikit-learn estimators: the estimator checks, and the ecosystem they must work in."""

import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from backpropagation.sklearn import BackpropClassifier, BackpropRegressor  # noqa: E402

# Small, quick settings that still learn the checks' toy problems.
FAST = dict(hidden_layer_sizes=(16,), epochs=60, batch_size=16, learning_rate=0.01, random_state=0)

# The one check that cannot apply to mini-batch training (see docs/sklearn.md): a sample of weight 2 is
# one row counted twice within one batch, while a repeated row can fall into two different
# batches, so the two trajectories differ. With batch_size=None they are the same computation,
# and test_sample_weight_equivalence_holds_in_full_batch_training runs the check there.
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data":
        "mini-batch SGD: weighting a row is not the same as repeating it in another batch",
    "check_sample_weight_equivalence_on_sparse_data":
        "mini-batch SGD: weighting a row is not the same as repeating it in another batch",
}


@parametrize_with_checks([BackpropClassifier(**FAST), BackpropRegressor(**FAST)],
                         expected_failed_checks=lambda estimator: EXPECTED_FAILURES)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("Estimator", [BackpropClassifier, BackpropRegressor])
def test_sample_weight_equivalence_holds_in_full_batch_training(Estimator):
    from sklearn.utils.estimator_checks import (check_sample_weight_equivalence_on_dense_data,
                                                check_sample_weight_equivalence_on_sparse_data)

    estimator = Estimator(**{**FAST, "batch_size": None, "epochs": 40})
    check_sample_weight_equivalence_on_dense_data(Estimator.__name__, estimator)
    check_sample_weight_equivalence_on_sparse_data(Estimator.__name__, estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X, load_iris().target_names[y]


def test_fitted_attributes(iris):
    X, y = iris
    model = BackpropClassifier(**FAST, validation_split=0.2).fit(X, y)
    assert model.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert model.n_features_in_ == 4 and 1 <= model.n_iter_ <= 60
    assert len(model.loss_curve_) == len(model.validation_loss_curve_) == model.n_iter_
    assert model.model_.layer_sizes == (4, 16, 3)
    assert model.predict_proba(X).shape == (150, 3)


def test_pipeline_grid_search_and_cross_validation(iris):
    X, y = iris
    pipeline = make_pipeline(StandardScaler(), BackpropClassifier(**FAST))
    scores = cross_val_score(pipeline, X, y, cv=3)
    assert scores.mean() > 0.85
    search = GridSearchCV(pipeline, {"backpropclassifier__hidden_layer_sizes": [(4,), (16,)],
                                     "backpropclassifier__learning_rate": [0.001, 0.01]}, cv=3)
    search.fit(X, y)
    assert search.best_params_["backpropclassifier__learning_rate"] == 0.01
    assert search.score(X, y) > 0.9


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(iris):
    X, y = iris
    model = BackpropClassifier(**FAST).fit(X, y)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "model_")


@pytest.mark.parametrize("Estimator,target", [(BackpropClassifier, "labels"), (BackpropRegressor, "values")])
def test_pickle_round_trip(Estimator, target, iris):
    X, y = iris
    if target == "values":
        y = X[:, 0] * 2 - X[:, 1]
    model = Estimator(**FAST).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    again.fit(X, y)                      # and it still trains
    np.testing.assert_array_equal(again.predict(X), model.predict(X))   # same random_state


def test_partial_fit_learns_batch_by_batch(iris):
    X, y = iris
    rng = np.random.default_rng(0)
    model = BackpropClassifier(**FAST)
    with pytest.raises(ValueError, match="needs the list of all classes"):
        model.partial_fit(X[:10], y[:10])
    for _ in range(40):
        rows = rng.choice(150, 50, replace=False)
        model.partial_fit(X[rows], y[rows], classes=np.unique(y))
    assert model.n_iter_ == 40 and model.score(X, y) > 0.9


def test_warm_start_continues_training(iris):
    X, y = iris
    model = BackpropClassifier(**{**FAST, "epochs": 5}, warm_start=True).fit(X, y)
    network = model.model_
    model.fit(X, y)
    assert model.model_ is network and model.n_iter_ == 10 and len(model.loss_curve_) == 10
    cold = BackpropClassifier(**{**FAST, "epochs": 5}).fit(X, y)
    first = cold.model_
    cold.fit(X, y)
    assert cold.model_ is not first and cold.n_iter_ == 5


def test_sample_weight_shifts_the_decision(iris):
    X, y = iris
    binary = y != "setosa"
    weights = np.where(binary, 1.0, 50.0)          # mistakes on setosa cost 50 times more
    plain = BackpropClassifier(**FAST).fit(X, binary)
    weighted = BackpropClassifier(**FAST).fit(X, binary, sample_weight=weights)
    assert (weighted.predict_proba(X)[:, 0].mean() > plain.predict_proba(X)[:, 0].mean())


def test_regressor_learns_and_handles_several_outputs():
    X, y = make_regression(n_samples=200, n_features=5, n_targets=2, noise=1.0, random_state=0)
    y = y / y.std(axis=0)
    model = BackpropRegressor(**{**FAST, "epochs": 200}).fit(X, y)
    assert model.predict(X).shape == (200, 2) and model.score(X, y) > 0.95


def test_invalid_hyper_parameters_fail_in_fit_not_init(iris):
    X, y = iris
    model = BackpropClassifier(learning_rate=-1)          # __init__ only stores
    with pytest.raises(ValueError, match="learning_rate"):
        model.fit(X, y)


@pytest.fixture
def thread_variables_kept():
    """The thread-count variables of this process's environment as they were before the test: a
    dask LocalCluster sets them to 1 and leaves them, and every later subprocess of the test
    worker would then start its BLAS on one thread."""
    import os

    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.mark.slow
def test_grid_search_on_a_dask_cluster(iris, thread_variables_kept):
    distributed = pytest.importorskip("dask.distributed")
    import joblib

    X, y = iris
    # (workers as threads of this process: the documented script, below, starts worker processes)
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with joblib.parallel_backend("dask"), distributed.get_task_stream(client) as stream:
            search = GridSearchCV(make_pipeline(StandardScaler(), BackpropClassifier(**FAST)),
                                  {"backpropclassifier__hidden_layer_sizes": [(4,), (16,)],
                                   "backpropclassifier__l2": [0.0, 0.01]}, cv=3, n_jobs=-1)
            search.fit(X, y)
        workers = set(client.scheduler_info()["workers"])
    ran_on = {task["worker"] for task in stream.data}
    assert len(stream.data) >= 1 and ran_on <= workers and ran_on   # the fits ran on the cluster
    assert search.best_score_ > 0.85 and len(search.cv_results_["params"]) == 4


def test_the_documented_dask_script_runs_as_pasted(tmp_path):
    pytest.importorskip("dask.distributed")
    readme = (Path(__file__).parents[1] / "docs" / "sklearn.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    script = next(block for block in blocks if "LocalCluster" in block)
    assert 'if __name__ == "__main__":' in script
    (tmp_path / "search.py").write_text(script)
    done = subprocess.run([sys.executable, "search.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'hidden_layer_sizes'" in done.stdout


def test_training_stops_when_the_loss_stops_improving_like_scikit_learn(iris):
    X, y = iris
    model = BackpropClassifier(hidden_layer_sizes=(16,), epochs=2000, learning_rate=0.01, tol=1e-2,
                               n_iter_no_change=5, random_state=0).fit(X, y)
    curve = model.loss_curve_
    assert model.n_iter_ == len(curve) < 2000
    best_before = min(curve[:-5])                          # no improvement by tol in the last 5 epochs
    assert all(loss > best_before - 1e-2 for loss in curve[-5:])
    assert any(loss <= best - 1e-2 for best, loss in zip(np.minimum.accumulate(curve[:-6]), curve[1:-5]))


def test_running_out_of_epochs_before_converging_warns(iris):
    from sklearn.exceptions import ConvergenceWarning

    X, y = iris
    with pytest.warns(ConvergenceWarning, match="raise epochs"):
        BackpropClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BackpropClassifier(hidden_layer_sizes=(8,), epochs=2000, learning_rate=0.01, random_state=0).fit(X, y)
        BackpropClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, y, classes=np.unique(y))


def test_early_stopping_watches_the_validation_loss_and_keeps_the_best_weights(iris):
    X, y = iris
    model = BackpropClassifier(hidden_layer_sizes=(16,), epochs=500, learning_rate=0.05, early_stopping=True,
                               validation_split=0.2, n_iter_no_change=5, random_state=0).fit(X, y)
    best = int(np.argmin(model.validation_loss_curve_))
    assert model.n_iter_ < 500 and model.history_.stop_reason.startswith("early stopping: val_loss")
    assert model.n_iter_ - 1 - best == 5                # stopped 5 epochs after its best


@pytest.mark.parametrize("params,message", [({"tol": -1.0}, "tol"), ({"n_iter_no_change": 0}, "n_iter_no_change")])
def test_bad_convergence_parameters_are_named(iris, params, message):
    X, y = iris
    with pytest.raises(ValueError, match=message):
        BackpropClassifier(**params).fit(X, y)


def test_the_regressor_standardises_its_target_by_default():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = 4200 + 800 * (X[:, 0] - 0.5 * X[:, 1] ** 2)             # grams, like a penguin's body mass
    default = BackpropRegressor(hidden_layer_sizes=(32,), random_state=0).fit(X, y)
    raw = BackpropRegressor(hidden_layer_sizes=(32,), standardize_target=False, random_state=0).fit(X, y)
    assert default.score(X, y) > 0.9 > raw.score(X, y)
    assert default.model_.task_.target_mean_[0] == pytest.approx(y.mean())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow"])
def test_estimators_take_frames_and_refuse_other_columns(kind):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(30, 3)), columns=["bill", "flipper", "mass"])
    frame = {"pandas": lambda: df, "polars": lambda: pytest.importorskip("polars").from_pandas(df),
             "arrow": lambda: pytest.importorskip("pyarrow").Table.from_pandas(df)}[kind]()
    model = BackpropRegressor(hidden_layer_sizes=(4,), epochs=3, random_state=0).fit(frame, df.sum(axis=1))
    assert model.feature_names_in_.tolist() == ["bill", "flipper", "mass"]
    with pytest.raises(ValueError, match="feature names"):
        model.predict(df.rename(columns={"mass": "weight"}))


def test_a_pipeline_with_scikit_learn_s_default_sparse_one_hot_encoder_trains(iris):
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(size=np.where(X[:, 2] > 3, "big", "small"))
    encoder = make_column_transformer((StandardScaler(), ["a", "b", "c", "d"]), (OneHotEncoder(), ["size"]),
                                      sparse_threshold=1.0)          # a sparse matrix comes out
    assert hasattr(encoder.fit_transform(frame), "toarray")
    pipeline = make_pipeline(encoder, BackpropClassifier(hidden_layer_sizes=(8,), epochs=150, random_state=0))
    assert pipeline.fit(frame, y).score(frame, y) > 0.8


def penguins_frame():
    pd = pytest.importorskip("pandas")
    from backpropagation.cli import demo_data_path

    frame = pd.read_csv(demo_data_path())
    return frame.drop(columns=["species"]), frame["species"]


def test_the_table_encoder_is_the_command_line_s_preprocessing_in_a_pipeline():
    from sklearn.pipeline import make_pipeline

    from backpropagation.sklearn import TableEncoder
    from backpropagation.tables.preprocessing import TabularPreprocessor
    from backpropagation.tables.table_model import table_of

    X, y = penguins_frame()
    encoder = TableEncoder().fit(X)
    names = encoder.get_feature_names_out()
    assert "island=Dream" in names and "bill_length_mm" in names and len(names) == encoder.transform(X).shape[1]
    cli = TabularPreprocessor("species").fit(table_of(X.assign(species=y)))
    np.testing.assert_allclose(encoder.transform(X), cli.transform(table_of(X), with_target=False)[0])
    assert any("filled" in line for line in encoder.report_.lines())
    pipeline = make_pipeline(TableEncoder(), BackpropClassifier(hidden_layer_sizes=(16,), epochs=60, random_state=0))
    assert pipeline.fit(X, y).score(X, y) > 0.9


def test_the_table_encoder_warns_as_the_command_s_report_does_in_the_python_api_s_words():
    pd = pytest.importorskip("pandas")
    from backpropagation.sklearn import TableEncoder

    rng = np.random.default_rng(0)
    n = 3 * 1100                                  # (1,100 trees: more codes than are read as categories)
    frame = pd.DataFrame({"rownames": np.arange(1, n + 1), "tree": rng.permutation(np.repeat(np.arange(1, 1101), 3)),
                          "x": rng.normal(size=n), "kind": ["a", "b"] * (n // 2)})
    with pytest.warns(UserWarning) as caught:
        TableEncoder().fit(frame)
    messages = [str(w.message) for w in caught]
    assert any("codes of groups" in m and "text=['tree']" in m and "embed=['tree']" in m and "--" not in m
               for m in messages), messages
    assert any("like a row number" in m and "drop=['rownames']" in m for m in messages), messages
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TableEncoder().fit(frame[["x", "kind"]])                            # (nothing to say: no warning)
        encoder = TableEncoder().fit(frame.iloc[:120, 1:].assign(tree=np.repeat(np.arange(1, 41), 3)))
    assert "tree=40" in encoder.get_feature_names_out()                     # (40 trees: read as categories)
    with pytest.warns(UserWarning, match=r"text=\['tree'\]"):
        BackpropRegressor(hidden_layer_sizes=(4,), epochs=1, random_state=0).fit(frame, frame["x"])


def test_a_categorical_column_of_numbers_reads_as_categories_as_its_dtype_says():
    # (a pandas `category` of tree numbers: the frame says they are categories, not measurements;
    # numeric=[...] still reads them as numbers)
    pd = pytest.importorskip("pandas")
    from backpropagation.sklearn import TableEncoder

    rng = np.random.default_rng(0)
    codes = rng.permutation(np.repeat(np.arange(1, 41), 3))
    frame = pd.DataFrame({"tree": pd.Categorical(codes), "x": rng.normal(size=120)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # (categories: no codes-of-groups advice)
        encoder = TableEncoder().fit(frame)
    assert "tree=1" in encoder.get_feature_names_out() and len(encoder.get_feature_names_out()) == 41
    np.testing.assert_array_equal(encoder.transform(frame), encoder.transform(frame.assign(tree=codes)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # (numbers, as asked: nothing to advise)
        assert list(TableEncoder(numeric=["tree"]).fit(frame).get_feature_names_out()) == ["tree", "x"]
    y = codes % 3 + rng.normal(scale=0.1, size=120)
    model = BackpropRegressor(hidden_layer_sizes=(8,), epochs=3, random_state=0).fit(frame, y)
    assert model.n_features_in_ == 41 and model.predict(frame.head(2)).shape == (2,)


def test_the_estimators_take_a_raw_dataframe_with_text_and_gaps_as_the_command_line_does():
    X, y = penguins_frame()
    model = BackpropClassifier(hidden_layer_sizes=(16,), epochs=60, random_state=0).fit(X, y)
    assert model.score(X, y) > 0.9 and model.predict_proba(X.head(3)).shape == (3, 3)
    assert model.table_encoder_ is not None and model.n_features_in_ == 15      # 4 gap indicators, sex (missing)
    regressor = BackpropRegressor(hidden_layer_sizes=(16,), epochs=60, random_state=0)
    assert regressor.fit(X.drop(columns=["body_mass_g"]).assign(species=y), X["body_mass_g"].fillna(4200)).score(
        X.drop(columns=["body_mass_g"]).assign(species=y), X["body_mass_g"].fillna(4200)) > 0.6
    numbers = BackpropClassifier(hidden_layer_sizes=(4,), epochs=2, random_state=0).fit(np.ones((6, 2)), [0, 1] * 3)
    assert numbers.table_encoder_ is None                      # numbers go straight to the network


def test_an_estimator_after_the_table_encoder_sees_numbers_and_takes_their_defaults():
    # (as docs/sklearn.md says: the recipe is given to a frame the estimator encodes itself)
    from sklearn.pipeline import make_pipeline

    from backpropagation.sklearn import TableEncoder

    X, y = penguins_frame()
    own = BackpropClassifier(epochs=2, random_state=0).fit(X, y)
    piped = make_pipeline(TableEncoder(), BackpropClassifier(epochs=2, random_state=0)).fit(X, y)[-1]
    assert own.model_.layer_sizes[1:-1] == (32, 16) and own.model_.periodic is not None
    assert piped.model_.layer_sizes[1:-1] == (100,) and piped.model_.periodic is None
    frame_of_numbers = X.select_dtypes("number").fillna(0.0)
    assert BackpropClassifier(epochs=2, random_state=0).fit(frame_of_numbers, y).model_.layer_sizes[1:-1] == (100,)


@pytest.mark.parametrize("Estimator", [BackpropClassifier, BackpropRegressor])
def test_a_frame_of_numbers_without_gaps_fills_gaps_at_prediction_with_the_training_medians(Estimator):
    # (the gaps fall in the test rows only, as a 75/25 split of R's USMacroG table left them)
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"rate": rng.normal(5, 1, 60), "count": rng.integers(0, 9, 60).astype(float)})
    target = (frame["rate"] > 5).astype(int) if Estimator is BackpropClassifier else frame["rate"] * 2.0
    model = Estimator(hidden_layer_sizes=(4,), epochs=3, random_state=0).fit(frame, target)
    assert model.table_encoder_ is None                            # (numbers: the array's path, as before)
    np.testing.assert_array_equal(model.fill_values_, frame.median().to_numpy())
    new = frame.head(5).copy()
    new.loc[[1, 3], "rate"] = np.nan
    with pytest.warns(UserWarning, match=r"where the training frame held none: 'rate' \(2\); filled with the training"):
        predicted = model.predict(new)
    by_hand = new.fillna({"rate": frame["rate"].median()})
    np.testing.assert_array_equal(predicted, model.predict(by_hand))
    if Estimator is BackpropClassifier:
        with pytest.warns(UserWarning, match="filled with the training medians"):
            assert np.isfinite(model.predict_proba(new)).all()
    with pytest.raises(ValueError, match="NaN"):
        Estimator(hidden_layer_sizes=(4,), epochs=3, random_state=0).fit(frame.to_numpy(), target).predict(
            new.to_numpy())                                     # (arrays: scikit-learn's refusal, unchanged)
    spelled = new.astype({"rate": object})                      # text cells, as a CSV read without dtypes gives
    spelled.loc[[1, 3], "rate"] = [" N/A", "?"]
    spelled.loc[0, "rate"] = str(new.loc[0, "rate"])
    with pytest.warns(UserWarning, match=r"'rate' \(2\)"):
        np.testing.assert_array_equal(model.predict(spelled), predicted)
    spelled.loc[4, "rate"] = "fast"
    with pytest.raises(ValueError, match="X column 'rate': row 4 holds 'fast' where the training frame held numbers"):
        model.predict(spelled)
    commas = new.fillna(1.5).astype({"rate": object})           # (read as the command reads a file's cells)
    commas["rate"] = [f"{value:.2f}".replace(".", ",") for value in new["rate"].fillna(1.5)]
    with pytest.raises(ValueError, match="X column 'rate' holds numbers written with a comma .*give them as numbers"):
        model.predict(commas)


def test_an_estimator_on_a_raw_frame_warns_of_unseen_categories_and_text_read_as_missing():
    X, y = penguins_frame()
    model = BackpropClassifier(hidden_layer_sizes=(4,), epochs=2, random_state=0).fit(X, y)
    new = X.head(3).astype({"bill_length_mm": object}).copy()
    new.loc[1, "bill_length_mm"] = "long"
    new.loc[2, "island"] = "Atlantis"
    with pytest.warns(UserWarning) as caught:
        model.predict(new)
    said = " ".join(str(w.message) for w in caught)
    assert "1 value(s) of 'island' were categories unseen in training" in said
    assert "numeric column 'bill_length_mm' hold text, read as missing (first: data row 2 holds 'long')" in said
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")                         # rows as the training rows: nothing to say
        model.predict(X.head(3))


def test_the_estimators_take_embed_for_a_raw_frame_s_text_columns():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "store": [f"s{i}" for i in rng.integers(0, 60, 300)]})
    y = frame["x"] + frame["store"].str[1:].astype(int) / 30
    regressor = BackpropRegressor(hidden_layer_sizes=(8,), epochs=5, embed={"store": 3}, random_state=0)
    regressor.fit(frame, y)
    assert [e.dim for e in regressor.model_.embeddings] == [3] and regressor.model_.layer_sizes[0] == 2
    assert regressor.predict(frame).shape == (300,)
    with pytest.raises(ValueError, match="embed: embeddings learn a raw DataFrame's text columns"):
        BackpropRegressor(epochs=1, embed={"x": 2}).fit(np.ones((10, 2)), np.ones(10))
