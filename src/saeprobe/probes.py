"""Probes as scikit-learn estimators, with the SAE-Probes validation protocol.

``ValidatedLogisticRegression`` chooses C from ``logspace(5, -5, 10)`` by
validation ROC-AUC on the reference's validation splits, then refits on the
whole (shuffled) training set, as ``utils_training.find_best_reg`` does.
``TopLatentProbe`` keeps the k SAE latents whose class means differ most on
the training rows and fits an L1 ``ValidatedLogisticRegression`` on them.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.utils.validation import check_is_fitted

from saeprobe.splits import validation_splits

REFERENCE_CS = np.logspace(5, -5, 10)
# The reference's power-of-two k grid (train_sae_probes.py), capped at the SAE width.
REFERENCE_KS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def k_grid(width: int, ks=REFERENCE_KS) -> list[int]:
    return [k for k in ks if k <= width]


class ValidatedLogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression whose C is chosen by validation AUC.

    Parameters
    ----------
    penalty : "l1" or "l2"
        Expressed to sklearn as ``l1_ratio`` 1 or 0.
    Cs : array of candidate inverse regularisation strengths, tried in order;
        ties keep the first (the reference's ``np.argmax``).
    solver : sklearn solver. ``None`` picks the reference's: lbfgs for L2,
        saga for L1. On SAE latents (values up to ~1e3, often separable at
        large k) saga stops at ``max_iter`` before converging, as it does in
        the reference; liblinear was tried and is ~10x slower there.
    """

    def __init__(
        self,
        penalty: Literal["l1", "l2"] = "l2",
        Cs=REFERENCE_CS,
        solver: str | None = None,
        max_iter: int = 1000,
        random_state: int = 1,
    ):
        self.penalty = penalty
        self.Cs = Cs
        self.solver = solver
        self.max_iter = max_iter
        self.random_state = random_state

    def _make_model(self, C: float) -> LogisticRegression:
        l1_ratio = 1.0 if self.penalty == "l1" else 0.0
        solver = self.solver or ("saga" if self.penalty == "l1" else "lbfgs")
        return LogisticRegression(
            C=C, l1_ratio=l1_ratio, solver=solver, max_iter=self.max_iter, random_state=self.random_state,
        )

    def fit(self, X, y):
        X = _dense(X)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"binary labels needed, got classes {self.classes_.tolist()}")
        splits = validation_splits(y) if len(y) > 3 else []
        if splits:
            self.val_scores_ = np.array([self._validation_auc(X, y, C, splits) for C in self.Cs])
            best = int(np.argmax(self.val_scores_))
            self.C_ = float(self.Cs[best])
        else:  # the reference's rule for n <= 3: no search, default C
            self.val_scores_ = np.array([])
            self.C_ = 1.0
        order = np.random.RandomState(self.random_state).permutation(len(y))
        self.model_ = _fit_quietly(self._make_model(self.C_), X[order], y[order])
        if splits:
            self.val_auc_ = float(self.val_scores_.max())
        else:
            self.val_auc_ = float(roc_auc_score(y, self.model_.predict_proba(X)[:, 1]))
        return self

    def _validation_auc(self, X, y, C, splits) -> float:
        scores = []
        for fit_idx, val_idx in splits:
            model = _fit_quietly(self._make_model(C), X[fit_idx], y[fit_idx])
            scores.append(roc_auc_score(y[val_idx], model.predict_proba(X[val_idx])[:, 1]))
        return float(np.mean(scores))

    def predict_proba(self, X):
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(_dense(X))

    def predict(self, X):
        check_is_fitted(self, "model_")
        return self.model_.predict(_dense(X))


class TopLatentProbe(ClassifierMixin, BaseEstimator):
    """L1 probe on the k SAE latents with the largest class-mean difference.

    ``ranking="normalized"`` is the reference's current method
    (``get_sorted_indices_new``): each latent is divided by its mean non-zero
    training activation before taking |mean(pos) - mean(neg)|; ``"raw"`` is
    the earlier plain mean difference.
    """

    def __init__(self, k: int = 16, ranking: Literal["normalized", "raw"] = "normalized",
                 Cs=REFERENCE_CS, random_state: int = 1):
        self.k = k
        self.ranking = ranking
        self.Cs = Cs
        self.random_state = random_state

    def fit(self, X, y):
        y = np.asarray(y)
        self.latents_ = rank_latents(X, y, self.ranking)[: self.k]
        self.probe_ = ValidatedLogisticRegression(
            penalty="l1", Cs=self.Cs, random_state=self.random_state
        ).fit(_columns(X, self.latents_), y)
        self.classes_ = self.probe_.classes_
        self.C_ = self.probe_.C_
        self.val_auc_ = self.probe_.val_auc_
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "probe_")
        return self.probe_.predict_proba(_columns(X, self.latents_))

    def predict(self, X):
        check_is_fitted(self, "probe_")
        return self.probe_.predict(_columns(X, self.latents_))


def rank_latents(X, y, ranking: Literal["normalized", "raw"] = "normalized") -> np.ndarray:
    """Latent indices sorted by descending |mean(X[y==1]) - mean(X[y==0])|.

    Ties are broken by the lower index (stable sort), so the ranking is
    deterministic.
    """
    X = sp.csr_matrix(X) if sp.issparse(X) else np.asarray(X)
    y = np.asarray(y)
    if ranking == "normalized":
        col_sums = np.asarray(X.sum(axis=0)).ravel()
        nonzero = np.asarray((X != 0).sum(axis=0)).ravel()
        # The reference's epsilons, so dead latents divide safely.
        scale = 1.0 / (col_sums / (nonzero + 1e-6) + 1e-6)
    elif ranking == "raw":
        scale = np.ones(X.shape[1])
    else:
        raise ValueError(f"ranking must be 'normalized' or 'raw', got {ranking!r}")
    mean_pos = np.asarray(X[y == 1].mean(axis=0)).ravel()
    mean_neg = np.asarray(X[y == 0].mean(axis=0)).ravel()
    diff = np.abs((mean_pos - mean_neg) * scale)
    return np.argsort(-diff, kind="stable")


def binary_metrics(probe, X_test, y_test) -> dict[str, float]:
    """Test ROC-AUC, accuracy and weighted F1, as the reference records them."""
    proba = probe.predict_proba(X_test)[:, 1]
    pred = probe.predict(X_test)
    return {
        "test_auc": float(roc_auc_score(y_test, proba)),
        "test_acc": float(accuracy_score(y_test, pred)),
        "test_f1": float(f1_score(y_test, pred, average="weighted")),
    }


def _dense(X) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def _columns(X, columns: np.ndarray) -> np.ndarray:
    return _dense(X[:, columns])


def _fit_quietly(model: LogisticRegression, X, y) -> LogisticRegression:
    # Non-convergence at extreme C is expected inside a grid search.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)
