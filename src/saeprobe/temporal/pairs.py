"""Pair sampling for temporal-SAE training (analysis-methods.md §5.3, ``--temporal``).

Activations sit in a [rows, ctx] layout, each row holding ``lengths[row]`` real
tokens followed by padding. Every real position t >= 1 of a row is paired with
one earlier position t_prev of the same row:

- ``"r"``: t_prev drawn uniformly from [0, t-1] (the reference's default);
- ``"p"``: t_prev = t-1, the adjacent token.
"""

from __future__ import annotations

import numpy as np

PAIR_MODES = ("r", "p")


def sample_pairs(
    lengths: np.ndarray, mode: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(row, t, t_prev)`` int64 index arrays, one entry per position t >= 1.

    Pairs are ordered by row, then by t. ``rng`` is only drawn from in mode "r".
    """
    if mode not in PAIR_MODES:
        raise ValueError(f"unknown pair mode {mode!r}; valid modes are {PAIR_MODES}")
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer) or (lengths < 0).any():
        raise ValueError("lengths must be a 1-D array of non-negative integers")

    n_current = np.maximum(lengths.astype(np.int64) - 1, 0)  # positions 1..length-1 per row
    row = np.repeat(np.arange(len(lengths), dtype=np.int64), n_current)
    # t runs 1..n_current[row] within each row: a global counter minus each row's start offset
    row_start = np.repeat(np.cumsum(n_current) - n_current, n_current)
    t = np.arange(row.size, dtype=np.int64) - row_start + 1

    if mode == "p":
        t_prev = t - 1
    else:
        t_prev = rng.integers(0, t)  # exclusive upper bound: uniform over [0, t-1]
    return row, t, t_prev.astype(np.int64)
