"""Chunk probing of temporal SAEs: how much semantic, syntactic and context
information the high-level chunk (Matryoshka group 0), the low-level chunk and
the raw residual stream each hold, measured by a logistic probe on a few
class-contrast features (analysis-methods.md §5.5–5.6; arXiv:2511.05541).

Also the t-SNE embedding used for the latent-space figure.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from saeprobe.temporal.smoothness import sae_groups

CHUNKS = ("high", "low", "all")
REPRESENTATIONS = ("residual", *CHUNKS)  # "residual" is the raw-activation baseline
TRAIN_FRACTION = 0.75  # the reference's 3000 of 4000
FEATURES_PER_CLASS = 10  # the reference's K


def chunk_columns(chunk: str, n_high: int | None, width: int) -> slice:
    """Columns of a code matrix of ``width`` latents that make up ``chunk``.

    ``n_high`` is the size of the high-level group (group 0); ``None`` means the
    SAE has no groups, so only ``"all"`` exists. Both chunks must be non-empty.
    """
    if chunk not in CHUNKS:
        raise ValueError(f"unknown chunk {chunk!r}; expected one of {CHUNKS}")
    if chunk == "all":
        return slice(0, width)
    if n_high is None:
        raise ValueError(f"chunk {chunk!r} needs high/low groups, but this SAE has no high/low groups")
    if not 0 < n_high < width:
        raise ValueError(f"n_high must be in (0, {width}) so both chunks are non-empty, got {n_high}")
    return slice(0, n_high) if chunk == "high" else slice(n_high, width)


def split_indices(n: int, seed: int, train_fraction: float = TRAIN_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Seeded plain shuffle of ``arange(n)``: the first ``round(n * train_fraction)`` are train.

    Not stratified, as in the reference.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    n_train = int(round(n * train_fraction))
    if n_train < 1 or n_train >= n:
        raise ValueError(f"cannot split {n} rows with train_fraction={train_fraction}: one side would be empty")
    order = np.random.default_rng(seed).permutation(n)
    return order[:n_train], order[n_train:]


def class_contrast_features(x_train: np.ndarray, y_train: np.ndarray,
                            per_class: int = FEATURES_PER_CLASS) -> np.ndarray:
    """Union over classes of the ``per_class`` columns with the largest
    mean(rows of the class) - mean(other rows); sorted int64 column indices.

    Ties go to the lower column index (stable sort of the negated difference).
    """
    x_train = np.asarray(x_train)
    y_train = np.asarray(y_train)
    if x_train.ndim != 2 or len(x_train) != len(y_train):
        raise ValueError(f"x_train must be [n, d] with n = len(y_train); got {x_train.shape} and {len(y_train)} labels")
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    classes = np.unique(y_train)
    if len(classes) < 2:
        raise ValueError(f"need at least 2 classes in the training labels, got {len(classes)}")
    picked = []
    for c in classes:
        mask = y_train == c
        diff = x_train[mask].mean(axis=0, dtype=np.float64) - x_train[~mask].mean(axis=0, dtype=np.float64)
        picked.append(np.argsort(-diff, kind="stable")[:per_class])
    return np.unique(np.concatenate(picked)).astype(np.int64)


def probe_accuracy(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray,
                   per_class: int = FEATURES_PER_CLASS) -> dict:
    """Train/test accuracy of a default ``LogisticRegression`` on the class-contrast
    features of ``x`` (chosen on the train rows only).

    Test rows whose class is absent from train count as wrong predictions.
    ``converged`` is False when lbfgs stopped at ``max_iter``; its warning is silenced.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    x = np.asarray(x)
    y = np.asarray(y)
    train = np.asarray(train)
    test = np.asarray(test)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be [n, d] with n = len(y); got {x.shape} and {len(y)} labels")
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"train and test must be non-empty; got {len(train)} and {len(test)} rows")
    features = class_contrast_features(x[train], y[train], per_class)
    x_train = x[np.ix_(train, features)]
    x_test = x[np.ix_(test, features)]
    model = LogisticRegression()  # the reference's defaults: L2, C=1, lbfgs, max_iter=100
    # One thread: on a problem this small sklearn's OpenMP loss costs more than
    # it saves (a fit took 8x longer on two), and the result cannot depend on the core count.
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y[train])
    return {
        "train_accuracy": float(np.mean(model.predict(x_train) == y[train])),
        # Compare labels directly so that classes unseen in training are simply wrong.
        "test_accuracy": float(np.mean(model.predict(x_test) == y[test])),
        "n_features": int(len(features)),
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "n_classes": int(len(model.classes_)),
        "converged": bool(np.all(np.asarray(model.n_iter_) < model.max_iter)),
    }


def chunk_probe_table(task: str, representations: dict[str, np.ndarray], y: np.ndarray, seed: int,
                      per_class: int = FEATURES_PER_CLASS) -> pd.DataFrame:
    """One probe per representation (rows in the dict's order), all on the same
    seeded split so their accuracies are comparable."""
    y = np.asarray(y)
    if not representations:
        raise ValueError("no representations to probe")
    # Check every length before fitting anything, so a bad input fails fast.
    for name, x in representations.items():
        if len(x) != len(y):
            raise ValueError(f"representation {name!r} has {len(x)} rows but there are {len(y)} labels")
    train, test = split_indices(len(y), seed)
    rows = [
        {"task": task, "representation": name, **probe_accuracy(x, y, train, test, per_class)}
        for name, x in representations.items()
    ]
    return pd.DataFrame(rows)


def tsne_embedding(x: np.ndarray, seed: int, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE of the rows of ``x``, as an [n, 2] array.

    The perplexity is capped at (n - 1) / 3 because t-SNE needs it below n
    (and the 3 * perplexity neighbours must exist), so small sets still run.
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 4:
        raise ValueError(f"t-SNE needs a [n, d] array with n >= 4, got shape {x.shape}")
    tsne = TSNE(n_components=2, random_state=seed, perplexity=min(perplexity, (len(x) - 1) / 3), init="pca")
    with threadpool_limits(1):  # as probe_accuracy: faster at this size, and independent of the core count
        return np.asarray(tsne.fit_transform(x), dtype=np.float64)


TASKS = ("semantics", "syntax", "context")
"""The reference's three tasks: a prompt's domain and its last token's part of
speech (from last-token vectors), and which sequence a token comes from."""


def prompt_sample(prompts: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A seeded sample of at most ``n`` prompts (rows with ``dataset`` and
    ``text``) for the domain and part-of-speech tasks. A text found in two
    datasets is left out: its domain would be both."""
    shared = prompts.groupby("text")["dataset"].transform("nunique") > 1
    kept = prompts[~shared]
    picked = np.sort(np.random.default_rng(seed).permutation(len(kept))[:n])
    return kept.iloc[picked].reset_index(drop=True)


def context_task(sequences: np.ndarray, rows: int, tokens: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``tokens`` token vectors of ``rows`` sequences drawn from
    ``sequences`` ``[n, T, d]`` (seeded), and each one's sequence index."""
    if len(sequences) < 2:
        raise ValueError(f"the context task needs at least 2 held-out sequences, got {len(sequences)}")
    if not 1 <= tokens <= sequences.shape[1]:
        raise ValueError(f"context_tokens must be within 1..{sequences.shape[1]}, got {tokens}")
    picked = np.sort(np.random.default_rng(seed).permutation(len(sequences))[:rows])
    x = sequences[picked, -tokens:].reshape(-1, sequences.shape[-1])
    return x, np.repeat(np.arange(len(picked)), tokens)


def sae_chunks(sae, x: np.ndarray, batch_size: int = 4096) -> dict[str, np.ndarray]:
    """``x``'s codes under ``sae``, by chunk: high, low and all where it has
    Matryoshka groups, else all."""
    import torch

    with torch.no_grad():
        codes = np.concatenate([sae.encode(torch.from_numpy(np.asarray(x[i:i + batch_size], np.float32))).numpy()
                                for i in range(0, len(x), batch_size)])
    groups = sae_groups(sae)  # the one definition of an SAE's high-level group
    n_high = groups["h"].stop if "h" in groups else None
    chunks = CHUNKS if n_high is not None else ("all",)
    return {chunk: codes[:, chunk_columns(chunk, n_high, sae.width)] for chunk in chunks}


def last_token_vectors(prompts: pd.DataFrame, activation_dirs: list[str | Path], layer: int) -> np.ndarray:
    """The cached last-token activations of ``prompts`` (``dataset``, ``row``)
    at ``layer``, in the prompts' order."""
    from saeprobe.paths import activation_file_name

    folders = {Path(f).name: Path(f) for f in activation_dirs}
    arrays = {d: np.load(folders[d] / activation_file_name(layer), mmap_mode="r") for d in prompts["dataset"].unique()}
    return np.stack([arrays[d][r] for d, r in zip(prompts["dataset"], prompts["row"])]).astype(np.float32)
