import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from saeprobe.probes import REFERENCE_CS, TopLatentProbe, ValidatedLogisticRegression, k_grid, rank_latents, roc_auc


def make_problem(n=400, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + 0.5 * X[:, 1] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X, y


def test_rank_latents_hand_example():
    X = np.array([[4.0, 0, 1], [4.0, 0, 1], [0, 2.0, 1], [0, 0, 1]])
    y = np.array([1, 1, 0, 0])
    # raw differences: 4, -1, 0
    assert rank_latents(X, y, "raw").tolist() == [0, 1, 2]
    # normalised by mean non-zero value (4, 2, 1): 1, -0.5, 0
    assert rank_latents(X, y, "normalized").tolist() == [0, 1, 2]
    X_scaled = X * np.array([0.1, 10.0, 1.0])
    assert rank_latents(X_scaled, y, "raw").tolist() == [1, 0, 2]
    assert rank_latents(X_scaled, y, "normalized").tolist() == [0, 1, 2]


def test_rank_latents_sparse_equals_dense():
    rng = np.random.default_rng(1)
    X = rng.exponential(size=(50, 30)) * (rng.random((50, 30)) < 0.2)
    y = rng.integers(0, 2, 50)
    for ranking in ("raw", "normalized"):
        assert np.array_equal(rank_latents(X, y, ranking), rank_latents(sp.csr_matrix(X), y, ranking))


@pytest.mark.parametrize("engine", ["sklearn", "batched"])
def test_validated_logreg_picks_c_by_validation_auc(engine):
    X, y = make_problem()
    probe = ValidatedLogisticRegression(penalty="l2", engine=engine).fit(X, y)
    # Same search by hand: holdout of the last 80 rows (20% of 400).
    scores = []
    for C in REFERENCE_CS:
        model = LogisticRegression(C=C, max_iter=1000, random_state=1).fit(X[:320], y[:320])
        scores.append(roc_auc_score(y[320:], model.predict_proba(X[320:])[:, 1]))
    assert probe.C_ == REFERENCE_CS[int(np.argmax(scores))]
    assert probe.val_auc_ == pytest.approx(max(scores), abs=1e-3)
    assert roc_auc_score(y, probe.predict_proba(X)[:, 1]) > 0.9


@pytest.mark.parametrize("engine", ["sklearn", "batched"])
def test_l1_probe_is_sparse_under_strong_regularisation(engine):
    X, y = make_problem(d=10)
    probe = ValidatedLogisticRegression(penalty="l1", Cs=[0.01], engine=engine).fit(X, y)
    assert (probe.coef_ == 0).sum() >= 5  # only the informative weights survive


def test_engines_agree_where_the_solvers_converge():
    X, y = make_problem(d=8)
    Cs = np.logspace(1, -3, 5)
    for penalty in ("l1", "l2"):
        reference = ValidatedLogisticRegression(penalty, Cs=Cs, engine="sklearn").fit(X, y)
        batched = ValidatedLogisticRegression(penalty, Cs=Cs, engine="batched").fit(X, y)
        assert batched.C_ == reference.C_
        np.testing.assert_allclose(batched.val_scores_, reference.val_scores_, atol=2e-3)
        np.testing.assert_allclose(batched.coef_, reference.coef_, atol=0.02 * np.abs(reference.coef_).max())
        assert np.array_equal(batched.predict(X[:50]), reference.predict(X[:50]))


def test_on_badly_scaled_latents_batched_matches_converged_sklearn_and_saga_does_not():
    # Latent-like columns: non-negative, sparse, scales from 1 to 300.
    rng = np.random.default_rng(0)
    scales = np.array([300, 1, 300, 1, 50, 1, 1, 1.0])
    X = rng.exponential(size=(400, 8)) * (rng.random((400, 8)) < 0.5) * scales
    y = (X[:, 0] / 300 + X[:, 1] + 0.7 * rng.normal(size=400) > 0.8).astype(int)
    fits = {engine: ValidatedLogisticRegression("l1", Cs=[1.0, 0.01], engine=engine).fit(X, y)
            for engine in ("sklearn", "liblinear", "batched")}
    assert fits["batched"].C_ == fits["liblinear"].C_ == 1.0
    np.testing.assert_allclose(fits["batched"].coef_, fits["liblinear"].coef_, atol=1e-3)
    assert fits["batched"].intercept_ == pytest.approx(fits["liblinear"].intercept_, abs=1e-3)
    # saga's 1000 epochs, as the reference runs them, end far from the optimum.
    assert abs(fits["sklearn"].coef_[1] - fits["liblinear"].coef_[1]) > 1.0


def test_the_l1_refit_at_the_chosen_c_is_the_whole_paths_answer_there():
    """The L1 refit walks the path of the stronger penalties up to the chosen
    C: the same answer as a refit along the whole grid, which also pays for
    the weaker penalties beyond it."""
    from saeprobe.batched_logistic import fit_logistic_batch

    rng = np.random.default_rng(5)
    X = rng.exponential(size=(300, 12)) * (rng.random((300, 12)) < 0.4) * rng.uniform(1, 50, 12)
    y = (X[:, 0] / X[:, 0].std() + X[:, 3] / X[:, 3].std() + rng.normal(size=300) > 1.0).astype(int)
    probe = ValidatedLogisticRegression("l1", engine="batched").fit(X, y)
    assert probe.C_ < max(probe.Cs)  # some penalties are weaker than the chosen one
    assert probe.refit_converged_ and probe.converged_.shape == (1, len(probe.Cs))
    whole = fit_logistic_batch(X, y, np.ones((1, len(y)), bool), probe.Cs, penalty="l1")
    best = list(probe.Cs).index(probe.C_)
    np.testing.assert_allclose(probe.coef_, whole.coef[0, best], rtol=1e-5, atol=1e-7 * np.abs(whole.coef).max())
    assert probe.intercept_ == pytest.approx(whole.intercept[0, best], rel=1e-5, abs=1e-7)


def test_top_latent_probe_uses_the_k_best_latents():
    rng = np.random.default_rng(2)
    y = np.tile([0, 1], 150)
    X = rng.exponential(size=(300, 40)) * (rng.random((300, 40)) < 0.3)
    X[:, 7] = y * 3.0 + rng.random(300)  # the one informative latent
    probe = TopLatentProbe(k=1).fit(sp.csr_matrix(X), y)
    assert probe.latents_.tolist() == [7]
    assert roc_auc_score(y, probe.predict_proba(sp.csr_matrix(X))[:, 1]) > 0.95


def test_k_grid_is_capped_at_width():
    assert k_grid(4608) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert k_grid(20) == [1, 2, 4, 8, 16]


def test_roc_auc_is_sklearns_with_ties_saturated_scores_and_other_label_values():
    rng = np.random.default_rng(0)
    for labels in (rng.integers(0, 2, 101), np.where(rng.random(60) < 0.2, 7, -1)):
        scores = np.round(rng.normal(size=(5, len(labels))), 1)  # many ties
        scores[0] = 1.0  # all tied, as saturated probabilities are
        scores[1, : len(labels) // 2] = 1.0
        ours = roc_auc(labels, scores)
        assert ours.shape == (5,)
        np.testing.assert_allclose(ours, [roc_auc_score(labels, row) for row in scores], rtol=0, atol=1e-15)
        assert roc_auc(labels, scores[2]) == pytest.approx(roc_auc_score(labels, scores[2]), abs=1e-15)


def test_roc_auc_names_the_missing_class():
    with pytest.raises(ValueError, match="both classes"):
        roc_auc(np.ones(4), np.arange(4.0))


@pytest.mark.parametrize("engine", ["sklearn", "liblinear"])
def test_sklearn_engines_flag_fits_stopped_at_max_iter(engine):
    X, y = make_problem()
    assert ValidatedLogisticRegression(penalty="l1", engine=engine).fit(X, y).solver_converged_
    capped = ValidatedLogisticRegression(penalty="l1", engine=engine, max_iter=1).fit(X, y)
    assert not capped.solver_converged_ and not capped.converged_.all()


def test_lbfgs_at_a_tight_tolerance_reaches_the_batched_l2_answer():
    X, y = make_problem()
    X = X * np.logspace(-2, 2, X.shape[1])  # unscaled columns, as raw activations are
    ours = ValidatedLogisticRegression(penalty="l2").fit(X, y)
    tight = ValidatedLogisticRegression(penalty="l2", engine="sklearn", max_iter=100_000, sklearn_tol=1e-12).fit(X, y)
    assert tight.solver_converged_
    # The validation AUC at every C up to 600: the same fits. Weaker penalties
    # leave lbfgs in a valley so flat that sklearn's relative-decrease test
    # (ftol 64 eps) stops it short, whatever its gradient tolerance.
    well_posed = REFERENCE_CS < 1e3
    np.testing.assert_allclose(tight.val_scores_[well_posed], ours.val_scores_[well_posed], atol=1e-9)
