"""Pair sampling and temporal loss terms of temporal SAEs (analysis-methods.md §5.2-5.3)."""

import math

import numpy as np
import pytest
import torch

from saeprobe.temporal.loss import similarity_weighted_l1, symmetric_info_nce, temporal_term
from saeprobe.temporal.pairs import PAIR_MODES, draw_pairs

def test_adjacent_pairs_are_exact():
    row, t, t_prev = draw_pairs(3, 5, 500, "p", np.random.default_rng(0))
    assert (t_prev == t - 1).all() and ((t >= 1) & (t <= 4)).all() and set(row) == {0, 1, 2}


def test_random_pairs_stay_before_t():
    row, t, t_prev = draw_pairs(3, 5, 500, "r", np.random.default_rng(1))
    assert ((t_prev >= 0) & (t_prev <= t - 1)).all() and ((t >= 1) & (t <= 4)).all()
    assert (t_prev < t - 1).any()  # not only the adjacent token


@pytest.mark.parametrize("mode", PAIR_MODES)
def test_pairs_are_reproducible_with_a_seed(mode):
    first = draw_pairs(4, 16, 100, mode, np.random.default_rng(7))
    second = draw_pairs(4, 16, 100, mode, np.random.default_rng(7))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_random_pairs_cover_every_earlier_position_uniformly():
    row, t, t_prev = draw_pairs(1, 16, 60_000, "r", np.random.default_rng(3))
    draws = t_prev[t == 15]  # ~4000 draws of t = 15
    assert set(draws) == set(range(15))
    counts = np.bincount(draws, minlength=15)
    # uniform: each of 15 values ~267 times; a generous band still catches a skewed sampler
    assert counts.min() > 180 and counts.max() < 360
    assert set(np.bincount(t)[1:] > 3000) == {True}  # t uniform over 1..15 too


@pytest.mark.parametrize("rows, length", [(0, 5), (3, 1)])
def test_rows_without_a_pair_are_rejected(rows, length):
    with pytest.raises(ValueError, match="pairs need at least one row of two tokens"):
        draw_pairs(rows, length, 10, "r", np.random.default_rng(0))


def test_unknown_pair_mode_is_rejected():
    with pytest.raises(ValueError, match=r"'q'.*'r'.*'p'"):
        draw_pairs(3, 5, 10, "q", np.random.default_rng(0))


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
