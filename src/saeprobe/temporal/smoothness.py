"""Smoothness metrics of temporal SAEs (analysis-methods.md §5.4; arXiv:2511.05541).

Each function takes one sequence's codes ``f`` [T, n_latents] and, where needed,
its inputs ``x`` [T, d_model]. ``sequence_metrics`` applies them per column group
(``h`` = group 0, ``l`` = group 1, ``tot`` = all); ``mean_metrics`` averages over sequences.

"Active latent" follows the reference: a latent whose *sum* over t is
nonzero. With ReLU codes this is "fires somewhere"; for signed codes a latent
whose values cancel (e.g. +1/-1 alternating) counts as inactive. Lipschitz,
FFT, wavelet and multiscale use active latents only, and return 0.0 when none is.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

_EPS = 1e-10  # the reference's denominator guard


def _active(f: np.ndarray) -> np.ndarray:
    """Columns of ``f`` whose sum over t is nonzero."""
    f = np.asarray(f, dtype=float)
    return f[:, f.sum(axis=0) != 0]


def total_variation(f: np.ndarray) -> float:
    """Sum over t of ||f[t] - f[t-1]||_1 over all latents given (unnormalised)."""
    return float(np.abs(np.diff(np.asarray(f, dtype=float), axis=0)).sum())


def lipschitz(f: np.ndarray, x: np.ndarray) -> float:
    """Mean over active latents of max_t |f_j[t] - f_j[t-1]| / ||x[t] - x[t-1]||_2.

    Steps where the input does not move (||x[t] - x[t-1]|| = 0) are skipped:
    the ratio is undefined there. With no usable step the result is 0.0.
    """
    codes = _active(f)
    input_steps = np.linalg.norm(np.diff(np.asarray(x, dtype=float), axis=0), axis=1)
    moved = input_steps > 0
    if codes.shape[1] == 0 or not moved.any():
        return 0.0
    code_steps = np.abs(np.diff(codes, axis=0))[moved]
    return float((code_steps / input_steps[moved, None]).max(axis=0).mean())


def fft_ratio(f: np.ndarray) -> float:
    """Mean over active latents of rfft power in bins >= floor(0.5*n_freq) / bins below."""
    codes = _active(f)
    if codes.shape[1] == 0:
        return 0.0
    power = np.abs(np.fft.rfft(codes, axis=0)) ** 2
    cutoff = int(0.5 * power.shape[0])
    ratios = power[cutoff:].sum(axis=0) / (power[:cutoff].sum(axis=0) + _EPS)
    return float(ratios.mean())


def wavelet_ratio(f: np.ndarray, levels: int = 3) -> float:
    """Haar detail energy over final approximation energy, on the active-latent matrix.

    Each level maps a -> ((even + odd)/2, detail (even - odd)/2) along t; an odd
    length drops its last row. Stops early if fewer than two rows remain.
    """
    approx = _active(f)
    if approx.shape[1] == 0:
        return 0.0
    detail_energy = 0.0
    for _ in range(levels):
        n_pairs = approx.shape[0] // 2
        if n_pairs == 0:
            break
        even, odd = approx[0 : 2 * n_pairs : 2], approx[1 : 2 * n_pairs : 2]
        detail_energy += float((((even - odd) / 2) ** 2).sum())
        approx = (even + odd) / 2
    return detail_energy / (float((approx**2).sum()) + _EPS)


def multiscale_ratio(f: np.ndarray, scales: Sequence[int] = (1, 2, 4, 8)) -> float:
    """m_first / (m_last + 1e-10), m_s = mean_j Var_t(f_j[t+s] - f_j[t]).

    Population variance (ddof=0); scales >= T are skipped, and the ratio uses the
    first and last scale actually computed (1 and 8 for T > 8).
    """
    codes = _active(f)
    T = codes.shape[0]
    if codes.shape[1] == 0:
        return 0.0
    m = [np.var(codes[s:] - codes[:-s], axis=0).mean() for s in scales if 0 < s < T]
    if not m:
        return 0.0
    return float(m[0] / (m[-1] + _EPS))


def sequence_l0(f: np.ndarray) -> int:
    """Number of latents nonzero at some t in the sequence."""
    return int((np.asarray(f) != 0).any(axis=0).sum())


def group_fve(x: np.ndarray, f_group: np.ndarray, decoder_rows: np.ndarray) -> float:
    """1 - sum Var(x - f_group @ decoder_rows) / sum Var(x), Var over t per dim (no bias)."""
    x = np.asarray(x, dtype=float)
    residual = x - np.asarray(f_group, dtype=float) @ np.asarray(decoder_rows, dtype=float)
    return float(1.0 - residual.var(axis=0).sum() / x.var(axis=0).sum())


def sequence_metrics(f: np.ndarray, x: np.ndarray, groups: Mapping[str, object]) -> dict:
    """All §5.4 smoothness metrics for each column group, keyed as the reference.

    ``groups`` maps a suffix to a column slice or index array, e.g.
    ``{"tot": slice(None), "h": slice(0, 64), "l": slice(64, None)}``.
    ``sequence_l0`` is over the whole dictionary.
    """
    f = np.asarray(f, dtype=float)
    out: dict = {}
    for name, cols in groups.items():
        fg = f[:, cols]
        out[f"smoothness_tv_{name}"] = total_variation(fg)
        out[f"lipschitz_cont_{name}"] = lipschitz(fg, x)
        out[f"fft_{name}"] = fft_ratio(fg)
        out[f"wavelet_{name}"] = wavelet_ratio(fg)
        out[f"multiscale_{name}"] = multiscale_ratio(fg)
    out["sequence_l0"] = sequence_l0(f)
    return out


def mean_metrics(dicts: Sequence[Mapping[str, float]]) -> dict:
    """Key-by-key mean of per-sequence dicts (summed, then divided by their count)."""
    if not dicts:
        raise ValueError("mean_metrics needs at least one per-sequence dict")
    keys = dicts[0].keys()
    if any(d.keys() != keys for d in dicts):
        raise ValueError("per-sequence dicts have different keys")
    return {k: sum(float(d[k]) for d in dicts) / len(dicts) for k in keys}


def sae_groups(sae) -> dict[str, slice]:
    """The column groups an SAE is measured on: ``tot``, plus ``h`` (group 0) and
    ``l`` (every later group, "low-level" as §5.1 defines it) where it has
    Matryoshka groups."""
    groups = {"tot": slice(None)}
    sizes = getattr(sae, "group_sizes", None)
    if sizes and len(sizes) > 1:
        groups |= {"h": slice(0, sizes[0]), "l": slice(sizes[0], sae.width)}
    return groups


def sae_smoothness(sae, sequences: np.ndarray) -> dict:
    """The §5.4 metrics of ``sae`` over ``sequences`` ``[n, T, d]`` (held-out,
    in token order), averaged over the sequences; with groups, also the FVE
    of the high- and low-level groups' reconstructions (no bias)."""
    import torch

    groups = sae_groups(sae)
    decoder = sae.W_dec.detach().cpu().numpy().astype(float)
    per_sequence = []
    with torch.no_grad():
        for x in sequences:
            f = sae.encode(torch.from_numpy(np.asarray(x, np.float32))).cpu().numpy().astype(float)
            metrics = sequence_metrics(f, x, groups)
            for name, suffix in (("high", "h"), ("low", "l")):
                if suffix in groups:
                    cols = groups[suffix]
                    metrics[f"frac_variance_explained_{name}"] = group_fve(x, f[:, cols], decoder[cols])
            per_sequence.append(metrics)
    return mean_metrics(per_sequence)
