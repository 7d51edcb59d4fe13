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
