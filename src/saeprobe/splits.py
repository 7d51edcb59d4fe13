"""Train/test and validation splits, following the SAE-Probes protocol.

Reference: Kantamneni et al. 2025, code at github.com/JoshEngels/SAE-Probes
(``utils_data.get_train_test_indices`` and ``utils_training.get_cv``).
"""

from __future__ import annotations

import numpy as np

SPLIT_SEED = 42
MAX_TRAIN_ROWS = 1024
# The normal setting leaves at least this many rows for the test set.
NORMAL_TEST_RESERVE = 100
MIN_TRAIN_ROWS = 20


def normal_train_size(n_rows: int) -> int:
    """Reference normal setting: ``min(n - 100, 1024)`` training rows."""
    n_train = min(n_rows - NORMAL_TEST_RESERVE, MAX_TRAIN_ROWS)
    if n_train < MIN_TRAIN_ROWS:
        raise ValueError(
            f"{n_rows} rows leave {n_train} for training; the normal split needs at least "
            f"{NORMAL_TEST_RESERVE + MIN_TRAIN_ROWS}"
        )
    return n_train


def train_test_indices(labels: np.ndarray, n_train: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train indices and the remaining rows as test, both shuffled.

    The training rows are drawn exactly as the reference draws them (a legacy
    ``RandomState`` seeded once; positives first, ``ceil(p * n_train)`` of
    them), so on the balanced reference datasets (p = 0.5) the training sets
    are identical to the paper's. Unlike the reference, which keeps
    ``n - n_train - 1`` test rows, every remaining row is a test row.
    """
    labels = np.asarray(labels)
    pos = np.flatnonzero(labels == 1)
    neg = np.flatnonzero(labels == 0)
    pos_ratio = len(pos) / len(labels)
    n_pos = int(np.ceil(pos_ratio * n_train))
    n_neg = n_train - n_pos
    if n_pos > len(pos) or n_neg > len(neg):
        raise ValueError(f"cannot draw {n_pos} positives and {n_neg} negatives from {len(pos)}/{len(neg)}")
    rng = np.random.RandomState(seed)
    train = np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)])
    test = np.setdiff1d(np.arange(len(labels)), train)
    return rng.permutation(train), rng.permutation(test)


def normal_split(labels: np.ndarray, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The normal setting's split: ``min(n - 100, 1024)`` train rows, the rest test."""
    return train_test_indices(labels, normal_train_size(len(labels)), seed)


def validation_splits(labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit, validation) index pairs for choosing a probe's hyperparameters.

    As the reference's ``get_cv``: leave-2-out for n <= 12, six stratified
    folds for n < 128, otherwise one holdout of the last ``min(20%, 100)``
    rows (the training rows are already in random order). Folds whose
    validation part lacks a class are dropped, since AUC is undefined there.
    """
    from sklearn.model_selection import LeavePOut, StratifiedKFold  # imported late: the Snakefile imports this package

    labels = np.asarray(labels)
    n = len(labels)
    if n <= 12:
        splitter = LeavePOut(2)
    elif n < 128:
        splitter = StratifiedKFold(n_splits=6, shuffle=True, random_state=SPLIT_SEED)
    else:
        n_val = min(int(0.2 * n), 100)
        return [(np.arange(n - n_val), np.arange(n - n_val, n))]
    return [
        (fit, val)
        for fit, val in splitter.split(np.zeros(n), labels)
        if len(np.unique(labels[val])) == 2
    ]
