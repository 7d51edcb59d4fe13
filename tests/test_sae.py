import numpy as np
import pytest
import torch

from saeprobe.saes import ARCHITECTURES, TopKSAE, load_sae, register
from saeprobe.training import ActivationShards, TrainConfig, evaluate_sae, train_sae
from sae_helpers import make_shards, train_uninterrupted_and_resumed


def test_registry_refuses_duplicate_keys():
    assert ARCHITECTURES["topk"] is TopKSAE
    with pytest.raises(ValueError, match="already registered"):
        register(type("Clash", (TopKSAE,), {"architecture": "topk"}))


def test_topk_encode_keeps_k_latents_and_forward_is_decode_of_encode():
    sae = TopKSAE(d_in=8, width=32, k=4)
    sae.init_weights(torch.Generator().manual_seed(0))
    x = torch.randn(10, 8)
    latents = sae.encode(x)
    assert ((latents != 0).sum(dim=1) <= 4).all() and (latents >= 0).all()
    torch.testing.assert_close(sae(x), sae.decode(latents))


def test_topk_hand_set_weights():
    sae = TopKSAE(d_in=2, width=2, k=1)
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(2)); sae.W_dec.copy_(torch.eye(2))
        sae.b_enc.zero_(); sae.b_dec.zero_()
    x = torch.tensor([[3.0, 1.0], [0.5, 2.0]])
    torch.testing.assert_close(sae(x), torch.tensor([[3.0, 0.0], [0.0, 2.0]]))


def dense_topk_loss(sae, x, dead):
    """The TopK loss written with dense codes and plain autograd, as a reference."""
    pre = torch.relu((x - sae.b_dec) @ sae.W_enc.T + sae.b_enc)
    values, indices = pre.topk(sae.k, dim=-1)
    codes = torch.zeros_like(pre).scatter(-1, indices, values)
    error = x - (codes @ sae.W_dec + sae.b_dec)
    loss = error.pow(2).sum() / (x - x.mean(dim=0)).pow(2).sum()
    if dead.any():
        aux_values, aux_indices = pre.masked_fill(~dead, -1.0).topk(min(sae.aux_k, int(dead.sum())), dim=-1)
        aux_codes = torch.zeros_like(pre).scatter(-1, aux_indices, aux_values.clamp_min(0))
        residual = error.detach()
        aux = (aux_codes @ sae.W_dec - residual).pow(2).sum() / (residual - residual.mean(dim=0)).pow(2).sum()
        loss = loss + sae.aux_coef * aux
    return loss


# None; fewer than aux_k (all take part); more, as dense products over the
# dead block (up to DENSE_AUX_DEAD_PER_AUX_K * aux_k = 32); more, gathered sparsely.
@pytest.mark.parametrize("n_dead", [0, 5, 20, 40])
def test_topk_sparse_backward_matches_dense_autograd(n_dead):
    sae = TopKSAE(d_in=12, width=64, k=4, aux_k=8)
    sae.init_weights(torch.Generator().manual_seed(0), data_mean=torch.full((12,), 0.2))
    with torch.no_grad():
        sae.b_enc.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
    x = torch.randn(30, 12, generator=torch.Generator().manual_seed(2))
    dead = torch.zeros(64, dtype=torch.bool)
    dead[torch.randperm(64, generator=torch.Generator().manual_seed(3))[:n_dead]] = True
    reference = {name: g for name, g in zip(
        ("W_enc", "b_enc", "W_dec", "b_dec"),
        torch.autograd.grad(dense_topk_loss(sae, x, dead), [sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec]))}
    out = sae.training_loss(x, dead)
    out.loss.backward()
    torch.testing.assert_close(out.loss, dense_topk_loss(sae, x, dead).detach())
    for name, expected in reference.items():
        assert expected.abs().sum() > 0, name
        torch.testing.assert_close(getattr(sae, name).grad, expected, rtol=1e-4, atol=1e-6, msg=name)


def test_save_load_round_trip(tmp_path):
    sae = TopKSAE(d_in=8, width=16, k=3)
    sae.init_weights(torch.Generator().manual_seed(1))
    sae.save(tmp_path / "sae")
    loaded = load_sae(tmp_path / "sae")
    assert isinstance(loaded, TopKSAE) and loaded.config() == sae.config()
    x = torch.randn(5, 8)
    torch.testing.assert_close(loaded(x), sae(x))


def test_shards_hold_out_every_strideth_row(tmp_path):
    paths = []
    for i, n in enumerate((45, 23)):
        ids = np.arange(n, dtype=np.float32)[:, None] + 1000 * i
        np.save(tmp_path / f"s{i}.npy", np.repeat(ids, 2, axis=1)); paths.append(tmp_path / f"s{i}.npy")
    data = ActivationShards(paths, eval_stride=5)
    held_out = set(data.eval_rows()[:, 0].tolist())
    assert held_out == {float(r) for r in range(0, 45, 5)} | {1000.0 + r for r in range(0, 23, 5)}
    assert data.n_eval == 9 + 5 and data.n_train == 45 + 23 - 14
    seen = set()
    for step in range(200):
        seen |= set(data.train_batch(step, 16, seed=0)[:, 0].tolist())
    assert seen.isdisjoint(held_out) and len(seen) == data.n_train


@pytest.mark.parametrize("optimizer, lr, norm_tolerance", [("adam", 3e-3, 1e-5), ("signum", 1e-2, 0.05)])
def test_training_reduces_error_and_keeps_unit_decoder_norms(tmp_path, optimizer, lr, norm_tolerance):
    data = ActivationShards(make_shards(tmp_path))
    sae = TopKSAE(d_in=16, width=32, k=4)
    cfg = TrainConfig(steps=150, batch_size=64, lr=lr, dead_tokens=2000, optimizer=optimizer)
    train_sae(sae, data, cfg, tmp_path / "ckpt.pt", log=lambda m: None, device="cpu")
    metrics = evaluate_sae(sae, data.eval_rows())
    assert metrics["fve"] > 0.7
    assert metrics["l0"] <= 4
    # Adam's iterate is renormalised every step; schedule-free returns the
    # average of renormalised iterates, whose rows are close to unit norm.
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(32), atol=norm_tolerance, rtol=0)


@pytest.mark.parametrize("optimizer", ["signum", "adam"])
def test_killed_and_resumed_run_matches_uninterrupted(tmp_path, optimizer):
    data = ActivationShards(make_shards(tmp_path))
    cfg = TrainConfig(steps=60, batch_size=32, lr=2e-3, checkpoint_every=20, dead_tokens=500, seed=3,
                      optimizer=optimizer)

    reference, resumed, messages = train_uninterrupted_and_resumed(lambda: TopKSAE(16, 32, k=4), data, cfg, tmp_path)
    assert any("at step 20" in m for m in messages)
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, atol=1e-6, rtol=1e-5)


def test_checkpoint_of_other_settings_is_ignored(tmp_path):
    data = ActivationShards(make_shards(tmp_path))
    cfg = TrainConfig(steps=20, batch_size=32, checkpoint_every=10)
    train_sae(TopKSAE(16, 32, k=4), data, cfg, tmp_path / "c.pt", log=lambda m: None, device="cpu")
    messages = []
    train_sae(TopKSAE(16, 32, k=8), data, cfg, tmp_path / "c.pt", log=messages.append, device="cpu")
    assert any("written for other settings" in m for m in messages)


def test_shards_are_memory_mapped_not_loaded(tmp_path):
    data = ActivationShards(make_shards(tmp_path))
    assert all(isinstance(array, np.memmap) for array in data.arrays)
    batch = data.train_batch(0, 8, seed=0)
    assert isinstance(batch, np.ndarray) and not isinstance(batch, np.memmap) and batch.shape == (8, 16)
