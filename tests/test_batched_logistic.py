"""The batched solver at its production defaults, against tightly converged references."""

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from saeprobe.batched_logistic import fit_logistic_batch
from saeprobe.probes import REFERENCE_CS, ValidatedLogisticRegression
from saeprobe.splits import validation_splits


def make_problem(n=300, d=12, seed=0, spreads=(0.5, 20), separable=False):
    """Columns with spreads log-spaced over ``spreads``; a noisy or exact linear rule."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.logspace(*np.log10(spreads), d)
    w = np.zeros(d)
    w[:3] = [1.0, -0.5, 0.25]
    z = (X / X.std(axis=0)) @ w
    y = (z + (0 if separable else rng.normal(size=n)) > 0).astype(int)
    return X, y


def objective(w, b, X, y, C, penalty):
    margin = (2 * y - 1) * (X @ w + b)
    reg = np.abs(w).sum() if penalty == "l1" else 0.5 * w @ w
    return np.logaddexp(0, -margin).sum() + reg / C


def reference(X, y, C, penalty):
    """The optimum to the last digits, by other solvers: sklearn's exact Newton
    for L2; for L1, scipy's L-BFGS-B on the smooth problem in (w+, w-) >= 0
    over standardised columns."""
    if penalty == "l2":
        model = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
        return model.coef_[0], model.intercept_[0]
    mean, std = X.mean(axis=0), X.std(axis=0)
    Z = (X - mean) / std
    d = X.shape[1]
    sign = 2 * y - 1
    weight = np.tile(1 / std, 2) / C

    def f(theta):
        m = sign * (Z @ (theta[:d] - theta[d:2 * d]) + theta[-1])
        p = sign / (1 + np.exp(np.clip(m, -700, 700)))  # -d loss / d (Z v + b)
        grad_v = -(Z.T @ p)
        value = np.logaddexp(0, -m).sum() + weight @ theta[:2 * d]
        return value, np.concatenate([grad_v, -grad_v, [-p.sum()]]) + np.append(weight, 0)

    theta = minimize(f, np.zeros(2 * d + 1), jac=True, method="L-BFGS-B", bounds=[(0, None)] * (2 * d) + [(None, None)],
                     options={"maxiter": 100000, "maxfun": 200000, "ftol": 1e-14, "gtol": 1e-11}).x
    w = (theta[:d] - theta[d:2 * d]) / std
    return w, theta[-1] - mean @ w


@pytest.mark.parametrize("separable", [False, True])
@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_every_c_of_the_grid_reaches_the_optimum_at_the_defaults(penalty, separable):
    # Spreads from 1e-3 to 1e3: the case that stalled the earlier stopping rule.
    X, y = make_problem(n=200, d=10, seed=3, spreads=(1e-3, 1e3), separable=separable)
    masks = np.ones((2, len(y)), bool)
    masks[0, 150:] = False  # a validation fit and a refit, as a probe solves them
    fits = fit_logistic_batch(X, y, masks, REFERENCE_CS, penalty=penalty, device="cpu")
    for p in range(2):
        rows = masks[p]
        for c, C in enumerate(REFERENCE_CS):
            ours = objective(fits.coef[p, c], fits.intercept[p, c], X[rows], y[rows], C, penalty)
            theirs = objective(*reference(X[rows], y[rows], C, penalty), X[rows], y[rows], C, penalty)
            if fits.converged[p, c]:
                assert ours <= theirs * (1 + 1e-6), (p, C)
            else:  # honest about it: only the L1 ray of separated rows may stop short
                assert penalty == "l1" and separable and C >= 1e3, (p, C)
    if penalty == "l2":
        assert fits.converged.all()
    if not separable:
        assert fits.converged.all()


@pytest.mark.parametrize("separable", [False, True])
def test_the_damped_proximal_newton_model_reaches_the_same_optimum(monkeypatch, separable):
    """The damped model (used once a plain one proved too flat to solve) only
    changes the path: every fit is still certified and optimal."""
    from saeprobe import batched_logistic

    plain = batched_logistic._newton_direction
    monkeypatch.setattr(batched_logistic, "_newton_direction",
                        lambda *args: plain(*args[:-1], np.ones_like(args[-1])))
    X, y = make_problem(n=200, d=10, seed=3, spreads=(1e-3, 1e3), separable=separable)
    fits = fit_logistic_batch(X, y, np.ones((1, len(y)), bool), REFERENCE_CS, penalty="l1", device="cpu")
    assert fits.converged.all()
    assert (fits.iterations <= batched_logistic.L1_MAX_ITER).all()  # proximal Newton's, not FISTA's
    for c, C in enumerate(REFERENCE_CS):
        ours = objective(fits.coef[0, c], fits.intercept[0, c], X, y, C, "l1")
        assert ours <= objective(*reference(X, y, C, "l1"), X, y, C, "l1") * (1 + 1e-6), C


def test_l2_converges_where_a_tiny_column_spread_froze_the_old_step():
    # The case: n = 900, d = 64, column spreads 0.02 to 5, C = 1e-5.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(900, 64)) * np.linspace(0.02, 5, 64)
    y = (X @ rng.normal(size=64) + rng.normal(size=900) > 0).astype(int)
    fits = fit_logistic_batch(X, y, np.ones((1, 900), bool), np.array([1e-5]), penalty="l2", device="cpu")
    w, b = reference(X, y, 1e-5, "l2")
    cosine = fits.coef[0, 0] @ w / np.linalg.norm(fits.coef[0, 0]) / np.linalg.norm(w)
    assert fits.converged.all()
    assert cosine > 1 - 1e-6


def test_chosen_c_is_the_converged_grids():
    # Column spreads 0.02 to 5 and noisy labels. The earlier engine stopped
    # after a few steps at C = 1e-5 here; its unconverged fit validated at
    # 0.769 and won the search. The converged grid chooses C = 0.278.
    rng = np.random.default_rng(7)
    X = rng.normal(size=(900, 64)) * np.logspace(np.log10(0.02), np.log10(5), 64)
    y = (X @ (rng.normal(size=64) / X.std(axis=0)) + 8 * rng.normal(size=900) > 0).astype(int)
    (fit, val), = validation_splits(y)
    converged = [roc_auc_score(y[val], X[val] @ reference(X[fit], y[fit], C, "l2")[0]) for C in REFERENCE_CS]
    ours = ValidatedLogisticRegression(penalty="l2", engine="batched").fit(X, y)
    assert ours.C_ == REFERENCE_CS[int(np.argmax(converged))] == pytest.approx(0.278, rel=1e-3)
    np.testing.assert_allclose(ours.val_scores_, converged, atol=1e-6)


def test_column_masks_hold_columns_at_zero_and_match_the_subproblem():
    X, y = make_problem()
    columns = np.zeros((2, X.shape[1]), bool)
    columns[0, :4] = True
    columns[1, :8] = True  # nested, as top-k probes are
    rows = np.ones((2, len(y)), bool)
    for penalty in ("l1", "l2"):
        fits = fit_logistic_batch(X, y, rows, np.array([0.1, 10.0]), penalty=penalty, column_masks=columns,
                                  device="cpu")
        assert not fits.coef[0, :, 4:].any() and not fits.coef[1, :, 8:].any()
        alone = fit_logistic_batch(X[:, :4], y, rows[:1], np.array([0.1, 10.0]), penalty=penalty, device="cpu")
        np.testing.assert_allclose(fits.coef[0, :, :4], alone.coef[0], rtol=1e-5, atol=1e-8)


def test_l1_zeroes_most_columns_and_constant_columns_stay_zero():
    X, y = make_problem()
    X[:, 5] = 7.0
    fits = fit_logistic_batch(X, y, np.ones((1, len(y)), bool), np.array([0.03]), device="cpu")
    assert fits.converged.all()
    assert fits.coef[0, 0, 5] == 0
    assert fits.coef[0, 0, 0] != 0  # the strongest informative column survives
    assert np.count_nonzero(fits.coef[0, 0]) <= 6


def test_a_problem_does_not_depend_on_its_batch():
    X, y = make_problem()
    Cs = np.array([0.01, 1.0, 100.0])
    masks = np.ones((3, len(y)), bool)
    masks[0, :50] = False
    masks[2, 100:] = False
    for penalty in ("l1", "l2"):
        together = fit_logistic_batch(X, y, masks, Cs, penalty=penalty, device="cpu")
        alone = fit_logistic_batch(X, y, masks[1:2], Cs, penalty=penalty, device="cpu")
        np.testing.assert_allclose(together.coef[1], alone.coef[0], rtol=1e-6, atol=1e-9)


def test_bad_input_is_refused():
    X, y = make_problem()
    with pytest.raises(ValueError, match="row_masks"):
        fit_logistic_batch(X, y, np.ones((2, len(y) + 1), bool), np.array([1.0]))
    with pytest.raises(ValueError, match="column_masks"):
        fit_logistic_batch(X, y, np.ones((1, len(y)), bool), np.array([1.0]), column_masks=np.ones((1, 3), bool))
    with pytest.raises(ValueError, match="penalty"):
        fit_logistic_batch(X, y, np.ones((1, len(y)), bool), np.array([1.0]), penalty="l3")
    with pytest.raises(ValueError, match="Cs"):
        fit_logistic_batch(X, y, np.ones((1, len(y)), bool), np.array([0.0]))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("seed", [0, 1])
def test_the_separable_end_ranks_held_out_rows_as_converged_liblinear_does(seed):
    """Nearly unpenalised L1 on separated rows: the optimum lies far out along
    a flat valley whose direction, all an AUC sees, settles before its length.
    The engine's fits there (the whole grid, as a probe solves it) rank
    held-out rows as liblinear's do once more iterations no longer change
    liblinear's AUC."""
    X, y = make_problem(n=400, d=40, seed=seed, spreads=(1e-2, 1e2), separable=True)
    train = np.arange(len(y)) < 300
    fits = fit_logistic_batch(X, y, train[None], REFERENCE_CS, penalty="l1", device="cpu")
    for c, C in enumerate(REFERENCE_CS):
        if C < 1e3:
            continue

        def liblinear_auc(max_iter):
            model = LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", tol=1e-10, max_iter=max_iter)
            return roc_auc_score(y[~train], X[~train] @ model.fit(X[train], y[train]).coef_[0])

        converged = liblinear_auc(20_000)
        assert liblinear_auc(2_000) == pytest.approx(converged, abs=1e-4)  # its AUC has settled
        assert roc_auc_score(y[~train], X[~train] @ fits.coef[0, c]) == pytest.approx(converged, abs=0.005), C
