"""Activation sequences for temporal SAEs (``analysis-methods.md`` §5.3): rows
of consecutive tokens in their order, the BOS left out as the reference
leaves it out, and norm outliers masked where the token corpus drops them,
so that no pair spans a token that was taken away."""

from __future__ import annotations

import numpy as np

from saeprobe.activations import norm_outliers
from saeprobe.temporal.pairs import sample_pairs


def sequence_rows(acts: np.ndarray, max_ratio: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """``acts`` ``[rows, ctx, d]``, each row opening with BOS (the
    interpretation corpus): ``[rows, ctx - 1, d]`` without the BOS, and
    ``[rows, ctx - 1]`` true where a token is no norm outlier (the median
    taken over the whole corpus)."""
    body = np.asarray(acts)[:, 1:]
    return body, ~norm_outliers(body, max_ratio)


def training_pairs(acts: np.ndarray, valid: np.ndarray, mode: str, rng: np.random.Generator):
    """``(x_now, x_prev)``, each ``[pairs, d]``: one pair per position t >= 1
    of each row (``sample_pairs``), a pair with a masked end left out rather
    than drawn again (outliers are rare)."""
    rows, t, t_prev = sample_pairs(np.full(len(acts), acts.shape[1]), mode, rng)
    kept = valid[rows, t] & valid[rows, t_prev]
    rows, t, t_prev = rows[kept], t[kept], t_prev[kept]
    return acts[rows, t], acts[rows, t_prev]
