import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from saeprobe.batched_logistic import fit_logistic_batch


def make_problem(n=300, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 20, d)  # unequal column scales
    w = np.zeros(d)
    w[:3] = [1.0, -0.5, 0.25] / X[:, :3].std(axis=0)
    y = (X @ w + rng.normal(size=n) > 0).astype(int)
    return X, y


def objective(w, b, X, y, C, penalty):
    margin = (2 * y - 1) * (X @ w + b)
    reg = np.abs(w).sum() if penalty == "l1" else 0.5 * w @ w
    return np.logaddexp(0, -margin).sum() + reg / C


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_matches_converged_sklearn_on_each_row_subset(penalty):
    X, y = make_problem()
    Cs = np.array([0.003, 0.03, 0.3, 3.0])
    masks = np.ones((4, len(y)), bool)
    masks[1, :100] = False  # problems differ in their rows too
    masks[3, 200:] = False
    coef, intercept = fit_logistic_batch(X, y, masks, Cs, penalty=penalty, tol=1e-9, max_iter=20000, device="cpu")
    for p, C in enumerate(Cs):
        rows = masks[p]
        reference = LogisticRegression(
            C=C, l1_ratio=1.0 if penalty == "l1" else 0.0, solver="liblinear" if penalty == "l1" else "lbfgs",
            tol=1e-10, max_iter=100000, intercept_scaling=1e4,  # liblinear's penalised intercept, made negligible
        ).fit(X[rows], y[rows])
        ours = objective(coef[p], intercept[p], X[rows], y[rows], C, penalty)
        theirs = objective(reference.coef_[0], reference.intercept_[0], X[rows], y[rows], C, penalty)
        assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-6)
        np.testing.assert_allclose(coef[p], reference.coef_[0], atol=1e-3 * np.abs(reference.coef_).max())


def test_l1_zeroes_uninformative_columns_and_constant_columns_stay_zero():
    X, y = make_problem()
    X[:, 5] = 7.0
    coef, _ = fit_logistic_batch(X, y, np.ones((1, len(y)), bool), np.array([0.01]), device="cpu")
    assert coef[0, 5] == 0
    assert coef[0, 0] != 0  # the strongest informative column survives
    assert np.count_nonzero(coef[0]) <= 4


def test_a_problem_does_not_depend_on_its_batch():
    X, y = make_problem()
    Cs = np.array([0.01, 1.0, 100.0])
    masks = np.ones((3, len(y)), bool)
    together, _ = fit_logistic_batch(X, y, masks, Cs, device="cpu")
    alone, _ = fit_logistic_batch(X, y, masks[1:2], Cs[1:2], device="cpu")
    np.testing.assert_allclose(together[1], alone[0], rtol=1e-6, atol=1e-9)


def test_bad_shapes_are_refused():
    X, y = make_problem()
    with pytest.raises(ValueError, match="row_masks"):
        fit_logistic_batch(X, y, np.ones((2, len(y)), bool), np.array([1.0]))
    with pytest.raises(ValueError, match="penalty"):
        fit_logistic_batch(X, y, np.ones((1, len(y)), bool), np.array([1.0]), penalty="l3")
