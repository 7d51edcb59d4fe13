"""Smoothness metrics of temporal SAEs (analysis-methods.md §5.4) on hand-made sequences."""

import numpy as np
import pytest

from saeprobe.temporal.smoothness import (
    fft_ratio,
    group_fve,
    lipschitz,
    mean_metrics,
    multiscale_ratio,
    sequence_l0,
    sequence_metrics,
    total_variation,
    wavelet_ratio,
)


def ramp_inputs(T):
    # x[t] = t * (3, 4): every input step has ||dx||_2 = 5.
    return np.outer(np.arange(T), [3.0, 4.0])


def test_constant_signal_is_perfectly_smooth():
    f = np.full((8, 2), 2.0)
    assert total_variation(f) == 0.0
    assert lipschitz(f, ramp_inputs(8)) == 0.0
    # Only the DC bin (0 < cutoff 2) carries power: 0 / (P0 + eps) = 0.
    assert fft_ratio(f) == 0.0
    assert wavelet_ratio(f) == 0.0  # every detail even - odd = 0
    assert multiscale_ratio(f) == 0.0  # m_1 = 0


def test_step_signal():
    # Latent 0 steps 0 -> 2, latent 1 steps 0 -> 4, both between t=3 and t=4.
    f = np.zeros((8, 2))
    f[4:] = [2.0, 4.0]
    assert total_variation(f) == pytest.approx(2.0 + 4.0)
    # L_j = height / ||dx|| = 2/5 and 4/5; mean 0.6.
    assert lipschitz(f, ramp_inputs(8)) == pytest.approx(0.6)


def test_lipschitz_skips_steps_where_input_does_not_move():
    f = np.zeros((4, 1))
    f[2:] = 1.0  # jump between t=1 and t=2 ...
    x = ramp_inputs(4)
    x[2] = x[1]  # ... where the input stands still: that step is ignored
    assert lipschitz(f, x) == 0.0
    assert lipschitz(f, np.zeros((4, 2))) == 0.0  # no usable step at all


def test_alternating_zero_one_signal():
    # f = 0,1,0,1,... over T=8: TV = 7 steps of 1.
    f = (np.arange(8) % 2).astype(float)[:, None]
    assert total_variation(f) == 7.0
    # rfft: bin 0 = sum f = 4, Nyquist bin 4 = sum f (-1)^t = -4, others 0.
    # n_freq = 5, cutoff = 2: ratio = 16 / (16 + 1e-10), i.e. 1 minus a hair.
    assert fft_ratio(f) == pytest.approx(16 / (16 + 1e-10), rel=1e-12)
    assert fft_ratio(f) < 1.0


def test_alternating_signal_with_more_nyquist_than_dc_power():
    # f = 3,-1,3,-1,... = 1 + 2(-1)^t: bin 0 = 8, Nyquist = 16; ratio = 256/64 = 4.
    f = np.where(np.arange(8) % 2 == 0, 3.0, -1.0)[:, None]
    assert fft_ratio(f) == pytest.approx(4.0)
    assert fft_ratio(f) > 1.0


def test_plus_minus_one_alternation_is_inactive_by_reference_convention():
    # +1,-1,... sums to 0 over t, so the reference treats it as inactive,
    # although it is nonzero everywhere (sequence_l0 counts it) and TV = 7*2.
    f = np.where(np.arange(8) % 2 == 0, 1.0, -1.0)[:, None]
    assert total_variation(f) == 14.0
    assert fft_ratio(f) == 0.0
    assert wavelet_ratio(f) == 0.0
    assert multiscale_ratio(f) == 0.0
    assert lipschitz(f, ramp_inputs(8)) == 0.0
    assert sequence_l0(f) == 1


def test_inactive_latent_is_ignored():
    # Column 1 is all zero: it must not change any mean over active latents.
    alive = (np.arange(8) % 2).astype(float)[:, None]
    f = np.hstack([alive, np.zeros((8, 1))])
    x = ramp_inputs(8)
    assert lipschitz(f, x) == lipschitz(alive, x) == pytest.approx(1 / 5)
    assert fft_ratio(f) == fft_ratio(alive)
    assert wavelet_ratio(f) == wavelet_ratio(alive)
    assert multiscale_ratio(f) == multiscale_ratio(alive)
    assert sequence_l0(f) == 1
    assert sequence_l0(np.zeros((8, 3))) == 0
    empty = np.zeros((8, 2))
    assert lipschitz(empty, x) == fft_ratio(empty) == wavelet_ratio(empty) == 0.0
    assert multiscale_ratio(empty) == 0.0


def test_wavelet_by_hand_on_t8():
    # f = 1..8. Level 1: a = 1.5,3.5,5.5,7.5, d = -0.5 x4 -> sum d^2 = 1.
    # Level 2: a = 2.5,6.5, d = -1 x2 -> 2.  Level 3: a = 4.5, d = -2 -> 4.
    # ratio = (1 + 2 + 4) / 4.5^2 = 7 / 20.25.
    f = np.arange(1.0, 9.0)[:, None]
    assert wavelet_ratio(f) == pytest.approx(7 / (20.25 + 1e-10))
    # Two copies of the column double both sums: same ratio.
    assert wavelet_ratio(np.hstack([f, f])) == pytest.approx(7 / 20.25)


def test_wavelet_odd_length_drops_last_row():
    # T=9: the ninth row (a huge value) is dropped at level 1, so same as 1..8.
    f = np.append(np.arange(1.0, 9.0), 1000.0)[:, None]
    assert wavelet_ratio(f) == pytest.approx(7 / 20.25)


def test_multiscale_on_ramp_and_quadratic():
    # f[t] = t: f[t+s] - f[t] = s is constant, variance 0 -> 0 / (0 + 1e-10) = 0.
    ramp = np.arange(16.0)[:, None]
    assert multiscale_ratio(ramp) == 0.0
    # f[t] = t^2: f[t+s] - f[t] = 2st + s^2 over n = T-s values of t, so
    # Var = 4 s^2 (n^2 - 1)/12 (ddof=0). T=16: m_1 = 4*224/12, m_8 = 4*64*63/12,
    # ratio = 896 / 16128 = 1/18.
    quad = np.arange(16.0)[:, None] ** 2
    assert multiscale_ratio(quad) == pytest.approx(1 / 18)
    # 0/1 alternation, T=16: the 15 s=1 diffs are eight +1 and seven -1
    # (mean 1/15, Var 1 - 1/225 = 224/225); s=8 diffs are all 0 -> m_1 / 1e-10.
    alt = (np.arange(16) % 2).astype(float)[:, None]
    assert multiscale_ratio(alt) == pytest.approx((224 / 225) / 1e-10)


def test_multiscale_skips_scales_not_below_t():
    # T=5: scales 1,2,4 are used, 8 skipped. f = t^2: m_1 = 4*(16-1)/12 = 5,
    # m_4 = 4*16*(1-1)/12 = 0 (one value of t) -> 5 / 1e-10.
    quad = np.arange(5.0)[:, None] ** 2
    assert multiscale_ratio(quad) == pytest.approx(5 / 1e-10)
    assert multiscale_ratio(np.ones((1, 1))) == 0.0  # no scale below T=1


def test_group_fve():
    rng = np.random.default_rng(0)
    codes = rng.random((10, 3))
    decoder = rng.standard_normal((3, 4))
    x = codes @ decoder
    assert group_fve(x, codes, decoder) == pytest.approx(1.0)
    # No bias in the reconstruction, but Var over t ignores a constant offset.
    assert group_fve(x + 5.0, codes, decoder) == pytest.approx(1.0)
    assert group_fve(x, np.zeros_like(codes), decoder) == pytest.approx(0.0)
    # 1-d by hand: x = 0,2 (Var 1), reconstruction 0,1, residual 0,1 (Var 1/4).
    assert group_fve(np.array([[0.0], [2.0]]), np.array([[0.0], [1.0]]), np.ones((1, 1))) == 0.75


def test_sequence_metrics_keys_and_groups():
    f = np.zeros((8, 4))
    f[4:, 0] = 2.0  # high-level group: one step of height 2
    f[:, 2] = np.arange(8) % 2  # low-level group: 0/1 alternation
    groups = {"tot": slice(None), "h": slice(0, 2), "l": np.array([2, 3])}
    m = sequence_metrics(f, ramp_inputs(8), groups)
    expected = {"sequence_l0"} | {
        f"{metric}_{g}"
        for metric in ("smoothness_tv", "lipschitz_cont", "fft", "wavelet", "multiscale")
        for g in groups
    }
    assert set(m) == expected
    assert m["smoothness_tv_h"] == 2.0
    assert m["smoothness_tv_l"] == 7.0
    assert m["smoothness_tv_tot"] == 9.0
    assert m["lipschitz_cont_h"] == pytest.approx(2 / 5)
    assert m["lipschitz_cont_tot"] == pytest.approx((2 / 5 + 1 / 5) / 2)
    assert m["fft_l"] == pytest.approx(fft_ratio(f[:, 2:]))
    assert m["sequence_l0"] == 2


def test_mean_metrics():
    out = mean_metrics([{"fft_h": 1.0, "sequence_l0": 2}, {"fft_h": 3.0, "sequence_l0": 5}])
    assert out == {"fft_h": 2.0, "sequence_l0": 3.5}
    with pytest.raises(ValueError):
        mean_metrics([])
    with pytest.raises(ValueError):
        mean_metrics([{"a": 1.0}, {"b": 1.0}])


def test_an_sae_is_measured_on_its_groups_where_it_has_them():
    from saeprobe.saes import MatryoshkaBatchTopKSAE, TemporalMatryoshkaBatchTopKSAE, TopKSAE
    from saeprobe.temporal.smoothness import sae_groups

    assert sae_groups(TopKSAE(d_in=4, width=10, k=2)) == {"tot": slice(None)}
    assert sae_groups(TemporalMatryoshkaBatchTopKSAE(d_in=4, width=10, k=2)) == {
        "tot": slice(None), "h": slice(0, 2), "l": slice(2, 10)}
    # Low-level is every group after the first.
    five = MatryoshkaBatchTopKSAE(d_in=4, width=64, k=2)
    assert sae_groups(five)["l"] == slice(2, 64)


def test_sae_smoothness_by_hand_on_identity_codes():
    import torch

    from saeprobe.saes import TemporalMatryoshkaBatchTopKSAE
    from saeprobe.temporal.smoothness import sae_smoothness

    sae = TemporalMatryoshkaBatchTopKSAE(d_in=4, width=4, k=2, group_fractions=[0.5, 0.5]).eval()
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(4)); sae.W_dec.copy_(torch.eye(4))
        sae.b_enc.zero_(); sae.b_dec.zero_(); sae.threshold.fill_(0.0)
    step = np.concatenate([np.tile([1.0, 0, 0, 0], (4, 1)), np.tile([3.0, 0, 0, 0], (4, 1))])  # latent 0: high
    alternating = np.zeros((8, 4))
    alternating[:, 2] = [1.0, 3.0] * 4  # latent 2: low
    metrics = sae_smoothness(sae, np.stack([step, alternating]).astype(np.float32))
    # Identity codes: TV 2 (high) on the step, 7 x 2 (low) on the alternation; averaged over the two.
    assert metrics["smoothness_tv_h"] == pytest.approx(1.0) and metrics["smoothness_tv_l"] == pytest.approx(7.0)
    assert metrics["sequence_l0"] == 1.0
    # Each group reconstructs its own sequence exactly and none of the other's.
    assert metrics["frac_variance_explained_high"] == pytest.approx(0.5)
    assert metrics["frac_variance_explained_low"] == pytest.approx(0.5)
