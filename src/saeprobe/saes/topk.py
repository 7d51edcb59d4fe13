"""TopK SAE (Gao et al. 2024, "Scaling and evaluating sparse autoencoders").

Keeps the k largest ReLU pre-activations per input. Dead latents are revived
with the AuxK loss: the k_aux largest pre-activations among dead latents
reconstruct the residual error. Defaults follow the paper and EleutherAI's
sparsify: k_aux = d_in / 2, AuxK coefficient 1/32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from saeprobe.saes.base import SparseAutoencoder, TrainingLoss, register


def sparse_decode(W_dec: torch.Tensor, values: torch.Tensor, indices: torch.Tensor,
                  offsets: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted sum of decoder rows, without ``b_dec``: gather-and-sum costs
    O(batch * active * d_in) instead of a dense ``[batch, width] @ W_dec``.

    ``indices``/``values`` are ``[batch, n]`` (n latents per row), or 1-D with
    ``offsets`` giving where each row's entries start (rows may hold any
    number of entries, including none).
    """
    return F.embedding_bag(indices, W_dec, offsets=offsets, per_sample_weights=values, mode="sum")


def auxk_loss(pre: torch.Tensor, dead: torch.Tensor, residual: torch.Tensor, W_dec: torch.Tensor,
              aux_k: int) -> torch.Tensor:
    """AuxK loss (Gao et al. 2024): the ``aux_k`` largest
    pre-activations among ``dead`` latents reconstruct the (detached) residual
    error; normalised by the residual's centred sum of squares, as OpenAI's
    and sparsify's implementations do. 0 when nothing is dead."""
    n_dead = int(dead.sum())
    if not n_dead:
        return pre.new_zeros(())
    k_aux = min(aux_k, n_dead)
    dead_pre = pre.masked_fill(~dead, float("-inf"))  # only dead latents compete
    aux_values, aux_indices = dead_pre.topk(k_aux, dim=-1, sorted=False)
    aux_recon = sparse_decode(W_dec, aux_values.clamp_min(0), aux_indices)
    aux_fvu = (aux_recon - residual).pow(2).sum() / (residual - residual.mean(dim=0)).pow(2).sum()
    return torch.nan_to_num(aux_fvu, nan=0.0)


@register
class TopKSAE(SparseAutoencoder):
    architecture = "topk"

    def __init__(self, d_in: int, width: int, k: int = 32, aux_k: int | None = None, aux_coef: float = 1 / 32):
        super().__init__(d_in, width)
        if not 0 < k <= width:
            raise ValueError(f"k must be in 1..width ({width}), got {k}")
        self.k = k
        self.aux_k = aux_k if aux_k is not None else d_in // 2
        self.aux_coef = aux_coef

    def hyperparameters(self) -> dict:
        return {"k": self.k, "aux_k": self.aux_k, "aux_coef": self.aux_coef}

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu((x - self.b_dec) @ self.W_enc.T + self.b_enc)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        values, indices = self.pre_activations(x).topk(self.k, dim=-1, sorted=False)
        return torch.zeros(x.shape[0], self.width, dtype=x.dtype, device=x.device).scatter_(-1, indices, values)

    def _sparse_decode(self, values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        return sparse_decode(self.W_dec, values, indices)

    def training_loss(self, x: torch.Tensor, dead: torch.Tensor, progress: float = 0.0) -> TrainingLoss:
        pre = self.pre_activations(x)
        values, indices = pre.topk(self.k, dim=-1, sorted=False)
        recon = self._sparse_decode(values, indices) + self.b_dec
        error = x - recon
        total_variance = (x - x.mean(dim=0)).pow(2).sum()
        fvu = error.pow(2).sum() / total_variance
        loss = fvu
        if self.aux_coef:
            loss = loss + self.aux_coef * auxk_loss(pre, dead, error.detach(), self.W_dec, self.aux_k)
        fired = torch.zeros(self.width, dtype=torch.bool, device=x.device)
        fired[indices[values > 0]] = True
        return TrainingLoss(loss=loss, fvu=fvu.detach(), fired=fired)
