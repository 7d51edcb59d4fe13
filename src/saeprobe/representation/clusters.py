"""How well concepts form clusters in a representation (analysis-methods.md §6.3).

After kurexi/SAEs ``interpretability/cross_concept.py``: each binary dataset's
positive rows are one concept, pooled into ``X`` [n_rows, n_dims] with a
concept label per row. ``cluster_separation`` scores the whole labelling,
``pairwise_separation`` every pair of concepts. ``firing_latents`` and
``multiclass_top_dimensions`` choose the columns of the SAE and ``logreg``
representations that §6.3 compares.

A concept's *spread* is the mean over dimensions of its per-dimension
standard deviation (population, ddof=0).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

MIN_CONCEPTS = 3
_RATIO_EPS = 1e-8  # the reference's guard in the pairwise separation ratio
_SPREAD_FLOOR = 1e-10  # below this mean spread the reference reports mpcd_ratio as nan


def _concepts(X, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Checked inputs: (X, labels, concept values, row counts)."""
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels).ravel()
    if X.ndim != 2 or labels.shape[0] != X.shape[0]:
        raise ValueError(f"X must be [n_rows, n_dims] with one label per row; got {X.shape} and {labels.shape}")
    concepts, counts = np.unique(labels, return_counts=True)
    if len(concepts) < MIN_CONCEPTS:
        raise ValueError(f"cluster separation needs at least {MIN_CONCEPTS} concepts, got {len(concepts)}")
    if (counts < 2).any():
        raise ValueError(f"every concept needs at least 2 rows; {concepts[counts < 2].tolist()} have fewer")
    return X, labels, concepts, counts


def _centroids_and_spreads(X: np.ndarray, labels: np.ndarray, concepts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centroids_kd = np.stack([X[labels == c].mean(axis=0) for c in concepts])
    spreads_k = np.array([X[labels == c].std(axis=0).mean() for c in concepts])
    return centroids_kd, spreads_k


def _pair_distances(centroids_kd: np.ndarray) -> list[tuple[int, int, float]]:
    """(i, j, ||c_i - c_j||) for i < j, one row of differences at a time (k x d stays small)."""
    k = len(centroids_kd)
    pairs = []
    for i in range(k - 1):
        dists = np.linalg.norm(centroids_kd[i + 1 :] - centroids_kd[i], axis=1)
        pairs.extend((i, j, float(d)) for j, d in zip(range(i + 1, k), dists, strict=True))
    return pairs


def cluster_separation(X, labels) -> dict[str, float]:
    """Four scores of the concept clustering; higher is better for each.

    - ``calinski_harabasz``: between- over within-cluster dispersion (sklearn).
    - ``neg_davies_bouldin``: minus sklearn's Davies-Bouldin index.
    - ``silhouette``: mean euclidean silhouette (sklearn).
    - ``mpcd_ratio``: mean pairwise centroid distance over the mean concept
      spread; nan when every concept has (near) zero spread.
    """
    X, labels, concepts, _ = _concepts(X, labels)
    centroids_kd, spreads_k = _centroids_and_spreads(X, labels, concepts)
    mean_distance = np.mean([d for _, _, d in _pair_distances(centroids_kd)])
    mean_spread = spreads_k.mean()
    return {
        "calinski_harabasz": float(calinski_harabasz_score(X, labels)),
        "neg_davies_bouldin": -float(davies_bouldin_score(X, labels)),
        "silhouette": float(silhouette_score(X, labels, metric="euclidean")),
        "mpcd_ratio": float(mean_distance / mean_spread) if mean_spread > _SPREAD_FLOOR else float("nan"),
    }


def pairwise_separation(X, labels) -> pd.DataFrame:
    """One row per concept pair (in sorted label order): centroid distance and separation ratio.

    separation_ratio = ||mu_a - mu_b|| / ((spread_a + spread_b) / 2 + 1e-8).
    """
    X, labels, concepts, _ = _concepts(X, labels)
    centroids_kd, spreads_k = _centroids_and_spreads(X, labels, concepts)
    rows = [
        {
            "concept_a": concepts[i],
            "concept_b": concepts[j],
            "centroid_distance": d,
            "separation_ratio": d / ((spreads_k[i] + spreads_k[j]) / 2 + _RATIO_EPS),
        }
        for i, j, d in _pair_distances(centroids_kd)
    ]
    return pd.DataFrame(rows, columns=["concept_a", "concept_b", "centroid_distance", "separation_ratio"])


def firing_latents(X, tau: float = 0.1, fallback: float = 0.01) -> np.ndarray:
    """Columns nonzero in more than ``tau`` of the rows; if fewer than two, those above ``fallback``.

    Two is the seed's threshold: a single column is too little to cluster in.
    """
    firing_d = (np.asarray(X) != 0).mean(axis=0)
    kept = np.flatnonzero(firing_d > tau)
    if len(kept) < 2:
        kept = np.flatnonzero(firing_d > fallback)
    return kept


def multiclass_top_dimensions(X, labels, n: int = 100) -> np.ndarray:
    """The ``n`` columns with the largest mean |coef| of a one-vs-rest logistic regression (C=1).

    Columns are standardised first, so coefficient sizes are comparable across
    dimensions (the seed fits on raw values). Ties go to the lower index.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels).ravel()
    X_std = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ovr = OneVsRestClassifier(LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000)).fit(X_std, labels)
    coef_kd = np.vstack([est.coef_ for est in ovr.estimators_])
    return np.argsort(-np.abs(coef_kd).mean(axis=0), kind="stable")[: min(n, X.shape[1])]
