import numpy as np
import pytest

from saeprobe.splits import normal_split, normal_train_size, train_test_indices, validation_splits


@pytest.mark.parametrize("n, expected", [(5000, 1024), (1124, 1024), (1000, 900), (786, 686), (120, 20)])
def test_normal_train_size(n, expected):
    assert normal_train_size(n) == expected


def test_normal_train_size_rejects_tiny_datasets():
    with pytest.raises(ValueError, match="needs at least 120"):
        normal_train_size(110)


def test_normal_split_is_disjoint_complete_stratified_and_seeded():
    labels = np.repeat([0, 1], 500)
    train, test = normal_split(labels)
    assert len(train) == 900 and len(test) == 100
    assert set(train).isdisjoint(test) and set(train) | set(test) == set(range(1000))
    assert labels[train].sum() == 450  # ceil(0.5 * 900) positives
    again = normal_split(labels)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])


def test_training_rows_match_the_reference_draw():
    # The reference (utils_data.get_train_test_indices) seeds numpy's global
    # generator with 42, draws positives, then negatives, then permutes.
    labels = np.random.default_rng(5).permutation(np.repeat([0, 1], 300))
    np.random.seed(42)
    pos = np.random.choice(np.where(labels == 1)[0], size=250, replace=False)
    neg = np.random.choice(np.where(labels == 0)[0], size=250, replace=False)
    train, _ = train_test_indices(labels, 500)
    assert set(train) == set(pos) | set(neg)


def test_unbalanced_labels_keep_their_ratio():
    labels = np.array([1] * 100 + [0] * 300)
    train, test = normal_split(labels)
    assert len(train) == 300 and labels[train].sum() == 75


def test_validation_holdout_for_large_n():
    splits = validation_splits(np.tile([0, 1], 512))
    assert len(splits) == 1
    fit, val = splits[0]
    assert np.array_equal(val, np.arange(924, 1024)) and np.array_equal(fit, np.arange(924))
    fit, val = validation_splits(np.tile([0, 1], 100))[0]
    assert len(val) == 40  # 20% below 500 rows


def test_validation_folds_for_small_n():
    labels = np.tile([0, 1], 30)
    splits = validation_splits(labels)
    assert len(splits) == 6
    assert sorted(np.concatenate([val for _, val in splits]).tolist()) == list(range(60))
    tiny = validation_splits(np.array([0, 1, 0, 1, 0, 1]))
    assert len(tiny) == 9  # leave-two-out pairs holding both classes: 3 x 3
    assert all(len(set(np.array([0, 1, 0, 1, 0, 1])[val])) == 2 for _, val in tiny)
