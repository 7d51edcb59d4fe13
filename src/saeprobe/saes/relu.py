"""ReLU SAEs trained with an L1 sparsity penalty.

Two variants:

* ``relu`` -- the original recipe (Bricken et al. 2023, "Towards
  Monosemanticity"), as implemented by dictionary_learning's
  ``trainers/standard.py:StandardTrainer`` with ``dictionary.py:AutoEncoder``:
  ``f = ReLU((x - b_dec) W_enc^T + b_enc)``, plain L1 penalty on ``f``, decoder
  rows held at unit norm (the trainer projects out the radial gradient and
  renormalises after every step, like dictionary_learning's ``ConstrainedAdam``).
* ``relu_april`` -- Anthropic's "Circuits Updates - April 2024" recipe, as in
  dictionary_learning's ``StandardTrainerAprilUpdate`` (loss) and
  ``AutoEncoderNew`` (architecture and initialisation): ``f = ReLU(x W_enc^T +
  b_enc)`` (no input centring, as in the April update and ``AutoEncoderNew``;
  ``StandardTrainerAprilUpdate`` by default trains the centring
  ``AutoEncoder`` instead, which differs only by a reparametrisation of
  ``b_enc``), decoder unconstrained, and the L1 penalty of each latent
  weighted by its decoder row norm, so that shrinking activations while
  growing decoder rows gains nothing.

Loss convention (the references'; it sets the meaning of ``l1_coefficient``):

    loss = mean_batch ||x - x_hat||^2  +  l1_coefficient * warmup(progress) * mean_batch sum_i w_i f_i

i.e. squared error summed over ``d_in`` and L1 summed over latents, both
averaged over the batch rows; ``w_i = 1`` for ``relu`` and ``||W_dec[i]||``
for ``relu_april``; ``warmup`` ramps linearly from 0 to 1 over the first
``sparsity_warmup`` fraction of training. The loss is not scale-free: the
penalty grows like the data scale and the error like its square, so the
default coefficients are meant for activations normalised to unit mean
squared norm, E||x||^2 = 1 (what dictionary_learning's
``trainSAE(normalize_activations=True)`` does, and how the SAEBench suite
was trained). On data of scale s (E||x||^2 = s^2) the same sparsity needs
roughly ``l1_coefficient * s``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from saeprobe.saes.base import SparseAutoencoder, TrainingLoss, check_fraction, register, sparsity_warmup_scale

# dictionary_learning dictionary.py:AutoEncoder / AutoEncoderNew build the
# encoder and decoder from one random matrix whose per-latent columns are
# rescaled to norm 0.1.
_REFERENCE_INIT_NORM = 0.1


def fvu(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors over the sum of squares of the batch-centred input (detached)."""
    return ((x - recon).pow(2).sum() / (x - x.mean(dim=0)).pow(2).sum()).detach()


def random_directions(generator: torch.Generator, width: int, d_in: int) -> torch.Tensor:
    w = torch.randn(width, d_in, generator=generator)
    return w / w.norm(dim=1, keepdim=True)


@register
class ReLUSAE(SparseAutoencoder):
    """ReLU SAE with an L1 penalty and unit-norm decoder rows (``relu``).

    See the module docstring for the loss convention. Initialisation: random
    unit decoder rows, encoder = 0.1 x decoder transpose (dictionary_learning's
    ``AutoEncoder`` scales both to norm 0.1; its ``ConstrainedAdam`` then puts
    the decoder back at unit norm after the first step), ``b_enc = 0`` and
    ``b_dec`` = the data mean (a cheap stand-in for the geometric median that
    Towards Monosemanticity starts from; dictionary_learning starts at 0).
    Dead-latent resampling is not implemented (off by default in the reference).
    """

    architecture = "relu"
    unit_norm_decoder = True
    input_centered = True

    def __init__(
        self,
        d_in: int,
        width: int,
        # dictionary_learning trainers/standard.py:StandardTrainer defaults to
        # l1_penalty=0.1; SAEBench trained its ReLU SAEs with a sweep of
        # 0.012..0.06 (adamkarvonen/dictionary_learning_demo demo_config.py,
        # SPARSITY_PENALTIES.standard) on unit-mean-squared-norm activations;
        # 0.03 is a mid value of that sweep.
        l1_coefficient: float = 0.03,
        # StandardTrainer's penalty warmup is in steps (sparsity_warmup_steps);
        # SAEBench used 5000 steps of a 244k-step run (500M tokens, batch 2048,
        # demo_config.py SPARSITY_WARMUP_STEPS), i.e. about 2% of training.
        sparsity_warmup: float = 0.02,
    ):
        super().__init__(d_in, width)
        if l1_coefficient < 0:
            raise ValueError(f"l1_coefficient must be non-negative, got {l1_coefficient}")
        check_fraction("sparsity_warmup", sparsity_warmup)
        self.l1_coefficient = l1_coefficient
        self.sparsity_warmup = sparsity_warmup

    def hyperparameters(self) -> dict:
        return {"l1_coefficient": self.l1_coefficient, "sparsity_warmup": self.sparsity_warmup}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu((x - self.b_dec) @ self.W_enc.T + self.b_enc)

    def init_weights(self, generator: torch.Generator, data_mean: torch.Tensor | None = None) -> None:
        with torch.no_grad():
            w = random_directions(generator, self.width, self.d_in)
            self.W_dec.copy_(w)
            self.W_enc.copy_(_REFERENCE_INIT_NORM * w)
            self.b_enc.zero_()
            self.b_dec.copy_(data_mean if data_mean is not None else torch.zeros(self.d_in))

    def sparsity_penalty(self, latents: torch.Tensor) -> torch.Tensor:
        """L1 summed over latents, averaged over the batch (before coefficient and warmup)."""
        return latents.sum(dim=-1).mean()  # latents are >= 0

    def training_loss(self, x: torch.Tensor, dead: torch.Tensor, progress: float = 0.0) -> TrainingLoss:
        latents = self.encode(x)
        recon = self.decode(latents)
        mse = (x - recon).pow(2).sum(dim=-1).mean()
        scale = self.l1_coefficient * sparsity_warmup_scale(progress, self.sparsity_warmup)
        loss = mse + scale * self.sparsity_penalty(latents)
        return TrainingLoss(loss=loss, fvu=fvu(x, recon), fired=(latents > 0).any(dim=0))


@register
class ReLUAprilSAE(ReLUSAE):
    """ReLU SAE of Anthropic's April 2024 update (``relu_april``).

    The decoder is free (``unit_norm_decoder = False``) and latent i's L1 term
    is weighted by ``||W_dec[i]||`` (see the module docstring for the loss
    convention). ``encode`` does not subtract ``b_dec`` (``AutoEncoderNew``
    and the April update: ``f = ReLU(W_e x + b_e)``). Initialisation as in
    ``AutoEncoderNew``: decoder rows in random directions with norm 0.1,
    encoder = decoder transpose, both biases 0 (the data mean is not used).

    Not reproduced here: the reference clips the gradient norm at 1 before
    each Adam step, which belongs to the trainer.
    """

    architecture = "relu_april"
    unit_norm_decoder = False
    input_centered = False

    def __init__(
        self,
        d_in: int,
        width: int,
        # dictionary_learning StandardTrainerAprilUpdate defaults to l1_penalty=0.1;
        # SAEBench's sweep for it (demo_config.py SPARSITY_PENALTIES.standard_new)
        # is 0.012..0.06 on unit-mean-squared-norm activations; 0.03 is a mid value.
        l1_coefficient: float = 0.03,
        # Circuits Updates April 2024: lambda ramps up linearly over the first
        # 5% of training (also SAELens docs/training_saes.md, which follows that
        # recipe: l1_warm_up_steps = total_training_steps // 20).
        sparsity_warmup: float = 0.05,
    ):
        super().__init__(d_in, width, l1_coefficient=l1_coefficient, sparsity_warmup=sparsity_warmup)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x @ self.W_enc.T + self.b_enc)

    def init_weights(self, generator: torch.Generator, data_mean: torch.Tensor | None = None) -> None:
        with torch.no_grad():
            w = _REFERENCE_INIT_NORM * random_directions(generator, self.width, self.d_in)
            self.W_dec.copy_(w)
            self.W_enc.copy_(w)
            self.b_enc.zero_()
            self.b_dec.zero_()

    def sparsity_penalty(self, latents: torch.Tensor) -> torch.Tensor:
        """Decoder-norm-weighted L1, summed over latents and averaged over the batch."""
        return (latents * self.W_dec.norm(dim=1)).sum(dim=-1).mean()
