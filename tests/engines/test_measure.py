"""engines/measure.py: the engine and the BLAS threads chosen by timing the job's own batches."""

import contextlib
import time

import numpy as np
import pytest

from backpropagation import NeuralNetwork, engines
from backpropagation.engines import measure


def test_seconds_per_call_keeps_the_fastest_of_at_least_a_few_calls():
    calls = []

    def step():
        calls.append(1)
        time.sleep(0.002 if len(calls) % 2 else 0.0)

    assert measure.seconds_per_call(step, budget=0.0, least=4) < 0.002 and len(calls) == 5   # (one warm-up)


class FakeBLAS:
    """A controller that reports two BLAS threads and records the limits asked for."""

    def __init__(self):
        self.limited = False

    def select(self, user_api):
        return self

    def info(self):
        return [{"num_threads": 2}]

    @contextlib.contextmanager
    def limit(self, limits, user_api):
        self.limited = True
        yield
        self.limited = False


@pytest.mark.parametrize("one_is_faster", [True, False])
def test_the_numpy_engine_takes_one_blas_thread_where_it_measures_faster(monkeypatch, one_is_faster):
    fake = FakeBLAS()
    monkeypatch.setattr(measure, "blas_controller", lambda: fake)
    model = NeuralNetwork([4, 8, 1], dropout=0.5, random_state=0)
    X, Y = np.zeros((32, 4)), np.zeros((32, 1))
    real = model.backprop.loss_and_gradients

    def timed(*args, **kwargs):               # a busy machine: two threads wait for each other
        time.sleep(0.004 if fake.limited != one_is_faster else 0.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(model.backprop, "loss_and_gradients", timed)
    state = model.dropout_rng.bit_generator.state
    threads, timing = measure.blas_threads(model, X, Y, 32)
    assert threads == (1 if one_is_faster else None)
    assert set(timing) == {"numpy, 2 BLAS threads", "numpy, 1 BLAS thread"}
    assert model.dropout_rng.bit_generator.state == state           # dropout's draws left as they were


def test_a_fit_holds_blas_to_what_measured_faster(monkeypatch):
    held = []
    monkeypatch.setattr(engines, "AUTO_MIN_SECONDS", 0.0)
    monkeypatch.setattr(measure, "blas_threads", lambda *a: (1, {"numpy, 1 BLAS thread": 1e-4}))
    monkeypatch.setattr(measure, "holding_blas", lambda threads: held.append(threads) or contextlib.nullcontext())
    model = NeuralNetwork([4, 8, 1], engine="numpy", random_state=0)
    model.fit(np.zeros((64, 4)), np.zeros(64), epochs=1, verbose=0)
    assert held == [1] and model.engine_timing_ == {"numpy, 1 BLAS thread": 1e-4}


def test_short_jobs_and_mpi_are_not_measured(monkeypatch):
    monkeypatch.setattr(measure, "blas_threads", lambda *a: pytest.fail("measured a short job"))
    model = NeuralNetwork([4, 8, 1], random_state=0)
    model.fit(np.zeros((64, 4)), np.zeros(64), epochs=1, verbose=0)
    assert model.engine_timing_ == {}
    assert engines.decide(model, np.zeros((64, 4)), np.zeros((64, 1)), 10**7, 32, 100, distributed=True) is None


def test_auto_takes_numba_only_where_it_measures_faster():
    pytest.importorskip("numba")
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(512, 64)), rng.normal(size=(512, 1))
    model = NeuralNetwork([64, 256, 256, 1], random_state=0)
    before = model.parameters.copy()
    name, why, timing = measure.faster_engine(model, X, Y, 32, estimate=1e6)
    assert set(timing) == {"numpy", "numba"} and np.array_equal(model.parameters, before)    # trials on copies
    assert name == ("numba" if timing["numba"] * measure.NUMBA_MARGIN < timing["numpy"] else "numpy")
    assert (why == "") == (name == "numba")


def test_auto_does_not_compile_numba_for_a_job_too_short_to_pay(monkeypatch):
    monkeypatch.setattr(measure, "numba_compiled_before", lambda: False)
    name, why, timing = measure.faster_engine(NeuralNetwork([4, 8, 1]), None, None, 32, estimate=30)
    assert name == "numpy" and "never compiled here" in why and timing == {}


def test_a_measurement_serves_later_fits_of_the_same_network_and_batch_size(monkeypatch):
    calls = []
    monkeypatch.setattr(engines, "AUTO_MIN_SECONDS", 0.0)
    monkeypatch.setattr(measure, "blas_threads", lambda *a: calls.append(1) or (1, {"numpy, 1 BLAS thread": 1e-4}))
    model = NeuralNetwork([4, 8, 1], engine="numpy", random_state=0)
    for _ in range(3):                                   # e.g. the pools of a streamed table
        model.fit(np.zeros((64, 4)), np.zeros(64), epochs=1, batch_size=16, verbose=0)
    assert len(calls) == 1 and model.engine_timing_ == {"numpy, 1 BLAS thread": 1e-4}
    model.fit(np.zeros((64, 4)), np.zeros(64), epochs=1, batch_size=8, verbose=0)
    assert len(calls) == 2                               # another batch size: measured again
