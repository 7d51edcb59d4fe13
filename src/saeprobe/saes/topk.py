"""TopK SAE (Gao et al. 2024, "Scaling and evaluating sparse autoencoders").

Keeps the k largest ReLU pre-activations per input. Dead latents are revived
with the AuxK loss: the k_aux largest pre-activations among dead latents
reconstruct the residual error. Defaults follow the paper and EleutherAI's
sparsify: k_aux = d_in / 2, AuxK coefficient 1/32.

Training touches only the selected latents after the one dense product that
finds them: the encoder and decoder gradients are sums over the ``batch * k``
kept entries (``O(batch * k * d_in)``), where autograd of the dense code
would take two more ``[batch, width] x [width, d_in]`` products.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from saeprobe.saes.base import SparseAutoencoder, TrainingLoss, register


# AuxK touches aux_k dead latents per row. Up to this many dead latents per
# aux_k, dense products over their block beat gathering the kept entries
# (whose sparse kernels cost several times a dense product per entry).
DENSE_AUX_DEAD_PER_AUX_K = 4


def scatter_rows(indices: torch.Tensor, weights: torch.Tensor, rows: torch.Tensor, width: int) -> torch.Tensor:
    """``S.T @ rows`` for the sparse ``S [n, width]`` with ``S[i, indices[i, j]] = weights[i, j]``:
    row ``c`` of the result sums ``weights[i, j] * rows[i]`` over the entries naming latent ``c``."""
    n, per_row = indices.shape
    owner = torch.arange(n, device=indices.device).repeat_interleave(per_row)
    s_t = torch.sparse_coo_tensor(torch.stack([indices.reshape(-1), owner]), weights.reshape(-1),
                                  (width, n), check_invariants=False)
    return torch.sparse.mm(s_t, rows)


class _SparseDecode(torch.autograd.Function):
    """``out[i] = sum_j values[i, j] * W[indices[i, j]]``, with a backward over the kept entries only."""

    @staticmethod
    def forward(ctx, values, indices, W):
        ctx.save_for_backward(values, indices, W)
        return F.embedding_bag(indices, W, per_sample_weights=values, mode="sum")

    @staticmethod
    def backward(ctx, grad_out):
        values, indices, W = ctx.saved_tensors
        grad_values = grad_W = None
        if ctx.needs_input_grad[0]:
            # grad_values[i, j] = grad_out[i] . W[indices[i, j]]: embedding_bag's own
            # per-sample-weight gradient, which forms no [n, j, d_in] gather.
            with torch.enable_grad():
                v = values.detach().requires_grad_()
                out = F.embedding_bag(indices, W.detach(), per_sample_weights=v, mode="sum")
                (grad_values,) = torch.autograd.grad(out, v, grad_out)
        if ctx.needs_input_grad[2]:
            grad_W = scatter_rows(indices, values, grad_out, W.shape[0])
        return grad_values, None, grad_W


class _SelectedLinear(torch.autograd.Function):
    """``(x @ W.T + b)[i, indices[i, j]]``, given those entries already computed
    (``selected``, from the dense product that chose them), with a backward over them only."""

    @staticmethod
    def forward(ctx, x, W, b, indices, selected):
        ctx.save_for_backward(x, W, indices)
        return selected.clone()

    @staticmethod
    def backward(ctx, grad):
        x, W, indices = ctx.saved_tensors
        grad_x = grad_W = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = F.embedding_bag(indices, W, per_sample_weights=grad, mode="sum")
        if ctx.needs_input_grad[1]:
            grad_W = scatter_rows(indices, grad, x, W.shape[0])
        if ctx.needs_input_grad[2]:
            grad_b = grad.new_zeros(W.shape[0]).index_add_(0, indices.reshape(-1), grad.reshape(-1))
        return grad_x, grad_W, grad_b, None, None


def sparse_decode(W_dec: torch.Tensor, values: torch.Tensor, indices: torch.Tensor,
                  offsets: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted sum of decoder rows, without ``b_dec``: gather-and-sum costs
    O(batch * active * d_in) instead of a dense ``[batch, width] @ W_dec``.

    ``indices``/``values`` are ``[batch, n]`` (n latents per row), or 1-D with
    ``offsets`` giving where each row's entries start (rows may hold any
    number of entries, including none).
    """
    if offsets is None:
        return _SparseDecode.apply(values, indices, W_dec)
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
    return _aux_fvu(sparse_decode(W_dec, aux_values.clamp_min(0), aux_indices), residual)


def _aux_fvu(aux_recon: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    aux_fvu = (aux_recon - residual).pow(2).sum() / (residual - residual.mean(dim=0)).pow(2).sum()
    return torch.nan_to_num(aux_fvu, nan=0.0)


@register
class TopKSAE(SparseAutoencoder):
    architecture = "topk"
    # Sign descent moves every bias entry by the full lr each step; on unit-scale
    # inputs that is ~20% of a coordinate's size at the default lr, and the biases
    # jitter. sparsify trains on raw activations, where the same steps are
    # 1/input-norm as large (1/184 on SmolLM2-135M block 15). Held-out FVE, k=32,
    # width 4608, 150 x 4096 on the default corpus: factor 1: 0.780, 0.002: 0.786,
    # 0.0054: 0.792, 0.02: 0.792 (sparsify: 0.793).
    signum_bias_lr = 0.005
    # Same runs at 0.0054: average power 1 gives 0.797 (0: 0.792). Momentum 0.9
    # instead of 0.95: 0.782; 15 warmup steps: 0.793; AuxK off: 0.792 (no effect).
    signum_average_power = 1.0

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
        centred = x - self.b_dec
        with torch.no_grad():  # the dense product only chooses; gradients flow through the chosen
            pre = torch.addmm(self.b_enc, centred, self.W_enc.T)
            # ReLU commutes with top-k, so it is applied to the k kept only.
            top, indices = pre.topk(self.k, dim=-1, sorted=False)
        values = _SelectedLinear.apply(centred, self.W_enc, self.b_enc, indices, top).clamp_min(0)
        recon = self._sparse_decode(values, indices) + self.b_dec
        error = x - recon
        total_variance = (x - x.mean(dim=0)).pow(2).sum()
        fvu = error.pow(2).sum() / total_variance
        loss = fvu
        n_dead = int(dead.sum())
        if self.aux_coef and n_dead:
            dead_ids = dead.nonzero().squeeze(1)
            if n_dead <= DENSE_AUX_DEAD_PER_AUX_K * self.aux_k:
                aux_recon = self._dense_aux_reconstruction(centred, pre, dead_ids)
            else:
                aux_recon = self._sparse_aux_reconstruction(centred, pre, dead_ids)
            loss = loss + self.aux_coef * _aux_fvu(aux_recon, error.detach())
        fired = torch.zeros(self.width, dtype=torch.bool, device=x.device)
        fired[indices[values > 0]] = True
        return TrainingLoss(loss=loss, fvu=fvu.detach(), fired=fired)

    def _dense_aux_reconstruction(self, centred, pre, dead_ids):
        """AuxK's reconstruction as dense products over the dead latents' block:
        the aux_k largest dead pre-activations of a row kept, the others masked."""
        n_dead = len(dead_ids)
        aux_pre = torch.addmm(self.b_enc[dead_ids], centred, self.W_enc[dead_ids].T)
        if n_dead > self.aux_k:
            with torch.no_grad():
                where = pre[:, dead_ids].topk(self.aux_k, dim=-1, sorted=False).indices
                keep = torch.zeros_like(aux_pre, dtype=torch.bool).scatter_(-1, where, True)
            aux_pre = aux_pre.masked_fill(~keep, 0.0)
        return aux_pre.clamp_min(0) @ self.W_dec[dead_ids]

    def _sparse_aux_reconstruction(self, centred, pre, dead_ids):
        """The same over the kept entries only, for many dead latents."""
        with torch.no_grad():
            dead_pre, where = pre[:, dead_ids].topk(self.aux_k, dim=-1, sorted=False)
            aux_indices = dead_ids[where]
        aux_values = _SelectedLinear.apply(centred, self.W_enc, self.b_enc, aux_indices, dead_pre).clamp_min(0)
        return sparse_decode(self.W_dec, aux_values, aux_indices)
