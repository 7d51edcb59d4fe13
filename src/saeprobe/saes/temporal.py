"""Temporal Matryoshka BatchTopK SAE (Bhalla, Oesterling et al. 2025,
"Temporal Sparse Autoencoders", arXiv 2511.05541; AI4LIFE-GROUP/temporal-saes
``trainers/temporal_sequence_top_k.py``; analysis-methods.md §5.1–5.3).

A Matryoshka BatchTopK SAE with two groups whose first ("high-level") group
is asked to change slowly along a sequence: it trains on pairs of tokens of
one sequence, x_t and an earlier x_t', and adds a temporal term on the two
group-0 codes to the Matryoshka reconstruction and AuxK losses. Inference
(the shared threshold), checkpoints and everything downstream are
Matryoshka BatchTopK's; only training differs.
"""

from __future__ import annotations

import torch

from saeprobe.saes.base import TrainingLoss, register
from saeprobe.saes.matryoshka import MatryoshkaBatchTopKSAE
from saeprobe.saes.topk import auxk_loss
from saeprobe.temporal.loss import TEMPORAL_KINDS, temporal_term
from saeprobe.temporal.pairs import PAIR_MODES


@register
class TemporalMatryoshkaBatchTopKSAE(MatryoshkaBatchTopKSAE):
    architecture = "temporal_matryoshka_batchtopk"
    trains_on_pairs = True

    def __init__(
        self,
        d_in: int,
        width: int,
        # train_temporal.py's --k default.
        k: int = 20,
        aux_k: int | None = None,
        aux_coef: float = 1 / 32,
        threshold_beta: float = 0.999,
        threshold_start: float = 0.002,
        # The reference's two groups: the first 20% of latents are high-level, weighted 0.2.
        group_fractions: list[float] | None = None,
        group_weights: list[float] | None = None,
        # "similarity_l1" (the reference's default) or "info_nce" (its --contrastive, the paper's headline).
        temporal_term: str = "similarity_l1",
        # train_temporal.py's --temp_alpha.
        temp_alpha: float = 0.1,
        # How the earlier token of a pair is drawn (--temporal): "r" uniform before t, "p" the previous token.
        pair_mode: str = "r",
    ):
        super().__init__(d_in, width, k=k, aux_k=aux_k, aux_coef=aux_coef, threshold_beta=threshold_beta,
                         threshold_start=threshold_start,
                         group_fractions=[0.2, 0.8] if group_fractions is None else group_fractions,
                         group_weights=[0.2, 0.8] if group_weights is None else group_weights)
        if temporal_term not in TEMPORAL_KINDS:
            raise ValueError(f"temporal_term must be one of {TEMPORAL_KINDS}, got {temporal_term!r}")
        if pair_mode not in PAIR_MODES:
            raise ValueError(f"pair_mode must be one of {PAIR_MODES}, got {pair_mode!r}")
        if temp_alpha < 0:
            raise ValueError(f"temp_alpha must be non-negative, got {temp_alpha}")
        self.temporal_term = temporal_term
        self.temp_alpha = temp_alpha
        self.pair_mode = pair_mode

    def hyperparameters(self) -> dict:
        return {**super().hyperparameters(), "temporal_term": self.temporal_term, "temp_alpha": self.temp_alpha,
                "pair_mode": self.pair_mode}

    @property
    def n_high(self) -> int:
        """Latents of the high-level group (group 0)."""
        return self.group_sizes[0]

    def training_loss(self, x: torch.Tensor, dead: torch.Tensor, progress: float = 0.0) -> TrainingLoss:
        """``x [batch, 2, d_in]``: pairs (x_t, x_t'). Reconstruction, AuxK and the
        threshold estimate use x_t, as the reference does; both are encoded
        with the batch top-k for the temporal term on their group-0 codes."""
        if x.ndim != 3 or x.shape[1] != 2:
            raise ValueError(f"a temporal SAE trains on pairs [batch, 2, d_in], got shape {tuple(x.shape)}")
        x_now, x_prev = x[:, 0], x[:, 1]
        pre = self.pre_activations(x_now)
        selection = self.batch_topk(pre)
        if progress > self.threshold_start:
            self.update_threshold(selection.values.detach())
        total_variance = (x_now - x_now.mean(dim=0)).pow(2).sum()
        loss, recon = self.reconstruction_loss(x_now, selection, total_variance)
        error = x_now - recon
        if self.aux_coef:
            loss = loss + self.aux_coef * auxk_loss(pre, dead, error.detach(), self.W_dec, self.aux_k)
        if self.temp_alpha:
            codes_now = selection.dense(self.n_high)
            codes_prev = self.batch_topk(self.pre_activations(x_prev)).dense(self.n_high)
            loss = loss + self.temp_alpha * temporal_term(self.temporal_term, codes_now, codes_prev, x_now, x_prev,
                                                          self.group_weights[0])
        fired = torch.zeros(self.width, dtype=torch.bool, device=x.device)
        fired[selection.cols[selection.values > 0]] = True
        return TrainingLoss(loss=loss, fvu=(error.pow(2).sum() / total_variance).detach(), fired=fired)
