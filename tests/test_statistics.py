"""Statistics merged over ranks in constant size: exact order statistics, filled mean and std."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from threaded_comm import run_ranks

from backpropagation.statistics import Moments, Totals, filled_mean_std, medians, merged, order_statistics

values = st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64) | st.sampled_from([0.0, -0.0, 1.0]),
                  min_size=1, max_size=60)


def split(array, n):
    return np.array_split(np.asarray(array, dtype=np.float64), n)


@settings(max_examples=60, deadline=None)
@given(data=values, ranks=st.integers(1, 4))
def test_order_statistics_over_ranks_are_exact(data, ranks):
    whole = np.sort(np.asarray(data, dtype=np.float64))
    positions = sorted({0, len(whole) // 2, len(whole) - 1})
    found = run_ranks(ranks, lambda comm: order_statistics(
        [split(data, comm.Get_size())[comm.Get_rank()]] * len(positions), positions, Totals(comm)))
    for result in found:
        assert result == [whole[p] for p in positions]


@settings(max_examples=40, deadline=None)
@given(data=values, ranks=st.integers(2, 4))
def test_median_over_ranks_equals_numpy_median_of_the_whole(data, ranks):
    found = run_ranks(ranks, lambda comm: medians([split(data, comm.Get_size())[comm.Get_rank()]], Totals(comm)))
    ordered = np.sort(np.asarray(data, dtype=np.float64))
    low, high = ordered[(len(data) - 1) // 2], ordered[len(data) // 2]
    with np.errstate(over="ignore"):
        expected = float(np.median(data))
    if not np.isfinite(expected):                 # (NumPy's (a + b)/2 overflows near the limit)
        expected = float(low / 2 + high / 2)
    assert {r[0] for r in found} == {expected}
    assert medians([np.asarray(data, dtype=np.float64)], Totals()) == [expected]
    assert medians([np.asarray(data, dtype=np.float64)], Totals(), reorder=True) == [expected]


def test_median_of_two_values_near_the_float_limit_does_not_overflow():
    huge = np.finfo(np.float64).max
    assert medians([np.array([huge, huge * 0.5])], Totals()) == [huge * 0.75]
    assert medians([np.array([huge, huge])], Totals()) == [huge]


def test_filled_mean_and_std_are_those_of_the_filled_column():
    rng = np.random.default_rng(0)
    present = rng.normal(5.0, 2.0, size=101)
    filled = np.concatenate([present, np.full(9, 4.5)])

    def work(comm):
        mine = split(present, comm.Get_size())[comm.Get_rank()]
        return filled_mean_std([mine], [4.5], [9], Totals(comm))

    for mean, std in run_ranks(3, work):
        np.testing.assert_allclose([mean[0], std[0]], [filled.mean(), filled.std()], rtol=1e-13)


def test_the_merged_summary_does_not_grow_with_the_rows():
    sent = []

    class Counting(Totals):
        def gather(self, part):
            sent.append(np.asarray(part).nbytes)
            return [part]

    for n in (1_000, 100_000):
        sent.clear()
        medians([np.random.default_rng(1).normal(size=n)], Counting(comm=object()))
        assert max(sent) <= 256 * 8                   # one 256-bin histogram per round


@settings(max_examples=60, deadline=None)
@given(offset=st.sampled_from([0.0, 1e8, 1.7e9, -3e12]), spread=st.sampled_from([1e-3, 1.0, 20.0]),
       parts=st.integers(1, 7), seed=st.integers(0, 2**32 - 1))
def test_moments_merged_from_parts_equal_two_passes_over_the_whole_on_offset_heavy_tailed_data(
        offset, spread, parts, seed):
    rng = np.random.default_rng(seed)
    data = offset + spread * rng.standard_t(3, size=rng.integers(2, 400))
    cuts = np.sort(rng.integers(0, len(data) + 1, parts - 1))
    whole = merged(Moments.of(part) for part in np.split(data, cuts))
    assert whole.count[0] == len(data)
    np.testing.assert_allclose(whole.mean[0], data.mean(), rtol=1e-15, atol=spread * 1e-9)
    # The data's own rounding (a spacing of eps·offset) bounds any method; E[x²] − m² misses by
    # eps·offset²/spread², orders of magnitude beyond this.
    np.testing.assert_allclose(whole.std[0], data.std(), rtol=1e-9 + 10 * np.finfo(float).eps * abs(offset) / spread)


def test_weighted_moments_count_each_row_as_often_as_its_weight():
    values, weights = np.array([1e9 + 1, 1e9 + 2, 1e9 + 4]), np.array([2.0, 0.0, 1.0])
    moments = Moments.of(values, weights)
    repeated = np.array([1e9 + 1, 1e9 + 1, 1e9 + 4])
    np.testing.assert_allclose([moments.mean[0], moments.std[0]], [repeated.mean(), repeated.std()], rtol=1e-12)


def test_moments_keep_the_smallest_and_largest_counted_value_through_merges():
    part = Moments.of(np.array([1.0, 5.0, 100.0]), np.array([1.0, 1.0, 0.0]))     # (weight 0: not counted)
    assert (part.low[0], part.high[0]) == (1.0, 5.0)
    whole = part.merge(Moments.of(np.array([-2.0, 3.0]))).merge(Moments.empty())
    assert (whole.low[0], whole.high[0]) == (-2.0, 5.0)
