"""The temporal Matryoshka BatchTopK SAE: its loss on a tiny batch by hand, both
temporal terms, resumed training and the temporal-saes checkpoint format."""

import math

import numpy as np
import pytest
import torch

from saeprobe.config import SEQUENCE_ARCHITECTURES
from saeprobe.saes import ARCHITECTURES, MatryoshkaBatchTopKSAE, TemporalMatryoshkaBatchTopKSAE
from saeprobe.saes.formats import load_pretrained, save_temporal_saes
from saeprobe.training import ActivationShards, TrainConfig, train_sae
from sae_helpers import make_shards, random_sae, train_uninterrupted_and_resumed
from test_temporal_sequences import LAYER, write_shard

# Two pairs of 4-d inputs; with the identity encoder the pre-activations are the inputs.
# k = 2 keeps the 4 largest of each side's 8 entries over the batch.
NOW = torch.tensor([[4.0, 3.0, 0.5, 0.1], [0.2, 2.5, 2.0, 0.3]])
PREV = torch.tensor([[3.0, 0.1, 0.2, 2.0], [1.0, 0.3, 2.2, 0.1]])


def identity_sae(**kw):
    sae = TemporalMatryoshkaBatchTopKSAE(d_in=4, width=4, k=2, group_fractions=[0.5, 0.5], aux_coef=0.0, **kw)
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(4)); sae.W_dec.copy_(torch.eye(4))
        sae.b_enc.zero_(); sae.b_dec.zero_()
    return sae


def hand_loss(temporal_term: str) -> float:
    # Batch top-4 of NOW: 4, 3, 2.5, 2 -> codes [[4, 3, 0, 0], [0, 2.5, 2, 0]]; of PREV: 3, 2, 2.2, 1
    # -> [[3, 0, 0, 2], [1, 0, 2.2, 0]]. High-level group: latents 0 and 1.
    now_codes = torch.tensor([[4.0, 3.0, 0, 0], [0, 2.5, 2.0, 0]])
    total_variance = float((NOW - NOW.mean(dim=0)).pow(2).sum())
    prefix_high = NOW - torch.cat([now_codes[:, :2], torch.zeros(2, 2)], dim=1)
    prefix_all = NOW - now_codes
    reconstruction = 0.2 * float(prefix_high.pow(2).sum()) / total_variance \
        + 0.8 * float(prefix_all.pow(2).sum()) / total_variance
    high_now, high_prev = torch.tensor([[4.0, 3.0], [0, 2.5]]), torch.tensor([[3.0, 0], [1.0, 0]])
    if temporal_term == "similarity_l1":
        cosines = torch.nn.functional.cosine_similarity(NOW, PREV, dim=1)
        term = float(((high_now - high_prev).abs().sum(dim=1) * cosines * 0.2).mean())
    else:
        scores = high_now @ high_prev.T  # [[12, 4], [0, 0]]
        log_softmax_rows = scores - torch.logsumexp(scores, dim=1, keepdim=True)
        log_softmax_cols = scores.T - torch.logsumexp(scores.T, dim=1, keepdim=True)
        term = -0.25 * float(log_softmax_rows.diagonal().sum() + log_softmax_cols.diagonal().sum())
    return reconstruction + 0.1 * term


def test_registered_and_named_for_the_config():
    assert ARCHITECTURES["temporal_matryoshka_batchtopk"] is TemporalMatryoshkaBatchTopKSAE
    assert set(SEQUENCE_ARCHITECTURES) == {key for key, cls in ARCHITECTURES.items() if cls.trains_on_pairs}


def test_reference_defaults():
    sae = TemporalMatryoshkaBatchTopKSAE(d_in=8, width=100)
    assert (sae.k, sae.group_fractions, sae.group_weights, sae.group_sizes) == (20, [0.2, 0.8], [0.2, 0.8], [20, 80])
    assert (sae.temporal_term, sae.temp_alpha, sae.pair_mode) == ("similarity_l1", 0.1, "r")


@pytest.mark.parametrize("temporal_term", ["similarity_l1", "info_nce"])
def test_loss_on_a_tiny_batch_by_hand(temporal_term):
    out = identity_sae(temporal_term=temporal_term).training_loss(torch.stack([NOW, PREV], dim=1),
                                                                  dead=torch.zeros(4, dtype=torch.bool))
    assert out.loss.item() == pytest.approx(hand_loss(temporal_term), rel=1e-5)
    assert out.fired.tolist() == [True, True, True, False]


def test_without_the_temporal_term_it_is_the_matryoshka_loss_on_x_t():
    pairs = torch.stack([NOW, PREV], dim=1)
    temporal = identity_sae(temp_alpha=0.0).training_loss(pairs, dead=torch.zeros(4, dtype=torch.bool))
    matryoshka = MatryoshkaBatchTopKSAE(d_in=4, width=4, k=2, group_fractions=[0.5, 0.5], group_weights=[0.2, 0.8],
                                        aux_coef=0.0)
    matryoshka.load_state_dict(identity_sae().state_dict())
    plain = matryoshka.training_loss(NOW, dead=torch.zeros(4, dtype=torch.bool))
    assert temporal.loss.item() == pytest.approx(plain.loss.item(), rel=1e-6)


def test_single_tokens_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match=r"pairs \[batch, 2, d_in\]"):
        identity_sae().training_loss(NOW, dead=torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="temporal_term"):
        TemporalMatryoshkaBatchTopKSAE(d_in=4, width=10, k=2, temporal_term="l2")
    with pytest.raises(ValueError, match="pair_mode"):
        TemporalMatryoshkaBatchTopKSAE(d_in=4, width=10, k=2, pair_mode="x")


def sequence_corpus(folder, rows=40, ctx=17, d_in=16, seed=0):
    """Training and held-out sequence shards of slowly drifting sparse codes."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(8, d_in))

    def rows_of(n):
        codes = np.cumsum(rng.normal(scale=0.3, size=(n, ctx, 8)), axis=1).clip(min=0)
        return (codes @ basis + 0.01 * rng.normal(size=(n, ctx, d_in))).astype(np.float32)

    return [write_shard(folder / "train", rows_of(rows))], [write_shard(folder / "heldout", rows_of(8))]


def test_training_resumes_to_identical_weights(tmp_path):
    from saeprobe.temporal.sequences import SequenceShards

    data = SequenceShards(*sequence_corpus(tmp_path), LAYER, pair_mode="r")
    cfg = TrainConfig(steps=40, batch_size=64, checkpoint_every=20, seed=3)

    def make():
        return TemporalMatryoshkaBatchTopKSAE(d_in=16, width=40, k=4, threshold_start=0.5, threshold_beta=0.9)

    reference, resumed, messages = train_uninterrupted_and_resumed(make, data, cfg, tmp_path)
    assert any("resuming from checkpoint" in m and "at step 20" in m for m in messages)
    for name, tensor in reference.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    assert reference.threshold > 0  # estimated after half of training


def test_the_trainer_refuses_a_mismatch_of_pairs_and_tokens(tmp_path):
    from saeprobe.temporal.sequences import SequenceShards

    cfg = TrainConfig(steps=2, batch_size=8)
    tokens = ActivationShards(make_shards(tmp_path))
    with pytest.raises(ValueError, match="trains on pairs"):
        train_sae(TemporalMatryoshkaBatchTopKSAE(d_in=16, width=40, k=4), tokens, cfg, tmp_path / "a.pt")
    pairs = SequenceShards(*sequence_corpus(tmp_path / "seq"), LAYER, pair_mode="p")
    with pytest.raises(ValueError, match="trains on single tokens"):
        train_sae(MatryoshkaBatchTopKSAE(d_in=16, width=40, k=4, group_fractions=[0.5, 0.5]), pairs, cfg,
                  tmp_path / "b.pt")


@pytest.mark.parametrize("temporal_term, pair_mode", [("similarity_l1", "r"), ("info_nce", "p")])
def test_a_fork_format_checkpoint_round_trips(tmp_path, temporal_term, pair_mode):
    sae = random_sae("temporal_matryoshka_batchtopk", d_in=8, width=30, k=4)
    sae.temporal_term, sae.pair_mode, sae.temp_alpha = temporal_term, pair_mode, 0.25
    save_temporal_saes(sae, tmp_path / "tsae")
    assert sorted(p.name for p in (tmp_path / "tsae").iterdir()) == ["ae.pt", "config.json"]
    state = torch.load(tmp_path / "tsae" / "ae.pt", weights_only=True)
    assert state["W_enc"].shape == (8, 30) and state["group_sizes"].tolist() == [6, 24]  # the fork's layout
    loaded = load_pretrained(tmp_path / "tsae").eval()
    assert loaded.config() == sae.config()
    x = torch.randn(50, 8) + 1.0
    with torch.no_grad():
        assert torch.allclose(loaded.encode(x), sae.encode(x), atol=1e-6)
        assert torch.allclose(loaded(x), sae(x), atol=1e-5)
    assert math.isclose(float(loaded.threshold), float(sae.threshold))
