"""Latent descriptions from probing prompts, LLM rankings and dataset audits
(kurexi/SAEs, ``analysis-methods.md`` §6.5-6.6)."""

from __future__ import annotations

import json
import re

import numpy as np

EXAMPLE_CHARS = 300


def top_prompts(latent_acts: np.ndarray, texts: list[str], n: int = 10) -> list[tuple[float, str]]:
    """The ``n`` prompts on which the latent's last-token activation is highest,
    strongest first, each cut to ``EXAMPLE_CHARS`` characters."""
    order = np.argsort(-np.asarray(latent_acts), kind="stable")[:n]
    return [(float(latent_acts[i]), texts[i][:EXAMPLE_CHARS]) for i in order]


_RANKING = re.compile(r'\{[^{}]*"ranking"[^{}]*\}')


def parse_ranking(reply: str, n: int) -> list[int] | None:
    """The 0-based order of ``n`` candidates from a ranking reply (1-based
    numbers in ``{"ranking": [...]}``). None unless it names each candidate
    exactly once: the caller then keeps its own order, and says so."""
    match = _RANKING.search(reply)
    if match is None:
        return None
    try:
        ranking = json.loads(match.group(0))["ranking"]
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(ranking, list) or sorted(ranking) != list(range(1, n + 1)):
        return None
    return [position - 1 for position in ranking]


def disagreements(latent_acts: np.ndarray, labels: np.ndarray, quantile: float = 0.9, top: int = 10) -> np.ndarray:
    """Rows on which the latent fires strongly (at or above its ``quantile``)
    but whose label is the class it is less associated with: candidates for
    label noise. Strongest first, at most ``top``."""
    acts, labels = np.asarray(latent_acts, float), np.asarray(labels)
    favoured = int(acts[labels == 1].mean() > acts[labels == 0].mean())
    strong = np.flatnonzero((acts >= np.quantile(acts, quantile)) & (labels != favoured))
    return strong[np.argsort(-acts[strong], kind="stable")][:top]
