"""Train/test and validation splits of every probing setting, following SAE-Probes.

The settings' grids and their use of these splits live in ``saeprobe.settings``.

Reference: Kantamneni et al. 2025, code at github.com/JoshEngels/SAE-Probes
(``utils_data.get_train_test_indices``, ``get_training_sizes``,
``get_class_imbalance``, ``get_classimabalance_num_train``,
``corrupt_ytrain``, ``get_OOD_traintest`` and ``utils_training.get_cv``).
"""

from __future__ import annotations

import numpy as np

SPLIT_SEED = 42
MAX_TRAIN_ROWS = 1024
# The normal setting leaves at least this many rows for the test set.
NORMAL_TEST_RESERVE = 100
MIN_TRAIN_ROWS = 20
# With this many training rows or fewer there is nothing to validate on: the
# probes (probes.py, baselines.py) keep their default hyperparameters and
# report the training AUC as validation AUC, as the reference does.
MAX_UNVALIDATED_ROWS = 3
# The reference draws OOD training rows from the first 1500 rows (MAX_AMT), half positive.
OOD_SOURCE_ROWS = 1500
OOD_POSITIVE_SHARE = 0.5


class SettingSkipped(ValueError):
    """A grid point the dataset cannot afford (recorded as skipped, not an error)."""


def normal_train_size(n_rows: int) -> int:
    """Reference normal setting: ``min(n - 100, 1024)`` training rows."""
    n_train = min(n_rows - NORMAL_TEST_RESERVE, MAX_TRAIN_ROWS)
    if n_train < MIN_TRAIN_ROWS:
        raise ValueError(
            f"{n_rows} rows leave {n_train} for training; the normal split needs at least "
            f"{NORMAL_TEST_RESERVE + MIN_TRAIN_ROWS}"
        )
    return n_train


def stratified_draw(labels: np.ndarray, n_train: int, n_test: int, pos_ratio: float,
                    seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The reference's ``get_train_test_indices``, draw for draw.

    A legacy ``RandomState`` seeded once draws ``ceil(pos_ratio * n_train)``
    training positives, the training negatives, then the test positives and
    negatives from what is left, and permutes the train and test sets. Same
    labels, sizes and seed give the reference's rows in the reference's order.
    """
    labels = np.asarray(labels)
    pos = np.flatnonzero(labels == 1)
    neg = np.flatnonzero(labels == 0)
    n_train_pos = _ceil(pos_ratio * n_train)
    n_test_pos = _ceil(pos_ratio * n_test)
    need_pos, need_neg = n_train_pos + n_test_pos, n_train + n_test - n_train_pos - n_test_pos
    if need_pos > len(pos) or need_neg > len(neg):
        raise SettingSkipped(
            f"needs {need_pos} positive and {need_neg} negative rows, the dataset has {len(pos)} and {len(neg)}"
        )
    rng = np.random.RandomState(seed)
    train_pos = rng.choice(pos, n_train_pos, replace=False)
    train_neg = rng.choice(neg, n_train - n_train_pos, replace=False)
    test_pos = rng.choice(np.setdiff1d(pos, train_pos), n_test_pos, replace=False)
    test_neg = rng.choice(np.setdiff1d(neg, train_neg), n_test - n_test_pos, replace=False)
    train = rng.permutation(np.concatenate([train_pos, train_neg]))
    test = rng.permutation(np.concatenate([test_pos, test_neg]))
    return train, test


def sized_split(labels: np.ndarray, n_train: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """``n_train`` stratified training rows; every other row is a test row.

    The training rows are the reference's, in its order (it draws
    ``n - n_train - 1`` test rows after them, which moves its generator); the
    row the reference leaves out is a test row here.
    """
    labels = np.asarray(labels)
    pos_ratio = labels.mean()
    try:
        train, test = stratified_draw(labels, n_train, len(labels) - n_train - 1, pos_ratio, seed)
    except SettingSkipped:  # unbalanced data: rounding up twice can ask one row too many of a class
        train, test = stratified_draw(labels, n_train, 0, pos_ratio, seed)
    rest = np.setdiff1d(np.arange(len(labels)), np.concatenate([train, test]))
    return train, np.concatenate([test, rest])


def normal_split(labels: np.ndarray, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The normal setting's split: ``min(n - 100, 1024)`` train rows, the rest test."""
    return sized_split(labels, normal_train_size(len(labels)), seed)


def scarcity_split(labels: np.ndarray, n_train: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Data scarcity: ``n_train`` training rows, skipped unless 100 rows stay for testing."""
    if n_train > len(labels) - NORMAL_TEST_RESERVE:
        raise SettingSkipped(
            f"{n_train} training rows need {n_train + NORMAL_TEST_RESERVE} rows, the dataset has {len(labels)}"
        )
    return sized_split(labels, n_train, seed)


def imbalance_sizes(labels: np.ndarray, fractions) -> tuple[int, int]:
    """Train and test sizes shared by every positive fraction of the grid.

    As ``get_classimabalance_num_train``: the largest total that both the
    smallest and the largest fraction can draw, less 100 test rows, capped at 1024.
    """
    labels = np.asarray(labels)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    max_total = int(min(n_neg / (1 - min(fractions)), n_pos / max(fractions)))
    n_train = min(max_total - NORMAL_TEST_RESERVE, MAX_TRAIN_ROWS)
    n_test = max(NORMAL_TEST_RESERVE, max_total - n_train - 1)
    if n_train < 2:
        raise SettingSkipped(f"the imbalance grid leaves {n_train} training rows")
    return n_train, n_test


def imbalance_split(labels: np.ndarray, positive_fraction: float, fractions,
                    seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Class imbalance: train and test both at ``positive_fraction`` positives,
    at the sizes ``imbalance_sizes`` gives the whole grid ``fractions``."""
    n_train, n_test = imbalance_sizes(labels, fractions)
    return stratified_draw(labels, n_train, n_test, positive_fraction, seed)


def flip_labels(labels: np.ndarray, fraction: float, seed: int = SPLIT_SEED) -> np.ndarray:
    """Label noise: flip ``int(n * fraction)`` uniformly chosen labels (``corrupt_ytrain``)."""
    if not 0 <= fraction <= 0.5:
        raise ValueError(f"flip fraction must be in [0, 0.5], got {fraction}")
    labels = np.asarray(labels).copy()
    flip = np.random.RandomState(seed).choice(len(labels), int(len(labels) * fraction), replace=False)
    labels[flip] = 1 - labels[flip]
    return labels


def ood_train_rows(labels: np.ndarray, seed: int = SPLIT_SEED) -> np.ndarray:
    """OOD setting: 1024 training rows, half of them positive, from the first 1500 rows.

    The test set is the separate OOD file. As ``get_OOD_traintest``, draw for
    draw: ``get_train_test_indices`` on the first 1500 rows with 1024 training
    rows, 0 test rows and a positive share of exactly 0.5. Where those rows
    cannot supply 512 of each class the reference stops with an error; here
    the draw shrinks to the largest half-positive one they can supply
    (``ceil(n / 2)`` positives), and a class missing there skips the setting.
    """
    head = np.asarray(labels)[:OOD_SOURCE_ROWS]
    n_pos = int((head == 1).sum())
    n_neg = len(head) - n_pos
    n_train = min(MAX_TRAIN_ROWS, len(head), 2 * n_pos, 2 * n_neg + 1)
    if n_train < 2:
        raise SettingSkipped(
            f"the first {OOD_SOURCE_ROWS} rows hold {n_pos} positive and {n_neg} negative rows; "
            "OOD training needs both classes"
        )
    return stratified_draw(head, n_train, 0, OOD_POSITIVE_SHARE, seed)[0]


def validation_splits(labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit, validation) index pairs for choosing a probe's hyperparameters.

    As the reference's ``get_cv``: leave-2-out for n <= 12, six stratified
    folds for n < 128, otherwise one holdout of the last ``min(20%, 100)``
    rows (the training rows are already in random order). Folds whose
    validation part lacks a class are dropped, since AUC is undefined there.
    Where that holdout lacks a class (the reference's AUC would raise), a
    stratified holdout of the same size is drawn instead; with fewer than two
    rows of a class there is none, and the list is empty.
    """
    # imported late: the Snakefile imports this package
    from sklearn.model_selection import LeavePOut, StratifiedKFold, StratifiedShuffleSplit

    labels = np.asarray(labels)
    n = len(labels)
    if n <= 12:
        splitter = LeavePOut(2)
    elif n < 128:
        splitter = StratifiedKFold(n_splits=6, shuffle=True, random_state=SPLIT_SEED)
    else:
        n_val = min(int(0.2 * n), 100)
        fit, val = np.arange(n - n_val), np.arange(n - n_val, n)
        if len(np.unique(labels[val])) == 2 and len(np.unique(labels[fit])) == 2:
            return [(fit, val)]
        counts = np.unique(labels, return_counts=True)[1]
        if len(counts) < 2 or counts.min() < 2:
            return []
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=SPLIT_SEED)
    return [
        (fit, val)
        for fit, val in splitter.split(np.zeros(n), labels)
        if len(np.unique(labels[val])) == 2
    ]


def _ceil(x: float) -> int:
    # Rounded first so that a ratio like 500/1000 * 1000 is not lifted to 501.
    return int(np.ceil(round(x, 9)))
