"""Pair sampling for temporal-SAE training (analysis-methods.md §5.3, ``--temporal``).

Activations sit in a [rows, length] layout of token positions. A pair is a
position t >= 1 of a row and one earlier position t_prev of the same row:

- ``"r"``: t_prev drawn uniformly from [0, t-1] (the reference's default);
- ``"p"``: t_prev = t-1, the adjacent token.

The reference pairs every position of a buffered row and shuffles; drawing
positions uniformly with replacement gives each batch the same distribution,
and a generator seeded per step keeps resumed runs identical.
"""

from __future__ import annotations

import numpy as np

PAIR_MODES = ("r", "p")


def draw_pairs(n_rows: int, length: int, n: int, mode: str,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(row, t, t_prev)`` int64 arrays of ``n`` pairs: the row and t uniform
    over the rows' positions 1..length-1, t_prev by ``mode``."""
    if mode not in PAIR_MODES:
        raise ValueError(f"unknown pair mode {mode!r}; valid modes are {PAIR_MODES}")
    if n_rows < 1 or length < 2:
        raise ValueError(f"pairs need at least one row of two tokens, got {n_rows} rows of {length}")
    row = rng.integers(0, n_rows, size=n)
    t = rng.integers(1, length, size=n)
    t_prev = t - 1 if mode == "p" else rng.integers(0, t)  # exclusive upper bound: [0, t-1]
    return row.astype(np.int64), t.astype(np.int64), t_prev.astype(np.int64)
