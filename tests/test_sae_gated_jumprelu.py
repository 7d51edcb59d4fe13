"""Gated and JumpReLU SAEs: exact outputs on hand-set weights, the loss terms
and straight-through estimators, training, checkpoints and resumption."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from saeprobe.saes.base import load_sae
from saeprobe.saes.gated import GatedSAE
from saeprobe.saes.jumprelu import JumpReLUSAE, jumprelu, step
from saeprobe.training import ActivationShards, TrainConfig, evaluate_sae, train_sae
from sae_helpers import make_shards, train_uninterrupted_and_resumed

CLASSES = [GatedSAE, JumpReLUSAE]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These tensors are tiny: one intra-op thread is as fast and does not
    slow to a crawl when other processes share the cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def unit_scale_shards(folder: Path) -> ActivationShards:
    """The shared test corpus rescaled to unit mean squared norm, E||x||^2 = 1:
    the input scale both classes' default coefficients assume."""
    paths = make_shards(folder)
    arrays = [np.load(p) for p in paths]
    mean_squared_norm = np.square(np.concatenate(arrays).astype(np.float64)).sum(axis=1).mean()
    for path, array in zip(paths, arrays):
        np.save(path, (array / math.sqrt(mean_squared_norm)).astype(np.float32))
    return ActivationShards(paths)


def set_weights(sae, **tensors):
    with torch.no_grad():
        for name, value in tensors.items():
            getattr(sae, name).copy_(torch.as_tensor(value, dtype=torch.float32))


# -- Gated ---------------------------------------------------------------------


def hand_set_gated() -> GatedSAE:
    sae = GatedSAE(d_in=2, width=2)
    set_weights(sae, W_enc=torch.eye(2), W_dec=torch.eye(2), b_dec=[1.0, 1.0], b_enc=[0.0, -0.5],
                r_mag=[math.log(2.0), 0.0], b_mag=[1.0, -1.0])
    return sae


def test_gated_hand_set_weights():
    sae = hand_set_gated()
    x = torch.tensor([[3.0, 2.0], [0.8, 4.0], [2.0, 1.8]])
    # x - b_dec = [[2, 1], [-0.2, 3], [1, 0.8]]
    # gate  = that + b_enc                     -> [[2, .5], [-.2, 2.5], [1, .3]]: row 1 latent 0 is shut
    # magnitude = that * [2, 1] + b_mag        -> [[5, 0], [.6, 2], [3, -.2]]
    expected = torch.tensor([[5.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    torch.testing.assert_close(sae.encode(x), expected)
    torch.testing.assert_close(sae(x), expected + 1.0)


def test_gated_loss_terms():
    sae = hand_set_gated()
    sae.l1_coefficient = 0.5
    x = torch.tensor([[3.0, 2.0], [0.8, 4.0], [2.0, 1.8]])
    gate = torch.tensor([[2.0, 0.5], [0.0, 2.5], [1.0, 0.3]])  # ReLU of the gate pre-activations
    recon = ((x - sae(x)) ** 2).sum(dim=1).mean()
    aux = ((x - (gate + 1.0)) ** 2).sum(dim=1).mean()
    l1 = gate.sum(dim=1).mean()  # decoder rows have unit norm
    out = sae.training_loss(x, dead=torch.zeros(2, dtype=torch.bool), progress=0.5)
    torch.testing.assert_close(out.loss, recon + 0.5 * l1 + aux)
    assert out.fired.tolist() == [True, True]
    # Sparsity warmup: no L1 at the start, a linear ramp over the first sparsity_warmup of training.
    start = sae.training_loss(x, dead=torch.zeros(2, dtype=torch.bool), progress=0.0)
    torch.testing.assert_close(start.loss, recon + aux)
    ramp = sae.training_loss(x, dead=torch.zeros(2, dtype=torch.bool), progress=sae.sparsity_warmup / 4)
    torch.testing.assert_close(ramp.loss, recon + 0.25 * 0.5 * l1 + aux)


def test_gated_auxiliary_loss_does_not_train_the_decoder():
    sae = GatedSAE(d_in=6, width=12, l1_coefficient=0.0)
    sae.init_weights(torch.Generator().manual_seed(0), data_mean=torch.zeros(6))
    x = torch.randn(20, 6)
    sae.training_loss(x, dead=torch.zeros(12, dtype=torch.bool), progress=1.0).loss.backward()
    full = sae.W_dec.grad.clone()
    sae.zero_grad()
    ((x - sae(x)) ** 2).sum(dim=1).mean().backward()
    torch.testing.assert_close(full, sae.W_dec.grad)  # only the main reconstruction reaches W_dec


# -- JumpReLU ------------------------------------------------------------------


def hand_set_jumprelu(**kwargs) -> JumpReLUSAE:
    sae = JumpReLUSAE(d_in=2, width=2, **kwargs)
    set_weights(sae, W_enc=torch.eye(2), W_dec=torch.eye(2), b_enc=[0.0, 0.1], b_dec=[0.5, -0.5],
                threshold=[1.0, 0.5])
    return sae


def test_jumprelu_hand_set_weights():
    sae = hand_set_jumprelu()
    x = torch.tensor([[0.9, 0.6], [1.2, 0.3], [-2.0, 5.0]])
    # pre = x + b_enc (b_dec is not subtracted) = [[.9, .7], [1.2, .4], [-2, 5.1]]; thresholds [1, .5]
    expected = torch.tensor([[0.0, 0.7], [1.2, 0.0], [0.0, 5.1]])
    torch.testing.assert_close(sae.encode(x), expected)
    torch.testing.assert_close(sae(x), expected + torch.tensor([0.5, -0.5]))


def test_jumprelu_keys_match_gemma_scope_params():
    sae = JumpReLUSAE(d_in=3, width=5)
    assert set(sae.state_dict()) == {"W_enc", "b_enc", "W_dec", "b_dec", "threshold"}
    assert sae.state_dict()["threshold"].shape == (5,) and not JumpReLUSAE.input_centered


def test_jumprelu_straight_through_estimators_use_only_the_bandwidth_window():
    # bandwidth 0.1: only pre-activations in (0.45, 0.55) of the 0.5 thresholds count.
    threshold = torch.tensor([0.5, 0.5], requires_grad=True)
    pre = torch.tensor([[0.52, 0.70], [0.30, 0.20], [0.48, 0.56]], requires_grad=True)
    jumprelu(pre, threshold, 0.1).sum().backward()
    # latent 0 has 0.52 and 0.48 in the window: 2 * -(theta / eps) = -10; latent 1 has none
    torch.testing.assert_close(threshold.grad, torch.tensor([-10.0, 0.0]))
    torch.testing.assert_close(pre.grad, (pre > 0.5).float())  # identity where the latent passes

    threshold.grad = None
    pre.grad = None
    step(pre, threshold, 0.1).sum().backward()
    torch.testing.assert_close(threshold.grad, torch.tensor([-20.0, 0.0]))  # 2 * -(1 / eps)
    assert pre.grad is None or not pre.grad.any()  # the L0 term does not move pre-activations


def test_jumprelu_threshold_gradient_in_training_loss():
    sae = hand_set_jumprelu(bandwidth=0.1, l0_coefficient=0.01)
    x = torch.tensor([[1.02, 3.0], [0.5, 3.0]])  # pre [[1.02, 3.1], [.5, 3.1]]: only 1.02 is near a threshold
    sae.training_loss(x, dead=torch.zeros(2, dtype=torch.bool), progress=1.0).loss.backward()
    assert sae.threshold.grad[0] != 0 and sae.threshold.grad[1] == 0


def test_jumprelu_l0_penalty_and_warmup():
    sae = hand_set_jumprelu(l0_coefficient=0.01, sparsity_warmup=0.2)
    x = torch.tensor([[0.9, 0.6], [1.2, 0.3], [-2.0, 5.0]])  # L0 per row 1, 1, 1
    recon = ((x - sae(x)) ** 2).sum(dim=1).mean()
    no_dead = torch.zeros(2, dtype=torch.bool)
    torch.testing.assert_close(sae.training_loss(x, no_dead, progress=0.5).loss, recon + 0.01 * 1.0)
    torch.testing.assert_close(sae.training_loss(x, no_dead, progress=0.0).loss, recon)
    torch.testing.assert_close(sae.training_loss(x, no_dead, progress=0.1).loss, recon + 0.5 * 0.01)


def test_jumprelu_target_l0_loss_is_zero_at_the_target():
    x = torch.tensor([[1.5, 0.0], [0.0, 2.0]])  # one latent above threshold per row, reconstructed exactly
    no_dead = torch.zeros(2, dtype=torch.bool)
    at_target = hand_set_jumprelu(target_l0=1.0, bandwidth=0.1)
    set_weights(at_target, b_enc=[0.0, 0.0], b_dec=[0.0, 0.0])
    out = at_target.training_loss(x, no_dead, progress=1.0)
    assert out.loss.item() == 0.0
    out.loss.backward()
    assert not at_target.threshold.grad.any()
    assert at_target.l0_coefficient == 1.0  # dictionary_learning's coefficient for this loss

    off_target = hand_set_jumprelu(target_l0=2.0, l0_coefficient=3.0)
    set_weights(off_target, b_enc=[0.0, 0.0], b_dec=[0.0, 0.0])
    torch.testing.assert_close(off_target.training_loss(x, no_dead, progress=1.0).loss, torch.tensor(3.0 * 0.25))


def test_jumprelu_init_follows_the_reference():
    sae = JumpReLUSAE(d_in=8, width=16, threshold_init=0.002)
    sae.init_weights(torch.Generator().manual_seed(0), data_mean=torch.ones(8))
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(16))
    torch.testing.assert_close(sae.W_enc, sae.W_dec)
    assert not sae.b_enc.any() and not sae.b_dec.any()
    torch.testing.assert_close(sae.threshold, torch.full((16,), 0.002))


# -- shared --------------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES)
def test_forward_is_decode_of_encode(cls):
    sae = cls(d_in=8, width=32)
    sae.init_weights(torch.Generator().manual_seed(0), data_mean=torch.randn(8))
    x = torch.randn(10, 8) * 0.3
    latents = sae.encode(x)
    assert (latents >= 0).all()
    torch.testing.assert_close(sae(x), sae.decode(latents))


@pytest.mark.parametrize("cls, kwargs", [(GatedSAE, {}), (JumpReLUSAE, {}), (JumpReLUSAE, {"target_l0": 4})])
def test_training_reaches_good_fve_with_sparse_codes(tmp_path, cls, kwargs):
    data = unit_scale_shards(tmp_path)
    sae = cls(d_in=16, width=32, **kwargs)
    cfg = TrainConfig(steps=150, batch_size=64, lr=3e-3, dead_tokens=2000, optimizer="adam")
    train_sae(sae, data, cfg, tmp_path / "ckpt.pt", log=lambda m: None, device="cpu")
    metrics = evaluate_sae(sae, data.eval_rows())
    assert metrics["fve"] > 0.7
    assert metrics["l0"] < 32 / 2
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(32))
    if cls is JumpReLUSAE:
        assert (sae.threshold > 0).all()


@pytest.mark.parametrize("sae", [
    GatedSAE(8, 16, l1_coefficient=0.03, sparsity_warmup=0.1),
    JumpReLUSAE(8, 16),
    JumpReLUSAE(8, 16, target_l0=5, bandwidth=0.01, threshold_init=0.02, sparsity_warmup=0.0),
], ids=["gated", "jumprelu", "jumprelu-target"])
def test_save_load_round_trip(tmp_path, sae):
    sae.init_weights(torch.Generator().manual_seed(1), data_mean=torch.randn(8))
    with torch.no_grad():
        for name, tensor in sae.named_parameters():
            if name in ("b_enc", "r_mag", "b_mag", "threshold"):
                tensor.copy_(torch.rand(tensor.shape) * 0.1)
    sae.save(tmp_path / "sae")
    loaded = load_sae(tmp_path / "sae")
    assert type(loaded) is type(sae) and loaded.config() == sae.config()
    for name, tensor in sae.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor)
    x = torch.randn(5, 8) * 0.3
    torch.testing.assert_close(loaded(x), sae(x))



@pytest.mark.parametrize("make", [
    lambda: GatedSAE(16, 32, sparsity_warmup=0.5),
    lambda: JumpReLUSAE(16, 32, sparsity_warmup=0.5),
    lambda: JumpReLUSAE(16, 32, target_l0=4, sparsity_warmup=0.5),
], ids=["gated", "jumprelu", "jumprelu-target"])
def test_killed_and_resumed_run_matches_uninterrupted(tmp_path, make):
    # The kill (step 25) and the resume point (step 20) fall inside the sparsity warmup (first 30 steps).
    data = unit_scale_shards(tmp_path)
    cfg = TrainConfig(steps=60, batch_size=32, lr=2e-3, checkpoint_every=20, dead_tokens=500, seed=3)
    reference, resumed, messages = train_uninterrupted_and_resumed(make, data, cfg, tmp_path)
    assert any("at step 20" in m for m in messages)
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, atol=1e-6, rtol=1e-5)
