"""Activation sequences for temporal SAEs: order kept, BOS left out, outliers masked, pairs within rows."""

import numpy as np

from saeprobe.temporal.sequences import sequence_rows, training_pairs


def position_coded(rows=3, ctx=6, d=4):
    """Token t of row r carries r * 100 + t + 1000 in its first coordinate (norms within 2x
    of each other), so a pair says where its tokens sat; token 3 of row 1 is an outlier."""
    acts = np.ones((rows, ctx, d))
    acts[..., 0] = np.arange(rows)[:, None] * 100 + np.arange(ctx)[None, :] + 1000
    acts[1, 3] *= 50
    return acts


def test_rows_keep_their_order_without_bos_and_mask_outliers_in_place():
    acts = position_coded()
    body, valid = sequence_rows(acts)
    assert body.shape == (3, 5, 4) and np.array_equal(body, acts[:, 1:])
    assert valid.sum() == 14 and not valid[1, 2]  # position 3 of the row is 2 once BOS is gone


def test_pairs_stay_in_their_row_and_skip_masked_tokens():
    body, valid = sequence_rows(position_coded())
    now, prev = training_pairs(body, valid, "p", np.random.default_rng(0))
    pairs = list(zip(now[:, 0] - 1000, prev[:, 0] - 1000))
    # Adjacent tokens of one row; the outlier (token 103) takes both of its pairs with it.
    assert pairs == [(c, c - 1) for c in (2, 3, 4, 5, 102, 105, 202, 203, 204, 205)]
    now, prev = training_pairs(body, valid, "r", np.random.default_rng(0))
    pairs = list(zip(now[:, 0] - 1000, prev[:, 0] - 1000))
    assert pairs and all(b < a and a // 100 == b // 100 and 103 not in (a, b) for a, b in pairs)
