"""Base class, registry and checkpoint I/O shared by every SAE architecture.

A checkpoint is a folder with ``cfg.json`` (stamped with the architecture
key) and ``sae.safetensors``. Subclasses give ``encode``, ``training_loss``
and ``hyperparameters`` (and ``decode`` or ``init_weights`` where they
differ); the base class owns the registry, device handling, decoder-norm
upkeep and I/O.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, NamedTuple

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from saeprobe.atomic import atomic_path, read_json, write_json

ARCHITECTURES: dict[str, type["SparseAutoencoder"]] = {}


def register(cls: type["SparseAutoencoder"]) -> type["SparseAutoencoder"]:
    """Class decorator adding an architecture to the registry; keys must be unique."""
    key = cls.architecture
    if key in ARCHITECTURES:
        raise ValueError(f"SAE architecture {key!r} is already registered by {ARCHITECTURES[key].__name__}")
    ARCHITECTURES[key] = cls
    return cls


def check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} is a fraction of training and must be within [0, 1], got {value}")


def sparsity_warmup_scale(progress: float, sparsity_warmup: float) -> float:
    """Linear ramp 0 -> 1 over the first ``sparsity_warmup`` fraction of training
    (dictionary_learning trainers/trainer.py:get_sparsity_warmup_fn, in fractions)."""
    if sparsity_warmup <= 0:
        return 1.0
    return min(progress / sparsity_warmup, 1.0)


class TrainingLoss(NamedTuple):
    """What one training step of an SAE returns."""

    loss: torch.Tensor
    """The scalar to minimise."""
    fvu: torch.Tensor
    """Fraction of variance unexplained on the batch."""
    fired: torch.Tensor
    """``[width]`` bool: which latents were active on this batch."""


class SparseAutoencoder(nn.Module):
    """``x -> decode(encode(x))`` with a learned dictionary of ``width`` latents.

    Weights: ``W_enc [width, d_in]``, ``b_enc [width]``, ``W_dec [width, d_in]``
    (row i is latent i's decoder direction, kept at unit norm) and
    ``b_dec [d_in]``.
    """

    architecture: ClassVar[str]
    unit_norm_decoder: ClassVar[bool] = True
    """Whether the trainer keeps decoder rows at unit norm after every step."""
    scaled_with_input: ClassVar[tuple[str, ...]] = ()
    """Tensors besides ``b_enc``/``b_dec`` in input or pre-activation units
    (thresholds, magnitude biases), rescaled by ``scale_biases``."""
    signum_bias_lr: ClassVar[float | None] = None
    """Multiple of the sign-descent learning rate for ``b_enc``, ``b_dec`` and
    ``scaled_with_input`` on unit-scale inputs (``TrainConfig.make_optimizer``);
    None: the weights' learning rate."""
    signum_average_power: ClassVar[float] = 0.0
    """``average_power`` of ``ScheduleFreeSignum``: 0 is the uniform
    (lr**2-weighted) average of sparsify."""
    trains_on_pairs: ClassVar[bool] = False
    """Whether ``training_loss`` takes pairs of tokens of one sequence,
    ``[batch, 2, d_in]`` (temporal SAEs), which only a sequence corpus gives."""
    input_centered: ClassVar[bool] = True
    """Whether ``encode`` subtracts ``b_dec`` from the input first (conventions
    differ between libraries; checkpoint converters fold the difference into
    ``b_enc``)."""

    def __init__(self, d_in: int, width: int):
        super().__init__()
        self.d_in = d_in
        self.width = width
        self.W_enc = nn.Parameter(torch.empty(width, d_in))
        self.b_enc = nn.Parameter(torch.zeros(width))
        self.W_dec = nn.Parameter(torch.empty(width, d_in))
        self.b_dec = nn.Parameter(torch.zeros(d_in))

    # -- the architecture's part -------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, d_in] -> [batch, width]`` latent activations (mostly zeros)."""
        raise NotImplementedError

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return latents @ self.W_dec + self.b_dec

    def training_loss(self, x: torch.Tensor, dead: torch.Tensor, progress: float) -> TrainingLoss:
        """Loss on one batch.

        ``dead [width]`` marks latents that have not fired lately (for AuxK-style
        revival); ``progress`` in [0, 1) is the fraction of training done, for
        schedules such as sparsity-penalty warmup or annealing.
        """
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        """Architecture-specific constructor arguments besides d_in and width,
        exactly as ``__init__`` takes them (they are saved in ``cfg.json``)."""
        return {}

    # -- shared ------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def init_weights(self, generator: torch.Generator, data_mean: torch.Tensor | None = None) -> None:
        """Tied initialisation (encoder = decoder transpose, unit-norm rows), as
        in Gao et al. 2024 and sparsify; ``b_dec`` starts at the data mean."""
        with torch.no_grad():
            w = torch.randn(self.width, self.d_in, generator=generator)
            w /= w.norm(dim=1, keepdim=True)
            self.W_dec.copy_(w)
            self.W_enc.copy_(w)
            self.b_enc.zero_()
            self.b_dec.copy_(data_mean if data_mean is not None else torch.zeros(self.d_in))

    @torch.no_grad()
    def scale_biases(self, factor: float) -> None:
        """Make an SAE trained on ``x / factor`` act on raw ``x``.

        Biases and thresholds are multiplied by ``factor`` (dictionary_learning's
        ``scale_biases``), so reconstructions are exact on the raw scale,
        decoder rows keep their norms and latents come out ``factor`` x larger.
        """
        for name in ("b_enc", "b_dec", *self.scaled_with_input):
            getattr(self, name).mul_(factor)

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8)

    @torch.no_grad()
    def remove_parallel_decoder_grad(self) -> None:
        """Project out the gradient component along each unit decoder row, so
        the optimiser step does not fight the renormalisation."""
        if self.W_dec.grad is None:
            return
        parallel = (self.W_dec.grad * self.W_dec).sum(dim=1, keepdim=True)
        self.W_dec.grad -= parallel * self.W_dec

    def config(self) -> dict:
        return {"architecture": self.architecture, "d_in": self.d_in, "width": self.width, **self.hyperparameters()}

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(folder / "sae.safetensors") as tmp:
            save_file(tensors, str(tmp))
        write_json(folder / "cfg.json", self.config())


def load_sae(folder: str | Path, device: str | torch.device = "cpu") -> SparseAutoencoder:
    """Load a checkpoint written by ``SparseAutoencoder.save``."""
    folder = Path(folder)
    cfg = read_json(folder / "cfg.json")
    arch = cfg.pop("architecture")
    if arch not in ARCHITECTURES:
        raise ValueError(f"{folder}/cfg.json: unknown SAE architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    sae = ARCHITECTURES[arch](**cfg)
    sae.load_state_dict(load_file(str(folder / "sae.safetensors")))
    return sae.to(device)
