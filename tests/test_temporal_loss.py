"""Pair sampling and temporal loss terms of temporal SAEs (analysis-methods.md §5.2-5.3)."""

import math

import numpy as np
import pytest
import torch

from saeprobe.temporal.loss import similarity_weighted_l1, symmetric_info_nce, temporal_term
from saeprobe.temporal.pairs import PAIR_MODES, sample_pairs

LENGTHS = np.array([4, 1, 3])


def _as_tuples(row, t, t_prev):
    return list(zip(row.tolist(), t.tolist(), t_prev.tolist()))


def test_adjacent_pairs_are_exact():
    pairs = _as_tuples(*sample_pairs(LENGTHS, "p", np.random.default_rng(0)))
    # row 1 has a single token, so no position t >= 1 and no pair
    assert pairs == [(0, 1, 0), (0, 2, 1), (0, 3, 2), (2, 1, 0), (2, 2, 1)]


def test_random_pairs_stay_before_t_on_the_adjacent_positions():
    row_r, t_r, prev_r = sample_pairs(LENGTHS, "r", np.random.default_rng(1))
    row_p, t_p, _ = sample_pairs(LENGTHS, "p", np.random.default_rng(1))
    np.testing.assert_array_equal(row_r, row_p)
    np.testing.assert_array_equal(t_r, t_p)
    assert ((prev_r >= 0) & (prev_r <= t_r - 1)).all()


def test_random_pairs_are_reproducible_with_a_seed():
    first = sample_pairs(LENGTHS, "r", np.random.default_rng(7))
    second = sample_pairs(LENGTHS, "r", np.random.default_rng(7))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_random_pairs_cover_every_earlier_position():
    rng = np.random.default_rng(3)
    draws = [sample_pairs(np.array([16]), "r", rng)[2][-1] for _ in range(2000)]  # t = 15
    assert set(draws) == set(range(15))
    # uniform: each of 15 values ~133 times; a generous band still catches a skewed sampler
    counts = np.bincount(draws, minlength=15)
    assert counts.min() > 80 and counts.max() < 200


@pytest.mark.parametrize("mode", PAIR_MODES)
def test_single_token_rows_give_no_pairs(mode):
    row, t, t_prev = sample_pairs(np.array([1, 0, 1]), mode, np.random.default_rng(0))
    assert row.size == t.size == t_prev.size == 0


def test_unknown_pair_mode_is_rejected():
    with pytest.raises(ValueError, match=r"'q'.*'r'.*'p'"):
        sample_pairs(LENGTHS, "q", np.random.default_rng(0))


def test_similarity_weighted_l1_by_hand():
    codes_now = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
    codes_prev = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 1.0]])
    x_now = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    x_prev = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    # L1 changes: row 0 |2-0| = 2; row 1 |0-1| + |3-1| = 3
    # cosines:    row 0 1;         row 1 1/sqrt2
    # loss = mean(2*1*0.2, 3/sqrt2*0.2) = 0.2 + 0.3/sqrt2 ~ 0.41213
    loss = similarity_weighted_l1(codes_now, codes_prev, x_now, x_prev, 0.2)
    assert loss.item() == pytest.approx(0.2 + 0.3 / math.sqrt(2), rel=1e-6)


INFO_NOW = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
INFO_PREV = torch.tensor([[1.0, 1.0], [0.0, 1.0]])


def test_symmetric_info_nce_by_hand():
    # S = now @ prev.T = [[1, 0], [2, 2]]
    # CE(S):   row 0 -log(e/(e+1)) = log(1+e^-1);  row 1 -log(e^2/(2e^2)) = log 2
    # CE(S.T): S.T = [[1, 2], [0, 2]]
    #          row 0 -log(e/(e+e^2)) = log(1+e);   row 1 -log(e^2/(1+e^2)) = log(1+e^-2)
    # loss = 0.5 * (mean of first pair + mean of second pair) ~ 0.61165
    expected = 0.25 * (
        math.log(1 + math.exp(-1)) + math.log(2) + math.log(1 + math.e) + math.log(1 + math.exp(-2))
    )
    assert symmetric_info_nce(INFO_NOW, INFO_PREV).item() == pytest.approx(expected, rel=1e-6)


def test_symmetric_info_nce_does_not_care_which_side_is_now():
    # swapping the arguments transposes S, and the loss averages both directions
    forward = symmetric_info_nce(INFO_NOW, INFO_PREV).item()
    assert symmetric_info_nce(INFO_PREV, INFO_NOW).item() == pytest.approx(forward, rel=1e-6)


def test_symmetric_info_nce_is_near_zero_for_aligned_codes():
    codes = 20.0 * torch.eye(3)  # S = 400 * I: each positive beats each negative by 400
    assert symmetric_info_nce(codes, codes.clone()).item() < 1e-6


@pytest.mark.parametrize("kind", ["similarity_l1", "info_nce"])
def test_temporal_term_gradients_reach_both_codes(kind):
    gen = torch.Generator().manual_seed(0)
    codes_now = torch.rand(5, 4, generator=gen).requires_grad_()
    codes_prev = torch.rand(5, 4, generator=gen).requires_grad_()
    x_now, x_prev = torch.randn(5, 3, generator=gen), torch.randn(5, 3, generator=gen)
    temporal_term(kind, codes_now, codes_prev, x_now, x_prev, 0.2).backward()
    for codes in (codes_now, codes_prev):
        assert codes.grad is not None and torch.isfinite(codes.grad).all()
        assert codes.grad.abs().sum() > 0


def test_temporal_term_matches_the_direct_functions_and_rejects_unknown_kinds():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert temporal_term("info_nce", INFO_NOW, INFO_PREV, x, x, 0.2).item() == pytest.approx(
        symmetric_info_nce(INFO_NOW, INFO_PREV).item()
    )
    assert temporal_term("similarity_l1", INFO_NOW, INFO_PREV, x, x, 0.2).item() == pytest.approx(
        similarity_weighted_l1(INFO_NOW, INFO_PREV, x, x, 0.2).item()
    )
    with pytest.raises(ValueError, match="'l2'"):
        temporal_term("l2", INFO_NOW, INFO_PREV, x, x, 0.2)
