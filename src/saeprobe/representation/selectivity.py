"""Selectivity of single dimensions and reuse of top dimensions across tasks (analysis-methods.md §6.4).

After kurexi/SAEs ``interpretability/feature_comparison.py``:

- ``gini`` says how concentrated a dimension's activation is: 0 when every
  entry is equal, (n-1)/n when one entry holds it all. The seed applies it
  over *examples*; ``concept_gini`` applies it over per-concept means, which is
  the selectivity across concepts that the name suggests.
- ``frac_active_sae`` / ``frac_active_dense`` are the two "how often is it on"
  rates the seed reports next to Gini.
- ``feature_reuse`` compares the top-k dimensions of related datasets (groups
  from ``load_dataset_groups``) by Jaccard index.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from importlib import resources
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from saeprobe.probes import rank_latents

DATASET_GROUPS_FILE = "dataset_groups.csv"


def gini(x, axis: int | None = None):
    """Gini index of |x|: G = 2 sum_i i x_(i) / (n sum x) - (n+1)/n, x sorted ascending.

    With ``axis=None`` the whole array is one vector and a float comes back;
    with an axis, one value per slice along it (``gini(X, axis=0)``: per column).
    A vector that sums to 0 has G = 0.
    """
    a = np.abs(np.asarray(x, dtype=np.float64))
    if axis is None:
        a, axis = a.ravel(), 0
    a = np.sort(np.moveaxis(a, axis, -1), axis=-1)
    n = a.shape[-1]
    if n == 0:
        raise ValueError("gini of an empty vector is undefined")
    total = a.sum(axis=-1)
    weighted = a @ np.arange(1, n + 1, dtype=np.float64)
    safe_total = np.where(total > 0, total, 1.0)
    g = np.where(total > 0, 2.0 * weighted / (n * safe_total) - (n + 1.0) / n, 0.0)
    return float(g) if g.ndim == 0 else g


def concept_gini(X, labels) -> np.ndarray:
    """Per column of ``X`` [n_rows, n_dims], the Gini index of its per-concept mean activations.

    High means the dimension's (absolute) mean is carried by few concepts.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels).ravel()
    if X.ndim != 2 or labels.shape[0] != X.shape[0]:
        raise ValueError(f"X must be [n_rows, n_dims] with one label per row; got {X.shape} and {labels.shape}")
    means_cd = np.stack([X[labels == c].mean(axis=0) for c in np.unique(labels)])
    return gini(means_cd, axis=0)


def frac_active_sae(X):
    """Per column, the fraction of rows where the SAE latent is > 0."""
    return (np.asarray(X) > 0).mean(axis=0)


def frac_active_dense(X):
    """Per column, the fraction of rows above that column's mean (dense dimensions are rarely 0)."""
    X = np.asarray(X, dtype=np.float64)
    return (X > X.mean(axis=0)).mean(axis=0)


def top_latents_by_mean_difference(X, y, k: int = 16) -> np.ndarray:
    """The ``k`` columns with the largest |mean(X[y==1]) - mean(X[y==0])|, ties to the lower index.

    Labels must be 0/1. This is ``probes.rank_latents`` without its
    normalisation, the ranking the seed uses for §6.4.
    """
    return rank_latents(X, y, ranking="raw")[:k]


def _as_set(items: Iterable) -> set:
    # Arrays become sets of Python scalars, so array- and list-given indices compare equal.
    return set(items.ravel().tolist()) if isinstance(items, np.ndarray) else set(items)


def jaccard(a: Iterable, b: Iterable) -> float:
    """|A ∩ B| / |A ∪ B| of two collections of indices; 1.0 when both are empty."""
    set_a, set_b = _as_set(a), _as_set(b)
    union = set_a | set_b
    return len(set_a & set_b) / len(union) if union else 1.0


def feature_reuse(top_sets: Mapping[str, Iterable], groups: Mapping[str, list[str]]) -> pd.DataFrame:
    """Jaccard index of the top-dimension sets of every dataset pair within each group.

    Datasets missing from ``top_sets`` are skipped; pairs follow the group's
    order. Columns: group, dataset_a, dataset_b, jaccard.
    """
    rows = [
        {"group": group, "dataset_a": a, "dataset_b": b, "jaccard": jaccard(top_sets[a], top_sets[b])}
        for group, members in groups.items()
        for a, b in combinations([m for m in members if m in top_sets], 2)
    ]
    return pd.DataFrame(rows, columns=["group", "dataset_a", "dataset_b", "jaccard"])


def load_dataset_groups(path: str | Path | None = None) -> dict[str, list[str]]:
    """Groups of related reference datasets, ``{group: [dataset, ...]}`` in file order.

    The default file (``dataset_groups.csv`` beside this module; columns
    ``group,dataset``) uses the path-safe names of ``datasets.reference_catalog``.
    Its first 22 groups are the hand-made ``SEMANTIC_GROUPS`` of kurexi/SAEs
    ``interpretability/feature_comparison.py`` (commit 409c35a), restricted to
    the 113 SAE-Probes datasets, with ``89_glue_mrpc`` added to ``glue_misc``.
    The last five are added here for datasets the seed left ungrouped:
    ``true_false_statements`` (sciq, truthfulqa, physics, reasoning,
    commonsense true/false), ``toxic_language`` (toxic, hate, offensive),
    ``machine_written_text`` (GPT-2 and GPT-3 text detection),
    ``review_sentiment`` (movie and Amazon reviews) and ``spam_and_misleading``
    (spam, clickbait, fake news). Only ``129_arith_mc_A`` has no group.

    A dataset may belong to one group only; a file breaking that raises ValueError.
    """
    if path is None:
        source = resources.files("saeprobe.representation").joinpath(DATASET_GROUPS_FILE)
        text = source.read_text(encoding="utf-8")
        where = f"saeprobe.representation/{DATASET_GROUPS_FILE}"
    else:
        text = Path(path).read_text(encoding="utf-8")
        where = str(path)
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"group", "dataset"} <= set(reader.fieldnames):
        raise ValueError(f"{where}: needs the columns group,dataset; found {reader.fieldnames}")
    groups: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for row in reader:
        group, dataset = row["group"].strip(), row["dataset"].strip()
        if dataset in owner:
            raise ValueError(f"{where}: dataset {dataset!r} is in both {owner[dataset]!r} and {group!r}")
        owner[dataset] = group
        groups.setdefault(group, []).append(dataset)
    return groups
