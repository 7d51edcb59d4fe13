"""Reading the generated samples, and the sensitivity of a latent to them
(nathanhu0/sae-sensitivity, ``analysis-methods.md`` §2.4-2.6)."""

from __future__ import annotations

import numpy as np

from saeprobe.interpret.windows import mask_special_tokens

SEPARATOR = "<SAMPLE_SEPARATOR/>"
SAMPLES_PER_CALL = 10
FIRES = 1e-6
"""A text activates a latent iff its maximum activation over the text's tokens exceeds this."""


def parse_samples(reply: str, expected: int = SAMPLES_PER_CALL) -> list[str]:
    """The samples of a generation reply: split on the separator (on blank
    lines where it is missing), blanks dropped; the first ``expected`` when
    there are ``expected`` +- 1 of them, else all (the reference's rule)."""
    pieces = reply.split(SEPARATOR) if SEPARATOR in reply else reply.split("\n\n")
    samples = [p.strip() for p in pieces if p.strip()]
    return samples[:expected] if abs(len(samples) - expected) <= 1 else samples


def masked_max_activations(acts: np.ndarray, tokens: np.ndarray, masked_ids) -> np.ndarray:
    """Per text, the latent's maximum activation over its tokens, BOS and PAD
    positions left out (``acts`` and ``tokens`` are ``[texts, positions]``;
    SAE latents are non-negative, so a masked position counts as 0)."""
    return mask_special_tokens(acts, tokens, masked_ids).max(axis=1, initial=0.0)


def sensitivity(max_activations: np.ndarray) -> float:
    """The fraction of texts on which the latent fires; NaN for no texts."""
    values = np.asarray(max_activations, float)
    return float(np.mean(values > FIRES)) if len(values) else float("nan")
