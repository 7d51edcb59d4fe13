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
from scipy.special import expit
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.utils.validation import check_is_fitted

from saeprobe.splits import MAX_UNVALIDATED_ROWS, validation_splits

REFERENCE_CS = np.logspace(5, -5, 10)
# The ``liblinear`` engine's stopping tolerance. At sklearn's default (1e-4)
# nearly unpenalised L1 fits on separated rows stop far short: 36_sciq_tf's
# top-512 probe at C = 7.7e3 stopped after 21 iterations at 1.5x the optimal
# objective (validation AUC 0.726 against the optimum's 0.707); at 1e-8 it
# reaches the optimum in 60.
LIBLINEAR_TOL = 1e-8
# The reference's power-of-two k grid (train_sae_probes.py), capped at the SAE width.
REFERENCE_KS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def k_grid(width: int, ks=REFERENCE_KS) -> list[int]:
    return [k for k in ks if k <= width]


class ValidatedLogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression whose C is chosen by validation AUC.

    Parameters
    ----------
    penalty : "l1" or "l2"
    Cs : array of candidate inverse regularisation strengths, tried in order;
        ties keep the first (the reference's ``np.argmax``).
    engine : "batched", "sklearn" or "liblinear"
        ``batched`` solves every (C, validation split) problem at once with
        ``batched_logistic.fit_logistic_batch``, on the GPU when there is
        one, then refits the chosen C: Newton for L2, proximal Newton or
        FISTA stopped on the duality gap for L1 (``converged_`` says which
        validation fits, ``[splits, Cs]``, met the tolerance, and
        ``refit_converged_`` whether the refit did). ``sklearn`` is the
        reference's grid of single fits: lbfgs for L2, saga for L1, ``max_iter`` 1000. On SAE latents
        (values up to ~1e3, often separable at large k) saga stops at
        ``max_iter`` far from the optimum, as it does in the reference, and
        costs tens of seconds per fit at k=512. ``liblinear`` is a grid of
        single sklearn fits whose solver does converge on such data
        (liblinear at tolerance ``LIBLINEAR_TOL``, the intercept's penalty made
        negligible by ``intercept_scaling`` 1000): the answer the grid has
        when its solver gets there (nearly unpenalised L1 fits on separable
        training sets can still stop at ``max_iter``).
        ``benchmarks/probe_engine.py`` compares the three. For the sklearn
        engines ``converged_`` and ``refit_converged_`` say which fits
        stopped before ``max_iter``; ``solver_converged_`` is all of them.
    sklearn_tol : the ``sklearn`` engine's solver tolerance; None (the
        reference's choice) keeps sklearn's default, 1e-4.
    """

    def __init__(
        self,
        penalty: Literal["l1", "l2"] = "l2",
        Cs=REFERENCE_CS,
        engine: Literal["batched", "sklearn", "liblinear"] = "batched",
        max_iter: int = 1000,
        random_state: int = 1,
        sklearn_tol: float | None = None,
    ):
        self.penalty = penalty
        self.Cs = Cs
        self.engine = engine
        self.max_iter = max_iter
        self.random_state = random_state
        self.sklearn_tol = sklearn_tol

    def fit(self, X, y):
        X = _dense(X)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"binary labels needed, got classes {self.classes_.tolist()}")
        if self.penalty not in ("l1", "l2"):
            raise ValueError(f"penalty must be 'l1' or 'l2', got {self.penalty!r}")
        # The reference's rule for n <= 3: no search, default C.
        splits = validation_splits(y) if len(y) > MAX_UNVALIDATED_ROWS else []
        Cs = np.asarray(self.Cs, float) if splits else np.array([1.0])
        fit_rows = [fit for fit, _ in splits]
        everything = np.arange(len(y))
        # Every solver pays per problem, so the refit waits for the chosen C
        # and skips the weaker penalties beyond it, the costliest fits.
        refit_in_batch = not splits
        if self.engine == "batched":
            coef, intercept, self.converged_ = self._solve_batched(X, y, fit_rows + [everything] * refit_in_batch, Cs)
        elif self.engine in ("sklearn", "liblinear"):
            coef, intercept, self.converged_ = self._solve_sklearn(X, y, fit_rows, Cs)
        else:
            raise ValueError(f"engine must be 'batched', 'sklearn' or 'liblinear', got {self.engine!r}")
        if splits:
            self.val_scores_ = np.mean([roc_auc(y[val], _proba(X[val], coef[s].T, intercept[s]).T)
                                        for s, (_, val) in enumerate(splits)], axis=0)
            best = int(np.argmax(self.val_scores_))
        else:
            self.val_scores_, best = np.array([]), 0
        self.C_ = float(Cs[best])
        self.best_params_ = {"C": self.C_}
        if self.engine == "batched" and refit_in_batch:
            self.coef_, self.intercept_ = coef[-1, best], float(intercept[-1, best])
            self.refit_converged_ = bool(self.converged_[-1, best])
        elif self.engine == "batched":
            # L2 (Newton) solves the chosen C alone; L1 walks the path of the
            # stronger penalties up to it, each C warm-starting the next, as
            # the validation fits did.
            path = Cs[best:best + 1] if self.penalty == "l2" else Cs[Cs <= Cs[best]]
            coef, intercept, converged = self._solve_batched(X, y, [everything], path)
            chosen = int(np.flatnonzero(path == Cs[best])[0])
            self.coef_, self.intercept_ = coef[0, chosen], float(intercept[0, chosen])
            self.refit_converged_ = bool(converged[0, chosen])
        else:
            # The reference refits on the shuffled training set; saga's result depends on row order.
            shuffled = np.random.RandomState(self.random_state).permutation(len(y))
            coef, intercept, converged = self._solve_sklearn(X, y, [shuffled], Cs[best:best + 1])
            self.coef_, self.intercept_ = coef[0, 0], float(intercept[0, 0])
            self.refit_converged_ = bool(converged[0, 0])
        self.val_auc_ = float(self.val_scores_.max()) if splits else float(roc_auc(y, self.predict_proba(X)[:, 1]))
        return self

    def _solve_batched(self, X, y, row_sets, Cs):
        """Coefficients ``[len(row_sets), len(Cs), d]`` and intercepts, from one batched solve."""
        from saeprobe.batched_logistic import fit_logistic_batch  # torch: only the jobs that solve on it

        masks = np.zeros((len(row_sets), len(y)), bool)
        for i, rows in enumerate(row_sets):
            masks[i, rows] = True
        fits = fit_logistic_batch(X, y, masks, Cs, penalty=self.penalty)
        return fits.coef, fits.intercept, fits.converged

    @property
    def solver_converged_(self) -> bool:
        """Every validation fit and the refit met their solver's tolerance
        (sklearn's: stopped before ``max_iter``)."""
        check_is_fitted(self, "coef_")
        return bool(self.converged_.all() and self.refit_converged_)

    def _solve_sklearn(self, X, y, row_sets, Cs):
        """The same, one sklearn fit at a time, rows in the order given, and
        whether each stopped before ``max_iter``."""
        coef = np.zeros((len(row_sets), len(Cs), X.shape[1]))
        intercept = np.zeros((len(row_sets), len(Cs)))
        converged = np.zeros((len(row_sets), len(Cs)), bool)
        if self.engine == "liblinear":
            solver = {"solver": "liblinear", "intercept_scaling": 1000.0, "tol": LIBLINEAR_TOL,
                      "max_iter": self.max_iter}
        else:
            solver = {"solver": "saga" if self.penalty == "l1" else "lbfgs", "max_iter": self.max_iter}
            if self.sklearn_tol is not None:  # the reference runs sklearn's default
                solver["tol"] = self.sklearn_tol
        for i, rows in enumerate(row_sets):
            for j, C in enumerate(Cs):
                model = LogisticRegression(
                    C=C, l1_ratio=1.0 if self.penalty == "l1" else 0.0, random_state=self.random_state, **solver,
                )
                with warnings.catch_warnings():  # non-convergence at extreme C is expected in a grid
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(X[rows], y[rows])
                coef[i, j], intercept[i, j] = model.coef_[0], model.intercept_[0]
                converged[i, j] = model.n_iter_.max() < self.max_iter
        return coef, intercept, converged

    def decision_function(self, X):
        check_is_fitted(self, "coef_")
        return _dense(X) @ self.coef_ + self.intercept_

    def predict_proba(self, X):
        p = _proba(_dense(X), self.coef_, self.intercept_)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def _proba(X, coef, intercept):
    """P(y = 1), as sklearn computes it (a logistic of the decision value, so
    very large logits saturate to exactly 1 and tie, as in the reference)."""
    return expit(X @ coef + intercept)


class TopLatentProbe(ClassifierMixin, BaseEstimator):
    """L1 probe on the k SAE latents with the largest class-mean difference.

    ``ranking="normalized"`` is the reference's current method
    (``get_sorted_indices_new``): each latent is divided by its mean non-zero
    training activation before taking |mean(pos) - mean(neg)|; ``"raw"`` is
    the earlier plain mean difference.
    """

    def __init__(self, k: int = 16, ranking: Literal["normalized", "raw"] = "normalized",
                 Cs=REFERENCE_CS, engine: Literal["batched", "sklearn", "liblinear"] = "batched", random_state: int = 1):
        self.k = k
        self.ranking = ranking
        self.Cs = Cs
        self.engine = engine
        self.random_state = random_state

    def fit(self, X, y):
        y = np.asarray(y)
        self.latents_ = rank_latents(X, y, self.ranking)[: self.k]
        self.probe_ = ValidatedLogisticRegression(
            penalty="l1", Cs=self.Cs, engine=self.engine, random_state=self.random_state
        ).fit(_columns(X, self.latents_), y)
        self.classes_ = self.probe_.classes_
        self.C_ = self.probe_.C_
        self.best_params_ = self.probe_.best_params_
        self.val_scores_ = self.probe_.val_scores_
        self.val_auc_ = self.probe_.val_auc_
        self.solver_converged_ = self.probe_.solver_converged_
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


def roc_auc(labels, scores) -> np.ndarray | float:
    """ROC-AUC of each row of ``scores`` ([m, n], or one [n]) against binary
    ``labels`` [n], the larger label positive, ties counted half: the value of
    sklearn's ``roc_auc_score``, from the Mann-Whitney rank sum. A validation
    search scores tens of fits on a hundred rows, where sklearn's input checks
    cost ten times the ranking."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if len(classes) != 2:
        raise ValueError(f"ROC-AUC needs both classes among the labels, got {classes.tolist()}")
    positive = labels == classes[1]
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    ranks = rankdata(np.asarray(scores, float), axis=-1)  # ties share their mean rank
    auc = (ranks[..., positive].sum(axis=-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(auc) if np.ndim(auc) == 0 else auc


def positive_scores(estimator, X) -> np.ndarray:
    """Scores that rank rows by P(y = 1): the probability where there is one."""
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)[:, 1]
    return estimator.decision_function(X)


def binary_metrics(probe, X_test, y_test) -> dict[str, float]:
    """Test ROC-AUC, accuracy and weighted F1, as the reference records them."""
    pred = probe.predict(X_test)
    return {
        "test_auc": float(roc_auc(y_test, positive_scores(probe, X_test))),
        "test_acc": float(accuracy_score(y_test, pred)),
        "test_f1": float(f1_score(y_test, pred, average="weighted")),
    }


def _dense(X) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def _columns(X, columns: np.ndarray) -> np.ndarray:
    return _dense(X[:, columns])


