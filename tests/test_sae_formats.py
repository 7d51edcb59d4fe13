"""Pretrained checkpoints in each library's documented layout, read into our
classes and checked against that library's own encode formula."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import saeprobe.saes  # noqa: F401  (registers every architecture)
from saeprobe.saes import ARCHITECTURES
from saeprobe.saes.formats import CheckpointFormatError, load_pretrained, save_saelens
from sae_helpers import random_sae

D_IN, WIDTH, K = 6, 10, 3


def rand(*shape, scale=0.5):
    return torch.randn(*shape) * scale


def topk_mask(acts, k):
    values, indices = acts.topk(k, dim=-1)
    return torch.zeros_like(acts).scatter_(-1, indices, values)


@pytest.fixture
def x():
    return torch.randn(7, D_IN)


def write_saelens(folder, cfg, tensors):
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "sae_weights.safetensors"))
    (folder / "cfg.json").write_text(json.dumps({"d_in": D_IN, "d_sae": WIDTH, **cfg}))


def write_dictionary_learning(folder, dict_class, state, **trainer):
    folder.mkdir()
    torch.save(state, folder / "ae.pt")
    (folder / "config.json").write_text(json.dumps({"trainer": {"dict_class": dict_class, **trainer}}))


def check(sae, x, expected_latents, W_dec, b_dec):
    latents = sae.encode(x)
    torch.testing.assert_close(latents, expected_latents, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sae.decode(latents), expected_latents @ W_dec + b_dec, atol=1e-5, rtol=1e-5)


# -- SAELens: W_enc [d_in, d_sae], W_dec [d_sae, d_in]; x is centred when apply_b_dec_to_input
@pytest.mark.parametrize("centred", [True, False])
def test_saelens_standard(tmp_path, x, centred):
    W_enc, b_enc, W_dec, b_dec = rand(D_IN, WIDTH), rand(WIDTH), rand(WIDTH, D_IN), rand(D_IN)
    write_saelens(tmp_path / "sae", {"architecture": "standard", "apply_b_dec_to_input": centred},
                  {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec})
    sae = load_pretrained(tmp_path / "sae")
    assert sae.architecture == "relu"
    check(sae, x, F.relu((x - b_dec * centred) @ W_enc + b_enc), W_dec, b_dec)


@pytest.mark.parametrize("centred", [True, False])
def test_saelens_topk(tmp_path, x, centred):
    W_enc, b_enc, W_dec, b_dec = rand(D_IN, WIDTH), rand(WIDTH), rand(WIDTH, D_IN), rand(D_IN)
    write_saelens(tmp_path / "sae", {"architecture": "topk", "k": K, "apply_b_dec_to_input": centred},
                  {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec})
    sae = load_pretrained(tmp_path / "sae")
    assert sae.architecture == "topk" and sae.k == K
    check(sae, x, topk_mask(F.relu((x - b_dec * centred) @ W_enc + b_enc), K), W_dec, b_dec)


@pytest.mark.parametrize("folded", [True, False], ids=["as SAELens saves it", "unfolded"])
def test_saelens_topk_rescaled_by_decoder_norm(tmp_path, x, folded):
    """SAELens's TopK with rescale_acts_by_decoder_norm: pre-activations times
    the decoder row norms choose the top k; decoding divides them out."""
    W_enc, b_enc, W_dec, b_dec = rand(D_IN, WIDTH), rand(WIDTH), rand(WIDTH, D_IN), rand(D_IN)
    W_dec = W_dec * torch.linspace(0.2, 3.0, WIDTH)[:, None]
    if folded:  # what its trainer writes: norms folded into the encoder, unit decoder rows
        norms = W_dec.norm(dim=-1)
        W_enc, b_enc, W_dec = W_enc * norms, b_enc * norms, W_dec / norms[:, None]
    write_saelens(tmp_path / "sae", {"architecture": "topk", "k": K, "rescale_acts_by_decoder_norm": True},
                  {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec})
    norms = W_dec.norm(dim=-1)
    latents = topk_mask(F.relu(((x - b_dec) @ W_enc + b_enc) * norms), K)
    sae = load_pretrained(tmp_path / "sae")
    torch.testing.assert_close(sae.encode(x), latents, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sae.decode(sae.encode(x)), (latents / norms) @ W_dec + b_dec, atol=1e-5, rtol=1e-5)


def test_saelens_rescaling_outside_topk_is_refused(tmp_path):
    write_saelens(tmp_path / "sae", {"architecture": "standard", "rescale_acts_by_decoder_norm": True},
                  {"W_enc": rand(D_IN, WIDTH), "b_enc": rand(WIDTH), "W_dec": rand(WIDTH, D_IN), "b_dec": rand(D_IN)})
    with pytest.raises(CheckpointFormatError, match="only defined for SAELens's TopK"):
        load_pretrained(tmp_path / "sae")


def test_saelens_training_checkpoints_are_refused_with_the_way_out(tmp_path):
    write_saelens(tmp_path / "sae", {"architecture": "batchtopk", "k": K},
                  {"W_enc": rand(D_IN, WIDTH), "b_enc": rand(WIDTH), "W_dec": rand(WIDTH, D_IN), "b_dec": rand(D_IN)})
    with pytest.raises(CheckpointFormatError, match="a SAELens training checkpoint .* saves the finished SAE"):
        load_pretrained(tmp_path / "sae")


def test_saelens_old_config_without_architecture(tmp_path, x):
    W_enc, b_enc, W_dec, b_dec = rand(D_IN, WIDTH), rand(WIDTH), rand(WIDTH, D_IN), rand(D_IN)
    write_saelens(tmp_path / "sae", {"activation_fn_str": "topk", "activation_fn_kwargs": {"k": 2}},
                  {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec})
    sae = load_pretrained(tmp_path / "sae")
    check(sae, x, topk_mask(F.relu((x - b_dec) @ W_enc + b_enc), 2), W_dec, b_dec)


def test_saelens_jumprelu(tmp_path, x):
    W_enc, b_enc, W_dec, b_dec = rand(D_IN, WIDTH), rand(WIDTH), rand(WIDTH, D_IN), rand(D_IN)
    threshold = rand(WIDTH).abs()
    write_saelens(tmp_path / "sae", {"architecture": "jumprelu", "apply_b_dec_to_input": False},
                  {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec, "threshold": threshold})
    pre = x @ W_enc + b_enc
    check(load_pretrained(tmp_path / "sae"), x, F.relu(pre) * (pre > threshold), W_dec, b_dec)


def test_saelens_gated(tmp_path, x):
    W_enc, W_dec, b_dec = rand(D_IN, WIDTH), rand(WIDTH, D_IN), rand(D_IN)
    b_gate, r_mag, b_mag = rand(WIDTH), rand(WIDTH), rand(WIDTH)
    write_saelens(tmp_path / "sae", {"architecture": "gated"},
                  {"W_enc": W_enc, "b_gate": b_gate, "r_mag": r_mag, "b_mag": b_mag, "W_dec": W_dec, "b_dec": b_dec})
    pi = (x - b_dec) @ W_enc
    expected = (pi + b_gate > 0) * F.relu(pi * torch.exp(r_mag) + b_mag)
    check(load_pretrained(tmp_path / "sae"), x, expected, W_dec, b_dec)


def test_saelens_normalised_inputs_are_refused(tmp_path):
    write_saelens(tmp_path / "sae", {"architecture": "standard", "normalize_activations": "expected_average_only_in"},
                  {"W_enc": rand(D_IN, WIDTH), "b_enc": rand(WIDTH), "W_dec": rand(WIDTH, D_IN), "b_dec": rand(D_IN)})
    with pytest.raises(CheckpointFormatError, match="normalize_activations"):
        load_pretrained(tmp_path / "sae")


# -- dictionary_learning: nn.Linear weights are [out, in]
def test_dictionary_learning_relu(tmp_path, x):
    enc_w, enc_b, dec_w, bias = rand(WIDTH, D_IN), rand(WIDTH), rand(D_IN, WIDTH), rand(D_IN)
    dec_w = dec_w / dec_w.norm(dim=0)  # the original trainer keeps unit decoder columns
    write_dictionary_learning(tmp_path / "ae", "AutoEncoder",
                              {"encoder.weight": enc_w, "encoder.bias": enc_b, "decoder.weight": dec_w, "bias": bias})
    check(load_pretrained(tmp_path / "ae"), x, F.relu((x - bias) @ enc_w.T + enc_b), dec_w.T, bias)


def test_dictionary_learning_autoencoder_is_normalised_as_load_dictionary_does(tmp_path, x):
    """The April-update trainer saves an AutoEncoder with free decoder norms;
    AutoEncoder.from_pretrained moves them into the latents."""
    enc_w, enc_b, dec_w, bias = rand(WIDTH, D_IN), rand(WIDTH), rand(D_IN, WIDTH), rand(D_IN)
    write_dictionary_learning(tmp_path / "ae", "AutoEncoder",
                              {"encoder.weight": enc_w, "encoder.bias": enc_b, "decoder.weight": dec_w, "bias": bias})
    norms = dec_w.norm(dim=0)
    sae = load_pretrained(tmp_path / "ae")
    raw = F.relu((x - bias) @ enc_w.T + enc_b)
    torch.testing.assert_close(sae.encode(x), raw * norms, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sae(x), raw @ dec_w.T + bias, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(WIDTH))


def test_dictionary_learning_april_update(tmp_path, x):
    enc_w, enc_b, dec_w, dec_b = rand(WIDTH, D_IN), rand(WIDTH), rand(D_IN, WIDTH), rand(D_IN)
    write_dictionary_learning(tmp_path / "ae", "AutoEncoderNew", {
        "encoder.weight": enc_w, "encoder.bias": enc_b, "decoder.weight": dec_w, "decoder.bias": dec_b})
    sae = load_pretrained(tmp_path / "ae")
    assert sae.architecture == "relu_april"
    check(sae, x, F.relu(x @ enc_w.T + enc_b), dec_w.T, dec_b)


def test_dictionary_learning_topk(tmp_path, x):
    enc_w, enc_b, dec_w, b_dec = rand(WIDTH, D_IN), rand(WIDTH), rand(D_IN, WIDTH), rand(D_IN)
    write_dictionary_learning(tmp_path / "ae", "AutoEncoderTopK", {
        "encoder.weight": enc_w, "encoder.bias": enc_b, "decoder.weight": dec_w, "b_dec": b_dec,
        "k": torch.tensor(K), "threshold": torch.tensor(-1.0)}, k=K)
    check(load_pretrained(tmp_path / "ae"), x, topk_mask(F.relu((x - b_dec) @ enc_w.T + enc_b), K), dec_w.T, b_dec)


def test_dictionary_learning_batchtopk_uses_its_threshold(tmp_path, x):
    enc_w, enc_b, dec_w, b_dec = rand(WIDTH, D_IN), rand(WIDTH), rand(D_IN, WIDTH), rand(D_IN)
    write_dictionary_learning(tmp_path / "ae", "BatchTopKSAE", {
        "encoder.weight": enc_w, "encoder.bias": enc_b, "decoder.weight": dec_w, "b_dec": b_dec,
        "k": torch.tensor(K), "threshold": torch.tensor(0.2)}, k=K)
    acts = F.relu((x - b_dec) @ enc_w.T + enc_b)
    sae = load_pretrained(tmp_path / "ae")
    assert sae.architecture == "batchtopk"
    check(sae.eval(), x, acts * (acts > 0.2), dec_w.T, b_dec)


def test_dictionary_learning_matryoshka(tmp_path, x):
    W_enc, b_enc, W_dec, b_dec = rand(D_IN, WIDTH), rand(WIDTH), rand(WIDTH, D_IN), rand(D_IN)
    write_dictionary_learning(tmp_path / "ae", "MatryoshkaBatchTopKSAE", {
        "W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec, "k": torch.tensor(K),
        "threshold": torch.tensor(0.1), "group_sizes": torch.tensor([2, 3, 5])}, k=K)
    sae = load_pretrained(tmp_path / "ae")
    assert sae.architecture == "matryoshka_batchtopk"
    acts = F.relu((x - b_dec) @ W_enc + b_enc)
    check(sae.eval(), x, acts * (acts > 0.1), W_dec, b_dec)


def test_dictionary_learning_jumprelu(tmp_path, x):
    W_enc, b_enc, W_dec, b_dec = rand(D_IN, WIDTH), rand(WIDTH), rand(WIDTH, D_IN), rand(D_IN)
    threshold = rand(WIDTH).abs()
    write_dictionary_learning(tmp_path / "ae", "JumpReluAutoEncoder", {
        "W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec, "threshold": threshold})
    pre = x @ W_enc + b_enc
    check(load_pretrained(tmp_path / "ae"), x, F.relu(pre * (pre > threshold)), W_dec, b_dec)


def test_dictionary_learning_gated(tmp_path, x):
    enc_w, dec_w, dec_b = rand(WIDTH, D_IN), rand(D_IN, WIDTH), rand(D_IN)
    gate_b, r_mag, mag_b = rand(WIDTH), rand(WIDTH), rand(WIDTH)
    write_dictionary_learning(tmp_path / "ae", "GatedAutoEncoder", {
        "encoder.weight": enc_w, "decoder.weight": dec_w, "decoder_bias": dec_b,
        "gate_bias": gate_b, "r_mag": r_mag, "mag_bias": mag_b})
    x_enc = (x - dec_b) @ enc_w.T
    expected = (x_enc + gate_b > 0) * F.relu(torch.exp(r_mag) * x_enc + mag_b)
    check(load_pretrained(tmp_path / "ae"), x, expected, dec_w.T, dec_b)


# -- AI4LIFE-GROUP/temporal-saes (dictionary_learning fork), trainers/temporal_sequence_top_k.py:
# the trainer's ``config`` property under "trainer" (plus the buffer's), the SAE's state_dict in ae.pt
def write_temporal_saes(folder, state, width, dict_class="TemporalMatryoshkaBatchTopKSAE", **trainer):
    folder.mkdir()
    torch.save(state, folder / "ae.pt")
    config = {"trainer": {"trainer_class": dict_class.replace("SAE", "Trainer"), "dict_class": dict_class,
                          "activation_dim": D_IN, "dict_size": width, "k": K, "temporal": "r",
                          "threshold_beta": 0.999, "threshold_start_step": 1000, "layer": 12,
                          "lm_name": "google/gemma-2-2b", "device": "cuda:0", **trainer},
              "buffer": {"d_submodule": D_IN, "io": "out", "n_ctxs": 1000, "ctx_len": 128}}
    (folder / "config.json").write_text(json.dumps(config, indent=4))


def temporal_matryoshka_state(width, group_sizes, threshold):
    """TemporalMatryoshkaBatchTopKSAE's buffers (k int32, threshold and group_sizes) and
    nn.Parameters: W_enc [activation_dim, dict_size], W_dec [dict_size, activation_dim]."""
    return {"k": torch.tensor(K, dtype=torch.int), "threshold": torch.tensor(threshold),
            "group_sizes": torch.tensor(group_sizes), "W_enc": rand(D_IN, width), "b_enc": rand(width),
            "W_dec": rand(width, D_IN), "b_dec": rand(D_IN)}


def test_temporal_matryoshka_encodes_with_its_threshold(tmp_path, x):
    threshold = 0.15
    state = temporal_matryoshka_state(WIDTH, [2, 8], threshold)
    # Two latents that ignore x: one exactly at the threshold (the fork keeps only f > θ), one above it.
    state["W_enc"][:, :2] = 0.0
    state["b_enc"][:2] = torch.tensor([threshold, threshold + 0.25])
    write_temporal_saes(tmp_path / "tsae", state, WIDTH, group_fractions=[0.2, 0.8], group_weights=[0.2, 0.8],
                        group_sizes=[2, 8])
    sae = load_pretrained(tmp_path / "tsae").eval()
    assert sae.architecture == "temporal_matryoshka_batchtopk" and (sae.d_in, sae.width, sae.k) == (D_IN, WIDTH, K)
    assert sae.group_sizes == [2, 8]
    # The fork's encode(use_threshold=True): ReLU((x - b_dec) W_enc + b_enc), kept where > threshold.
    acts = F.relu((x - state["b_dec"]) @ state["W_enc"] + state["b_enc"])
    expected = acts * (acts > threshold)
    assert (expected[:, 0] == 0).all() and (expected[:, 1] == threshold + 0.25).all()
    check(sae, x, expected, state["W_dec"], state["b_dec"])


def test_temporal_matryoshka_groups_at_the_released_width(tmp_path):
    from saeprobe.sae_facts import checkpoint_d_in

    # The hub's gemma-2-2b T-SAE: 16384 latents, group_fractions [0.2, 0.8] -> int(0.2 * 16384) = 3276 first.
    width, sizes = 16384, [3276, 16384 - 3276]
    write_temporal_saes(tmp_path / "tsae", temporal_matryoshka_state(width, sizes, 0.1), width,
                        group_fractions=[0.2, 0.8], group_sizes=sizes)
    assert checkpoint_d_in(tmp_path / "tsae") == D_IN
    sae = load_pretrained(tmp_path / "tsae")
    assert sae.group_sizes == sizes and sae.group_ends == [3276, width]
    assert sae.group_fractions == pytest.approx([3276 / width, 13108 / width])


@pytest.mark.parametrize("dict_class", ["BatchTopKSAE", "TemporalBatchTopKSAE"])  # what its trainer writes / the class
def test_temporal_batchtopk(tmp_path, x, dict_class):
    # TemporalBatchTopKSAE keeps BatchTopKSAE's nn.Linear layout: encoder.weight [dict_size, activation_dim].
    enc_w, enc_b, dec_w, b_dec = rand(WIDTH, D_IN), rand(WIDTH), rand(D_IN, WIDTH), rand(D_IN)
    write_temporal_saes(tmp_path / "tsae", {
        "k": torch.tensor(K, dtype=torch.int), "threshold": torch.tensor(0.2), "decoder.weight": dec_w,
        "encoder.weight": enc_w, "encoder.bias": enc_b, "b_dec": b_dec}, WIDTH, dict_class=dict_class)
    sae = load_pretrained(tmp_path / "tsae").eval()
    assert sae.architecture == "batchtopk" and sae.k == K
    acts = F.relu((x - b_dec) @ enc_w.T + enc_b)
    check(sae, x, acts * (acts > 0.2), dec_w.T, b_dec)


# -- Gemma Scope: params.npz of a JumpReLU SAE, no input centring
def test_gemma_scope(tmp_path, x):
    W_enc, b_enc, W_dec, b_dec = rand(D_IN, WIDTH), rand(WIDTH), rand(WIDTH, D_IN), rand(D_IN)
    threshold = rand(WIDTH).abs()
    (tmp_path / "gs").mkdir()
    np.savez(tmp_path / "gs" / "params.npz", W_enc=W_enc.numpy(), b_enc=b_enc.numpy(), W_dec=W_dec.numpy(),
             b_dec=b_dec.numpy(), threshold=threshold.numpy())
    pre = x @ W_enc + b_enc
    check(load_pretrained(tmp_path / "gs"), x, F.relu(pre) * (pre > threshold), W_dec, b_dec)


# -- Llama Scope: lm_saes's hyperparams.json + checkpoints/final.safetensors, in training units
def write_llama_scope(folder, enc_w, enc_b, dec_w, dec_b, **hyper):
    (folder / "checkpoints").mkdir(parents=True)
    save_file({"encoder.weight": enc_w, "encoder.bias": enc_b, "decoder.weight": dec_w, "decoder.bias": dec_b},
              str(folder / "checkpoints" / "final.safetensors"))
    hyper = {"d_model": D_IN, "d_sae": WIDTH, "act_fn": "jumprelu", "jump_relu_threshold": 0.3,
             "hook_point_in": "blocks.16.hook_resid_post", "hook_point_out": "blocks.16.hook_resid_post",
             "norm_activation": "dataset-wise", "dataset_average_activation_norm": {"in": 9.0, "out": 9.0},
             "sparsity_include_decoder_norm": True, "apply_decoder_bias_to_pre_encoder": False, **hyper}
    (folder / "hyperparams.json").write_text(json.dumps(hyper))


def test_llama_scope_matches_saelens_loader(tmp_path, x):
    """Unit decoder rows, as released: SAELens scales the input by
    s = sqrt(d) / norm_in and the threshold by s, and folds 1/s into the decoder."""
    enc_w, enc_b, dec_b = rand(WIDTH, D_IN), rand(WIDTH), rand(D_IN)
    dec_w = F.normalize(rand(D_IN, WIDTH), dim=0)
    write_llama_scope(tmp_path / "ls", enc_w, enc_b, dec_w, dec_b)
    x = x * 9.0 / D_IN**0.5  # raw residuals of about the dataset's average norm
    s = D_IN**0.5 / 9.0
    pre = (s * x) @ enc_w.T + enc_b
    saelens_latents = pre * (pre > 0.3 * s)
    sae = load_pretrained(tmp_path / "ls").eval()
    assert sae.architecture == "jumprelu"
    check(sae, x, saelens_latents / s, dec_w.T, dec_b / s)
    torch.testing.assert_close(sae(x), (saelens_latents @ dec_w.T + dec_b) / s, atol=1e-5, rtol=1e-5)


def test_llama_scope_moves_decoder_norms_into_the_latents(tmp_path, x):
    """lm_saes's inference loader: dataset norms into biases and decoder, then
    the decoder row norms into the latents; pre-activations times those norms meet the threshold."""
    enc_w, enc_b, dec_w, dec_b = rand(WIDTH, D_IN), rand(WIDTH), rand(D_IN, WIDTH), rand(D_IN)
    dec_w = dec_w * torch.linspace(0.3, 2.0, WIDTH)
    write_llama_scope(tmp_path / "ls", enc_w, enc_b, dec_w, dec_b,
                      dataset_average_activation_norm={"in": 4.0, "out": 5.0})
    s_in, s_out = D_IN**0.5 / 4.0, D_IN**0.5 / 5.0
    W_dec = dec_w.T * (s_in / s_out)
    norms = W_dec.norm(dim=-1)
    pre = (x @ enc_w.T + enc_b / s_in) * norms
    check(load_pretrained(tmp_path / "ls").eval(), x, F.relu(pre) * (pre > 0.3), W_dec / norms[:, None], dec_b / s_out)


@pytest.mark.parametrize("hyper, message", [
    ({"hook_point_out": "blocks.16.hook_mlp_out"}, "a transcoder"),
    ({"act_fn": "relu", "jump_relu_threshold": 0.0}, "act_fn 'relu'"),
    ({"norm_activation": "token-wise"}, "norm_activation 'token-wise'"),
])
def test_llama_scope_unsupported_checkpoints_are_named(tmp_path, hyper, message):
    write_llama_scope(tmp_path / "ls", rand(WIDTH, D_IN), rand(WIDTH), rand(D_IN, WIDTH), rand(D_IN), **hyper)
    with pytest.raises(CheckpointFormatError, match=message):
        load_pretrained(tmp_path / "ls")


def test_corrupt_config_names_the_file_and_line(tmp_path):
    from saeprobe.atomic import JSONFileError

    write_saelens(tmp_path / "sae", {"architecture": "standard"},
                  {"W_enc": rand(D_IN, WIDTH), "b_enc": rand(WIDTH), "W_dec": rand(WIDTH, D_IN), "b_dec": rand(D_IN)})
    (tmp_path / "sae" / "cfg.json").write_text('{\n  "architecture": "standard",\n  "d_in": \n}')
    with pytest.raises(JSONFileError, match=r"sae/cfg.json: not valid JSON \(line 4, column 1"):
        load_pretrained(tmp_path / "sae")


def test_unknown_folder_is_explained(tmp_path):
    with pytest.raises(CheckpointFormatError, match="no SAE checkpoint found"):
        load_pretrained(tmp_path)


# -- writing SAELens, for every architecture, read back by our reader
@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_saelens_round_trip(tmp_path, x, architecture):
    sae = random_sae(architecture, D_IN, WIDTH, K)
    save_saelens(sae, tmp_path / "out")
    cfg = json.loads((tmp_path / "out" / "cfg.json").read_text())
    assert cfg["d_sae"] == WIDTH and cfg["metadata"]["saeprobe_architecture"] == architecture
    assert cfg["metadata"]["sae_lens_version"] == "6.0.0"  # SAELens keeps the metadata of 6.0 and later
    loaded = load_pretrained(tmp_path / "out").eval()
    torch.testing.assert_close(loaded.encode(x), sae.encode(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loaded(x), sae(x), atol=1e-5, rtol=1e-5)


def test_unreachable_hub_is_explained(monkeypatch):
    from saeprobe.saes.formats import fetch_pretrained

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointFormatError, match="could not download no-such-org/no-such-sae"):
        fetch_pretrained(hub_repo="no-such-org/no-such-sae", hub_path="layer_1")
    with pytest.raises(CheckpointFormatError, match="does not exist"):
        fetch_pretrained(path="/no/such/folder")


# -- what a checkpoint reads, from its files alone (asked at parse time)
def test_checkpoint_width_is_read_without_loading_weights(tmp_path):
    from saeprobe.sae_facts import checkpoint_d_in, checkpoint_format

    save_saelens(random_sae("topk", D_IN, WIDTH, K), tmp_path / "saelens")
    random_sae("relu", D_IN, WIDTH, K).save(tmp_path / "ours")
    write_dictionary_learning(tmp_path / "dl", "AutoEncoder", {}, activation_dim=D_IN)
    write_dictionary_learning(tmp_path / "dl_unsaid", "AutoEncoder", {})
    (tmp_path / "scope").mkdir()
    np.savez(tmp_path / "scope" / "params.npz", W_enc=np.zeros((D_IN, WIDTH), np.float32),
             threshold=np.zeros(WIDTH, np.float32))
    write_llama_scope(tmp_path / "llama", rand(WIDTH, D_IN), rand(WIDTH), rand(D_IN, WIDTH), rand(D_IN))
    (tmp_path / "empty").mkdir()
    found = {name: (checkpoint_format(tmp_path / name), checkpoint_d_in(tmp_path / name))
             for name in ("saelens", "ours", "dl", "dl_unsaid", "scope", "llama", "empty")}
    assert found == {"saelens": ("saelens", D_IN), "ours": ("saeprobe", D_IN), "dl": ("dictionary_learning", D_IN),
                     "dl_unsaid": ("dictionary_learning", None), "scope": ("gemma_scope", D_IN),
                     "llama": ("llama_scope", D_IN), "empty": (None, None)}


def test_pretrained_width_is_known_from_a_folder_or_the_hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from saeprobe.sae_facts import known_pretrained_d_in, known_sae_inputs

    save_saelens(random_sae("topk", D_IN, WIDTH, K), tmp_path / "local")
    assert known_pretrained_d_in({"path": str(tmp_path / "local")}) == D_IN
    assert known_pretrained_d_in({"path": str(tmp_path / "missing")}) is None  # the import job says so
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    hub = {"hub_repo": "org/saes", "hub_path": "layer_3/width_10"}
    assert known_pretrained_d_in(hub) is None  # not downloaded yet
    repo = tmp_path / "hub" / "models--org--saes"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    save_saelens(random_sae("topk", D_IN, WIDTH, K), repo / "snapshots" / ("0" * 40) / "layer_3" / "width_10")
    assert known_pretrained_d_in(hub) == D_IN
    assert known_sae_inputs({"a": {"name": "a", "pretrained": hub}, "b": {"name": "b", "architecture": "topk"},
                             "c": {"name": "c", "pretrained": {"path": str(tmp_path / "missing")}}}) == {"a": D_IN}
