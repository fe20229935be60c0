"""engines/measure.py: the engine and the BLAS threads chosen by timing the job's own training steps."""

import contextlib

import numpy as np
import pytest

from backpropagation import NeuralNetwork, engines
from backpropagation.engines import measure


def test_seconds_per_call_is_the_median_of_at_least_a_few_timed_calls_after_a_warm_up(monkeypatch):
    clock = [0.0]
    durations = iter([5.0, 0.001, 0.004, 0.002, 0.003])   # a slow first call (warm-up), then four timed
    monkeypatch.setattr(measure.time, "perf_counter", lambda: clock[0])

    def step():
        clock[0] += next(durations)

    assert measure.seconds_per_call(step, budget=0.0, least=4) == pytest.approx(0.0025)   # not the warm-up's 5 s


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


def slow_when(fake, monkeypatch, one_is_faster):
    """Every training step takes 4 ms of a fake clock while BLAS is held to the thread count that
    is slower here (a busy machine: two threads wait for each other, or one cannot keep up), 1 ms
    otherwise: the trials read the clock, so no real timing (and no loaded machine) decides."""
    from backpropagation.engines import numpy_engine

    real, clock = numpy_engine.NumpyEngine.chunks, [0.0]
    monkeypatch.setattr(measure.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(measure.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))

    def chunks(self, *args, **kwargs):
        for result in real(self, *args, **kwargs):
            clock[0] += 0.004 if fake.limited != one_is_faster else 0.001
            yield result
    monkeypatch.setattr(numpy_engine.NumpyEngine, "chunks", chunks)


@pytest.mark.parametrize("one_is_faster", [True, False])
def test_the_reference_engine_takes_one_blas_thread_where_its_steps_measure_faster(monkeypatch, one_is_faster):
    fake = FakeBLAS()
    monkeypatch.setattr(measure, "blas_controller", lambda: fake)
    slow_when(fake, monkeypatch, one_is_faster)
    model = NeuralNetwork([64, 256, 1], dropout=0.5, random_state=0)    # (32 × 64 × 256: BLAS's threads wake)
    model.fit(np.zeros((32, 64)), np.zeros(32), epochs=1, verbose=0)
    before, masks = model.parameters.copy(), model.dropout_rng.bit_generator.state
    threads, timing = measure.blas_threads(model, np.zeros((64, 64)), np.zeros((64, 1)), 32, budget=0.0)
    assert threads == (1 if one_is_faster else None)
    assert set(timing) == {"numpy, 2 BLAS threads", "numpy, 1 BLAS thread"}
    np.testing.assert_array_equal(model.parameters, before)                 # trials run on a copy
    assert model.dropout_rng.bit_generator.state == masks                   # dropout's draws left as they were


def test_a_long_fit_holds_blas_to_what_measured_faster(monkeypatch):
    fake = FakeBLAS()
    monkeypatch.setattr(measure, "blas_controller", lambda: fake)
    slow_when(fake, monkeypatch, one_is_faster=True)
    monkeypatch.setattr(engines, "AUTO_MIN_SECONDS", 0.0)               # (every job counts as long)
    held = []
    real = measure.holding_blas
    monkeypatch.setattr(measure, "holding_blas", lambda threads: held.append(threads) or real(threads))
    model = NeuralNetwork([64, 256, 1], engine="numpy", random_state=0)
    model.fit(np.zeros((64, 64)), np.zeros(64), epochs=1, verbose=0)
    assert held[-1] == 1 and set(model.engine_timing_) == {"numpy, 2 BLAS threads", "numpy, 1 BLAS thread"}


def test_a_job_whose_products_never_wake_blas_threads_is_measured_once(monkeypatch):
    fake = FakeBLAS()
    monkeypatch.setattr(measure, "blas_controller", lambda: fake)
    monkeypatch.setattr(engines, "AUTO_MIN_SECONDS", 0.0)
    trials = []
    real = measure.trial
    monkeypatch.setattr(measure, "trial", lambda *args, **kw: trials.append(args[1]) or real(*args, **kw))
    model = NeuralNetwork([4, 8, 1], engine="numpy", random_state=0)     # 32 × 4 × 8 multiply-adds at most
    model.fit(np.zeros((64, 4)), np.zeros(64), epochs=1, verbose=0)
    # (a job this short: the estimate's reading, which a trial within its budget would only repeat)
    assert trials == ["numpy"] and set(model.engine_timing_) == {"numpy"} and not fake.limited


def test_a_short_job_costs_two_steps_of_measuring_and_mpi_none(monkeypatch):
    trials = []
    real = measure.trial
    monkeypatch.setattr(measure, "trial", lambda *args, **kw: trials.append(args[1]) or real(*args, **kw))
    model = NeuralNetwork([4, 8, 1], engine="numpy", random_state=0)
    model.fit(np.zeros((64, 4)), np.zeros(64), epochs=1, verbose=0)
    assert trials == ["numpy"] and set(model.engine_timing_) == {"numpy (estimate)"}
    assert engines.decide(model, np.zeros((64, 4)), np.zeros((64, 1)), 10**7, 32, 100, distributed=True) is None


def test_auto_takes_numba_only_where_its_steps_measure_faster(monkeypatch):
    pytest.importorskip("numba")
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(512, 64)), rng.normal(size=(512, 1))
    model = NeuralNetwork([64, 256, 256, 1], random_state=0)
    model.backprop.loss_and_gradients(X[:32], model.task_.fit_encode(Y[:32, 0], model.dtype))
    before = model.parameters.copy()
    timing, parts, why_not = measure.numba_trials(model, X, Y, 32, 1e6, budget=0.0)
    assert "numba" in timing and why_not == ""
    np.testing.assert_array_equal(model.parameters, before)                 # trials run on copies
    for numpy_step, expected in ((1e3, "numba"), (1e-9, "numpy")):         # a reference far slower, far faster
        name, why = measure.faster_engine(timing, why_not, numpy_step)
        assert name == expected and (why == "") == (name == "numba")


def test_auto_does_not_compile_numba_for_a_job_too_short_to_pay(monkeypatch):
    monkeypatch.setattr(measure, "numba_compiled_before", lambda: False)
    timing, parts, why_not = measure.numba_trials(NeuralNetwork([4, 8, 1]), None, None, 32, 30.0, 0.0)
    assert timing == {} and parts is None and "never compiled here" in why_not
    assert measure.faster_engine(timing, why_not, 1e-3) == ("numpy", why_not)


@pytest.mark.parametrize("numba_step, numpy_timed", [(1e-4, False), (5e-4, True), (2e-3, True)])
@pytest.mark.parametrize("width", [8, 4096])
def test_numba_far_faster_than_the_estimate_spares_the_references_thread_trials(monkeypatch, numba_step,
                                                                                 numpy_timed, width):
    # The estimate says 1 ms per reference step: numba at 0.1 ms decides alone; at 0.5 ms the
    # reference's BLAS threads might still matter, and at 2 ms it loses. Where the products wake
    # BLAS's threads (4096 units), the reference is timed first, as before.
    timed = []
    monkeypatch.setattr(engines, "choose", lambda model, distributed: "numba")
    monkeypatch.setattr(measure, "estimate", lambda *args: (1e-3, 100.0))
    monkeypatch.setattr(measure, "numba_trials", lambda *args: timed.append("numba") or ({"numba": numba_step}, None,
                                                                                         ""))
    monkeypatch.setattr(measure, "blas_threads", lambda *args: timed.append("numpy") or (None, {"numpy": 1e-3}))
    monkeypatch.setattr(measure, "numba_compiled_before", lambda: True)
    model = NeuralNetwork([4, width, 1], engine="auto", random_state=0)
    engines.decide(model, np.ones((64, 4)), np.zeros((64, 1)), 10**6, 32, 100, distributed=False)
    expected = ["numpy", "numba"] if width == 4096 else ["numba", "numpy"] if numpy_timed else ["numba"]
    assert timed == expected
    assert model.engine_ == ("numba" if numba_step < 1e-3 / measure.NUMBA_MARGIN else "numpy")
    assert model.engine_timing_["numba"] == numba_step and (model.engine_reason_ is None) == (model.engine_ == "numba")
    # Mostly zeros (one-hot columns): numba's first layer loops over the nonzeros and its other
    # product wakes no BLAS threads, so its trial runs on one core, first, as for small products.
    timed.clear()
    engines.decide(NeuralNetwork([4, width, 1], engine="auto", random_state=0), np.eye(64, 4), np.zeros((64, 1)),
                   10**6, 32, 100, distributed=False)
    assert timed == (["numba", "numpy"] if numpy_timed else ["numba"])
    # ... but not where its threads would share the batches (the reference's one-thread trial
    # runs while the estimate's BLAS threads spin, and numba's threads then need not wait).
    from backpropagation.engines import numba_engine

    timed.clear()
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: 2)
    engines.decide(NeuralNetwork([4, width, 1], engine="auto", random_state=0), np.eye(64, 4), np.zeros((64, 1)),
                   10**6, 32, 100, distributed=False)
    assert timed == (["numpy", "numba"] if width == 4096 else ["numba", "numpy"] if numpy_timed else ["numba"])


def test_auto_asks_nothing_of_numba_s_kernels_where_they_were_never_compiled_and_would_not_pay(monkeypatch):
    monkeypatch.setattr(engines, "choose", lambda model, distributed: "numba")
    monkeypatch.setattr(measure, "estimate", lambda *args: (1e-3, 100.0))
    monkeypatch.setattr(measure, "numba_compiled_before", lambda: False)
    monkeypatch.setattr(measure, "numba_on_one_core", lambda *args: pytest.fail("imports numba"))
    model = NeuralNetwork([4, 4096, 1], engine="auto", random_state=0)
    engines.decide(model, np.ones((64, 4)), np.zeros((64, 1)), 10**6, 32, 100, distributed=False)
    assert model.engine_ == "numpy" and "never compiled here" in model.engine_reason_


def test_a_measurement_serves_later_fits_of_the_same_network_and_batch_size(monkeypatch):
    trials = []
    real = measure.trial
    monkeypatch.setattr(measure, "trial", lambda *args, **kw: trials.append(args[4]) or real(*args, **kw))
    model = NeuralNetwork([4, 8, 1], engine="numpy", random_state=0)
    for _ in range(3):                                   # e.g. partial_fit, one epoch at a time
        model.fit(np.zeros((64, 4)), np.zeros(64), epochs=1, batch_size=16, verbose=0)
    assert trials == [16]
    model.fit(np.zeros((64, 4)), np.zeros(64), epochs=1, batch_size=8, verbose=0)
    assert trials == [16, 8]                             # another batch size: measured again


def test_a_short_job_measures_numba_once_where_this_process_holds_its_kernels(monkeypatch):
    pytest.importorskip("numba")
    X, y = np.random.default_rng(0).normal(size=(64, 4)), np.zeros(64)
    monkeypatch.setattr(engines, "_short_choices", {})
    from backpropagation.engines import numba_engine

    monkeypatch.setattr(numba_engine, "_loaded_dtypes", set())
    model = NeuralNetwork([4, 8, 1], random_state=0)
    model.fit(X, y, epochs=1, batch_size=1, verbose=0)
    assert model.engine_ == "numpy" and "too short to pay for loading" in model.engine_reason_
    NeuralNetwork([4, 8, 1], engine="numba", random_state=0).fit(X, y, epochs=1, verbose=0)   # loads them
    trials = []
    real, real_numba = measure.trial, measure.numba_seconds
    monkeypatch.setattr(measure, "trial", lambda *args, **kw: trials.append(args[1]) or real(*args, **kw))
    # (numba's steps are run, and said to take a nanosecond: which engine is faster is not the point here)
    monkeypatch.setattr(measure, "numba_seconds", lambda *args, **kw: real_numba(*args, **kw) * 0 + 1e-9)
    fits = [NeuralNetwork([4, 8, 1], random_state=0) for _ in range(2)]
    for fitted in fits:
        fitted.fit(X, y, epochs=1, batch_size=1, verbose=0)
    assert trials == ["numba"]     # the first fit's estimate stands for both, numba is timed once
    assert [fitted.engine_ for fitted in fits] == ["numba", "numba"] and "numba" in fits[1].engine_timing_
    np.testing.assert_array_equal(fits[0].parameters, fits[1].parameters)
    other = NeuralNetwork([4, 8, 1], engine="numpy", random_state=0)
    other.fit(X, y, epochs=1, batch_size=1, verbose=0)
    assert other.engine_ == "numpy" and trials[-1] == "numpy"         # engine="numpy" is never measured against


def test_a_short_job_s_estimate_is_reused_by_later_short_fits_of_the_same_network_only(monkeypatch):
    trials = []
    real = measure.trial
    monkeypatch.setattr(measure, "trial", lambda *args, **kw: trials.append(args[1]) or real(*args, **kw))
    X, y = np.random.default_rng(0).normal(size=(64, 4)), np.zeros(64)
    fits = [NeuralNetwork([4, 8, 1], engine="numpy", random_state=0) for _ in range(3)]
    for fitted in fits:
        fitted.fit(X, y, epochs=2, batch_size=8, verbose=0)
    assert len(trials) == 1                                       # the first fit's estimate only
    assert all(f.engine_timing_ == fits[0].engine_timing_ for f in fits)
    np.testing.assert_array_equal(fits[0].parameters, fits[2].parameters)
    for other, batch_size in ((NeuralNetwork([4, 9, 1], engine="numpy"), 8),          # another network,
                              (NeuralNetwork([4, 8, 1], engine="numpy", dropout=0.1), 8),   # its dropout,
                              (NeuralNetwork([4, 8, 1], engine="numpy"), 4)):        # another batch size
        other.fit(X, y, epochs=2, batch_size=batch_size, verbose=0)
    assert len(trials) == 4
    step = fits[0].engine_timing_["numpy (estimate)"]
    many = int(engines.AUTO_MIN_SECONDS / step) * 8               # rows the step puts past half the line
    engines.short_job_estimate(fits[0], X, y[:, None], 8, many, 1, engines.job_shape(
        fits[0], ("numpy", 8, fits[0].n_parameters, fits[0].dtype.str)))
    assert len(trials) == 5                                       # a job that may be long: measured again


@pytest.mark.parametrize("threads, seconds, most_wait", [(1, 0.1, 0.0), (2, 1.0, float("inf")), (2, 0.3, None)])
def test_a_short_job_s_numba_trial_waits_for_spinning_blas_threads_only_where_numba_shares_the_batches(
        monkeypatch, threads, seconds, most_wait):
    # One thread: timed at once (the estimate's BLAS threads spin on the other core). Threads that
    # share the batches: their trial waits, and a job too short for that wait to pay is not timed.
    pytest.importorskip("numba")
    from backpropagation.engines import numba_engine

    waits = []
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: threads)
    monkeypatch.setattr(measure, "numba_trials", lambda *args: waits.append(measure._most_wait) or ({"numba": 1e-9},
                                                                                                    None, ""))
    model = NeuralNetwork([4, 8, 1], random_state=0)
    engine, reason, timing, _, _ = engines.measure_short_job(model, np.zeros((64, 4)), np.zeros((64, 1)), 32,
                                                             1e-3, seconds)
    if most_wait is None:
        assert waits == [] and engine == "numpy" and "too short to pay for timing numba's threads" in reason
    else:
        assert waits == [most_wait] and engine == "numba" and reason is None and timing["numba"] == 1e-9


def test_waiting_at_most_caps_how_long_a_trial_waits_for_another_s_spinning_threads(monkeypatch):
    slept = []
    monkeypatch.setattr(measure.time, "sleep", slept.append)
    for short in (True, False):
        monkeypatch.setattr(measure, "_spinning", ("numpy None", measure.time.perf_counter() + 10.0))
        with measure.waiting_at_most(0.0) if short else contextlib.nullcontext():
            measure.settle("numba None", True)
    assert slept[0] == 0.0 and 9.0 < slept[1] <= 10.0


def test_a_threaded_trial_after_a_threaded_one_of_another_kind_waits_until_its_threads_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(measure.time, "sleep", slept.append)
    monkeypatch.setattr(measure, "_spinning", (None, 0.0))  # (whatever ran before: waited out)
    measure.settle("numpy None", threaded=True)
    measure.settled()
    measure.settle("numpy None", threaded=True)             # the same kind meets its own threads: no wait
    measure.settled()
    measure.settle("numpy 1", threaded=False)               # one core: the spinning workers have the other
    measure.settled()
    assert not any(slept)
    measure.settle("numba None", threaded=True)             # another threaded kind: waits for them to sleep
    assert 0 < slept[-1] <= measure.SPIN_SECONDS
    measure.settled()
    measure.settle("numba None", threaded=True)             # its own threads: no wait
    assert len([s for s in slept if s > 0]) == 1


def test_trials_time_enough_batches_per_call_that_a_call_s_fixed_cost_fades():
    assert measure.trial_batches(1e-3, 0.1) == 33 and measure.trial_batches(1e-3, 0.0) == measure.TRIAL_BATCHES
    assert measure.trial_batches(1e-9, 0.1) == 256
    assert measure.trial_batches(1.0, 0.1) == measure.trial_batches(0.005, 0.01) == 2    # steps long enough


@pytest.mark.parametrize("width, step, timed", [(4096, 0.05, [1]), (4096, 1e-4, [1]), (8, 0.05, []),
                                                (8, 1e-4, [None])])
def test_the_estimate_serves_as_the_default_thread_trial_where_it_timed_as_much_or_blas_threads_wake(
        monkeypatch, width, step, timed):
    # Steps of 50 ms: the trial would time two batches twice, less than the estimate did. Steps of
    # 0.1 ms: it would time more batches a call, a finer reading, except where the products wake
    # BLAS's threads (4096 units), whose spin a second threaded trial would only restart.
    calls = []
    monkeypatch.setattr(measure, "blas_controller", lambda: FakeBLAS())
    monkeypatch.setattr(measure, "estimate", lambda *args: (step, 100.0))
    monkeypatch.setattr(measure, "numpy_seconds", lambda model, X, Y, batch_size, threads, *args: calls.append(threads)
                        or step)
    model = NeuralNetwork([4, width, 1], engine="numpy", random_state=0)
    engines.decide(model, np.zeros((64, 4)), np.zeros((64, 1)), 10**6, 32, 100, distributed=False)
    assert calls == timed
    default = "numpy, 2 BLAS threads" if width == 4096 else "numpy"
    assert model.engine_timing_[default] == step


@pytest.mark.parametrize("one_hot, waits", [(True, False), (False, True)])
def test_numba_s_trial_waits_for_blas_threads_only_where_its_own_products_wake_them(monkeypatch, one_hot, waits):
    # A one-hot first layer is the compiled engine's own loop over the nonzeros, on one core: the
    # reference's spinning BLAS threads have the other, so its trial starts at once (on the
    # one-hot benchmark the wait was 0.07 s of a 1.3 s fit). Dense, the same product is BLAS's.
    pytest.importorskip("numba")
    from backpropagation.engines import numba_engine

    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: 1)
    settled = []
    monkeypatch.setattr(measure, "settle", lambda which, threaded: settled.append((which, threaded)))
    rng = np.random.default_rng(0)
    X = np.zeros((64, 3000))
    X[np.arange(64), rng.integers(0, 3000, 64)] = 1.0
    if not one_hot:
        X += rng.normal(size=X.shape)
    model = NeuralNetwork([3000, 32, 1], random_state=0)
    measure.numba_seconds(model, X, rng.normal(size=(64, 1)), 32, budget=0.0)
    assert settled == [("numba None", waits)]



def test_paired_seconds_times_the_two_in_turn_so_that_a_slow_spell_falls_on_both(monkeypatch):
    # A fake machine that runs at half speed from t = 1: one-after-the-other trials would time
    # ``alone`` (1.0 a call) before the spell and ``shared`` (0.8 a call) in it, 1.6, and take the
    # wrong one; in turn, both meet the spell alike.
    clock, calls = [0.0], []
    monkeypatch.setattr(measure.time, "perf_counter", lambda: clock[0])

    def step(name, cost):
        def run():
            calls.append(name)
            clock[0] += cost * (2.0 if clock[0] >= 1.0 else 1.0)
        return run

    one, many = measure.paired_seconds(step("alone", 1.0), step("shared", 0.8), budget=4.0)
    assert many < one
    assert calls[:2] == ["alone", "shared"] and calls[2::2] == ["shared"] * len(calls[2::2])
    assert calls.count("alone") == calls.count("shared")


def test_paired_seconds_leads_with_the_one_core_calls_until_the_other_threads_sleep(monkeypatch):
    clock, calls = [0.0], []
    monkeypatch.setattr(measure.time, "perf_counter", lambda: clock[0])

    def step(name):
        def run():
            calls.append(name)
            clock[0] += 0.25
        return run

    measure.paired_seconds(step("alone"), step("shared"), budget=0.0, lead_until=1.0,
                           ready=lambda: calls.append(f"ready at {clock[0]:.2f}"))
    assert calls[:5] == ["alone"] * 4 + ["ready at 1.00"]          # (a warm-up, then timed until 1.0)
    assert calls[5:] == ["shared", "shared", "alone", "shared", "alone"]


def test_numba_s_thread_counts_are_timed_in_turn_and_after_the_reference_s_blas_threads_sleep(monkeypatch):
    pytest.importorskip("numba")
    from backpropagation.engines import numba_engine

    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: 2)
    fake = FakeBLAS()
    monkeypatch.setattr(measure, "blas_controller", lambda: fake)
    clock, order = [0.0], []
    monkeypatch.setattr(measure.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(measure.time, "sleep", lambda seconds: seconds > 0 and order.append(f"slept {seconds}"))

    def fake_trial(model, name, X, Y, batch_size, parts=None, batches=measure.TRIAL_BATCHES):
        def run():
            order.append(f"parts {parts} {'held' if fake.limited else 'free'}")
            clock[0] += 0.25 if parts == 1 else 0.125         # the shared threads twice as fast
        return run, 2, None
    monkeypatch.setattr(measure, "trial", fake_trial)
    monkeypatch.setattr(measure, "_spinning", ("numpy None", 1.0))    # the reference's BLAS threads spin until 1.0
    timing, parts, why_not = measure.numba_trials(NeuralNetwork([4, 8, 1]), None, None, 32, 1e6, budget=0.0)
    assert timing == {"numba, 1 thread": pytest.approx(0.125), "numba": pytest.approx(0.0625)} and parts is None
    assert order[:5] == ["parts 1 held"] * 4 + ["parts None free"]       # led until 1.0, then no wait
    assert not any(entry.startswith("slept") for entry in order)
    assert set(order[4:]) == {"parts 1 held", "parts None free"} and measure._spinning[0] == "numba None"
