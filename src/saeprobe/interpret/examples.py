"""Per-latent example windows of an SAE over the interpretation corpus.

The SAE encodes every corpus token (BOS, EOS and PAD masked); alive latents
(more than ``DEAD_FIRINGS`` firings) are sampled with a seed, and each
sampled latent gets its top, importance-weighted and random windows
(``saeprobe.interpret.windows``). One table holds them all, a row per
window, so that autointerp and the sensitivity stage read the same examples.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd

from saeprobe.interpret.windows import (
    BUFFER,
    alive_latents,
    importance_weighted_windows,
    random_windows,
    top_windows,
)

N_TOP, N_IW, N_RANDOM = 12, 7, 10
"""Windows per latent (SAEBench: 10 + 2 top and 5 + 2 IW for explaining and scoring, 10 random controls)."""
EXAMPLE_COLUMNS = ["latent", "draw", "firings", "kind", "rank", "row", "centre", "token_ids", "tokens", "acts"]


def _encoded_batches(sae, acts: np.ndarray, special: np.ndarray, batch_rows: int):
    import torch

    for start in range(0, len(acts), batch_rows):
        x = torch.from_numpy(np.asarray(acts[start:start + batch_rows], np.float32))
        rows, ctx, d_in = x.shape
        with torch.inference_mode():
            latents = sae.encode(x.reshape(-1, d_in)).reshape(rows, ctx, -1)
            latents[torch.from_numpy(special[start:start + batch_rows])] = 0
        yield start, latents


def latent_firings(sae, acts: np.ndarray, special: np.ndarray, batch_rows: int = 32) -> np.ndarray:
    """Per latent, the corpus tokens on which it fires (``special`` ``[rows, ctx]`` marks masked positions)."""
    counts = np.zeros(sae.width, np.int64)
    for _, latents in _encoded_batches(sae, acts, special, batch_rows):
        counts += (latents > 0).sum(dim=(0, 1)).numpy()
    return counts


def latent_activations(sae, acts: np.ndarray, special: np.ndarray, latents: list[int],
                       batch_rows: int = 32) -> np.ndarray:
    """``[len(latents), rows, ctx]``: the chosen latents on every corpus token, masked positions 0."""
    out = np.zeros((len(latents), *acts.shape[:2]), np.float32)
    for start, encoded in _encoded_batches(sae, acts, special, batch_rows):
        out[:, start:start + len(encoded)] = encoded[..., latents].permute(2, 0, 1).numpy()
    return out


def sample_latents(firings: np.ndarray, n: int, seed: int) -> list[int]:
    """A seeded sample of ``n`` alive latents (all of them where fewer are
    alive), in the order drawn: the first ``m`` of it are the sample of ``m``,
    so analyses that want fewer latents share theirs with those that want more."""
    alive = alive_latents(firings).tolist()
    random.Random(seed).shuffle(alive)
    return alive[:n]


def first_drawn(examples: pd.DataFrame, n: int) -> pd.DataFrame:
    """The windows of the first ``n`` latents of the draw (``sample_latents``)."""
    return examples[examples["draw"] < n]


def split_windows(windows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One latent's top, importance-weighted and random windows, each in rank order (empty where it has none)."""
    return tuple(windows[windows["kind"] == kind].sort_values("rank") for kind in ("top", "iw", "random"))


def latent_examples(latent: int, draw: int, firings: int, acts: np.ndarray, token_ids: np.ndarray, token_text,
                    rng: np.random.Generator) -> pd.DataFrame:
    """The windows of one latent (``acts`` ``[rows, ctx]``), the ``draw``-th
    of the sample: ``N_TOP`` top, ``N_IW`` importance-weighted (none where
    nothing below the weakest top window fires) and ``N_RANDOM`` random.
    ``token_text`` maps an id to its text."""
    top = top_windows(acts, N_TOP)
    kinds = {"top": top}
    if len(top):
        iw = importance_weighted_windows(acts, float(acts[top.rows, top.centres].min()), N_IW, rng)
        if iw is not None:
            kinds["iw"] = iw
    kinds["random"] = random_windows(acts.shape[0], acts.shape[1], N_RANDOM, rng)
    records = []
    for kind, windows in kinds.items():
        ids, window_acts = windows.take(token_ids), windows.take(acts)
        for rank in range(len(windows)):
            records.append({
                "latent": latent, "draw": draw, "firings": firings, "kind": kind, "rank": rank, "row": int(windows.rows[rank]),
                "centre": int(windows.centres[rank]), "token_ids": ids[rank].tolist(),
                "tokens": [token_text(t) for t in ids[rank].tolist()],
                "acts": window_acts[rank].astype(np.float32).tolist(),
            })
    return pd.DataFrame.from_records(records, columns=EXAMPLE_COLUMNS)


def sae_examples(sae, acts: np.ndarray, token_ids: np.ndarray, special_ids: set[int], token_text, n_latents: int,
                 seed: int) -> pd.DataFrame:
    """Every window of ``n_latents`` sampled alive latents of ``sae`` over the
    corpus (``acts`` ``[rows, ctx, d_in]``, ``token_ids`` ``[rows, ctx]``)."""
    if token_ids.shape[1] <= 2 * BUFFER:
        raise ValueError(f"corpus rows of {token_ids.shape[1]} tokens hold no {2 * BUFFER + 1}-token window")
    special = np.isin(token_ids, list(special_ids))
    firings = latent_firings(sae, acts, special)
    chosen = sample_latents(firings, n_latents, seed)
    chosen_acts = latent_activations(sae, acts, special, chosen)
    rng = np.random.default_rng(seed)
    frames = [latent_examples(latent, i, int(firings[latent]), chosen_acts[i], token_ids, token_text, rng)
              for i, latent in enumerate(chosen)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=EXAMPLE_COLUMNS)
