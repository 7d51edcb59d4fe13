"""Baseline probes on raw activations, each with a validation search.

Every baseline is a small scikit-learn estimator on ``ValidatedSearch``: it
lists candidate hyperparameters, scores each by mean validation ROC-AUC on the
SAE-Probes validation splits (``splits.validation_splits``), keeps the first
best, and refits on every training row. Grids follow the reference's
``utils_training.py`` (github.com/JoshEngels/SAE-Probes), with two changes,
both so that the validation score is honest and the tables reproducible:

- scaling and PCA are fitted inside each validation fit, where the reference
  fits them once on all training rows, validation rows included;
- the XGBoost and MLP candidates are drawn from a seeded generator (the
  reference's XGBoost draw is unseeded, and its MLP "search" tries one fixed
  configuration).

L2 logistic regression, the reference's main baseline, is
``probes.ValidatedLogisticRegression`` (its C search runs on the batched engine).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from saeprobe.probes import positive_scores, roc_auc
from saeprobe.splits import MAX_UNVALIDATED_ROWS, validation_splits


class ValidatedSearch(ClassifierMixin, BaseEstimator):
    """Hyperparameters chosen by validation AUC, then a refit on all rows.

    Subclasses give ``_candidates(n_fit, n_features)``, a list of parameter
    dicts (the first is the default, used when there are too few rows to
    validate, n <= 3, as in the reference), and ``_build(params)``, an
    unfitted estimator. Attributes after ``fit``: ``best_params_``,
    ``val_scores_`` (one per candidate), ``val_auc_`` and ``estimator_``.
    """

    def fit(self, X, y):
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"binary labels needed, got classes {self.classes_.tolist()}")
        splits = validation_splits(y) if len(y) > MAX_UNVALIDATED_ROWS else []
        n_fit = min((len(fit) for fit, _ in splits), default=len(y))
        self.candidates_ = self._candidates(n_fit, X.shape[1])
        if splits:
            self.val_scores_ = np.array([
                np.mean([
                    roc_auc(y[val], positive_scores(self._build(params).fit(X[fit], y[fit]), X[val]))
                    for fit, val in splits
                ])
                for params in self.candidates_
            ])
            best = int(np.argmax(self.val_scores_))
        else:
            self.val_scores_, best = np.array([]), 0
        self.best_params_ = self.candidates_[best]
        self.estimator_ = self._build(self.best_params_).fit(X, y)
        # With no validation rows the reference reports the training AUC.
        self.val_auc_ = float(self.val_scores_[best]) if splits else float(
            roc_auc(y, positive_scores(self.estimator_, X)))
        return self

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(np.asarray(X, dtype=np.float32))

    def _scores(self, X):
        check_is_fitted(self, "estimator_")
        return positive_scores(self.estimator_, np.asarray(X, dtype=np.float32))

    def _candidates(self, n_fit: int, n_features: int) -> list[dict]:
        raise NotImplementedError

    def _build(self, params: dict):
        raise NotImplementedError


class _ProbabilisticSearch(ValidatedSearch):
    def predict_proba(self, X):
        p = self._scores(X)
        return np.column_stack([1 - p, p])


def _log2_grid(maximum: int, num: int = 10) -> list[int]:
    """The reference's ``unique(logspace(0, log2(max), 10, base=2, dtype=int))``."""
    return [int(v) for v in np.unique(np.logspace(0, np.log2(max(1, maximum)), num=num, base=2, dtype=int))]


class RidgeProbe(ValidatedSearch):
    """Ridge classifier on standardised activations; alpha from ``alphas``.

    Not in the reference. The default grid mirrors the logistic C grid
    (alpha = 1/C over ``logspace(-5, 5, 10)``), first the strongest penalty.
    """

    def __init__(self, alphas=tuple(np.logspace(5, -5, 10))):
        self.alphas = alphas

    def decision_function(self, X):
        return self._scores(X)

    def _candidates(self, n_fit, n_features):
        return [{"alpha": float(a)} for a in self.alphas]

    def _build(self, params):
        return make_pipeline(StandardScaler(), RidgeClassifier(alpha=params["alpha"]))


class PCALogisticProbe(_ProbabilisticSearch):
    """Standardise, PCA, L2 logistic regression at C = 1; the dimension is searched.

    As ``find_best_pcareg``: up to ``min(n, d, 100)`` components, ten
    log2-spaced candidate dimensions.
    """

    def __init__(self, max_components: int = 100, random_state: int = 42):
        self.max_components = max_components
        self.random_state = random_state

    def _candidates(self, n_fit, n_features):
        return [{"n_components": n} for n in _log2_grid(min(n_fit, n_features, self.max_components))]

    def _build(self, params):
        return make_pipeline(
            StandardScaler(), PCA(n_components=params["n_components"], random_state=self.random_state),
            LogisticRegression(max_iter=1000, random_state=self.random_state),
        )


class KNNProbe(_ProbabilisticSearch):
    """k-nearest neighbours on standardised activations; k is searched.

    As ``find_best_knn``: ten log2-spaced k up to ``min(n - 1, 100, smallest
    validation fit)``; k = 1 when there are too few rows to validate.
    """

    def __init__(self, max_neighbors: int = 100):
        self.max_neighbors = max_neighbors

    def _candidates(self, n_fit, n_features):
        return [{"n_neighbors": k} for k in _log2_grid(min(n_fit, self.max_neighbors))]

    def _build(self, params):
        return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=params["n_neighbors"]))


# find_best_xgboost's search space.
XGBOOST_SPACE = {
    "n_estimators": [50, 100, 150, 200, 250],
    "max_depth": [2, 3, 4, 5],
    "learning_rate": np.logspace(-3, -1, 10).tolist(),
    "subsample": np.linspace(0.7, 1.0, 5).tolist(),
    "colsample_bytree": np.linspace(0.7, 1.0, 5).tolist(),
    "reg_alpha": np.logspace(-3, 1, 10).tolist(),
    "reg_lambda": np.logspace(-3, 1, 10).tolist(),
    "min_child_weight": list(range(1, 10)),
}


def _random_candidates(space: dict, n: int, seed: int) -> list[dict]:
    rng = np.random.RandomState(seed)
    return [{name: values[rng.randint(len(values))] for name, values in space.items()} for _ in range(n)]


class XGBoostProbe(_ProbabilisticSearch):
    """Gradient-boosted trees; ``n_candidates`` random configurations of the
    reference's space (ten, as ``find_best_xgboost``), seeded."""

    def __init__(self, n_candidates: int = 10, random_state: int = 0, n_jobs: int = 1):
        self.n_candidates = n_candidates
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _candidates(self, n_fit, n_features):
        return _random_candidates(XGBOOST_SPACE, self.n_candidates, self.random_state)

    def _build(self, params):
        import xgboost  # heavy; only the XGBoost jobs need it

        return xgboost.XGBClassifier(**params, eval_metric="logloss", random_state=self.random_state,
                                     n_jobs=self.n_jobs)


# find_best_mlp's grid: one to three hidden layers of 16-64 units, lr, alpha.
MLP_SPACE = {
    "hidden_layer_sizes": [(w,) * depth for depth in (1, 2, 3) for w in (16, 32, 64)],
    "learning_rate_init": np.logspace(-4, -2, 5).tolist(),
    "alpha": np.logspace(-5, -2, 5).tolist(),
}


class MLPProbe(_ProbabilisticSearch):
    """A ReLU MLP (Adam, up to 1000 epochs) on standardised activations;
    ``n_candidates`` seeded draws from the reference's grid (the reference
    itself tries a single draw)."""

    def __init__(self, n_candidates: int = 5, random_state: int = 0):
        self.n_candidates = n_candidates
        self.random_state = random_state

    def _candidates(self, n_fit, n_features):
        return _random_candidates(MLP_SPACE, self.n_candidates, self.random_state)

    def _build(self, params):
        return make_pipeline(StandardScaler(), MLPClassifier(**params, max_iter=1000, random_state=self.random_state))
