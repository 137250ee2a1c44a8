"""DataModules of generated examples (rows, pointer sets, bags): fixed evaluation sets, fresh
training batches, one-line errors."""

import pytest
import torch

from foveate.data.reading import RowsDataModule
from foveate.data.sets import BagsDataModule, PointerSetsDataModule

MODULES = [RowsDataModule, PointerSetsDataModule, BagsDataModule]


def first(loader):
    return next(iter(loader))


@pytest.mark.parametrize("module", MODULES)
def test_evaluation_sets_are_fixed_and_training_batches_fresh(module):
    a, b = (
        module(sample=True, val_size=64, test_size=64),
        module(sample=True, val_size=64, test_size=64),
    )
    a.setup("fit"), b.setup("fit")
    for split in ("val_dataloader", "test_dataloader"):
        x, truth = first(getattr(a, split)())
        y, again = first(getattr(b, split)())
        assert torch.equal(x, y) and all(torch.equal(truth[k], again[k]) for k in truth)
    one, _ = first(a.train_dataloader())
    two, _ = first(a.train_dataloader())
    assert not torch.equal(one, two)
    # validation and test come from different digits
    val, _ = first(a.val_dataloader())
    test, _ = first(a.test_dataloader())
    assert not torch.equal(val, test)
    assert 0 <= float(one.min()) and float(one.max()) <= 1


@pytest.mark.parametrize("module", MODULES)
def test_bad_sizes_are_one_line_errors(module):
    with pytest.raises(ValueError, match="batch_size must be positive"):
        module(sample=True, batch_size=0)
    with pytest.raises(ValueError, match="reads the IDX files"):
        module(dataset="idx")


def test_rows_tell_the_model_their_size():
    data = RowsDataModule(lengths=(1, 2, 3), sample=True)
    assert data.input_shape == (1, 36, 3 * 28 + 2 * 4)
    assert data.model_defaults()["max_length"] == 3
