import numpy as np
import pytest

from saeprobe.settings import IMBALANCE_POSITIVE_FRACTIONS
from saeprobe.splits import (
    SettingSkipped, flip_labels, imbalance_sizes, imbalance_split, normal_split, normal_train_size,
    ood_train_rows, scarcity_split, stratified_draw, validation_splits,
)


def reference_draw(y, num_train, num_test, pos_ratio, seed=42):
    # utils_data.get_train_test_indices, step by step, on numpy's global generator.
    np.random.seed(seed)
    pos, neg = np.where(y == 1)[0], np.where(y == 0)[0]
    n_pos = int(np.ceil(pos_ratio * num_train))
    n_test_pos = int(np.ceil(pos_ratio * num_test))
    train_pos = np.random.choice(pos, size=n_pos, replace=False)
    train_neg = np.random.choice(neg, size=num_train - n_pos, replace=False)
    test_pos = np.random.choice(np.setdiff1d(pos, train_pos), size=n_test_pos, replace=False)
    test_neg = np.random.choice(np.setdiff1d(neg, train_neg), size=num_test - n_test_pos, replace=False)
    return (np.random.permutation(np.concatenate([train_pos, train_neg])),
            np.random.permutation(np.concatenate([test_pos, test_neg])))


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


def test_normal_training_rows_are_the_references_in_its_order():
    # The order matters: the validation holdout is the last rows of the training set.
    labels = np.random.default_rng(5).permutation(np.repeat([0, 1], 300))
    train, test = normal_split(labels)
    ref_train, ref_test = reference_draw(labels, 500, 99, 0.5)
    assert np.array_equal(train, ref_train)
    assert set(test) == set(ref_test) | (set(range(600)) - set(ref_train) - set(ref_test))


def test_stratified_draw_is_the_reference_draw_at_any_ratio():
    labels = np.random.default_rng(1).permutation(np.repeat([0, 1], 400))
    for args in [(300, 100, 0.05), (300, 100, 0.95), (10, 0, 0.5)]:
        ours, ref = stratified_draw(labels, *args), reference_draw(labels, *args)
        assert all(np.array_equal(a, b) for a, b in zip(ours, ref))


def test_stratified_draw_skips_what_the_classes_cannot_supply():
    with pytest.raises(SettingSkipped, match="positive"):
        stratified_draw(np.repeat([0, 1], 50), 90, 0, 0.9)


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


def test_holdout_without_a_class_is_redrawn_stratified():
    labels = np.zeros(500, int)
    labels[:20] = 1  # none in the last 100 rows
    [(fit, val)] = validation_splits(labels)
    assert len(val) == 100 and set(labels[val]) == {0, 1} and set(labels[fit]) == {0, 1}
    assert sorted(np.concatenate([fit, val]).tolist()) == list(range(500))
    assert labels[val].sum() == 4  # stratified: 20% of the positives
    one_positive = np.zeros(500, int)
    one_positive[3] = 1
    assert validation_splits(one_positive) == []


def test_validation_folds_for_small_n():
    labels = np.tile([0, 1], 30)
    splits = validation_splits(labels)
    assert len(splits) == 6
    assert sorted(np.concatenate([val for _, val in splits]).tolist()) == list(range(60))
    tiny = validation_splits(np.array([0, 1, 0, 1, 0, 1]))
    assert len(tiny) == 9  # leave-two-out pairs holding both classes: 3 x 3
    assert all(len(set(np.array([0, 1, 0, 1, 0, 1])[val])) == 2 for _, val in tiny)


def test_scarcity_keeps_100_test_rows_or_skips():
    labels = np.repeat([0, 1], 500)
    train, test = scarcity_split(labels, 2)
    assert sorted(labels[train]) == [0, 1] and len(test) == 998
    assert len(scarcity_split(labels, 900)[0]) == 900
    with pytest.raises(SettingSkipped, match="1024 training rows need 1124 rows"):
        scarcity_split(labels, 1024)


def test_imbalance_sizes_and_ratios_follow_the_reference():
    labels = np.repeat([0, 1], 500)
    # max_total = int(500 / 0.95) = 526: 426 train rows, test max(100, 99) = 100
    assert imbalance_sizes(labels, IMBALANCE_POSITIVE_FRACTIONS) == (426, 100)
    for fraction in (0.05, 0.5, 0.95):
        train, test = imbalance_split(labels, fraction, IMBALANCE_POSITIVE_FRACTIONS)
        assert len(train) == 426 and len(test) == 100 and set(train).isdisjoint(test)
        assert labels[train].sum() == int(np.ceil(round(fraction * 426, 9)))
        assert labels[test].sum() == int(np.ceil(round(fraction * 100, 9)))
    assert imbalance_sizes(np.repeat([0, 1], 2500), IMBALANCE_POSITIVE_FRACTIONS) == (1024, 1606)
    assert imbalance_sizes(labels, [0.5]) == (900, 100)  # the grid's ends set the sizes


def test_flip_labels_is_the_references_corruption():
    labels = np.tile([0, 1], 50)
    np.random.seed(42)
    expected = labels.copy()
    idx = np.random.choice(100, size=30, replace=False)
    expected[idx] = 1 - expected[idx]
    assert np.array_equal(flip_labels(labels, 0.3), expected)
    assert np.array_equal(flip_labels(labels, 0.0), labels)
    with pytest.raises(ValueError, match="0.5"):
        flip_labels(labels, 0.6)


def test_ood_training_rows_come_from_the_first_1500():
    labels = np.tile([0, 1], 1000)
    train = ood_train_rows(labels)
    assert len(train) == 1024 and train.max() < 1500 and labels[train].sum() == 512
    assert len(ood_train_rows(labels[:600])) == 600


def test_ood_training_rows_are_the_references_at_half_positives():
    # get_OOD_traintest: get_train_test_indices on the first 1500 rows, 1024 train, 0 test, pos_ratio 0.5,
    # whatever the dataset's own share (here 45% in the first 1500 rows).
    rng = np.random.default_rng(7)
    labels = np.concatenate([rng.permutation(np.repeat([0, 1], [825, 675])), rng.integers(0, 2, 700)])
    train = ood_train_rows(labels)
    assert np.array_equal(train, reference_draw(labels[:1500], 1024, 0, 0.5)[0])
    assert labels[train].sum() == 512


def test_ood_draw_shrinks_to_what_the_classes_supply():
    # The reference stops with an error here; the draw keeps half positives instead.
    labels = np.random.default_rng(2).permutation(np.repeat([0, 1], [700, 300]))
    train = ood_train_rows(labels)
    assert len(train) == 600 and labels[train].sum() == 300
    assert np.array_equal(train, reference_draw(labels, 600, 0, 0.5)[0])
    few_negatives = np.array([0, 0, 0] + [1] * 200)
    assert len(ood_train_rows(few_negatives)) == 7 and few_negatives[ood_train_rows(few_negatives)].sum() == 4
    with pytest.raises(SettingSkipped, match="needs both classes"):
        ood_train_rows(np.ones(300, int))

