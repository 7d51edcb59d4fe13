"""Matryoshka BatchTopK SAE (Bussmann et al. 2025, "Learning Multi-Level
Features with Matryoshka Sparse Autoencoders"; dictionary_learning
``trainers/matryoshka_batch_top_k.py``).

The latents are split into consecutive groups. The BatchTopK codes are
decoded from nested prefixes of the dictionary, the first group, the first
two, ..., all of them, and each prefix must reconstruct the input on its
own: the loss is a weighted sum of the prefixes' reconstruction errors, which
pushes general features into the early latents. Encoding, the inference
threshold and AuxK are BatchTopK's.
"""

from __future__ import annotations

import math

import torch

from saeprobe.saes.base import register
from saeprobe.saes.batchtopk import BatchSelection, BatchTopKSAE


def group_sizes(width: int, fractions: list[float]) -> list[int]:
    """dictionary_learning's split: floor(fraction * width) latents for every group
    but the last, which takes the rest. (A tiny tolerance keeps fractions that were
    computed as size / width from flooring one short.)"""
    sizes = [math.floor(f * width + 1e-6) for f in fractions[:-1]]
    sizes.append(width - sum(sizes))
    return sizes


@register
class MatryoshkaBatchTopKSAE(BatchTopKSAE):
    architecture = "matryoshka_batchtopk"

    def __init__(
        self,
        d_in: int,
        width: int,
        # k, aux_k, aux_coef, threshold_beta and threshold_start: as BatchTopKSAE (whose
        # sources are dictionary_learning trainers/batch_top_k.py; trainers/
        # matryoshka_batch_top_k.py has the same defaults: auxk_alpha 1/32,
        # threshold_beta 0.999, threshold_start_step 1000, top_k_aux d_in // 2).
        k: int = 32,
        aux_k: int | None = None,
        aux_coef: float = 1 / 32,
        threshold_beta: float = 0.999,
        threshold_start: float = 0.002,
        # Fractions of the width per group, summing to 1. The trainer requires them; this
        # default is dictionary_learning_demo's demo_config.py
        # (MatryoshkaBatchTopKTrainerConfig): 1/32, 1/16, 1/8, 1/4, 1/2 + 1/32.
        group_fractions: list[float] | None = None,
        # Weight of each prefix's reconstruction loss. None: uniform 1 / n_groups, the
        # default of dictionary_learning trainers/matryoshka_batch_top_k.py.
        group_weights: list[float] | None = None,
    ):
        super().__init__(d_in, width, k=k, aux_k=aux_k, aux_coef=aux_coef,
                         threshold_beta=threshold_beta, threshold_start=threshold_start)
        if group_fractions is None:
            group_fractions = [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2 + 1 / 32]
        group_fractions = [float(f) for f in group_fractions]
        if not group_fractions or any(f <= 0 for f in group_fractions) or not math.isclose(sum(group_fractions), 1.0):
            raise ValueError(f"group_fractions must be positive and sum to 1, got {group_fractions}")
        sizes = group_sizes(width, group_fractions)
        if sizes[-1] <= 0:
            raise ValueError(f"group_fractions {group_fractions} leave no latents for the last group at width {width}")
        if group_weights is None:
            group_weights = [1.0 / len(sizes)] * len(sizes)
        group_weights = [float(w) for w in group_weights]
        if len(group_weights) != len(sizes):
            raise ValueError(f"{len(sizes)} groups but {len(group_weights)} group_weights")
        self.group_fractions = group_fractions
        self.group_weights = group_weights
        self.group_sizes = sizes
        # Where each group ends. Floor-rounding can leave a group empty at tiny widths (the
        # default fractions need width >= 32); dictionary_learning rejects that, here an
        # empty group adds no loss term (its prefix would repeat the one before).
        self.group_ends = [sum(sizes[:i + 1]) for i in range(len(sizes))]

    def hyperparameters(self) -> dict:
        return {**super().hyperparameters(), "group_fractions": list(self.group_fractions),
                "group_weights": list(self.group_weights)}

    def prefix_reconstructions(self, selection: BatchSelection) -> list[torch.Tensor]:
        """Reconstructions from the first 1, 2, ..., n_groups groups of latents (b_dec included)."""
        recon = self.b_dec.expand(selection.n_rows, self.d_in)
        out, start = [], 0
        for end in self.group_ends:
            if end > start:
                in_group = (selection.cols >= start) & (selection.cols < end)
                recon = recon + selection.decode(self.W_dec, in_group)
            out.append(recon)
            start = end
        return out

    def reconstruction_loss(self, x: torch.Tensor, selection: BatchSelection,
                            total_variance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # sum_g w_g * FVU(prefix g). dictionary_learning additionally averages the weighted
        # terms over groups (a constant 1 / n_groups factor, which only shifts the balance
        # against AuxK); here the weights alone set the scale, so with the default uniform
        # weights the loss is the mean prefix FVU, on the scale of a single FVU.
        prefixes = self.prefix_reconstructions(selection)
        loss = sum(w * (x - r).pow(2).sum() / total_variance
                   for w, r, size in zip(self.group_weights, prefixes, self.group_sizes) if size)
        return loss, prefixes[-1]
