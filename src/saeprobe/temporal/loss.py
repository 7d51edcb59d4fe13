"""Temporal terms of the temporal-SAE training loss (analysis-methods.md §5.2).

Both act on group-0 ("high-level") codes of a batch of pairs: ``codes_now`` at
position t and ``codes_prev`` at the earlier position t' (each [B, n_high]).
The total loss adds ``temp_alpha * temporal_term(...)`` (temp_alpha = 0.1 in the
reference) to reconstruction and AuxK; those parts live with the trainer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TEMPORAL_KINDS = ("similarity_l1", "info_nce")


def similarity_weighted_l1(
    codes_now: torch.Tensor,
    codes_prev: torch.Tensor,
    x_now: torch.Tensor,
    x_prev: torch.Tensor,
    weight: float,
) -> torch.Tensor:
    """mean_b ||f_t - f_t'||_1 * cos(x_t, x_t') * weight (the reference's default term).

    ``weight`` is group 0's Matryoshka weight w_0. Pairs whose inputs point in
    similar directions are pushed harder towards equal codes.
    """
    code_change = (codes_now - codes_prev).abs().sum(dim=-1)
    input_similarity = F.cosine_similarity(x_now, x_prev, dim=-1)
    return (code_change * input_similarity * weight).mean()


def symmetric_info_nce(codes_now: torch.Tensor, codes_prev: torch.Tensor) -> torch.Tensor:
    """½[CE(S, arange B) + CE(Sᵀ, arange B)] with S = codes_now @ codes_prevᵀ.

    S holds raw dot products: no temperature, no normalisation (as the reference).
    Each pair's own partner is the positive; the other B-1 codes in the batch are negatives.
    """
    scores = codes_now @ codes_prev.T
    targets = torch.arange(scores.shape[0], device=scores.device)
    return 0.5 * (F.cross_entropy(scores, targets) + F.cross_entropy(scores.T, targets))


def temporal_term(
    kind: str,
    codes_now: torch.Tensor,
    codes_prev: torch.Tensor,
    x_now: torch.Tensor,
    x_prev: torch.Tensor,
    weight: float,
) -> torch.Tensor:
    """Dispatch on ``kind``: "similarity_l1" (default) or "info_nce" (``--contrastive``).

    "info_nce" ignores ``x_now``, ``x_prev`` and ``weight``, as the reference does.
    """
    if kind == "similarity_l1":
        return similarity_weighted_l1(codes_now, codes_prev, x_now, x_prev, weight)
    if kind == "info_nce":
        return symmetric_info_nce(codes_now, codes_prev)
    raise ValueError(f"unknown temporal term {kind!r}; valid kinds are {TEMPORAL_KINDS}")
