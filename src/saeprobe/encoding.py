"""Encode activations through an SAE into sparse latent matrices."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from saeprobe.atomic import atomic_path

if TYPE_CHECKING:
    from saeprobe.saes.base import SparseAutoencoder


def encode_activations(sae: "SparseAutoencoder", activations: np.ndarray, batch_size: int = 1024) -> sp.csr_matrix:
    """``[n, d_in]`` activations -> ``[n, width]`` CSR matrix of latent activations (float32)."""
    import torch  # late: probe jobs read latents in an environment without torch

    device = next(sae.parameters()).device
    blocks = []
    for start in range(0, len(activations), batch_size):
        chunk = torch.from_numpy(np.asarray(activations[start:start + batch_size], np.float32)).to(device)
        with torch.no_grad():
            blocks.append(sp.csr_matrix(sae.encode(chunk).cpu().numpy()))
    if not blocks:
        return sp.csr_matrix((0, sae.width), dtype=np.float32)
    return sp.vstack(blocks, format="csr").astype(np.float32)


def save_latents(path: str | Path, latents: sp.csr_matrix) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            sp.save_npz(fh, latents.tocsr(), compressed=False)


def load_latents(path: str | Path) -> sp.csr_matrix:
    return sp.load_npz(path).tocsr()
