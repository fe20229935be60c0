"""training/table_defaults.py: the defaults a table gets, shared by backprop train and the estimators."""

import pytest

from backpropagation.training import table_defaults


@pytest.mark.parametrize("rows, batch", [(0, 32), (406, 32), (16_383, 32), (16_384, 64), (32_767, 64),
                                         (32_768, 128), (35_273, 128), (65_535, 128), (65_536, 256),
                                         (10**8, 256)])
def test_the_batch_doubles_from_32_while_an_epoch_keeps_256_steps_up_to_256(rows, batch):
    assert table_defaults.batch_size(rows) == batch
    assert rows // batch >= table_defaults.STEPS_PER_EPOCH or batch == table_defaults.BATCH_SIZE
