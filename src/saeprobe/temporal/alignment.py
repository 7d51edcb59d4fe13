"""Alignment study of temporal SAEs on HH-RLHF preference pairs
(analysis-methods.md §5.7; Bhalla, Oesterling et al., arXiv:2511.05541).

Which high-level latents (Matryoshka group 0) differ most, on average, between
the rejected and the chosen response of a pair, and does response length
explain the differences? The seed's own script is absent; the protocol here
follows a third-party reproduction:

1. each side of a pair is a full dialogue, and the two share a long prefix;
   the response tokens are those whose character span ends after the
   character-level longest common prefix (``response_token_mask``);
2. per example, the high-level codes are averaged over the response tokens
   (``response_means``);
3. features are ranked by |mean over pairs of (rejected - chosen)|, and each
   feature's per-pair difference is correlated with the per-pair difference in
   response length (``pair_differences``, ``rank_features``);
4. the mean response lengths of the two sides are compared by a paired t-test
   (``length_summary``).

Running the model and the SAE is not done here; this module holds the pure parts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

LATENT_KEYS = ("latent", "index", "feature")
"""Keys naming the latent in a list-of-records explanations file, tried in this order."""

PAIR_COLUMNS = ("chosen", "rejected")

_EXPLANATION_SHAPES = (
    "a JSON mapping {latent: explanation}, "
    f"a JSON list of records with one of {list(LATENT_KEYS)} and 'explanation', "
    "SAEBench autointerp output (an object with 'eval_result_unstructured' mapping latent to a record "
    "with 'explanation'), or a .csv/.parquet table with columns 'latent' and 'explanation'"
)


def common_prefix_chars(chosen: str, rejected: str) -> int:
    """Length of the longest common character prefix of the two strings."""
    n = min(len(chosen), len(rejected))
    for i in range(n):
        if chosen[i] != rejected[i]:
            return i
    return n


def response_token_mask(offsets: np.ndarray, prefix_chars, attention_mask: np.ndarray | None = None) -> np.ndarray:
    """True for the tokens of the response: real tokens whose span ends after the shared prefix.

    ``offsets`` are (start, end) character spans as a HF fast tokenizer's
    ``return_offsets_mapping`` gives them, [n_tokens, 2] with an int
    ``prefix_chars``, or [batch, n_tokens, 2] with one prefix length per row.
    A token straddling the prefix boundary counts as response; special tokens
    (empty spans, (0, 0)) and padding (``attention_mask`` 0) do not.
    """
    offsets = np.asarray(offsets)
    if offsets.ndim not in (2, 3) or offsets.shape[-1] != 2:
        raise ValueError(f"offsets must be [n_tokens, 2] or [batch, n_tokens, 2], got shape {offsets.shape}")
    prefix = np.asarray(prefix_chars)
    if offsets.ndim == 2:
        if prefix.ndim != 0:
            raise ValueError("unbatched offsets need a single prefix length")
    else:
        if prefix.shape != (offsets.shape[0],):
            raise ValueError(f"batched offsets need {offsets.shape[0]} prefix lengths, got shape {prefix.shape}")
        prefix = prefix[:, None]  # broadcast over the row's tokens
    start, end = offsets[..., 0], offsets[..., 1]
    mask = (end > prefix) & (end > start)
    if attention_mask is not None:
        attention_mask = np.asarray(attention_mask)
        if attention_mask.shape != mask.shape:
            raise ValueError(f"attention_mask shape {attention_mask.shape} does not match offsets {mask.shape}")
        mask &= attention_mask.astype(bool)
    return mask


def response_means(codes: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-example mean code over the response tokens, and the number of those tokens.

    ``codes`` [batch, n_tokens, n_latents], ``mask`` [batch, n_tokens] ->
    (means [batch, n_latents] float64, lengths [batch] int64). A row with no
    response token (e.g. truncated away) gets NaN means and length 0.
    """
    codes = np.asarray(codes)
    mask = np.asarray(mask, dtype=bool)
    if codes.ndim != 3 or mask.shape != codes.shape[:2]:
        raise ValueError(f"need codes [batch, n_tokens, n_latents] and mask [batch, n_tokens], "
                         f"got {codes.shape} and {mask.shape}")
    lengths = mask.sum(axis=1).astype(np.int64)
    # Sum in float64 so long responses of float32 codes lose no precision.
    sums = np.einsum("bt,btl->bl", mask.astype(np.float64), codes.astype(np.float64, copy=False))
    means = np.full(sums.shape, np.nan)
    has = lengths > 0
    means[has] = sums[has] / lengths[has, None]
    return means, lengths


@dataclass(frozen=True)
class PairDifferences:
    """Per-pair rejected - chosen differences over the kept pairs.

    ``activation`` [pairs, n_latents], ``length`` [pairs] (response tokens),
    ``kept`` [all pairs]: which input pairs have response tokens on both sides.
    """

    activation: np.ndarray
    length: np.ndarray
    kept: np.ndarray


def pair_differences(rejected_means, chosen_means, rejected_lengths, chosen_lengths) -> PairDifferences:
    """Rejected - chosen per pair, keeping the pairs with >= 1 response token on both sides."""
    rejected_means = np.asarray(rejected_means, dtype=np.float64)
    chosen_means = np.asarray(chosen_means, dtype=np.float64)
    rejected_lengths = np.asarray(rejected_lengths)
    chosen_lengths = np.asarray(chosen_lengths)
    if rejected_means.ndim != 2 or rejected_means.shape != chosen_means.shape:
        raise ValueError(f"means must be two [pairs, n_latents] arrays of one shape, "
                         f"got {rejected_means.shape} and {chosen_means.shape}")
    n = rejected_means.shape[0]
    if rejected_lengths.shape != (n,) or chosen_lengths.shape != (n,):
        raise ValueError(f"lengths must be [{n}], got {rejected_lengths.shape} and {chosen_lengths.shape}")
    kept = (rejected_lengths >= 1) & (chosen_lengths >= 1)
    activation = rejected_means[kept] - chosen_means[kept]
    length = rejected_lengths[kept].astype(np.int64) - chosen_lengths[kept].astype(np.int64)
    return PairDifferences(activation=activation, length=length, kept=kept)


def _pearson_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``x`` [n, k] with ``y`` [n]; NaN where either is constant."""
    r = np.full(x.shape[1], np.nan)
    if x.shape[0] < 2 or np.ptp(y) == 0:
        return r
    # Exact constancy via ptp: centring a constant float column can leave rounding noise.
    varying = np.ptp(x, axis=0) > 0
    xc = x[:, varying] - x[:, varying].mean(axis=0)
    yc = y - y.mean()
    r[varying] = np.clip(xc.T @ yc / np.sqrt((xc ** 2).sum(axis=0) * (yc ** 2).sum()), -1.0, 1.0)
    return r


def rank_features(differences: PairDifferences, top: int, explanations: dict[int, str] | None = None) -> pd.DataFrame:
    """The ``top`` latents by |mean rejected - chosen| (all if ``top`` exceeds their number).

    Columns: rank (1-based), latent, diff, abs_diff, length_r (Pearson r of the
    latent's per-pair difference with the per-pair length difference; NaN when
    either is constant) and explanation ("" when unknown). Ties in abs_diff go
    to the lower latent.
    """
    if top < 0:
        raise ValueError(f"top must be >= 0, got {top}")
    activation = np.asarray(differences.activation, dtype=np.float64)
    length = np.asarray(differences.length, dtype=np.float64)
    if activation.ndim != 2 or length.shape != (activation.shape[0],):
        raise ValueError(f"activation must be [pairs, n_latents] and length [pairs], "
                         f"got {activation.shape} and {length.shape}")
    if activation.shape[0] == 0:
        raise ValueError("no pair has response tokens on both sides")
    diff = activation.mean(axis=0)
    abs_diff = np.abs(diff)
    latents = np.arange(activation.shape[1])
    order = np.lexsort((latents, -abs_diff))[:top]
    length_r = _pearson_columns(activation[:, order], length)
    explanations = explanations or {}
    return pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        "latent": latents[order],
        "diff": diff[order],
        "abs_diff": abs_diff[order],
        "length_r": length_r,
        "explanation": [explanations.get(int(j), "") for j in order],
    })


def length_summary(rejected_lengths, chosen_lengths) -> dict:
    """Mean response lengths of both sides and a paired t-test (rejected vs chosen).

    Over the pairs where both sides have >= 1 response token. The statistic and
    p-value are NaN with fewer than 2 pairs or when all differences are equal.
    """
    rejected = np.asarray(rejected_lengths, dtype=np.float64)
    chosen = np.asarray(chosen_lengths, dtype=np.float64)
    if rejected.ndim != 1 or rejected.shape != chosen.shape:
        raise ValueError(f"lengths must be two 1-d arrays of one shape, got {rejected.shape} and {chosen.shape}")
    kept = (rejected >= 1) & (chosen >= 1)
    rejected, chosen = rejected[kept], chosen[kept]
    pairs = int(kept.sum())
    t_statistic = p_value = float("nan")
    if pairs >= 2 and np.ptp(rejected - chosen) > 0:
        from scipy import stats  # lazy: keeps job start-up fast

        result = stats.ttest_rel(rejected, chosen)
        t_statistic, p_value = float(result.statistic), float(result.pvalue)
    return {
        "pairs": pairs,
        "mean_rejected_tokens": float(rejected.mean()) if pairs else float("nan"),
        "mean_chosen_tokens": float(chosen.mean()) if pairs else float("nan"),
        "t_statistic": t_statistic,
        "p_value": p_value,
    }


def _latent_index(value, path: Path) -> int:
    # Accept ints and digit strings (JSON keys are always strings); bool is not a latent.
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{path}: latent index {value!r} is not an integer")
    if isinstance(value, (int, np.integer)):
        index = int(value)
    elif isinstance(value, (float, np.floating)) and float(value).is_integer():
        index = int(value)  # a table column read as float
    elif isinstance(value, str) and value.strip().isdigit():
        index = int(value.strip())
    else:
        raise ValueError(f"{path}: latent index {value!r} is not an integer")
    if index < 0:
        raise ValueError(f"{path}: latent index {index} is negative")
    return index


def _collect(pairs, path: Path) -> dict[int, str]:
    """{latent: explanation} from (latent, explanation) pairs; empty/missing explanations skipped."""
    out: dict[int, str] = {}
    for key, explanation in pairs:
        latent = _latent_index(key, path)
        if explanation is None or (isinstance(explanation, float) and np.isnan(explanation)):
            continue
        if not isinstance(explanation, str):
            raise ValueError(f"{path}: explanation of latent {latent} is not a string; latent explanations must be one "
                             f"of: {_EXPLANATION_SHAPES}")
        if not explanation.strip():
            continue
        if latent in out:
            raise ValueError(f"{path}: latent {latent} is explained twice")
        out[latent] = explanation
    return out


def _explanations_from_json(data, path: Path) -> dict[int, str]:
    if isinstance(data, dict) and "eval_result_unstructured" in data:
        records = data["eval_result_unstructured"]
        if isinstance(records, dict) and all(isinstance(r, dict) and "explanation" in r for r in records.values()):
            return _collect(((k, r["explanation"]) for k, r in records.items()), path)
    elif isinstance(data, dict):
        if all(v is None or isinstance(v, str) for v in data.values()):
            return _collect(data.items(), path)
    elif isinstance(data, list):
        if all(isinstance(r, dict) and "explanation" in r and any(k in r for k in LATENT_KEYS) for r in data):
            keyed = ((next(r[k] for k in LATENT_KEYS if k in r), r["explanation"]) for r in data)
            return _collect(keyed, path)
    raise ValueError(f"{path}: latent explanations must be one of: {_EXPLANATION_SHAPES}")


def read_explanations(path) -> dict[int, str]:
    """Latent explanations {latent: explanation} from a JSON, CSV or parquet file.

    JSON shapes: a mapping {latent: explanation}; a list of records with a
    latent key (``LATENT_KEYS``) and "explanation"; SAEBench autointerp output
    (``eval_result_unstructured``: latent -> record with "explanation"). Tables
    (.csv/.parquet) need columns "latent" and "explanation". Missing or empty
    explanations are skipped in every shape.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return _explanations_from_json(data, path)
    if suffix in (".csv", ".parquet"):
        # keep_default_na=False: a CSV explanation such as "NA" stays text; empty cells are skipped below.
        try:
            table = pd.read_csv(path, keep_default_na=False) if suffix == ".csv" else pd.read_parquet(path)
        except pd.errors.EmptyDataError:
            table = pd.DataFrame()
        missing = {"latent", "explanation"} - set(table.columns)
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}; latent explanations must be one of: "
                             f"{_EXPLANATION_SHAPES}")
        return _collect(zip(table["latent"].tolist(), table["explanation"].tolist()), path)
    raise ValueError(f"{path}: unsupported suffix {path.suffix!r}; latent explanations must be one of: "
                     f"{_EXPLANATION_SHAPES}")


def read_preference_pairs(path) -> pd.DataFrame:
    """(chosen, rejected) dialogue pairs from a local .jsonl, .json (list of objects), .parquet or .csv file.

    Returns a DataFrame with exactly the columns chosen and rejected, as str.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    need = "the columns chosen and rejected"
    if suffix == ".jsonl":
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        if not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"{path}: preference pairs need {need}, one JSON object per line")
        table = pd.DataFrame(rows)
    elif suffix == ".json":
        with open(path, encoding="utf-8") as f:
            rows = json.load(f)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"{path}: preference pairs need {need}, as a JSON list of objects")
        table = pd.DataFrame(rows)
    elif suffix == ".parquet":
        table = pd.read_parquet(path)
    elif suffix == ".csv":
        try:
            # keep_default_na=False: an empty response is text, not NaN.
            table = pd.read_csv(path, keep_default_na=False, dtype=str)
        except pd.errors.EmptyDataError:
            table = pd.DataFrame()
    else:
        raise ValueError(f"{path}: unsupported suffix {path.suffix!r}; preference pairs need {need} in a .jsonl, "
                         ".json, .parquet or .csv file")
    missing = [c for c in PAIR_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: preference pairs need {need}; missing {missing}")
    if len(table) == 0:
        raise ValueError(f"{path}: holds no pair; preference pairs need {need}")
    table = table[list(PAIR_COLUMNS)].reset_index(drop=True)
    for column in PAIR_COLUMNS:
        bad = ~table[column].map(lambda v: isinstance(v, str))
        if bad.any():
            raise ValueError(f"{path}: column {column!r} has {int(bad.sum())} non-string values "
                             f"(first at row {int(np.flatnonzero(bad.to_numpy())[0])})")
    return table.astype(str)
