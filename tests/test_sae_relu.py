"""L1-penalised ReLU SAEs: ``relu`` (Towards Monosemanticity), ``relu_april``
(Anthropic April 2024 update) and ``panneal`` (p-annealing)."""

import pytest
import torch

import saeprobe.saes.panneal  # noqa: F401  (registers the architectures)
import saeprobe.saes.relu  # noqa: F401
from saeprobe.saes.base import ARCHITECTURES, load_sae
from saeprobe.saes.panneal import PAnnealSAE
from saeprobe.saes.relu import ReLUAprilSAE, ReLUSAE
from saeprobe.training import ActivationShards, TrainConfig, evaluate_sae, train_sae
from sae_helpers import make_shards, train_uninterrupted_and_resumed

CLASSES = [ReLUSAE, ReLUAprilSAE, PAnnealSAE]


@pytest.fixture(autouse=True)
def _one_thread():
    """These tensors are tiny: with two threads, every BLAS call waits for the
    second thread, which takes a scheduler time slice (~15 ms) whenever other
    processes keep the cores busy, making a 150-step run take 10+ s."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
# The trainer normalises inputs to unit mean squared norm. The defaults aim at
# L0 ~ 80 of 16k latents; the toy data (8 true features, width 32) needs a
# stronger penalty for a clearly sparse code: these give L0 ~ 6-7.
TRAIN_L1 = {"relu": 0.2, "relu_april": 0.2, "panneal": 0.2}


def by_key(classes):
    return pytest.mark.parametrize("cls", classes, ids=[c.architecture for c in classes])


def hand_set(sae):
    with torch.no_grad():
        sae.W_enc.copy_(torch.tensor([[1.0, 1.0], [1.0, -1.0]]))
        sae.b_enc.copy_(torch.tensor([0.5, -1.0]))
        sae.W_dec.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
        sae.b_dec.copy_(torch.tensor([1.0, 0.0]))
    return sae


X_HAND = torch.tensor([[3.0, 2.0], [0.5, 0.5]])
# centred: (x - b_dec) W_enc^T + b_enc = [[4.5, -1], [0.5, -2]]; uncentred: [[5.5, 0], [1.5, -1]]
HAND = {
    "relu": ([[4.5, 0.0], [0.5, 0.0]], [[5.5, 0.0], [1.5, 0.0]]),
    "relu_april": ([[5.5, 0.0], [1.5, 0.0]], [[6.5, 0.0], [2.5, 0.0]]),
    "panneal": ([[4.5, 0.0], [0.5, 0.0]], [[5.5, 0.0], [1.5, 0.0]]),
}


@by_key(CLASSES)
def test_registered(cls):
    assert ARCHITECTURES[cls.architecture] is cls


@by_key(CLASSES)
def test_hand_set_weights(cls):
    sae = hand_set(cls(d_in=2, width=2))
    latents, recon = HAND[cls.architecture]
    torch.testing.assert_close(sae.encode(X_HAND), torch.tensor(latents))
    torch.testing.assert_close(sae(X_HAND), torch.tensor(recon))


@by_key(CLASSES)
def test_forward_is_decode_of_encode_and_latents_are_sparse(cls):
    sae = cls(d_in=8, width=32)
    sae.init_weights(torch.Generator().manual_seed(0), data_mean=torch.randn(8))
    x = torch.randn(10, 8)
    latents = sae.encode(x)
    assert (latents >= 0).all() and (latents == 0).any()
    torch.testing.assert_close(sae(x), sae.decode(latents))


def reconstruction_error(sae, x):
    return (x - sae(x)).pow(2).sum(dim=-1).mean()


@by_key(CLASSES)
def test_loss_is_error_plus_warmed_up_penalty(cls):
    sae = cls(d_in=8, width=32, l1_coefficient=0.5, sparsity_warmup=0.1)
    sae.init_weights(torch.Generator().manual_seed(0))
    x = torch.randn(16, 8)
    with torch.no_grad():
        error = reconstruction_error(sae, x)
        l1 = sae.encode(x).sum(dim=-1).mean()
        if cls is ReLUAprilSAE:
            l1 = (sae.encode(x) * sae.W_dec.norm(dim=1)).sum(dim=-1).mean()
    dead = torch.zeros(32, dtype=torch.bool)
    assert l1 > 0
    # the penalty is 0 at the start and ramps up linearly over the warmup (p = 1 throughout)
    for progress, weight in [(0.0, 0.0), (0.05, 0.5), (0.1, 1.0), (0.02, 0.2)]:
        out = sae.training_loss(x, dead=dead, progress=progress)
        torch.testing.assert_close(out.loss.detach(), error + 0.5 * weight * l1)
    centred = (x - x.mean(dim=0)).pow(2).sum()
    torch.testing.assert_close(out.fvu, error * len(x) / centred)
    assert not out.fvu.requires_grad
    torch.testing.assert_close(out.fired, (sae.encode(x) > 0).any(dim=0))


def test_april_penalty_scales_with_decoder_norms():
    sae = ReLUAprilSAE(d_in=8, width=16, l1_coefficient=1.0, sparsity_warmup=0.0)
    sae.init_weights(torch.Generator().manual_seed(0))
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.full((16,), 0.1))  # reference init
    torch.testing.assert_close(sae.W_enc, sae.W_dec)
    assert (sae.b_enc == 0).all() and (sae.b_dec == 0).all()
    x = torch.randn(12, 8)
    latents = sae.encode(x)
    before = sae.sparsity_penalty(latents)
    with torch.no_grad():
        sae.W_dec[:8] *= 3.0  # same latents, three times the decoder norm for half of them
    weights = torch.ones(16)
    weights[:8] = 3.0
    after = sae.sparsity_penalty(latents)
    torch.testing.assert_close(after, 0.1 * (latents * weights).sum(dim=-1).mean())
    assert after > before
    assert not ReLUAprilSAE.unit_norm_decoder and ReLUSAE.unit_norm_decoder and PAnnealSAE.unit_norm_decoder


def test_panneal_p_schedule():
    sae = PAnnealSAE(d_in=4, width=8)  # defaults: p 1 -> 0.2 from 4% of training, 10 stages
    assert sae.p_at(0.0) == 1.0 and sae.p_at(0.04) == 1.0 and sae.p_at(0.1) == 1.0
    assert sae.p_at(0.2) == pytest.approx(1.0 - 0.8 / 9)  # second point: 0.04 + 0.96 / 9
    ps = [sae.p_at(i / 1000) for i in range(1000)]
    assert all(a >= b for a, b in zip(ps, ps[1:]))
    # the last update point sits at the end of training and is never reached
    assert sae.p_at(0.999) == pytest.approx(0.2 + 0.8 / 9)
    short = PAnnealSAE(d_in=4, width=8, anneal_start=0.2, anneal_end=0.6, n_sparsity_updates=3)
    assert [short.p_at(q) for q in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)] == pytest.approx(
        [1.0, 1.0, 1.0, 1.0, 0.6, 0.6, 0.2])


@pytest.mark.parametrize("function", ["Lp", "Lp^p"])
def test_panneal_lp_penalty(function):
    sae = PAnnealSAE(d_in=4, width=3, sparsity_function=function)
    f = torch.tensor([[4.0, 0.0, 1.0], [0.0, 0.0, 0.0]], requires_grad=True)
    torch.testing.assert_close(sae.lp_penalty(f, 1.0), torch.tensor(2.5))  # L1 at p = 1
    value = sae.lp_penalty(f, 0.5)
    torch.testing.assert_close(value, torch.tensor(1.5 if function == "Lp^p" else 4.5))
    value.backward()
    assert torch.isfinite(f.grad).all() and (f.grad[:, 1] == 0).all() and (f.grad[1] == 0).all()


def test_panneal_rescales_coefficient_to_keep_penalty_continuous():
    sae = PAnnealSAE(d_in=8, width=32, l1_coefficient=0.5, sparsity_warmup=0.0, anneal_start=0.2,
                     anneal_end=0.6, n_sparsity_updates=3, sparsity_queue_length=4)
    sae.init_weights(torch.Generator().manual_seed(0))
    x = torch.randn(16, 8)
    dead = torch.zeros(32, dtype=torch.bool)
    with torch.no_grad():
        latents = sae.encode(x)
        l1, l06 = sae.lp_penalty(latents, 1.0), sae.lp_penalty(latents, 0.6)
        error = reconstruction_error(sae, x)
    for progress in (0.1, 0.2, 0.3, 0.35):  # first point (0.2) only fixes the next p
        sae.training_loss(x, dead=dead, progress=progress)
        assert sae.penalty_scale.item() == 1.0
    out = sae.training_loss(x, dead=dead, progress=0.4)  # second point: p 1 -> 0.6
    torch.testing.assert_close(out.loss.detach(), error + 0.5 * l1)
    torch.testing.assert_close(sae.penalty_scale.float(), (l1 / l06).float())
    out = sae.training_loss(x, dead=dead, progress=0.45)  # now at p = 0.6, same penalty value
    torch.testing.assert_close(out.loss.detach(), error + 0.5 * l1)
    assert int(sae.stage) == 2


@by_key(CLASSES)
def test_training_reaches_good_sparse_reconstruction(tmp_path, cls):
    data = ActivationShards(make_shards(tmp_path))
    sae = cls(d_in=16, width=32, l1_coefficient=TRAIN_L1[cls.architecture])
    cfg = TrainConfig(steps=150, batch_size=64, lr=3e-3, dead_tokens=2000, optimizer="adam")
    train_sae(sae, data, cfg, tmp_path / "ckpt.pt", log=lambda m: None, device="cpu")
    metrics = evaluate_sae(sae, data.eval_rows())
    assert metrics["fve"] > 0.7
    assert metrics["l0"] < 32 / 3
    norms = sae.W_dec.norm(dim=1)
    if cls.unit_norm_decoder:
        torch.testing.assert_close(norms, torch.ones(32))
    else:
        assert (norms - 1).abs().max() > 0.1  # the April decoder is free
    if cls is PAnnealSAE:
        assert int(sae.stage) == 9 and sae.penalty_scale.item() != 1.0


@by_key(CLASSES)
def test_save_load_round_trip(tmp_path, cls):
    hyper = {"l1_coefficient": 0.7, "sparsity_warmup": 0.3}
    if cls is PAnnealSAE:
        hyper.update(sparsity_function="Lp", p_start=0.9, p_end=0.4, anneal_start=0.5, anneal_end=0.9,
                     n_sparsity_updates=4, sparsity_queue_length=3)
    sae = cls(d_in=8, width=16, **hyper)
    sae.init_weights(torch.Generator().manual_seed(1), data_mean=torch.randn(8))
    if cls is PAnnealSAE:
        sae.penalty_scale.fill_(0.8)
        sae.stage.fill_(2)
    assert sae.hyperparameters() == hyper
    sae.save(tmp_path / "sae")
    loaded = load_sae(tmp_path / "sae")
    assert type(loaded) is cls and loaded.config() == sae.config()
    for name, tensor in sae.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor)
    x = torch.randn(5, 8)
    torch.testing.assert_close(loaded(x), sae(x))



@by_key(CLASSES)
def test_killed_and_resumed_run_matches_uninterrupted(tmp_path, cls):
    data = ActivationShards(make_shards(tmp_path))
    cfg = TrainConfig(steps=60, batch_size=32, lr=2e-3, checkpoint_every=20, dead_tokens=500, seed=3)

    def new():
        # P-anneal: the p stages (every ~6 steps from step 3) straddle the checkpoint at step 20
        return cls(16, 32, l1_coefficient=TRAIN_L1[cls.architecture], sparsity_warmup=0.5)

    reference, resumed, messages = train_uninterrupted_and_resumed(new, data, cfg, tmp_path)
    assert any("at step 20" in m for m in messages)
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, atol=1e-6, rtol=1e-5)
    if cls is PAnnealSAE:
        assert int(reference.stage) == 9 and reference.penalty_scale.item() != 1.0
