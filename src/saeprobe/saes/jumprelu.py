"""JumpReLU SAE (Rajamanoharan et al. 2024, "Jumping Ahead: Improving
Reconstruction Fidelity with JumpReLU Sparse Autoencoders", arXiv:2407.14435),
the architecture of Gemma Scope (Lieberum et al. 2024).

Each latent has a learned threshold theta_i > 0 below which its pre-activation
is zeroed and above which it passes unchanged:

    pre = x W_enc^T + b_enc            (no b_dec subtracted, as in Gemma Scope)
    encode(x) = pre * 1[pre > theta]   (written ReLU(pre) * 1[pre > theta], so a
                                        threshold that strays below 0 never yields
                                        negative latents)

The step is not differentiable in theta, so theta learns through
straight-through estimators with a rectangle kernel K of width ``bandwidth`` =
epsilon (the paper's pseudo-derivatives):

    d JumpReLU / d theta := -(theta / epsilon) K((pre - theta) / epsilon)
    d H(pre - theta) / d theta := -(1 / epsilon) K((pre - theta) / epsilon)

so only pre-activations within epsilon / 2 of a threshold move it. The L0 term
passes no gradient to the pre-activations, only to the thresholds.

Training follows dictionary_learning's ``trainers/jumprelu.py`` and SAELens's
``saes/jumprelu_sae.py``. ``threshold`` is the parameter itself, as in
dictionary_learning and Gemma Scope's ``params.npz``, not its log as in the
paper's pseudo-code and SAELens: Adam moves a log-threshold by a roughly fixed
fraction per step, which leaves a 0.001 initial threshold nearly in place over
short runs. Positivity is kept instead by clamping after every optimiser step
(``normalize_decoder``), and the jump height in the first pseudo-derivative is
taken as ReLU(theta) (= theta whenever theta > 0).

Loss scale. The squared error is summed over the ``d_in`` coordinates and
averaged over the batch, and L0 is the number of active latents per input
averaged over the batch, as in both references:

    loss = mean_b ||x - x_hat||^2 + warmup(progress) * S
    S = l0_coefficient * L0                            (target_l0 None: the paper's L0 penalty)
    S = l0_coefficient * (L0 / target_l0 - 1)^2        (target_l0 set: dictionary_learning's loss)

``bandwidth``, ``threshold_init`` and the L0-penalty coefficient are in the
units of the input: the defaults assume inputs scaled to unit mean squared
norm, E||x||^2 = 1, as in the paper, Gemma Scope (section 3.1) and
dictionary_learning (``training.get_norm_factor``). For inputs of mean squared
norm s^2, scale ``bandwidth`` and ``threshold_init`` by s and the L0-penalty
coefficient by s^2 (the target-L0 loss is already scale-free).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from saeprobe.saes.base import SparseAutoencoder, TrainingLoss, check_fraction, register, sparsity_warmup_scale


def _rectangle(u: torch.Tensor) -> torch.Tensor:
    return (u.abs() < 0.5).to(u.dtype)


def _sum_to_threshold(grad: torch.Tensor) -> torch.Tensor:
    """Sum a ``[..., width]`` gradient over its leading dimensions."""
    return grad.reshape(-1, grad.shape[-1]).sum(dim=0)


class _JumpReLU(torch.autograd.Function):
    """ReLU(pre) * 1[pre > theta]: identity gradient to ``pre`` where it passes,
    the rectangle-kernel pseudo-derivative to ``theta``."""

    @staticmethod
    def forward(ctx, pre, threshold, bandwidth):
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return torch.where((pre > threshold) & (pre > 0), pre, torch.zeros_like(pre))

    @staticmethod
    def backward(ctx, grad_output):
        pre, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_pre = grad_output * ((pre > threshold) & (pre > 0)).to(grad_output.dtype)
        # The jump at theta has height ReLU(theta) (= theta for the positive thresholds trained here).
        kernel = _rectangle((pre - threshold) / eps)
        grad_threshold = _sum_to_threshold(-(F.relu(threshold) / eps) * kernel * grad_output)
        return grad_pre, grad_threshold, None


class _Step(torch.autograd.Function):
    """Heaviside 1[pre > theta]: no gradient to ``pre``, the rectangle-kernel
    pseudo-derivative to ``theta``."""

    @staticmethod
    def forward(ctx, pre, threshold, bandwidth):
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return (pre > threshold).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        pre, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_threshold = _sum_to_threshold(-(1.0 / eps) * _rectangle((pre - threshold) / eps) * grad_output)
        return None, grad_threshold, None


def jumprelu(pre: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
    return _JumpReLU.apply(pre, threshold, bandwidth)


def step(pre: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
    return _Step.apply(pre, threshold, bandwidth)


@register
class JumpReLUSAE(SparseAutoencoder):
    architecture = "jumprelu"
    scaled_with_input = ("threshold",)
    # dictionary_learning's JumpReluTrainer removes the decoder-parallel gradient
    # and renormalises decoder rows after every step.
    unit_norm_decoder = True
    # Gemma Scope's and dictionary_learning's JumpReLU encoders do not subtract b_dec.
    input_centered = False

    def __init__(
        self,
        d_in: int,
        width: int,
        # L0-penalty mode (target_l0 None): lambda of the paper's loss. SAELens's l0_coefficient=1.0
        # (saes/jumprelu_sae.py) goes with inputs of much larger norm. On E||x||^2 = 1 inputs a latent
        # earns its place when it removes more than lambda of squared error; 1e-3 (0.1% of the
        # input's energy) gives a moderate L0 (our choice, tuned on unit-scale test data).
        # Target-L0 mode: dictionary_learning trainers/jumprelu.py, sparsity_penalty=1.0.
        # None picks the default of the mode in use (saved resolved, like TopKSAE's aux_k).
        l0_coefficient: float | None = None,
        # dictionary_learning trainers/jumprelu.py uses target_l0=20 by default; here the paper's
        # L0 penalty is the default and the target-L0 loss is opt-in.
        target_l0: float | None = None,
        # dictionary_learning trainers/jumprelu.py bandwidth=0.001, the paper's epsilon.
        bandwidth: float = 0.001,
        # dictionary_learning JumpReluAutoEncoder: threshold 0.001, citing the paper's appendix I.
        threshold_init: float = 0.001,
        # dictionary_learning trainers/jumprelu.py: sparsity_warmup_steps=2000, a linear ramp of the
        # sparsity term from 0; given here as a fraction of training (its runs are 1e5-5e5 steps: 0.4-2%;
        # we take the upper end).
        sparsity_warmup: float = 0.02,
    ):
        super().__init__(d_in, width)
        if l0_coefficient is None:
            l0_coefficient = 1.0 if target_l0 is not None else 1e-3
        if l0_coefficient < 0:
            raise ValueError(f"l0_coefficient must be non-negative, got {l0_coefficient}")
        if target_l0 is not None and target_l0 <= 0:
            raise ValueError(f"target_l0 must be positive, got {target_l0}")
        if bandwidth <= 0 or threshold_init <= 0:
            raise ValueError(f"bandwidth and threshold_init must be positive, got {bandwidth}, {threshold_init}")
        check_fraction("sparsity_warmup", sparsity_warmup)
        self.l0_coefficient = l0_coefficient
        self.target_l0 = target_l0
        self.bandwidth = bandwidth
        self.threshold_init = threshold_init
        self.sparsity_warmup = sparsity_warmup
        self.threshold = nn.Parameter(torch.full((width,), float(threshold_init)))

    def hyperparameters(self) -> dict:
        return {
            "l0_coefficient": self.l0_coefficient, "target_l0": self.target_l0, "bandwidth": self.bandwidth,
            "threshold_init": self.threshold_init, "sparsity_warmup": self.sparsity_warmup,
        }

    def init_weights(self, generator: torch.Generator, data_mean: torch.Tensor | None = None) -> None:
        """As the paper (appendix I) and dictionary_learning's JumpReluAutoEncoder:
        He-uniform decoder rows rescaled to unit norm, encoder = decoder
        transpose, zero biases (``data_mean`` is not used) and every threshold
        at ``threshold_init``."""
        with torch.no_grad():
            # kaiming_uniform_ (a = sqrt(5)) on [width, d_in] draws from U(-1/sqrt(d_in), 1/sqrt(d_in));
            # the scale is irrelevant once rows are normalised.
            w = torch.rand(self.width, self.d_in, generator=generator) * 2 - 1
            w /= w.norm(dim=1, keepdim=True)
            self.W_dec.copy_(w)
            self.W_enc.copy_(w)
            self.b_enc.zero_()
            self.b_dec.zero_()
            self.threshold.fill_(self.threshold_init)

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        """The trainer's projection after every optimiser step: unit decoder rows
        and, here, thresholds kept positive (Adam's momentum can carry a small
        threshold below zero, where its pseudo-derivative vanishes)."""
        super().normalize_decoder()
        self.threshold.clamp_(min=torch.finfo(self.threshold.dtype).tiny)

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W_enc.T + self.b_enc

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.pre_activations(x)
        return torch.where((pre > self.threshold) & (pre > 0), pre, torch.zeros_like(pre))

    def sparsity_loss(self, l0: torch.Tensor) -> torch.Tensor:
        """The penalty on the batch-mean L0 (before warmup)."""
        if self.target_l0 is None:
            return self.l0_coefficient * l0
        return self.l0_coefficient * (l0 / self.target_l0 - 1).pow(2)

    def training_loss(self, x: torch.Tensor, dead: torch.Tensor, progress: float = 0.0) -> TrainingLoss:
        pre = self.pre_activations(x)
        latents = jumprelu(pre, self.threshold, self.bandwidth)
        squared_error = (x - self.decode(latents)).pow(2).sum(dim=-1)
        # L0 through the Heaviside STE on the pre-activations (paper, SAELens "step" mode).
        l0 = step(pre, self.threshold, self.bandwidth).sum(dim=-1).mean()
        loss = squared_error.mean() + sparsity_warmup_scale(progress, self.sparsity_warmup) * self.sparsity_loss(l0)
        fvu = squared_error.sum() / (x - x.mean(dim=0)).pow(2).sum()
        fired = (latents != 0).any(dim=0)
        return TrainingLoss(loss=loss, fvu=fvu.detach(), fired=fired)
