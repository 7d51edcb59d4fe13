import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from saeprobe.saes.base import ARCHITECTURES, load_sae
from saeprobe.saes.batchtopk import BatchTopKSAE
from saeprobe.saes.matryoshka import MatryoshkaBatchTopKSAE, group_sizes
from saeprobe.training import ActivationShards, TrainConfig, evaluate_sae, train_sae
from sae_helpers import make_shards, train_uninterrupted_and_resumed

CLASSES = [BatchTopKSAE, MatryoshkaBatchTopKSAE]
# Matryoshka needs groups that are not empty at the small widths used here.
SMALL = {BatchTopKSAE: {}, MatryoshkaBatchTopKSAE: {"group_fractions": [0.25, 0.25, 0.5]}}

# Pre-activations (with identity encoder) of a 2-row batch; with k=2 the batch keeps
# the 4 largest of the 8: 4, 3, 2.5 (row 0) and 2 (row 1), so rows hold 3 and 1 latents.
X = torch.tensor([[4.0, 3.0, 2.5, 0.1], [0.2, 0.3, 2.0, 1.0]])
KEPT = torch.tensor([[4.0, 3.0, 2.5, 0.0], [0.0, 0.0, 2.0, 0.0]])


def identity_sae(cls, **kw):
    sae = cls(d_in=4, width=4, k=2, **{**SMALL[cls], **kw})
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(4)); sae.W_dec.copy_(torch.eye(4))
        sae.b_enc.zero_(); sae.b_dec.zero_()
    return sae


def no_dead(width):
    return torch.zeros(width, dtype=torch.bool)


def test_registered():
    assert ARCHITECTURES["batchtopk"] is BatchTopKSAE
    assert ARCHITECTURES["matryoshka_batchtopk"] is MatryoshkaBatchTopKSAE


@pytest.mark.parametrize("cls", CLASSES)
def test_training_keeps_k_times_batch_across_the_batch(cls):
    sae = identity_sae(cls)
    torch.testing.assert_close(sae.encode_batch(X), KEPT)
    out = sae.training_loss(X, dead=no_dead(4), progress=0.0)
    assert out.fired.tolist() == [True, True, True, False]
    # Random weights, all pre-activations positive: exactly k * batch nonzero codes,
    # unevenly spread over the rows.
    sae = cls(d_in=8, width=32, k=3, **SMALL[cls])
    sae.init_weights(torch.Generator().manual_seed(0))
    with torch.no_grad():
        sae.b_enc.fill_(10.0)
    codes = sae.encode_batch(torch.randn(10, 8, generator=torch.Generator().manual_seed(1)))
    assert int((codes != 0).sum()) == 3 * 10 and (codes >= 0).all()


@pytest.mark.parametrize("cls", CLASSES)
def test_inference_uses_the_shared_threshold(cls):
    sae = identity_sae(cls)
    # Not estimated yet (-1): every positive pre-activation passes.
    torch.testing.assert_close(sae.encode(X), X)
    sae.threshold.fill_(1.5)
    torch.testing.assert_close(sae.encode(X), KEPT)
    sae.threshold.fill_(2.5)  # strictly above θ, as JumpReLU
    torch.testing.assert_close(sae.encode(X), torch.tensor([[4.0, 3.0, 0.0, 0.0], [0.0] * 4]))
    # Batch-independent: each row alone gives the same codes.
    torch.testing.assert_close(torch.cat([sae.encode(X[:1]), sae.encode(X[1:])]), sae.encode(X))


@pytest.mark.parametrize("cls", CLASSES)
def test_forward_is_decode_of_encode(cls):
    sae = cls(d_in=8, width=32, k=4, **SMALL[cls])
    sae.init_weights(torch.Generator().manual_seed(0), data_mean=torch.full((8,), 0.3))
    sae.threshold.fill_(0.2)
    x = torch.randn(10, 8)
    latents = sae.encode(x)
    assert (latents != 0).any() and ((latents == 0) | (latents > 0.2)).all()
    torch.testing.assert_close(sae(x), sae.decode(latents))


@pytest.mark.parametrize("cls", CLASSES)
def test_threshold_follows_the_reference_rule(cls):
    sae = identity_sae(cls, threshold_beta=0.5, threshold_start=0.1)
    sae.training_loss(X, dead=no_dead(4), progress=0.1)  # not yet: updates need progress > start
    assert sae.threshold.item() == -1.0
    sae.training_loss(X, dead=no_dead(4), progress=0.2)  # first estimate: the smallest kept value
    assert sae.threshold.item() == 2.0
    sae.training_loss(X / 2, dead=no_dead(4), progress=0.3)  # then an EMA: 0.5 * 2 + 0.5 * 1
    assert sae.threshold.item() == 1.5
    sae.training_loss(-X, dead=no_dead(4), progress=0.4)  # nothing positive kept: m = 0
    assert sae.threshold.item() == 0.75


@pytest.mark.parametrize("cls", CLASSES)
def test_save_load_round_trip_keeps_the_threshold(cls, tmp_path):
    sae = cls(d_in=8, width=32, k=3, aux_k=5, threshold_beta=0.9, threshold_start=0.0, **SMALL[cls])
    sae.init_weights(torch.Generator().manual_seed(1))
    sae.training_loss(torch.randn(16, 8), dead=no_dead(32), progress=0.5)
    assert sae.threshold.item() > 0
    json.dumps(sae.hyperparameters())  # saved to cfg.json
    sae.save(tmp_path / "sae")
    assert load_file(str(tmp_path / "sae" / "sae.safetensors"))["threshold"].item() == sae.threshold.item()
    loaded = load_sae(tmp_path / "sae")
    assert type(loaded) is cls and loaded.config() == sae.config()
    assert loaded.threshold.item() == sae.threshold.item()
    x = torch.randn(5, 8)
    torch.testing.assert_close(loaded(x), sae(x))
    # hyperparameters() are exactly the constructor's keyword arguments
    assert cls(8, 32, **sae.hyperparameters()).config() == sae.config()


def test_matryoshka_loss_is_the_weighted_sum_of_prefix_losses():
    sae = identity_sae(MatryoshkaBatchTopKSAE, group_weights=[1.0, 2.0, 3.0])  # groups: {0}, {1}, {2, 3}
    out = sae.training_loss(X, dead=no_dead(4), progress=0.0)
    # Kept codes [[4, 3, 2.5, 0], [0, 0, 2, 0]]; identity decoder, so prefix g reconstructs
    # the codes of groups 1..g. Squared errors, by hand:
    #   latents {0}:       row 0 [0, 3, 2.5, .1] -> 15.26; row 1 [.2, .3, 2, 1] -> 5.13; 20.39
    #   latents {0, 1}:    row 0 [0, 0, 2.5, .1] -> 6.26;  row 1                -> 5.13; 11.39
    #   latents {0,1,2,3}: row 0 [0, 0, 0, .1]   -> 0.01;  row 1 [.2, .3, 0, 1] -> 1.13;  1.14
    # Centred sum of squares of X: 2 * (1.9² + 1.35² + .25² + .45²) = 11.395
    expected = (1 * 20.39 + 2 * 11.39 + 3 * 1.14) / 11.395
    torch.testing.assert_close(out.loss, torch.tensor(expected))
    torch.testing.assert_close(out.fvu, torch.tensor(1.14 / 11.395))  # fvu is the full dictionary's
    # Default weights are uniform (1 / n_groups): the mean prefix FVU.
    out = identity_sae(MatryoshkaBatchTopKSAE).training_loss(X, dead=no_dead(4), progress=0.0)
    torch.testing.assert_close(out.loss, torch.tensor((20.39 + 11.39 + 1.14) / 3 / 11.395))


@pytest.mark.parametrize("cls", CLASSES)
def test_sparse_loss_matches_a_dense_computation(cls):
    """Loss and gradients of the gather-based decode equal the plain dense formula."""
    matryoshka = cls is MatryoshkaBatchTopKSAE
    groups = {"group_fractions": [0.25, 0.25, 0.5], "group_weights": [0.5, 1.0, 2.0]} if matryoshka else {}
    sae = cls(d_in=8, width=32, k=3, aux_coef=0.0, **groups)
    sae.init_weights(torch.Generator().manual_seed(2), data_mean=torch.full((8,), 0.1))
    x = torch.randn(12, 8, generator=torch.Generator().manual_seed(3))
    out = sae.training_loss(x, dead=no_dead(32), progress=0.0)
    grads = torch.autograd.grad(out.loss, [sae.W_enc, sae.W_dec, sae.b_enc, sae.b_dec])

    codes = sae.encode_batch(x)
    total = (x - x.mean(dim=0)).pow(2).sum()
    ends, weights = ([8, 16, 32], [0.5, 1.0, 2.0]) if matryoshka else ([32], [1.0])
    dense = sum(w * (x - codes[:, :e] @ sae.W_dec[:e] - sae.b_dec).pow(2).sum() / total for e, w in zip(ends, weights))
    dense_grads = torch.autograd.grad(dense, [sae.W_enc, sae.W_dec, sae.b_enc, sae.b_dec])
    torch.testing.assert_close(out.loss, dense)
    for g, d in zip(grads, dense_grads):
        torch.testing.assert_close(g, d)


def test_matryoshka_group_sizes():
    assert group_sizes(1024, [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2 + 1 / 32]) == [32, 64, 128, 256, 544]
    assert MatryoshkaBatchTopKSAE(16, 1024).group_sizes == [32, 64, 128, 256, 544]
    # Fractions written as size / width (as checkpoint readers do) give the sizes back.
    for sizes in ([3, 7, 90], [1, 2, 4, 8, 17], [41, 59, 100]):
        assert group_sizes(sum(sizes), [s / sum(sizes) for s in sizes]) == sizes
    with pytest.raises(ValueError, match="sum to 1"):
        MatryoshkaBatchTopKSAE(16, 64, group_fractions=[0.5, 0.25])


def test_matryoshka_empty_groups_add_no_loss_term():
    # Floor-rounding 0.1 of 4 latents leaves the first group empty: groups {}, {0}, {1, 2, 3}.
    sae = identity_sae(MatryoshkaBatchTopKSAE, group_fractions=[0.1, 0.3, 0.6], group_weights=[5.0, 1.0, 3.0])
    assert sae.group_sizes == [0, 1, 3]
    out = sae.training_loss(X, dead=no_dead(4), progress=0.0)
    torch.testing.assert_close(out.loss, torch.tensor((1 * 20.39 + 3 * 1.14) / 11.395))  # see the test above
    MatryoshkaBatchTopKSAE(16, 10, k=2)  # default fractions at a tiny width: sizes [0, 0, 1, 2, 7]


@pytest.mark.parametrize("cls", CLASSES)
def test_training_reaches_good_fve_at_mean_l0_near_k(cls, tmp_path):
    data = ActivationShards(make_shards(tmp_path))
    # A 150-step run: θ's EMA must forget faster than the reference's 0.999 per step.
    sae = cls(d_in=16, width=32, k=4, threshold_beta=0.9, threshold_start=0.5, **SMALL[cls])
    cfg = TrainConfig(steps=150, batch_size=64, lr=3e-3, dead_tokens=2000, optimizer="adam")
    train_sae(sae, data, cfg, tmp_path / "ckpt.pt", log=lambda m: None, device="cpu")
    assert sae.threshold.item() > 0
    assert evaluate_sae(sae, data.eval_rows())["fve"] > 0.7
    # The held-out part is only ~20 rows; judge L0 on every row.
    rows = np.concatenate([np.load(p) for p in data.paths])
    assert abs(evaluate_sae(sae, rows)["l0"] - 4) < 0.6
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(32))



@pytest.mark.parametrize("cls", CLASSES)
def test_killed_and_resumed_run_matches_uninterrupted(cls, tmp_path):
    data = ActivationShards(make_shards(tmp_path))
    cfg = TrainConfig(steps=60, batch_size=32, lr=2e-3, checkpoint_every=20, dead_tokens=500, seed=3)

    def make():  # θ starts being estimated at step 7, before the step-20 checkpoint
        return cls(16, 32, k=4, threshold_beta=0.9, threshold_start=0.1, **SMALL[cls])

    reference, resumed, messages = train_uninterrupted_and_resumed(make, data, cfg, tmp_path)
    assert any("at step 20" in m for m in messages)
    assert reference.threshold.item() > 0
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, atol=1e-6, rtol=1e-5)
