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
