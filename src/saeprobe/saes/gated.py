"""Gated SAE (Rajamanoharan et al. 2024, "Improving Dictionary Learning with
Gated Sparse Autoencoders", arXiv:2404.16014).

Whether a latent fires and how strongly are decided by two paths that share
the encoder directions:

- gate:      pi_gate = (x - b_dec) W_enc^T + b_enc;            fires where pi_gate > 0
- magnitude: pi_mag  = exp(r_mag) * ((x - b_dec) W_enc^T) + b_mag; value ReLU(pi_mag)

so ``encode(x) = 1[pi_gate > 0] * ReLU(pi_mag)``. The L1 penalty acts only on
the gate path, so it does not shrink the magnitudes. Because the Heaviside
step passes no gradient to the gate, an auxiliary loss reconstructs the input
from ReLU(pi_gate) through a frozen (detached) copy of the decoder.

Training follows dictionary_learning's ``trainers/gdm.py`` (``GatedSAETrainer``
with ``GatedAutoEncoder``); the decoder-norm weighting of the L1 term is
SAELens's ``saes/gated_sae.py`` (with unit-norm decoder rows, as kept here, it
changes nothing).

Loss scale. Every squared error is summed over the ``d_in`` coordinates and
averaged over the batch, and the L1 term is summed over latents and averaged
over the batch, as in both references:

    loss = mean_b ||x - x_hat||^2
         + warmup(progress) * l1_coefficient * mean_b sum_i ||W_dec[i]|| * ReLU(pi_gate)_i
         + mean_b ||x - (ReLU(pi_gate) @ W_dec.detach() + b_dec.detach())||^2

The coefficient is therefore not scale-free: the default assumes inputs
scaled to unit mean squared norm, E||x||^2 = 1, the normalisation under which
dictionary_learning's defaults were chosen (its ``training.get_norm_factor``,
after Gemma Scope, Lieberum et al. 2024, section 3.1). For inputs of mean
squared norm s^2 the same trade-off needs ``l1_coefficient * s``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from saeprobe.saes.base import SparseAutoencoder, TrainingLoss, check_fraction, register, sparsity_warmup_scale


@register
class GatedSAE(SparseAutoencoder):
    architecture = "gated"
    scaled_with_input = ("b_mag",)
    # dictionary_learning's gdm.py trains with ConstrainedAdam, which keeps the
    # decoder directions at unit norm (parallel gradient removed, rows renormalised).
    unit_norm_decoder = True
    # GatedAutoEncoder.encode subtracts the decoder bias before the encoder.
    input_centered = True

    def __init__(
        self,
        d_in: int,
        width: int,
        # dictionary_learning trainers/gdm.py: l1_penalty=1e-1 (on unit mean-squared-norm inputs);
        # adamkarvonen/dictionary_learning_demo demo_config.py sweeps 0.012-0.08. SAELens
        # GatedTrainingSAEConfig's l1_coefficient=1.0 goes with its default of unnormalised inputs.
        l1_coefficient: float = 0.1,
        # dictionary_learning gdm.py: sparsity_warmup_steps=2000, a linear ramp of the penalty from 0;
        # given here as a fraction of training (its runs are 1e5-5e5 steps: 0.4-2%; we take the upper end).
        sparsity_warmup: float = 0.02,
    ):
        super().__init__(d_in, width)
        if l1_coefficient < 0:
            raise ValueError(f"l1_coefficient must be non-negative, got {l1_coefficient}")
        check_fraction("sparsity_warmup", sparsity_warmup)
        self.l1_coefficient = l1_coefficient
        self.sparsity_warmup = sparsity_warmup
        self.r_mag = nn.Parameter(torch.zeros(width))
        """Per-latent log scale of the magnitude path's share of ``W_enc``."""
        self.b_mag = nn.Parameter(torch.zeros(width))
        """Magnitude-path bias (``b_enc`` is the gate bias)."""

    def hyperparameters(self) -> dict:
        return {"l1_coefficient": self.l1_coefficient, "sparsity_warmup": self.sparsity_warmup}

    def init_weights(self, generator: torch.Generator, data_mean: torch.Tensor | None = None) -> None:
        # As GatedAutoEncoder._reset_parameters: tied unit-norm encoder/decoder, zero gate and
        # magnitude biases, r_mag = 0 (both paths start with the same projection). One difference:
        # b_dec starts at the data mean (base class, as for TopK) rather than 0, which only changes
        # the starting point of an input-centred encoder.
        super().init_weights(generator, data_mean)
        with torch.no_grad():
            self.r_mag.zero_()
            self.b_mag.zero_()

    def _paths(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gate and magnitude pre-activations, both ``[batch, width]``."""
        projection = (x - self.b_dec) @ self.W_enc.T
        return projection + self.b_enc, projection * self.r_mag.exp() + self.b_mag

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        gate_pre, mag_pre = self._paths(x)
        return torch.where(gate_pre > 0, F.relu(mag_pre), torch.zeros_like(mag_pre))

    def training_loss(self, x: torch.Tensor, dead: torch.Tensor, progress: float = 0.0) -> TrainingLoss:
        gate_pre, mag_pre = self._paths(x)
        active = gate_pre > 0
        latents = torch.where(active, F.relu(mag_pre), torch.zeros_like(mag_pre))
        squared_error = (x - self.decode(latents)).pow(2).sum(dim=-1)
        reconstruction = squared_error.mean()

        gate_act = F.relu(gate_pre)
        l1 = (gate_act * self.W_dec.norm(dim=1)).sum(dim=-1).mean()
        via_gate = gate_act @ self.W_dec.detach() + self.b_dec.detach()
        auxiliary = (x - via_gate).pow(2).sum(dim=-1).mean()

        loss = reconstruction + sparsity_warmup_scale(progress, self.sparsity_warmup) * self.l1_coefficient * l1 + auxiliary
        fvu = squared_error.sum() / (x - x.mean(dim=0)).pow(2).sum()
        fired = (latents != 0).any(dim=0)
        return TrainingLoss(loss=loss, fvu=fvu.detach(), fired=fired)
