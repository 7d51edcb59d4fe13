"""BatchTopK SAE (Bussmann, Leask & Nanda 2024, "BatchTopK Sparse Autoencoders").

Training keeps the ``k * batch_size`` largest ReLU pre-activations of the
whole batch, so the number of active latents varies between inputs while
their mean is exactly k. Because that selection depends on the rest of the
batch, inference uses instead one threshold θ shared by all latents (a
JumpReLU): a latent fires when its pre-activation exceeds θ. θ is estimated
during training, as in dictionary_learning's ``trainers/batch_top_k.py``,
by an exponential moving average of the smallest activation the batch top-k
kept; it is the ``threshold`` buffer, so checkpoints carry it. Until the
estimate starts θ is -1, i.e. every positive activation passes.

Dead latents are revived with the AuxK loss of TopK SAEs (Gao et al. 2024).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from saeprobe.saes.base import SparseAutoencoder, TrainingLoss, register
from saeprobe.saes.topk import auxk_loss, sparse_decode


class BatchSelection:
    """The entries a batch top-k kept, in row-major order: row ``rows[j]`` has
    latent ``cols[j]`` active with value ``values[j]`` (``values`` carries the
    gradient)."""

    def __init__(self, rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, n_rows: int):
        self.rows, self.cols, self.values, self.n_rows = rows, cols, values, n_rows

    def decode(self, W_dec: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[n_rows, d_in]`` sum of the selected decoder rows (no ``b_dec``),
        optionally over the entries where ``mask`` holds only."""
        rows, cols, values = self.rows, self.cols, self.values
        if mask is not None:
            rows, cols, values = rows[mask], cols[mask], values[mask]
        offsets = torch.searchsorted(rows, torch.arange(self.n_rows, device=rows.device))
        return sparse_decode(W_dec, values, cols, offsets=offsets)

    def dense(self, n_columns: int) -> torch.Tensor:
        """``[n_rows, n_columns]``: the kept entries of the first ``n_columns`` latents."""
        rows, cols, values = self.rows, self.cols, self.values
        if len(cols) and int(cols.max()) >= n_columns:
            within = cols < n_columns
            rows, cols, values = rows[within], cols[within], values[within]
        out = values.new_zeros(self.n_rows, n_columns)
        out[rows, cols] = values
        return out


@register
class BatchTopKSAE(SparseAutoencoder):
    architecture = "batchtopk"
    scaled_with_input = ("threshold",)

    def __init__(
        self,
        d_in: int,
        width: int,
        # Mean active latents per input. dictionary_learning's BatchTopKTrainer has no
        # default (its demo sweeps 80 and 160; SAELens defaults to 100); 32 matches TopKSAE
        # here (EleutherAI sparsify's default) so the two compare at equal L0.
        k: int = 32,
        # None: d_in // 2, dictionary_learning trainers/batch_top_k.py (`top_k_aux`, which it
        # calls the heuristic of Gao et al. 2024's appendix B.1).
        aux_k: int | None = None,
        # dictionary_learning trainers/batch_top_k.py `auxk_alpha = 1 / 32` (Gao et al. 2024).
        aux_coef: float = 1 / 32,
        # EMA decay per step of the θ estimate: dictionary_learning trainers/batch_top_k.py
        # `threshold_beta = 0.999`. Its memory is ~1/(1 - beta) = 1000 steps, so runs much
        # shorter than a few thousand steps should lower it.
        threshold_beta: float = 0.999,
        # Fraction of training after which θ is estimated (updates while progress > this).
        # dictionary_learning's `threshold_start_step = 1000`, expressed as the fraction it
        # is of the 1e9-token, batch-2048 (~488k-step) runs of dictionary_learning_demo's
        # demo_config.py: 1000 / 488281 ≈ 0.002.
        threshold_start: float = 0.002,
    ):
        super().__init__(d_in, width)
        if not 0 < k <= width:
            raise ValueError(f"k must be in 1..width ({width}), got {k}")
        if not 0 <= threshold_beta < 1:
            raise ValueError(f"threshold_beta must be in [0, 1), got {threshold_beta}")
        self.k = k
        self.aux_k = aux_k if aux_k is not None else d_in // 2
        self.aux_coef = aux_coef
        self.threshold_beta = threshold_beta
        self.threshold_start = threshold_start
        # Inference θ; negative = not estimated yet (dictionary_learning starts it at -1).
        self.register_buffer("threshold", torch.tensor(-1.0))

    def hyperparameters(self) -> dict:
        return {
            "k": self.k, "aux_k": self.aux_k, "aux_coef": self.aux_coef,
            "threshold_beta": self.threshold_beta, "threshold_start": self.threshold_start,
        }

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu((x - self.b_dec) @ self.W_enc.T + self.b_enc)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Inference: JumpReLU with the shared threshold θ (batch-independent)."""
        pre = self.pre_activations(x)
        return torch.where(pre > self.threshold, pre, torch.zeros_like(pre))

    # -- training ----------------------------------------------------------------
    def batch_topk(self, pre: torch.Tensor) -> BatchSelection:
        """The ``k * batch`` largest entries of ``pre [batch, width]`` over the whole batch."""
        n_rows = pre.shape[0]
        values, flat = pre.flatten().topk(self.k * n_rows, sorted=False)
        flat, order = flat.sort()  # row-major: each row's entries are contiguous
        return BatchSelection(flat // self.width, flat % self.width, values[order], n_rows)

    def encode_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Training-time codes: ``[batch, width]`` with exactly ``k * batch`` entries kept
        (some may be 0 when fewer pre-activations are positive)."""
        return self.batch_topk(self.pre_activations(x)).dense(self.width)

    @torch.no_grad()
    def update_threshold(self, kept: torch.Tensor) -> None:
        """dictionary_learning's rule: m = the smallest positive kept activation (0 if
        none); θ <- m the first time, then θ <- beta θ + (1 - beta) m."""
        positive = kept[kept > 0]
        smallest = positive.min().float() if positive.numel() else kept.new_zeros((), dtype=torch.float32)
        smallest = smallest.to(self.threshold.dtype)
        if self.threshold < 0:
            self.threshold.copy_(smallest)
        else:
            self.threshold.mul_(self.threshold_beta).add_((1 - self.threshold_beta) * smallest)

    def reconstruction_loss(self, x: torch.Tensor, selection: BatchSelection,
                            total_variance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, full reconstruction) for one batch; subclasses change the loss."""
        recon = selection.decode(self.W_dec) + self.b_dec
        return (x - recon).pow(2).sum() / total_variance, recon

    def training_loss(self, x: torch.Tensor, dead: torch.Tensor, progress: float = 0.0) -> TrainingLoss:
        pre = self.pre_activations(x)
        selection = self.batch_topk(pre)
        if progress > self.threshold_start:  # dictionary_learning: `step > threshold_start_step`
            self.update_threshold(selection.values.detach())
        total_variance = (x - x.mean(dim=0)).pow(2).sum()
        loss, recon = self.reconstruction_loss(x, selection, total_variance)
        error = x - recon
        fvu = error.pow(2).sum() / total_variance
        if self.aux_coef:
            loss = loss + self.aux_coef * auxk_loss(pre, dead, error.detach(), self.W_dec, self.aux_k)
        fired = torch.zeros(self.width, dtype=torch.bool, device=x.device)
        fired[selection.cols[selection.values > 0]] = True
        return TrainingLoss(loss=loss, fvu=fvu.detach(), fired=fired)
