"""Shared data for SAE tests: small sharded corpora with sparse structure."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_shards(folder: Path, sizes=(230, 170), d_in: int = 16, seed: int = 0) -> list[Path]:
    """``.npy`` shards of sparse non-negative codes times a fixed basis, plus noise,
    so an SAE has real structure to learn."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(8, d_in))
    paths = []
    for i, n in enumerate(sizes):
        codes = rng.exponential(size=(n, 8)) * (rng.random((n, 8)) < 0.3)
        path = Path(folder) / f"shard{i}.npy"
        np.save(path, (codes @ basis + 0.01 * rng.normal(size=(n, d_in))).astype(np.float32))
        paths.append(path)
    return paths


class Killed(Exception):
    """Stands in for SIGKILL in the middle of a training run."""


def train_uninterrupted_and_resumed(make, data, cfg, folder: Path):
    """Train ``make()`` straight through, and again killed at step 25 (its
    last checkpoint is step 20 when ``cfg.checkpoint_every == 20``) then rerun.

    Returns (uninterrupted SAE, resumed SAE, log messages of the resumed run).
    """
    import pytest

    from saeprobe.training import train_sae

    reference = train_sae(make(), data, cfg, Path(folder) / "a.pt", log=lambda m: None, device="cpu")

    def kill_at_step_25(message):
        if message.startswith("step 25"):
            raise Killed

    with pytest.raises(Killed):
        train_sae(make(), data, cfg, Path(folder) / "b.pt", log=kill_at_step_25, device="cpu")
    messages = []
    resumed = train_sae(make(), data, cfg, Path(folder) / "b.pt", log=messages.append, device="cpu")
    return reference, resumed, messages


def random_sae(architecture: str, d_in: int, width: int, k: int, seed: int = 0):
    """An ``architecture`` SAE in eval mode whose biases, thresholds and gate
    parameters are all non-zero (thresholds large enough to cut some latents),
    so that every convention shows in its latents."""
    import torch

    from saeprobe.saes import ARCHITECTURES

    cls = ARCHITECTURES[architecture]
    kwargs = {"k": k} if "k" in cls.__init__.__code__.co_varnames else {}
    sae = cls(d_in=d_in, width=width, **kwargs)
    generator = torch.Generator().manual_seed(seed)
    sae.init_weights(generator)
    with torch.no_grad():
        sae.b_enc.add_(0.3)
        sae.b_dec.copy_(torch.randn(d_in, generator=generator) * 0.5)  # some inits leave it at 0
        for name in ("threshold", "r_mag", "b_mag"):  # architecture-specific tensors, if any
            if hasattr(sae, name):
                tensor = getattr(sae, name)
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.5)
    return sae.eval()
