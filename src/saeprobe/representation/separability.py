"""Class separability of a representation (analysis-methods.md §6.2).

After kurexi/SAEs ``interpretability/js_separability.py``, whose JS separability
score (JSS) follows Fereidouni et al., "Evaluating Sparse Autoencoders for
Monosemantic Representation" (arXiv:2508.15094).

``js_separability`` measures, dimension by dimension, how differently two
classes are distributed (the Jensen-Shannon distance of their histograms) and
averages over dimensions. ``salient_neuron_overlap`` (SNO) asks how many of
the two classes' most strongly activated dimensions are shared.
``top_logistic_dimensions`` picks the dense dimensions that §6.2 compares
with SAE latents (its ``logreg`` representation).

Every function takes a dense ``X`` [n_rows, n_dims] and binary labels ``y``
of any two values (the smaller one is class 0).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from saeprobe.probes import REFERENCE_CS, roc_auc
from saeprobe.representation.selectivity import jaccard

N_BINS = 2048
TOP_T = 80
FIRING_TAU = 0.1  # the reference's firing filter for SAE latents
_COUNT_EPS = 1e-10  # added to every histogram count, as the reference does
_CHUNK_COLUMNS = 256  # columns histogrammed at once: ~20 MB of work arrays at 2048 bins


def _binary_labels(y, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of class 0 and class 1 (classes in sorted order)."""
    y = np.asarray(y).ravel()
    if y.shape[0] != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {y.shape[0]} labels")
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(f"binary labels needed, got classes {classes.tolist()}")
    return y == classes[0], y == classes[1]


def _as_matrix(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D [n_rows, n_dims], got shape {X.shape}")
    return X


def _bin_indices(X_nc: np.ndarray, n_bins: int) -> np.ndarray:
    """Per column, the bin of each value among ``n_bins`` equal-width bins on [min, max].

    Same assignment as ``np.histogram(col, bins=np.linspace(min, max, n_bins + 1))``:
    bin i holds edge_i <= x < edge_{i+1}, and the last bin also holds the maximum.
    Columns must not be constant.
    """
    lo_c, hi_c = X_nc.min(axis=0), X_nc.max(axis=0)
    idx_nc = np.floor((X_nc - lo_c) / (hi_c - lo_c) * n_bins).astype(np.intp)
    np.clip(idx_nc, 0, n_bins - 1, out=idx_nc)
    # The scaled value can land one bin off the linspace edges by rounding;
    # correct against the edges themselves so results match np.histogram.
    edges_ec = np.linspace(lo_c, hi_c, n_bins + 1, axis=0)
    idx_nc -= X_nc < np.take_along_axis(edges_ec, idx_nc, axis=0)
    idx_nc += (X_nc >= np.take_along_axis(edges_ec, idx_nc + 1, axis=0)) & (idx_nc < n_bins - 1)
    return idx_nc


def _entropy_bits(p_cb: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits of each row of a strictly positive distribution matrix."""
    return -(p_cb * np.log2(p_cb)).sum(axis=1)


def _js_distance_chunk(X_nc: np.ndarray, in0: np.ndarray, in1: np.ndarray, n_bins: int) -> np.ndarray:
    """sqrt(JSD) in bits per non-constant column, from the two classes' histograms."""
    n_cols = X_nc.shape[1]
    flat_nc = _bin_indices(X_nc, n_bins) + np.arange(n_cols) * n_bins
    dists = []
    for rows in (in0, in1):
        counts_cb = np.bincount(flat_nc[rows].ravel(), minlength=n_cols * n_bins).reshape(n_cols, n_bins)
        counts_cb = counts_cb + _COUNT_EPS
        dists.append(counts_cb / counts_cb.sum(axis=1, keepdims=True))
    p0_cb, p1_cb = dists
    # Each class is normalised before the 1/2-1/2 mixture; the reference mixed raw
    # counts, which equals this only when the two classes have the same size.
    mix_cb = 0.5 * (p0_cb + p1_cb)
    jsd_c = _entropy_bits(mix_cb) - 0.5 * (_entropy_bits(p0_cb) + _entropy_bits(p1_cb))
    return np.sqrt(np.clip(jsd_c, 0.0, None))


def js_separability_per_dim(
    X, y, *, firing_filter: float | None = None, n_bins: int = N_BINS
) -> np.ndarray:
    """Jensen-Shannon distance between the two classes' histograms, per dimension.

    Each dimension's values over all rows are cut into ``n_bins`` equal-width
    bins on [min, max]; each class's counts (+1e-10) are normalised to a
    distribution, and the score is sqrt(JSD) in bits, in [0, 1]: 0 for
    identical class distributions, 1 for disjoint supports. A constant
    dimension scores 0.

    ``firing_filter`` is for SAE latents: a dimension that is nonzero in fewer
    than this fraction of rows gets nan (the reference uses 0.1). ``None``
    keeps every dimension.
    """
    X = _as_matrix(X)
    in0, in1 = _binary_labels(y, X.shape[0])
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    scores_d = np.full(X.shape[1], np.nan)
    kept = np.ones(X.shape[1], dtype=bool)
    if firing_filter is not None:
        kept = (X != 0).mean(axis=0) >= firing_filter
    cols = np.flatnonzero(kept)
    for start in range(0, len(cols), _CHUNK_COLUMNS):
        chunk = cols[start : start + _CHUNK_COLUMNS]
        X_nc = X[:, chunk].astype(np.float64)
        if not np.isfinite(X_nc).all():
            raise ValueError("X holds nan or infinite values; JS separability needs finite activations")
        varies = X_nc.max(axis=0) > X_nc.min(axis=0)
        scores_d[chunk[~varies]] = 0.0
        if varies.any():
            scores_d[chunk[varies]] = _js_distance_chunk(X_nc[:, varies], in0, in1, n_bins)
    return scores_d


def js_separability(X, y, *, firing_filter: float | None = None, n_bins: int = N_BINS) -> float:
    """JSS: the mean over kept dimensions of ``js_separability_per_dim``.

    Raises ValueError when the firing filter leaves no dimension.
    """
    scores_d = js_separability_per_dim(X, y, firing_filter=firing_filter, n_bins=n_bins)
    kept = ~np.isnan(scores_d)
    if not kept.any():
        raise ValueError(
            f"no dimension fires in at least {firing_filter} of the rows; "
            "JS separability has nothing to average (lower firing_filter or pass None)"
        )
    return float(scores_d[kept].mean())


def salient_neuron_overlap(X, y, top: int = TOP_T) -> float:
    """SNO: Jaccard index of the two classes' top-``top`` dimensions by class mean.

    Lower means the classes rely on more distinct dimensions. ``top`` is
    capped at the number of dimensions; ties go to the lower index.
    """
    X = _as_matrix(X)
    in0, in1 = _binary_labels(y, X.shape[0])
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    t = min(top, X.shape[1])
    top_sets = [np.argsort(-X[rows].mean(axis=0), kind="stable")[:t] for rows in (in0, in1)]
    return jaccard(*top_sets)


def _standardised_logreg(C: float) -> Pipeline:
    # StandardScaler leaves zero-variance columns unscaled, as the reference's
    # std-of-0-becomes-1 rule does.
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, solver="lbfgs", max_iter=1000))


def top_logistic_dimensions(X, y, n: int = 100, Cs=REFERENCE_CS, seed: int = 42) -> np.ndarray:
    """Column indices of the ``n`` largest |coef| of a standardised L2 logistic regression.

    C is chosen from ``Cs`` (default ``logspace(5, -5, 10)``) by ROC-AUC on a
    stratified 80/20 split (``random_state=seed``), the first C winning ties;
    the chosen C is refitted on all rows. Indices are ordered by descending
    |coef|, ties to the lower index.
    """
    X = _as_matrix(X)
    in0, _ = _binary_labels(y, X.shape[0])
    y01 = (~in0).astype(int)
    X_fit, X_val, y_fit, y_val = train_test_split(X, y01, test_size=0.2, stratify=y01, random_state=seed)
    best_C, best_auc = float(Cs[0]), -np.inf
    with warnings.catch_warnings():
        # Weakly penalised fits on separable data stop at max_iter; the reference
        # keeps those fits too.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for C in Cs:
            model = _standardised_logreg(float(C)).fit(X_fit, y_fit)
            auc = roc_auc(y_val, model.predict_proba(X_val)[:, 1])
            if auc > best_auc:
                best_C, best_auc = float(C), auc
        final = _standardised_logreg(best_C).fit(X, y01)
    weights_d = np.abs(final[-1].coef_[0])
    return np.argsort(-weights_d, kind="stable")[: min(n, X.shape[1])]
