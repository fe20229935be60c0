"""engines/blas_work.py: which networks' products are large enough to wake BLAS's threads."""

from backpropagation import NeuralNetwork
from backpropagation.engines import blas_work


def test_only_products_large_enough_for_blas_threads_count_as_threaded():
    assert not blas_work.wakes_blas_threads(NeuralNetwork([64, 64, 10]), 32)        # digits-sized: one thread
    assert blas_work.wakes_blas_threads(NeuralNetwork([3100, 32, 1]), 32)           # a one-hot table: threads
    assert blas_work.wakes_blas_threads(NeuralNetwork([64, 64, 10]), 64)            # the same network, 64 rows


def test_a_sparse_first_layer_leaves_blas_only_the_products_above_it():
    model = NeuralNetwork([3100, 32, 1])
    assert blas_work.wakes_blas_threads(model, 32) and not blas_work.wakes_blas_threads(model, 32, skip_first=True)
    assert blas_work.wakes_blas_threads(NeuralNetwork([3100, 512, 512, 1]), 32, skip_first=True)
