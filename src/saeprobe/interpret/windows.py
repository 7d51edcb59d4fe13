"""Example windows of one latent over a token corpus, by SAEBench's rules.

The corpus is ``[rows, ctx]`` tokens (rows of 128 in SAEBench) and one
latent's activations on it, the same shape. A window is ``2 * buffer + 1``
tokens centred on a position at least ``buffer`` tokens from either end of
its row. Three kinds (``../shared/reference/analysis-methods.md`` §1):

- top windows: the strongest positions, at most one per ``buffer`` tokens
  of a row, so no two overlap;
- importance-weighted (IW) windows: positions below the weakest top window,
  drawn with probability proportional to the squared activation;
- random windows: uniform positions, the controls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BUFFER = 10
DEAD_FIRINGS = 15
"""A latent is alive iff it fires on more than this many corpus tokens (SAEBench, sae-sensitivity)."""
ACTIVE_FRACTION = 0.01
"""A token counts as active above this fraction of the latent's strongest top-window activation."""


@dataclass(frozen=True)
class Windows:
    """Window centres: ``rows[i]``, ``centres[i]``."""

    rows: np.ndarray
    centres: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, values: np.ndarray, buffer: int = BUFFER) -> np.ndarray:
        """``[len(self), 2 * buffer + 1]``: the windows cut from ``values`` ``[rows, ctx]`` (tokens or activations)."""
        offsets = np.arange(-buffer, buffer + 1)
        return values[self.rows[:, None], self.centres[:, None] + offsets]

    def subset(self, index) -> "Windows":
        return Windows(self.rows[index], self.centres[index])


def mask_special_tokens(acts: np.ndarray, tokens: np.ndarray, special_ids) -> np.ndarray:
    """``acts`` with every BOS, PAD and EOS position set to 0 (so none is ever an example)."""
    return np.where(np.isin(tokens, list(special_ids)), 0, acts)


def alive_latents(firings: np.ndarray, dead_firings: int = DEAD_FIRINGS) -> np.ndarray:
    """Indices of the latents that fire on more than ``dead_firings`` tokens."""
    return np.flatnonzero(np.asarray(firings) > dead_firings)


def _centre_candidates(acts: np.ndarray, buffer: int) -> np.ndarray:
    """``acts`` with the first and last ``buffer`` positions of each row zeroed:
    no window there would fit in its row."""
    inner = np.zeros_like(acts)
    inner[:, buffer:acts.shape[1] - buffer] = acts[:, buffer:acts.shape[1] - buffer]
    return inner


def top_windows(acts: np.ndarray, k: int = 12, buffer: int = BUFFER) -> Windows:
    """The ``k`` strongest positions, strongest first; a position within
    ``buffer`` tokens of an earlier pick in its row is passed over.
    Fewer than ``k`` where the corpus holds fewer."""
    ctx = acts.shape[1]
    order = np.argsort(-acts[:, buffer:ctx - buffer], axis=None, kind="stable")
    rows, centres = np.unravel_index(order, (acts.shape[0], ctx - 2 * buffer))
    centres = centres + buffer
    picked: dict[int, list[int]] = {}
    chosen = []
    for row, centre in zip(rows.tolist(), centres.tolist()):
        if any(abs(centre - other) <= buffer for other in picked.get(row, ())):
            continue
        picked.setdefault(row, []).append(centre)
        chosen.append((row, centre))
        if len(chosen) == k:
            break
    rows, centres = (np.array(v, dtype=np.int64) for v in zip(*chosen)) if chosen else (np.zeros(0, np.int64),) * 2
    return Windows(rows, centres)


def importance_weighted_windows(acts: np.ndarray, below: float, k: int, rng: np.random.Generator,
                                buffer: int = BUFFER) -> Windows | None:
    """``k`` positions whose activation is under ``below`` (the weakest top
    window's), drawn without replacement with probability proportional to
    the squared activation. None where nothing under ``below`` fires
    (SAEBench then skips the latent); fewer than ``k`` where fewer fire."""
    inner = _centre_candidates(acts, buffer)
    weights = np.where(inner >= below, 0.0, inner.astype(np.float64)).ravel()
    if weights.max(initial=0.0) < 1e-6:
        return None
    weights = np.clip(weights, 0.0, None) ** 2
    count = min(k, int(np.count_nonzero(weights)))
    flat = rng.choice(weights.size, size=count, replace=False, p=weights / weights.sum())
    rows, centres = np.unravel_index(flat, acts.shape)
    return Windows(rows.astype(np.int64), centres.astype(np.int64))


def active_threshold(top_acts: np.ndarray) -> float:
    """The activation above which a token counts as active: ``ACTIVE_FRACTION``
    of the strongest activation in the latent's top windows."""
    return ACTIVE_FRACTION * float(np.max(top_acts))


def random_windows(n_rows: int, ctx: int, k: int, rng: np.random.Generator, buffer: int = BUFFER) -> Windows:
    """``k`` uniform positions, the controls (SAEBench counts them inactive whatever the latent does there)."""
    return Windows(rng.integers(0, n_rows, size=k), rng.integers(buffer, ctx - buffer, size=k))


def render(tokens: list[str], acts: np.ndarray, threshold: float, marks: tuple[str, str] = ("<<", ">>")) -> str:
    """A window as text, each token above ``threshold`` wrapped in ``marks``
    (one pair per token: adjacent active tokens read ``<<a>><<b>>``); a
    newline is shown as ``↵`` and the replacement character dropped."""
    pieces = []
    for token, act in zip(tokens, acts):
        token = token.replace("\n", "↵").replace("\ufffd", "")
        pieces.append(f"{marks[0]}{token}{marks[1]}" if act > threshold else token)
    return "".join(pieces)
