"""Pretrained SAE checkpoints in other libraries' formats.

Read: SAELens (``cfg.json`` + ``sae_weights.safetensors``), dictionary_learning
(``ae.pt`` + ``config.json``), Gemma Scope (``params.npz``, JumpReLU) and Llama
Scope (``hyperparams.json`` + ``checkpoints/final.safetensors``), plus our own
folders. Write: SAELens, so our SAEs open with
``sae_lens.SAE.load_from_disk``. Latents are the ones the source library's
own loader gives (SAELens's decoder-norm rescaling, dictionary_learning's
decoder normalisation), so the latents we rank are theirs.

Every reader produces a ``Checkpoint``: weights in our layout (``W_enc`` and
``W_dec`` both ``[width, d_in]``) plus the source's input convention; the
difference between conventions (whether ``encode`` subtracts ``b_dec``
first) is folded exactly into the encoder biases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from saeprobe.atomic import atomic_path, read_json, write_json
from saeprobe.sae_facts import FORMAT_FILES, checkpoint_format
from saeprobe.saes.base import ARCHITECTURES, SparseAutoencoder, load_sae


class CheckpointFormatError(ValueError):
    """A checkpoint folder we cannot read; the message names the folder and the reason."""


@dataclass
class Checkpoint:
    architecture: str
    """Our registry key."""
    W_enc: torch.Tensor
    b_enc: torch.Tensor
    W_dec: torch.Tensor
    b_dec: torch.Tensor
    input_centered: bool
    """Whether the source's encoder subtracts ``b_dec`` from its input."""
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    """Architecture-specific tensors under our names (``threshold``, ``r_mag``, ``b_mag``)."""
    hyperparameters: dict = field(default_factory=dict)

    def with_unit_decoder(self) -> "Checkpoint":
        """The same SAE with each decoder row's norm moved into its latent
        (encoder row and bias scaled up, decoder row scaled down): the same
        reconstructions, latents multiplied by those norms. What SAELens's
        ``rescale_acts_by_decoder_norm`` and dictionary_learning's
        ``normalize_decoder`` compute."""
        norms = self.W_dec.norm(dim=-1)
        divisors = torch.where(norms > 0, norms, 1.0)  # a zero row's latent is zero either way
        return Checkpoint(self.architecture, self.W_enc * norms[:, None], self.b_enc * norms,
                          self.W_dec / divisors[:, None], self.b_dec, self.input_centered, self.extra,
                          self.hyperparameters)

    def to_sae(self) -> SparseAutoencoder:
        if self.architecture not in ARCHITECTURES:
            raise CheckpointFormatError(f"no SAE class for architecture {self.architecture!r}")
        cls = ARCHITECTURES[self.architecture]
        width, d_in = self.W_enc.shape
        sae = cls(d_in=d_in, width=width, **self.hyperparameters)
        tensors = {"W_enc": self.W_enc, "b_enc": self.b_enc, "W_dec": self.W_dec, "b_dec": self.b_dec, **self.extra}
        if self.input_centered != cls.input_centered:
            # (x - b_dec) W^T + b  ==  x W^T + (b - W b_dec)
            shift = self.W_enc @ self.b_dec
            sign = 1.0 if cls.input_centered else -1.0
            tensors["b_enc"] = self.b_enc + sign * shift
            if "b_mag" in tensors:  # gated magnitude path: exp(r_mag) * (x W^T) + b_mag
                tensors["b_mag"] = tensors["b_mag"] + sign * torch.exp(tensors["r_mag"]) * shift
        state = sae.state_dict()
        missing = sorted(set(state) - set(tensors))
        if missing:
            raise CheckpointFormatError(f"checkpoint lacks {missing} for a {self.architecture} SAE")
        sae.load_state_dict({name: tensors[name].to(state[name].dtype).reshape(state[name].shape) for name in state})
        return sae


def load_pretrained(folder: str | Path) -> SparseAutoencoder:
    """Load an SAE from a folder in any supported format (detected from its files)."""
    folder = Path(folder)
    readers = {"saelens": lambda: read_saelens(folder).to_sae(),
               "dictionary_learning": lambda: read_dictionary_learning(folder).to_sae(),
               "gemma_scope": lambda: read_gemma_scope(folder).to_sae(),
               "llama_scope": lambda: read_llama_scope(folder).to_sae(), "saeprobe": lambda: load_sae(folder)}
    kind = checkpoint_format(folder)
    if kind is None:
        expected = ", ".join(f"{' + '.join(files)} ({kind})" for kind, files in FORMAT_FILES.items())
        raise CheckpointFormatError(f"{folder}: no SAE checkpoint found (expected {expected})")
    return readers[kind]()


# ---------------------------------------------------------------------------
# SAELens
# ---------------------------------------------------------------------------

# SAELens architecture name -> ours. BatchTopK-family SAEs are saved by
# SAELens for inference as JumpReLU with a per-latent threshold.
_FROM_SAELENS = {"standard": "relu", "topk": "topk", "jumprelu": "jumprelu", "gated": "gated"}
# Training-time architectures: mid-training checkpoints, before SAELens
# converts them to JumpReLU with the learnt threshold.
_SAELENS_TRAINING_ONLY = ("batchtopk", "matryoshka_batchtopk")
_TO_SAELENS = {
    "relu": "standard", "relu_april": "standard", "panneal": "standard", "topk": "topk",
    "jumprelu": "jumprelu", "batchtopk": "jumprelu", "matryoshka_batchtopk": "jumprelu",
    "temporal_matryoshka_batchtopk": "jumprelu", "gated": "gated",
}


def read_saelens(folder: Path) -> Checkpoint:
    cfg = read_json(folder / "cfg.json")
    tensors = load_file(str(folder / "sae_weights.safetensors"))
    # Older SAELens configs have no "architecture" and name the activation instead.
    arch = cfg.get("architecture") or ("topk" if cfg.get("activation_fn_str") == "topk" else "standard")
    if arch in _SAELENS_TRAINING_ONLY:
        raise CheckpointFormatError(
            f"{folder}: a SAELens training checkpoint (architecture {arch!r}, which exists only during "
            f"training); SAELens saves the finished SAE for inference as 'jumprelu': point at that folder"
        )
    if arch not in _FROM_SAELENS:
        raise CheckpointFormatError(f"{folder}: SAELens architecture {arch!r} is not supported "
                                    f"(supported: {sorted(_FROM_SAELENS)})")
    normalize = cfg.get("normalize_activations", "none") or "none"
    if normalize != "none":
        raise CheckpointFormatError(
            f"{folder}: SAELens normalize_activations={normalize!r} rescales inputs; only 'none' is supported"
        )
    ours = _FROM_SAELENS[arch]
    rescale = bool(cfg.get("rescale_acts_by_decoder_norm"))
    if rescale and ours != "topk":
        raise CheckpointFormatError(f"{folder}: rescale_acts_by_decoder_norm is only defined for SAELens's "
                                    f"TopK SAEs, not for {arch!r}")
    hyper, extra = {}, {}
    if ours == "topk":
        hyper["k"] = int(cfg.get("k") or cfg.get("activation_fn_kwargs", {})["k"])
    if ours == "jumprelu":
        extra["threshold"] = tensors["threshold"]
    if ours == "gated":
        extra.update(r_mag=tensors["r_mag"], b_mag=tensors["b_mag"])
    checkpoint = Checkpoint(
        ours, W_enc=tensors["W_enc"].T, b_enc=tensors["b_gate"] if ours == "gated" else tensors["b_enc"],
        W_dec=tensors["W_dec"], b_dec=tensors["b_dec"], input_centered=bool(cfg.get("apply_b_dec_to_input", True)),
        extra=extra, hyperparameters=hyper,
    )
    # SAELens's TopK then scales each pre-activation by its decoder row's norm
    # before choosing the top k, and divides it out when decoding. Its trainer
    # (rescale on by default) saves the norms already folded, unit rows.
    return checkpoint.with_unit_decoder() if rescale else checkpoint


SAELENS_FORMAT_VERSION = "6.0.0"
"""The SAELens config format ``save_saelens`` writes (read back by sae-lens 6.54)."""


def save_saelens(sae: SparseAutoencoder, folder: str | Path, metadata: dict | None = None) -> None:
    """Write ``sae`` as a SAELens inference checkpoint (cfg.json + sae_weights.safetensors)."""
    folder = Path(folder)
    arch = _TO_SAELENS.get(sae.architecture)
    if arch is None:
        raise CheckpointFormatError(f"no SAELens equivalent for a {sae.architecture} SAE")
    state = {k: v.detach().cpu().float() for k, v in sae.state_dict().items()}
    tensors = {"W_enc": state["W_enc"].T.contiguous(), "W_dec": state["W_dec"].contiguous(), "b_dec": state["b_dec"]}
    cfg = {
        "architecture": arch, "d_in": sae.d_in, "d_sae": sae.width, "dtype": "float32", "device": "cpu",
        "apply_b_dec_to_input": sae.input_centered, "normalize_activations": "none",
        # Without a version SAELens takes a config for a pre-6.0 one and drops its metadata.
        "metadata": {"sae_lens_version": SAELENS_FORMAT_VERSION, "saeprobe_architecture": sae.architecture,
                     **(metadata or {})},
    }
    if arch == "gated":
        tensors.update(b_gate=state["b_enc"], r_mag=state["r_mag"], b_mag=state["b_mag"])
    else:
        tensors["b_enc"] = state["b_enc"]
    if arch == "topk":
        cfg["k"] = sae.k
    if arch == "jumprelu":
        tensors["threshold"] = state["threshold"].expand(sae.width).contiguous()
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "sae_weights.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_json(folder / "cfg.json", cfg)


# ---------------------------------------------------------------------------
# dictionary_learning
# ---------------------------------------------------------------------------


def read_dictionary_learning(folder: Path) -> Checkpoint:
    """``ae.pt`` (a state_dict) + ``config.json`` (``trainer.dict_class``), as saved
    by dictionary_learning's trainers (see its ``utils.load_dictionary``) and by
    its fork AI4LIFE-GROUP/temporal-saes."""
    trainer = read_json(folder / "config.json")["trainer"]
    cls_name = trainer["dict_class"]
    sd = {k: v.float() for k, v in torch.load(folder / "ae.pt", map_location="cpu", weights_only=True).items()}
    if cls_name == "AutoEncoder":  # ReLU; ``bias`` is b_dec, subtracted before encoding
        # load_dictionary normalises the decoder (AutoEncoder.from_pretrained):
        # a no-op for the original trainer, which keeps unit rows, and a
        # rescaling of every latent for the April-update trainer's.
        return Checkpoint("relu", sd["encoder.weight"], sd["encoder.bias"], sd["decoder.weight"].T, sd["bias"],
                          True).with_unit_decoder()
    if cls_name == "AutoEncoderNew":  # April update; no centring
        return Checkpoint("relu_april", sd["encoder.weight"], sd["encoder.bias"], sd["decoder.weight"].T,
                          sd["decoder.bias"], False)
    # AI4LIFE-GROUP/temporal-saes (a dictionary_learning fork) saves its Temporal* SAEs
    # with the same keys and inference encoding as the plain classes; the temporal
    # term only shapes training. (Its TemporalBatchTopKTrainer even writes "BatchTopKSAE".)
    if cls_name in ("AutoEncoderTopK", "BatchTopKSAE", "TemporalBatchTopKSAE"):
        ours = "topk" if cls_name == "AutoEncoderTopK" else "batchtopk"
        extra = {"threshold": sd["threshold"]} if ours == "batchtopk" else {}
        return Checkpoint(ours, sd["encoder.weight"], sd["encoder.bias"], sd["decoder.weight"].T, sd["b_dec"], True,
                          extra=extra, hyperparameters={"k": int(trainer.get("k", sd["k"].item()))})
    if cls_name in ("MatryoshkaBatchTopKSAE", "TemporalMatryoshkaBatchTopKSAE"):
        sizes = sd["group_sizes"].tolist()
        hyperparameters = {"k": int(trainer.get("k", sd["k"].item())),
                           "group_fractions": [s / sum(sizes) for s in sizes]}
        if "group_weights" in trainer:
            hyperparameters["group_weights"] = [float(w) for w in trainer["group_weights"]]
        ours = "matryoshka_batchtopk"
        if cls_name == "TemporalMatryoshkaBatchTopKSAE":
            ours = "temporal_matryoshka_batchtopk"
            hyperparameters |= {"temporal_term": "info_nce" if trainer.get("contrastive") else "similarity_l1",
                                "temp_alpha": float(trainer.get("temp_alpha", 0.1)),
                                # train_temporal.py passes its --temporal mode to the trainer config.
                                "pair_mode": trainer["temporal"] if trainer.get("temporal") in ("r", "p") else "r"}
        return Checkpoint(ours, sd["W_enc"].T, sd["b_enc"], sd["W_dec"], sd["b_dec"], True,
                          extra={"threshold": sd["threshold"]}, hyperparameters=hyperparameters)
    if cls_name == "JumpReluAutoEncoder":  # apply_b_dec_to_input is False there
        return Checkpoint("jumprelu", sd["W_enc"].T, sd["b_enc"], sd["W_dec"], sd["b_dec"], False,
                          extra={"threshold": sd["threshold"]})
    if cls_name == "GatedAutoEncoder":
        return Checkpoint("gated", sd["encoder.weight"], sd["gate_bias"], sd["decoder.weight"].T, sd["decoder_bias"],
                          True, extra={"r_mag": sd["r_mag"], "b_mag": sd["mag_bias"]})
    raise CheckpointFormatError(f"{folder}: dictionary_learning class {cls_name!r} is not supported")


def save_temporal_saes(sae: SparseAutoencoder, folder: str | Path) -> None:
    """Write a (temporal) Matryoshka BatchTopK SAE as AI4LIFE-GROUP/temporal-saes
    saves its TemporalMatryoshkaBatchTopKSAE (``ae.pt`` + ``config.json``), so
    the fork's own loader and ``read_dictionary_learning`` open it."""
    if sae.architecture not in ("matryoshka_batchtopk", "temporal_matryoshka_batchtopk"):
        raise ValueError(f"the temporal-saes format holds Matryoshka BatchTopK SAEs, not {sae.architecture!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {"W_enc": sae.W_enc.detach().T.contiguous(), "b_enc": sae.b_enc.detach(), "W_dec": sae.W_dec.detach(),
             "b_dec": sae.b_dec.detach(), "threshold": sae.threshold.detach().clone(),
             "k": torch.tensor(sae.k, dtype=torch.int), "group_sizes": torch.tensor(sae.group_sizes)}
    temporal = sae.architecture == "temporal_matryoshka_batchtopk"
    trainer = {"trainer_class": "TemporalMatryoshkaBatchTopKTrainer" if temporal else "MatryoshkaBatchTopKTrainer",
               "dict_class": "TemporalMatryoshkaBatchTopKSAE" if temporal else "MatryoshkaBatchTopKSAE",
               "activation_dim": sae.d_in, "dict_size": sae.width, "k": sae.k,
               "group_fractions": list(sae.group_fractions), "group_weights": list(sae.group_weights),
               "group_sizes": list(sae.group_sizes)}
    if temporal:
        trainer |= {"temporal": sae.pair_mode, "contrastive": sae.temporal_term == "info_nce",
                    "temp_alpha": sae.temp_alpha}
    with atomic_path(folder / "ae.pt") as tmp:
        torch.save(state, tmp)
    write_json(folder / "config.json", {"trainer": trainer})


# ---------------------------------------------------------------------------
# Gemma Scope
# ---------------------------------------------------------------------------


def read_gemma_scope(folder: Path) -> Checkpoint:
    """``params.npz`` of google/gemma-scope-*: a JumpReLU SAE whose encoder
    does not subtract ``b_dec`` (Lieberum et al. 2024)."""
    params = {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in np.load(folder / "params.npz").items()}
    return Checkpoint("jumprelu", params["W_enc"].T, params["b_enc"], params["W_dec"], params["b_dec"], False,
                      extra={"threshold": params["threshold"]})


# ---------------------------------------------------------------------------
# Llama Scope
# ---------------------------------------------------------------------------

def read_llama_scope(folder: Path) -> Checkpoint:
    """A Llama Scope SAE (He et al. 2024, fnlp/Llama3_1-8B-Base-LX*): OpenMOSS's
    lm_saes layout, ``hyperparams.json`` + ``checkpoints/final.safetensors``
    (``encoder.weight [d_sae, d_model]``, ``decoder.weight [d_model, d_sae]``),
    one scalar JumpReLU threshold.

    Its weights are in training units: inputs rescaled so their dataset-average
    norm is sqrt(d_model), by s = sqrt(d_model) / norm_in. lm_saes's inference
    loader moves that scale into the biases and the decoder
    (``standardize_parameters_of_dataset_norm``: b_enc / s_in, W_dec * s_in / s_out,
    b_dec / s_out), leaves the threshold as stored, and then moves the decoder
    row norms into the latents (``sparsity_include_decoder_norm``), whose
    pre-activations times those norms meet the threshold. We do the same, so raw
    residuals go in. (SAELens's loader, which scales inputs by s instead, scales
    the threshold by s to match; SAELens PR #483.)"""
    config_file, weights_file = FORMAT_FILES["llama_scope"]
    hyper = read_json(folder / config_file)
    act_fn, threshold = hyper.get("act_fn"), float(hyper.get("jump_relu_threshold", 0.0))
    # lm_saes serves a TopK SAE with a calibrated threshold as JumpReLU.
    if not (act_fn == "jumprelu" or (act_fn == "topk" and threshold > 0)):
        raise CheckpointFormatError(f"{folder}: Llama Scope act_fn {act_fn!r} with jump_relu_threshold {threshold} "
                                    f"is not supported (supported: 'jumprelu')")
    if hyper.get("hook_point_in") != hyper.get("hook_point_out", hyper.get("hook_point_in")):
        raise CheckpointFormatError(f"{folder}: a transcoder (hook_point_in {hyper['hook_point_in']!r}, hook_point_out "
                                    f"{hyper['hook_point_out']!r}); only SAEs that reconstruct their input are supported")
    tensors = {k: v.float() for k, v in load_file(str(folder / weights_file)).items()}
    d_model = int(hyper["d_model"])
    scale_in = scale_out = 1.0
    norm = hyper.get("norm_activation", "dataset-wise")
    if norm == "dataset-wise":
        average_norm = hyper["dataset_average_activation_norm"]
        scale_in, scale_out = (d_model**0.5 / float(average_norm[side]) for side in ("in", "out"))
    elif norm != "inference":  # "inference": already standardised
        raise CheckpointFormatError(f"{folder}: Llama Scope norm_activation {norm!r} is not supported "
                                    f"(supported: 'dataset-wise', 'inference')")
    checkpoint = Checkpoint(
        "jumprelu", tensors["encoder.weight"], tensors["encoder.bias"] / scale_in,
        tensors["decoder.weight"].T * (scale_in / scale_out), tensors["decoder.bias"] / scale_out,
        input_centered=bool(hyper.get("apply_decoder_bias_to_pre_encoder", False)),
        extra={"threshold": torch.full((int(hyper["d_sae"]),), threshold)},
    )
    # The threshold stays: it already applies to the norm-scaled pre-activations.
    return checkpoint.with_unit_decoder() if hyper.get("sparsity_include_decoder_norm", True) else checkpoint


def fetch_pretrained(path: str | None = None, hub_repo: str | None = None, hub_path: str = "") -> Path:
    """The local folder of a pretrained SAE: ``path`` as given, or the folder
    ``hub_path`` of the Hugging Face repo ``hub_repo``, downloaded once into
    the hub cache (e.g. ``google/gemma-scope-2b-pt-res`` with
    ``layer_12/width_16k/average_l0_82``)."""
    if path is not None:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise CheckpointFormatError(f"pretrained SAE folder {folder} does not exist")
        return folder
    if not hub_repo:
        raise CheckpointFormatError("a pretrained SAE needs 'path' or 'hub_repo'")
    from huggingface_hub import snapshot_download

    pattern = f"{hub_path.strip('/')}/*" if hub_path else "*"
    try:
        snapshot = snapshot_download(hub_repo, allow_patterns=[pattern])
    except Exception as err:  # network, auth and missing-repo errors all end here
        raise CheckpointFormatError(
            f"could not download {hub_repo}:{hub_path} from the Hugging Face hub ({err}); check the repo and "
            f"folder names, log in with `hf auth login` for gated repos, or give a local 'path'"
        ) from None
    return Path(snapshot) / hub_path
