"""Reading the explainer's replies, and the detection score (SAEBench, ``analysis-methods.md`` §4.3-4.5)."""

from __future__ import annotations

import numpy as np


def parse_explanation(reply: str) -> str:
    """The explanation after the last "activates on" (the whole reply where it
    is missing), without a final full stop."""
    text = reply.split("activates on")[-1].strip()
    return text[:-1].strip() if text.endswith(".") else text


def parse_predictions(reply: str) -> list[int] | None:
    """The sequence numbers of a detection reply: ``"2, 5 and 9"`` is
    ``[2, 5, 9]``, ``"None"`` is ``[]``. None where any piece is not a
    number: the reply cannot be scored."""
    text = reply.strip()
    text = text[:-1] if text.endswith(".") else text
    pieces = [p.strip() for p in text.replace("and", ",").replace("None", "").split(",")]
    pieces = [p for p in pieces if p]
    if not all(p.isdigit() for p in pieces):
        return None
    return [int(p) for p in pieces]


def detection_score(predictions: list[int], active: np.ndarray) -> float:
    """Accuracy over the sequences, positives and negatives alike: sequence
    ``i`` (1-based) is right when "predicted" and ``active[i - 1]`` agree."""
    predicted = np.isin(np.arange(1, len(active) + 1), predictions)
    return float(np.mean(predicted == np.asarray(active, bool)))
